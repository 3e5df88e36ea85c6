"""Order export (CSV and XLSX) for the order list, and the spreadsheet-formula guard every
export shares.

A spreadsheet runs a cell that starts with =, +, -, @ (and, in some versions, a tab, a
carriage return or NUL) as a formula: a customer who names themselves
`=HYPERLINK("http://evil", "x")` would otherwise run in the merchant's Excel. Such cells are
prefixed with a single quote, which makes Excel and LibreOffice show them as text.
django-import-export's own IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only strips a leading `=`."""

from __future__ import annotations

from import_export import fields, resources

from orders.models import Order

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(value):
    """A cell a spreadsheet will show as text. Non-strings (numbers and dates in XLSX) pass."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class FormulaSafeExport:
    """Mixed into every export resource: each exported cell goes through `neutralise`."""

    def export_field(self, field, instance, **kwargs):
        return neutralise(super().export_field(field, instance, **kwargs))


# The columns a "record shipments" upload reads (shipping.resources.RecordShipmentResource):
# an order export carries them empty, so staff fill the tracking in and upload the same file.
RECORD_COLUMNS = ("carrier", "tracking_number", "ship_date")


class OrderExportResource(FormulaSafeExport, resources.ModelResource):
    order_number = fields.Field(attribute="order_number", column_name="order_number")
    channel = fields.Field(attribute="channel__name", column_name="channel")
    status = fields.Field(column_name="status")
    carrier = fields.Field(column_name="carrier")
    tracking_number = fields.Field(column_name="tracking_number")
    ship_date = fields.Field(column_name="ship_date")

    class Meta:
        model = Order
        name = "Orders (fill carrier, tracking_number and ship_date to record shipments)"
        fields = (
            "order_number", "channel", "status", "ordered_at", "customer_name", "email", "ship_name", "ship_company",
            "ship_line1", "ship_line2", "ship_city", "ship_state", "ship_postal_code", "ship_country",
            "requested_service", "total", "currency", "total_weight_g", *RECORD_COLUMNS,
        )
        export_order = fields

    def dehydrate_status(self, order: Order) -> str:
        return order.get_status_display()

    def dehydrate_carrier(self, order: Order) -> str:
        return ""

    def dehydrate_tracking_number(self, order: Order) -> str:
        return ""

    def dehydrate_ship_date(self, order: Order) -> str:
        return ""
