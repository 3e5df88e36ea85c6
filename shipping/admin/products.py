"""Products (orders.Product): the customs data of each SKU, edited here or imported from a
spreadsheet; bookings of cross-border parcels read it."""

from django.contrib import admin
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats

from orders.models import Product
from shipping.products import ProductResource, SafeXLSX


@admin.register(Product)
class ProductAdmin(ImportExportModelAdmin):
    resource_classes = [ProductResource]
    import_formats = [base_formats.CSV, SafeXLSX]
    export_formats = [base_formats.CSV, base_formats.XLSX]
    list_display = ["sku", "title", "hs_code", "origin_country", "customs_description", "updated_at"]
    search_fields = ["=sku", "title"]
    list_filter = ["origin_country"]
    fields = ["sku", "title", "hs_code", "origin_country", "customs_description"]
