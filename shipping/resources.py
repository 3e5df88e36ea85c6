"""Spreadsheet mappings for shipments: the columns of a "book" and a "record" upload (how each
cell is read and what is wrong with it, in plain words), and the shipment export.

These are mapping code only. What a row does is decided in shipping.csv_checks (against the
database) and done by the booking services (shipping.booking, shipping.bulk_record)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils import timezone
from import_export import fields, resources, widgets

from orders.resources import FORMULA_TRIGGERS, FormulaSafeExport
from shipping.models import Shipment


class CellError(ValueError):
    """What is wrong with one cell, in words staff understand (the column is added by the caller)."""


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value) -> str:
    """A cell as text: numbers from XLSX without a spurious ".0"."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        raise CellError(
            f"Excel stored {value:g} as a number and lost digits; format the column as Text and "
            "type the value again"
        )
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    # A leading apostrophe is how Excel (and our exports) keep a cell as text: drop it.
    if text.startswith("'") and text[1:2] and text[1] in FORMULA_TRIGGERS:
        text = text[1:]
    return text


class Text(widgets.CharWidget):
    def __init__(self, *, max_length: int, required: bool = False):
        super().__init__()
        self.max_length, self.required = max_length, required

    def clean(self, value, row=None, **kwargs) -> str:
        if is_blank(value):
            if self.required:
                raise CellError("empty; this column is required")
            return ""
        text = _text(value)
        if text.startswith(FORMULA_TRIGGERS):
            shown = text[:20] + ("…" if len(text) > 20 else "")
            raise CellError(
                f"“{shown}” starts with “{text[0]}”, which a spreadsheet runs as a formula; "
                "write the value itself"
            )
        if len(text) > self.max_length:
            raise CellError(f"{len(text)} characters long; at most {self.max_length}")
        return text


_CONTROL_NAMES = {"\n": "line break", "\r": "line break", "\t": "tab"}
_VISIBLE = {"\n": "⏎", "\r": "⏎", "\t": "⇥"}
_SCIENTIFIC = re.compile(r"^\d+(?:[.,]\d+)?E\+?\d+$", re.IGNORECASE)
_TRACKING = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-_./]*$")


class TrackingNumber(Text):
    def __init__(self):
        super().__init__(max_length=100, required=True)

    def clean(self, value, row=None, **kwargs) -> str:
        text = super().clean(value)
        control = next((c for c in text if unicodedata.category(c) == "Cc"), None)
        if control is not None:
            # A line break or tab inside the cell is not a gap to close up: "RL⏎INJ" may be two
            # numbers run together, or a cell that swallowed the next. Say so; change nothing.
            shown = "".join(_VISIBLE.get(c, c) for c in text[:30])
            raise CellError(
                f"“{shown}” has characters a tracking number never has (a "
                f"{_CONTROL_NAMES.get(control, 'control character')}: a tracking number is one line); a "
                "quote left open in the file can swallow the next rows"
            )
        text = text.replace(" ", "").replace("\u00a0", "")  # carriers print them with spaces; APIs want none
        if _SCIENTIFIC.match(text):
            raise CellError(
                f"“{text}” is a number Excel shortened (scientific notation) and its last digits are "
                "lost; format the column as Text and paste the tracking numbers again"
            )
        if not _TRACKING.match(text):
            odd = sorted({c for c in text if not (c.isascii() and (c.isalnum() or c in "-_./"))})
            raise CellError(
                f"“{text[:30]}{'…' if len(text) > 30 else ''}” has characters a tracking number never "
                f"has ({' '.join(odd) or text[0]}); a quote left open in the file can swallow the next rows"
            )
        return text


class Url(Text):
    def __init__(self):
        super().__init__(max_length=500)

    def clean(self, value, row=None, **kwargs) -> str:
        text = super().clean(value)
        if text and not text.lower().startswith(("https://", "http://")):
            raise CellError(f"“{text[:40]}” is not a web address (it should start with https://)")
        return text


class ShipDate(widgets.DateWidget):
    """A date (or date and time) as Excel writes it: 2026-11-20, 20/11/2026, 20.11.2026, an XLSX
    date cell. Day before month unless CSV_DATE_ORDER is MDY. Empty (None): when it is recorded.
    A file repeats a few dates many times: each distinct cell is read once."""

    def __init__(self):
        super().__init__()
        self.seen: dict = {}
        self.now = None

    def clean(self, value, row=None, **kwargs) -> datetime | None:
        if is_blank(value):
            return None
        key = value if isinstance(value, str) else repr(value)
        if key not in self.seen:
            if len(self.seen) > 10_000:
                self.seen.clear()
            try:
                self.seen[key] = self._read(value)
            except CellError as exc:
                self.seen[key] = str(exc)
        found = self.seen[key]
        if isinstance(found, str):
            raise CellError(found)  # a new one each time: a re-raised exception keeps growing its traceback
        return found

    def _read(self, value) -> datetime:
        self.now = self.now or timezone.now()
        now = self.now
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime.combine(value, time(12))
        else:
            parsed = self.parse(str(value).strip())
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
        if parsed.date() == now.date() and parsed > now:
            parsed = now
        if parsed > now + timedelta(days=1):
            raise CellError(f"{parsed:%Y-%m-%d} is in the future")
        if parsed.year < 2000:
            raise CellError(f"{parsed:%Y-%m-%d} is before 2000; check the year")
        return parsed

    @staticmethod
    def parse(text: str) -> datetime:
        if len(text) == 10 and text[4] == "-":
            try:
                return datetime.combine(date.fromisoformat(text), time(12))  # the common case, fast
            except ValueError:
                pass
        day_first = settings.CSV_DATE_ORDER.upper() != "MDY"
        formats = ["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d"]
        for sep in ("/", ".", "-"):
            pattern = f"%d{sep}%m{sep}%Y" if day_first else f"%m{sep}%d{sep}%Y"
            formats += [pattern, pattern + " %H:%M", pattern + " %H:%M:%S"]
        for fmt in formats:
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            return parsed if "%H" in fmt else parsed.replace(hour=12)  # a day, not a midnight: no date shift
        example = "20/11/2026" if day_first else "11/20/2026"
        raise CellError(f"“{text[:30]}” is not a date; write it as 2026-11-20 or {example}")


def _number(value) -> Decimal:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value))
    text = _text(value).replace("\u00a0", "").replace(" ", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # French Excel: 30,5
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError(f"“{text[:30]}” is not a number") from None
    if not number.is_finite():
        raise CellError(f"“{text[:30]}” is not a number")
    return number


class Grams(widgets.IntegerWidget):
    def clean(self, value, row=None, **kwargs) -> int | None:
        if is_blank(value):
            return None
        text = value if not isinstance(value, str) else value.strip().lower().removesuffix("g").strip()
        number = _number(text)
        if number <= 0:
            raise CellError(f"{number} g: the weight must be more than 0 g")
        if number != number.to_integral_value():
            raise CellError(f"{number}: give the weight in whole grams (1.5 kg is 1500)")
        if number > 70_000:
            raise CellError(f"{number} g is over 70 kg; is it in grams?")
        return int(number)


class Centimetres(widgets.DecimalWidget):
    def clean(self, value, row=None, **kwargs) -> Decimal | None:
        if is_blank(value):
            return None
        number = _number(value.strip().lower().removesuffix("cm") if isinstance(value, str) else value)
        if number <= 0:
            raise CellError(f"{number} cm: a side must be more than 0 cm")
        if number > 300:
            raise CellError(f"{number} cm is over 3 metres; is it in centimetres?")
        return number.quantize(Decimal("0.1"))


class Column(fields.Field):
    """A column of an upload: its widget reads the cell; help and example go into the template."""

    def __init__(self, name: str, widget, *, help: str, example: str = "", aliases: tuple[str, ...] = ()):
        super().__init__(attribute=name, column_name=name, widget=widget)
        self.help, self.example, self.aliases = help, example, aliases

    @property
    def required(self) -> bool:
        return getattr(self.widget, "required", False)


def header_key(header: str) -> str:
    key = re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_")
    return key


class RowResource(resources.Resource):
    """Reads one kind of upload. `clean(cells)` returns (values, [(column, message)])."""

    kind = ""
    title = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The instance's own copies (Resource.__init__ deep-copies the fields): a widget's cache
        # lives as long as one job.
        self._columns = [f for f in self.fields.values() if isinstance(f, Column)]

    def columns(self) -> list[Column]:
        return self._columns

    def match_headers(self, headers: list[str]) -> tuple[dict[str, int], list[str], list[str], list[str]]:
        """(column -> position, missing required columns, ignored headers, repeated headers)."""
        wanted = {}
        for col in self.columns():
            for key in (col.column_name, *col.aliases):
                wanted[key] = col.column_name
        positions: dict[str, int] = {}
        ignored, repeated = [], []
        for i, header in enumerate(headers):
            name = wanted.get(header_key(header))
            if name is None:
                if header:
                    ignored.append(header)
            elif name in positions:
                repeated.append(header)
            else:
                positions[name] = i
        missing = [c.column_name for c in self.columns() if c.required and c.column_name not in positions]
        return positions, missing, ignored, repeated

    def clean(self, cells: dict) -> tuple[dict, list[tuple[str, str]]]:
        values, errors = {}, []
        for col in self.columns():
            try:
                values[col.column_name] = col.widget.clean(cells.get(col.column_name))
            except CellError as exc:
                errors.append((col.column_name, str(exc)))
        return values, errors


CHANNEL_HELP = (
    "The shop's name in Shipdesk (Channels). May be empty when the order number exists on one shop only."
)


class RecordShipmentResource(RowResource):
    """A shipment booked outside Shipdesk: recorded, and its tracking sent to the channel."""

    kind = "record"
    title = "Record shipments booked elsewhere"

    order_number = Column(
        "order_number",
        Text(max_length=100, required=True),
        example="1042",
        help="The channel's order number, with or without #.",
        aliases=("order", "order_no"),
    )
    channel = Column(
        "channel", Text(max_length=100), example="Etsy-Main", help=CHANNEL_HELP, aliases=("shop", "store")
    )
    carrier = Column(
        "carrier",
        Text(max_length=100, required=True),
        example="Royal Mail",
        help="Who carries the parcel (Royal Mail, USPS, DHL Express, Colissimo…).",
        aliases=("tracking_company", "carrier_name"),
    )
    tracking_number = Column(
        "tracking_number",
        TrackingNumber(),
        example="RM123456785GB",
        help="The carrier's tracking number. Format the column as Text in Excel.",
        aliases=("tracking", "tracking_code", "tracking_no"),
    )
    ship_date = Column(
        "ship_date",
        ShipDate(),
        example="",
        help="When the parcel left: 2026-11-20 or 20/11/2026. Empty: today.",
        aliases=("shipped_at", "shipped_on", "date_shipped", "shipping_date"),
    )
    service = Column(
        "service", Text(max_length=100), example="Tracked 48", help="Optional: the carrier's service."
    )
    tracking_url = Column(
        "tracking_url", Url(), example="", help="Optional: a tracking page for this parcel (https://…)."
    )


class BookShipmentResource(RowResource):
    """A label to buy from one of our carrier accounts."""

    kind = "book"
    title = "Book shipments (buy labels)"

    order_number = Column(
        "order_number",
        Text(max_length=100, required=True),
        example="1042",
        help="The channel's order number, with or without #.",
        aliases=("order", "order_no"),
    )
    channel = Column(
        "channel", Text(max_length=100), example="Etsy-Main", help=CHANNEL_HELP, aliases=("shop", "store")
    )
    carrier_account = Column(
        "carrier_account",
        Text(max_length=100),
        example="Royal Mail (own account)",
        help="Optional: a carrier account's name (Shipping › Carrier accounts). "
        "Empty: the shipping rules decide.",
        aliases=("account",),
    )
    service = Column(
        "service",
        Text(max_length=100),
        example="Tracked 48",
        help="Optional: the service. Empty: the rules or the account's default service.",
    )
    weight_g = Column(
        "weight_g",
        Grams(),
        example="450",
        help="Optional: the parcel's weight in grams. Empty: the order's weight.",
        aliases=("weight", "weight_grams"),
    )
    package = Column(
        "package",
        Text(max_length=100),
        example="",
        help="Optional: a package's name (Shipping › Packages): its size and own weight are used.",
    )
    length_cm = Column(
        "length_cm",
        Centimetres(),
        example="30",
        help="Optional: length in cm (with width and height).",
        aliases=("length",),
    )
    width_cm = Column(
        "width_cm", Centimetres(), example="20", help="Optional: width in cm.", aliases=("width",)
    )
    height_cm = Column(
        "height_cm", Centimetres(), example="10", help="Optional: height in cm.", aliases=("height",)
    )
    note = Column(
        "note",
        Text(max_length=500),
        example="Thank you for your order!",
        help="Optional: a note to the buyer, sent with the tracking where the channel's API carries one. "
        "Empty: the channel's default note.",
        aliases=("note_to_buyer", "buyer_note"),
    )


ROW_RESOURCES: dict[str, type[RowResource]] = {"record": RecordShipmentResource, "book": BookShipmentResource}


class ShipmentExportResource(FormulaSafeExport, resources.ModelResource):
    order_number = fields.Field(attribute="order__order_number", column_name="order_number")
    channel = fields.Field(attribute="order__channel__name", column_name="channel")
    status = fields.Field(column_name="status")
    carrier = fields.Field(attribute="tracking_company", column_name="carrier")
    carrier_account = fields.Field(attribute="carrier_account__name", column_name="carrier_account")
    booked_at = fields.Field(attribute="created_at", column_name="booked_at", widget=widgets.DateTimeWidget())

    class Meta:
        model = Shipment
        name = "Shipments"
        fields = (
            "order_number",
            "channel",
            "tracking_number",
            "carrier",
            "status",
            "carrier_account",
            "service",
            "shipping_name",
            "weight_g",
            "fee",
            "currency",
            "note",
            "booked_at",
            "carrier_status",
            "delivered_at",
            "tracking_url",
        )
        export_order = fields

    def dehydrate_status(self, shipment: Shipment) -> str:
        return shipment.get_status_display()
