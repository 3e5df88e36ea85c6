"""CSV/XLSX import-export of supplier products (SKU -> supplier, cost price): mapping only."""

from import_export import fields, resources
from import_export.widgets import ForeignKeyWidget

from suppliers.models import Supplier, SupplierProduct


class SupplierProductResource(resources.ModelResource):
    supplier = fields.Field(
        attribute="supplier", column_name="supplier", widget=ForeignKeyWidget(Supplier, "name")
    )

    class Meta:
        model = SupplierProduct
        fields = ("sku", "supplier", "supplier_sku", "title", "cost_price", "is_active")
        import_id_fields = ("sku",)
        skip_unchanged = True
        clean_model_instances = True

    def before_import_row(self, row, **kwargs):
        for key in ("sku", "supplier", "supplier_sku"):
            if isinstance(row.get(key), str):
                row[key] = row[key].strip()
