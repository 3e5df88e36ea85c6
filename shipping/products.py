"""The product catalogue's spreadsheet import (customs data by SKU): a django-import-export
resource keyed on SKU, and an .xlsx format that checks the workbook before openpyxl reads it."""

from __future__ import annotations

import io

from import_export import resources
from import_export.formats import base_formats

from orders.models import Product


class ProductResource(resources.ModelResource):
    """Columns: sku, title, hs_code, origin_country, customs_description. A row whose SKU exists
    updates that product; a new SKU adds one."""

    class Meta:
        model = Product
        import_id_fields = ["sku"]
        fields = ["sku", "title", "hs_code", "origin_country", "customs_description"]
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True

    def before_import_row(self, row, **kwargs):
        for key in ("hs_code", "origin_country", "sku"):
            if key in row and row[key] is not None:
                value = str(row[key]).strip()
                if key == "hs_code" and value.endswith(".0"):  # a spreadsheet's number 691200.0
                    value = value[:-2]
                row[key] = value.upper() if key == "origin_country" else value


class SafeXLSX(base_formats.XLSX):
    """An .xlsx checked like every other upload (shipping.csv_reading.check_workbook_archive)
    before it is read: a workbook built to exhaust memory is refused by name."""

    def create_dataset(self, in_stream):
        from shipping.csv_reading import check_workbook_archive

        check_workbook_archive(io.BytesIO(in_stream))
        return super().create_dataset(in_stream)
