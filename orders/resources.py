"""Order export (CSV and XLSX) for the order list, and what every export shares: the
spreadsheet-formula guard and the file writer (`export_file`).

A spreadsheet runs a cell that starts with =, +, -, @ (also after leading spaces or line
breaks, in their fullwidth forms, and in some versions after a tab, a carriage return or NUL)
as a formula: a customer who names themselves
`=HYPERLINK("http://evil", "x")` would otherwise run in the merchant's Excel. Such cells are
prefixed with a single quote, which makes Excel and LibreOffice show them as text.
django-import-export's own IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only strips a leading `=`."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import date, datetime, time
from decimal import Decimal

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from import_export import fields, resources

from orders.models import Fulfilment, Order

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
# Excel, LibreOffice and Google Sheets skip leading spaces and line breaks before a formula, and
# read the fullwidth signs (＝ ＋ － ＠, as an East Asian keyboard types them) as the ASCII ones
# (OWASP, "CSV Injection").
FORMULA_SIGNS = "=+-@\uff1d\uff0b\uff0d\uff20"
EXPORT_CHUNK_ROWS = 2000  # rows fetched from the database at a time
SPOOL_BYTES = 1024 * 1024  # an export file bigger than this is written to disk, not kept in memory


def neutralise(value):
    """A cell a spreadsheet will show as text. Non-strings (numbers and dates in XLSX) pass."""
    if isinstance(value, str) and value:
        first = value.lstrip()[:1]
        if value.startswith(FORMULA_TRIGGERS) or (first and first in FORMULA_SIGNS):
            return "'" + value
    return value


class FormulaSafeExport:
    """Mixed into every export resource: each exported cell goes through `neutralise`."""

    def export_field(self, field, instance, **kwargs):
        return neutralise(super().export_field(field, instance, **kwargs))


def export_file(
    resource: resources.Resource, queryset, *, xlsx: bool, selected_fields=None, encoding: str = "utf-8-sig"
):
    """`queryset` through `resource` (its columns, or `selected_fields`) as a CSV or XLSX file,
    positioned at its start. One query whatever the row count (add the select_related the
    columns need), read EXPORT_CHUNK_ROWS at a time, and written as it is read into a temporary
    file that moves to disk past SPOOL_BYTES: a large export is never held in memory whole, as
    django-import-export's own (a tablib Dataset, then the file's bytes) would be."""
    headers = resource.get_export_headers(selected_fields=selected_fields)
    from orders.exporting import export_rows  # it builds on this module

    rows = export_rows(resource, queryset, selected_fields=selected_fields, native=xlsx)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - the caller's to close
    try:
        if xlsx:
            write_xlsx(spool, headers, rows, title=str(resource._meta.model._meta.verbose_name_plural))
        else:
            text = io.TextIOWrapper(spool, encoding=encoding, newline="")
            writer = csv.writer(text)  # the dialect tablib's CSV uses (Excel's)
            writer.writerow(headers)
            writer.writerows(rows)
            text.flush()
            text.detach()
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def write_xlsx(spool, headers: list[str], rows, *, title: str) -> None:
    # Write-only: rows go to a temporary file as they are appended (a normal workbook keeps every
    # cell as an object), so the bold header, frozen first row and widths are set beforehand.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    def cell(value):
        if isinstance(value, str):
            # XLSX cannot hold control characters such as NUL (IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT)
            return ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", value)
        if isinstance(value, datetime) and timezone.is_aware(value):
            return timezone.localtime(value).replace(tzinfo=None)  # Excel has no time zones
        if value is None or isinstance(value, int | float | Decimal | date | time):
            return value
        return str(value)

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    for i, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(12, len(header) + 4)
    bold = Font(bold=True)
    head = []
    for header in headers:
        head.append(WriteOnlyCell(sheet, value=header))
        head[-1].font = bold
    sheet.append(head)
    for row in rows:
        sheet.append([cell(v) for v in row])
    book.save(spool)


# The columns a "record shipments" upload reads (shipping.resources.RecordShipmentResource): an
# order export fills them for orders that have a parcel (its latest one) and leaves them empty for
# the others, so staff fill the tracking in and upload the same file. A row that comes back
# unchanged records nothing twice: recording is idempotent on (order, tracking number).
RECORD_COLUMNS = ("carrier", "tracking_number", "ship_date")
# The fulfilments whose parcel still stands: not withdrawn, not retracted after a cancelled label.
LIVE_FULFILMENT_STATES = (
    Fulfilment.State.PENDING,
    Fulfilment.State.SENT,
    Fulfilment.State.BLOCKED,
    Fulfilment.State.FAILED,
)


def latest_parcels(queryset):
    """`queryset` with each order's latest live parcel (what its channel is told: tracking company,
    tracking number, when it shipped) as annotations `export_carrier`, `export_tracking_number`,
    `export_shipped_at`: three correlated subqueries on the fulfilments' order index, in the same
    single query, so a million-row export costs what one row does."""
    latest = Fulfilment.objects.filter(
        order=OuterRef("pk"), state__in=LIVE_FULFILMENT_STATES, retract_requested_at__isnull=True
    ).order_by("-created_at", "-id")
    return queryset.annotate(
        export_carrier=Subquery(latest.values("carrier_name")[:1]),
        export_tracking_number=Subquery(latest.values("tracking_number")[:1]),
        export_shipped_at=Subquery(latest.values("created_at")[:1]),
    )


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
            "order_number",
            "channel",
            "status",
            "ordered_at",
            "customer_name",
            "email",
            "ship_name",
            "ship_company",
            "ship_line1",
            "ship_line2",
            "ship_city",
            "ship_state",
            "ship_postal_code",
            "ship_country",
            "requested_service",
            "total",
            "currency",
            "total_weight_g",
            *RECORD_COLUMNS,
        )
        export_order = fields

    def dehydrate_status(self, order: Order) -> str:
        return order.get_status_display()

    def prepare_export_queryset(self, queryset):
        # The list selects each order's channel whole; its sync state and (encrypted)
        # credentials would be decoded for every row and never exported.
        return latest_parcels(queryset).defer(
            "channel__credentials", "channel__cursor", "channel__last_sync_summary", "channel__last_error"
        )

    def _latest(self, order: Order, name: str):
        if not hasattr(order, "export_tracking_number"):  # exported without prepare_export_queryset
            annotated = (
                latest_parcels(Order.objects.filter(pk=order.pk))
                .values("export_carrier", "export_tracking_number", "export_shipped_at")
                .first()
                or {}
            )
            for key, value in annotated.items():
                setattr(order, key, value)
        return getattr(order, name, None)

    def dehydrate_carrier(self, order: Order) -> str:
        return self._latest(order, "export_carrier") or ""

    def dehydrate_tracking_number(self, order: Order) -> str:
        return self._latest(order, "export_tracking_number") or ""

    def dehydrate_ship_date(self, order: Order) -> str:
        shipped = self._latest(order, "export_shipped_at")
        if shipped is None:
            return ""
        if isinstance(shipped, str):  # SQLite hands a subquery's datetime back as text
            shipped = datetime.fromisoformat(shipped)
        if timezone.is_aware(shipped):
            shipped = timezone.localtime(shipped)
        return shipped.date().isoformat()
