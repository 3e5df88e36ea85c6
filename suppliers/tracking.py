"""Tracking back from suppliers, from three sources: polling the supplier API, the supplier's
private upload page, and a CSV staff import. Each tracking number becomes a shipment on the
store order (shipping.booking.record_external_shipment), pushed to the channel like any other.
Also the watchlist: placed orders still without tracking after the supplier's N days."""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from orders import services as order_services
from orders.alerts import alert_staff
from shipping.booking import BookingError, record_external_shipment
from suppliers import services
from suppliers.models import Supplier, SupplierOrder
from suppliers.supplier_api import SupplierApiError

log = logging.getLogger(__name__)

MAX_CSV_ROWS = 5000
COLUMN_NAMES = {
    "reference": {"reference", "po", "purchase_order", "purchase order", "our_reference", "po_reference"},
    "store_order": {"store_order", "order", "order_number", "order number"},
    "tracking_number": {"tracking_number", "tracking", "tracking number", "tracking_code"},
    "carrier": {"carrier", "carrier_name", "tracking_company"},
    "tracking_url": {"tracking_url", "url", "tracking url"},
}


class TrackingError(Exception):
    pass


def record_tracking(
    supplier_order: SupplierOrder,
    *,
    tracking_number: str,
    carrier: str,
    tracking_url: str = "",
    source: str,
    actor=None,
) -> tuple[SupplierOrder, bool]:
    """The supplier shipped: store the shipment on the store order, send its tracking to the
    channel, and mark the supplier order shipped. Returns (supplier order, whether it is new).
    The same tracking number twice changes nothing."""
    tracking_number, carrier = (tracking_number or "").strip(), (carrier or "").strip()
    supplier_order = SupplierOrder.objects.select_related("supplier", "order__channel").get(
        pk=supplier_order.pk
    )
    if not tracking_number:
        raise TrackingError(f"{supplier_order.reference}: no tracking number")
    if supplier_order.status == SupplierOrder.Status.SHIPPED:
        if supplier_order.tracking_number == tracking_number:
            return supplier_order, False
        raise TrackingError(
            f"{supplier_order.reference} already shipped with tracking {supplier_order.tracking_number}"
        )
    if supplier_order.status != SupplierOrder.Status.PLACED:
        raise TrackingError(
            f"{supplier_order.reference} is {supplier_order.get_status_display().lower()}, "
            "not placed with the supplier"
        )
    order, supplier = supplier_order.order, supplier_order.supplier
    lines = [(line.order_line, line.quantity) for line in supplier_order.lines.select_related("order_line")]
    try:
        with transaction.atomic():
            # Exactly the supplier's lines, as the supplier's parcel (never our own lines).
            shipment, _ = record_external_shipment(
                order=order,
                tracking_number=tracking_number,
                carrier=carrier or supplier.name,
                tracking_url=tracking_url,
                lines=lines,
                reference=f"supplier-{supplier_order.pk}-{tracking_number}"[:100],
                note=f"shipped by {supplier.name}, {supplier_order.reference}",
                supplier=supplier.name,
                actor=actor,
            )
            services.set_status(
                supplier_order,
                SupplierOrder.Status.SHIPPED,
                actor=actor,
                reason=f"tracking {tracking_number}"
                + (f" ({carrier})" if carrier else "")
                + f" from {source}",
                fields={
                    "tracking_number": tracking_number,
                    "carrier": carrier,
                    "tracking_url": tracking_url,
                    "shipment": shipment,
                    "last_error": "",
                },
            )
            order_services.refresh_status(
                order, actor=actor, reason=f"{supplier.name} shipped {supplier_order.reference}"
            )
    except BookingError as exc:
        raise TrackingError(f"{supplier_order.reference}: {exc}") from exc
    return supplier_order, True


# -- source 1: polling the supplier API


@dataclass
class PollSummary:
    checked: int = 0
    shipped: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)


def poll_supplier(supplier: Supplier, summary: PollSummary | None = None) -> PollSummary:
    """Ask the supplier API about every placed order of this supplier (one GET each)."""
    summary = summary or PollSummary()
    api = supplier.api()
    for supplier_order in supplier.orders.filter(status=SupplierOrder.Status.PLACED).exclude(remote_id=""):
        summary.checked += 1
        try:
            remote = api.fetch(supplier_order.remote_id)  # HTTP, outside any transaction
            if remote.is_shipped:
                _, created = record_tracking(
                    supplier_order,
                    tracking_number=remote.tracking_number,
                    carrier=remote.carrier,
                    tracking_url=remote.tracking_url,
                    source=f"{supplier.name}'s API",
                )
                summary.shipped += created
            elif remote.is_cancelled:
                services.set_status(
                    supplier_order,
                    SupplierOrder.Status.CANCELLED,
                    reason=f"{supplier.name} cancelled it (their order {remote.remote_id})",
                )
                alert_staff(
                    supplier_order.order.channel,
                    f"{supplier.name} cancelled {supplier_order.reference}",
                    f"Store order {supplier_order.order} needs another way to ship.",
                )
                summary.cancelled += 1
        except (SupplierApiError, TrackingError) as exc:
            summary.errors.append(f"{supplier_order.reference}: {exc}")
            SupplierOrder.objects.filter(pk=supplier_order.pk).update(last_error=str(exc)[:2000])
    return summary


def poll_all() -> PollSummary:
    summary = PollSummary()
    for supplier in Supplier.objects.filter(is_active=True, tracking_method=Supplier.TrackingMethod.API):
        poll_supplier(supplier, summary)
    return summary


# -- sources 2 and 3: the upload page and CSV files


@dataclass
class ImportSummary:
    recorded: list[str] = field(default_factory=list)  # references
    unchanged: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __str__(self):
        text = f"{len(self.recorded)} tracking number(s) recorded"
        if self.unchanged:
            text += f", {len(self.unchanged)} already known"
        if self.problems:
            text += f", {len(self.problems)} problem(s)"
        return text


def find_supplier_order(
    *, reference: str = "", store_order: str = "", supplier: Supplier | None = None
) -> SupplierOrder:
    qs = SupplierOrder.objects.select_related("supplier")
    if supplier is not None:
        qs = qs.filter(supplier=supplier)
    if reference:
        found = list(qs.filter(reference=reference.strip().upper()))
    elif store_order:
        from orders import normalise

        found = list(qs.filter(order__order_number_norm=normalise.order_number(store_order)))
    else:
        raise TrackingError("give our purchase order reference (PO-…) or the store order number")
    if not found:
        raise TrackingError(f"no supplier order {reference or store_order}")
    if len(found) > 1:
        raise TrackingError(
            f"store order {store_order} has orders with several suppliers; give the PO reference"
        )
    return found[0]


def submit(rows: list[dict], *, supplier: Supplier | None, source: str, actor=None) -> ImportSummary:
    """Record tracking for rows of {reference | store_order, tracking_number, carrier, tracking_url}.
    With `supplier`, only that supplier's orders can be matched (the upload page)."""
    summary = ImportSummary()
    for number, row in enumerate(rows, start=1):
        label = row.get("reference") or row.get("store_order") or f"row {number}"
        try:
            supplier_order = find_supplier_order(
                reference=row.get("reference", ""), store_order=row.get("store_order", ""), supplier=supplier
            )
            _, created = record_tracking(
                supplier_order,
                tracking_number=row.get("tracking_number", ""),
                carrier=row.get("carrier", ""),
                tracking_url=row.get("tracking_url", ""),
                source=source,
                actor=actor,
            )
        except TrackingError as exc:
            summary.problems.append(f"{label}: {exc}" if str(label) not in str(exc) else str(exc))
            continue
        (summary.recorded if created else summary.unchanged).append(supplier_order.reference)
    return summary


def read_csv(data: bytes | str) -> list[dict]:
    """Rows of a tracking CSV (comma or semicolon, UTF-8 with or without BOM), keyed by our
    column names whatever the header says."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    if not text.strip():
        raise TrackingError("the file is empty")
    try:
        dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    names = {}
    for header in reader.fieldnames or []:
        key = (header or "").strip().lower()
        for ours, synonyms in COLUMN_NAMES.items():
            if key in synonyms:
                names[header] = ours
    if "tracking_number" not in names.values() or not {"reference", "store_order"} & set(names.values()):
        raise TrackingError("the CSV needs a tracking_number column and a reference (or store_order) column")
    rows = []
    for row in reader:
        if len(rows) >= MAX_CSV_ROWS:
            raise TrackingError(f"more than {MAX_CSV_ROWS} rows; split the file")
        mapped = {names[k]: (v or "").strip() for k, v in row.items() if k in names}
        if any(mapped.values()):
            rows.append(mapped)
    return rows


def import_csv(
    data: bytes | str, *, supplier: Supplier | None = None, source: str, actor=None
) -> ImportSummary:
    return submit(read_csv(data), supplier=supplier, source=source, actor=actor)


# -- the watchlist


def alert_overdue(now=None) -> int:
    """Alert staff once about each placed order still without tracking after its supplier's
    watchlist days (one alert per supplier and channel). Returns how many orders were alerted."""
    now = now or timezone.now()
    overdue = list(
        SupplierOrder.objects.overdue(now)
        .filter(watch_alerted_at__isnull=True)
        .select_related("supplier", "order__channel")
    )
    groups = defaultdict(list)
    for supplier_order in overdue:
        groups[(supplier_order.supplier, supplier_order.order.channel)].append(supplier_order)
    for (supplier, channel), group in groups.items():
        refs = ", ".join(f"{so.reference} (order {so.order})" for so in group)
        with transaction.atomic():
            alert_staff(
                channel,
                f"{len(group)} order(s) from {supplier.name} without tracking after "
                f"{supplier.watchlist_days} days",
                f"No tracking yet for {refs}. Contact "
                f"{supplier.contact_name or supplier.name} {supplier.email}".strip(),
            )
            for so in group:
                services.record(
                    so, f"no tracking {supplier.watchlist_days} days after placing; staff alerted"
                )
            SupplierOrder.objects.filter(pk__in=[so.pk for so in group]).update(watch_alerted_at=now)
    return len(overdue)
