"""What each upload row would do, checked against the database a chunk at a time.

A row is `new` (a shipment will be created), `updated` (a parcel added to an order that
already shipped), `skipped` (already done: uploading the same file again changes nothing) or
`error` (with every reason, by column). A chunk costs a handful of queries whatever its size."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from channels.connectors.carriers import TRACKING_COMPANIES
from channels.models import Channel
from orders import normalise
from orders import services as order_services
from orders.models import Fulfilment, Order
from shipping.bulk_sql import select_in
from shipping.models import CarrierAccount, Package, Shipment, ShippingMapping, ShippingMappingLine

NEW, UPDATED, SKIPPED, ERROR = "new", "updated", "skipped", "error"


@dataclass
class Row:
    number: int  # as Excel shows it: the header is row 1
    cells: list  # the raw cells, for the error report
    values: dict  # cleaned by the resource
    errors: list[tuple[str, str]] = field(default_factory=list)
    type: str = NEW
    message: str = ""
    stored: dict = field(default_factory=dict)  # what the import needs, JSON-safe

    def fail(self, column: str, message: str) -> None:
        self.errors.append((column, message))

    @property
    def error_text(self) -> str:
        return "; ".join(
            f"row {self.number}, {col}: {msg}" if i == 0 else f"{col}: {msg}"
            for i, (col, msg) in enumerate(self.errors)
        )


def _choices(names, limit: int = 8) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _suggest(value: str, names) -> str:
    close = difflib.get_close_matches(value, list(names), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


class OrderFinder:
    """Finds the orders a chunk names: one query for the chunk."""

    FIELDS = (
        "id",
        "channel_id",
        "order_number",
        "order_number_norm",
        "status",
        "ship_line1",
        "ship_country",
        "hold_reason",
    )

    def __init__(self):
        self.channels = {c.name.lower(): c for c in Channel.objects.only("id", "name")}
        self.channel_names = {c.pk: c.name for c in self.channels.values()}

    def load(self, rows: list[Row]) -> None:
        norms = {normalise.order_number(r.values.get("order_number") or "") for r in rows} - {""}
        self.by_norm: dict[str, list[dict]] = {}
        for values in select_in(Order, list(self.FIELDS), "order_number_norm", norms):
            o = dict(zip(self.FIELDS, values, strict=True))
            self.by_norm.setdefault(o["order_number_norm"], []).append(o)

    def find(self, row: Row) -> dict | None:
        number, channel_name = row.values.get("order_number"), row.values.get("channel")
        channel = None
        if channel_name:
            channel = self.channels.get(channel_name.lower())
            if channel is None:
                row.fail(
                    "channel",
                    f"no channel named “{channel_name}”{_suggest(channel_name, self.channel_names.values())}"
                    f" (channels: {_choices(self.channel_names.values())})",
                )
                return None
        if not number:
            return None
        shown = number if number.startswith("#") else f"#{number}"
        candidates = self.by_norm.get(normalise.order_number(number), [])
        if channel is not None:
            candidates = [o for o in candidates if o["channel_id"] == channel.pk]
            if not candidates:
                row.fail("order_number", f"no order {shown} on channel {channel.name}")
                return None
        if not candidates:
            row.fail("order_number", f"no order {shown} on any channel")
            return None
        if len(candidates) > 1:
            where = sorted({self.channel_names[o["channel_id"]] for o in candidates})
            if len(where) > 1:
                row.fail("channel", f"order {shown} exists on {' and '.join(where)}: name the channel")
            else:
                row.fail("order_number", f"{shown} matches {len(candidates)} orders on {where[0]}")
            return None
        return candidates[0]


def centimetres(value) -> str:
    """30.0 -> "30", 12.5 -> "12.5"."""
    return format(Decimal(value).normalize(), "f")


def shown(order: dict) -> str:
    number = order["order_number"]
    return number if number.startswith("#") else f"#{number}"


class RecordChecker:
    """Rows of a "record" upload: the order, the carrier, and the tracking number seen nowhere else."""

    def __init__(self):
        self.orders = OrderFinder()
        known = set(TRACKING_COMPANIES) | set(settings.CSV_EXTRA_CARRIERS)
        known |= set(
            CarrierAccount.objects.exclude(tracking_company="").values_list("tracking_company", flat=True)
        )
        known |= set(
            ShippingMapping.objects.exclude(tracking_company="").values_list("tracking_company", flat=True)
        )
        known |= set(
            ShippingMappingLine.objects.exclude(tracking_company="").values_list(
                "tracking_company", flat=True
            )
        )
        self.carriers = {name.lower(): name for name in known}
        self.order_rows: dict[int, int] = {}  # order id -> first row naming it
        self.tracking_rows: dict[str, tuple[int, str]] = {}  # tracking -> (row, order shown)
        self.dates: dict = {}  # ship date -> (ISO text, words): a file repeats a few dates

    def check(self, rows: list[Row]) -> None:
        self.orders.load(rows)
        numbers = {r.values["tracking_number"] for r in rows if r.values.get("tracking_number")}
        recorded: dict[str, set[int]] = {}
        for model in (Shipment, Fulfilment):
            for order_id, number in select_in(
                model, ["order_id", "tracking_number"], "tracking_number", numbers
            ):
                recorded.setdefault(number, set()).add(order_id)
        elsewhere = {}
        others = {oid for ids in recorded.values() for oid in ids}
        if others:
            elsewhere = {
                o["id"]: shown(o) for o in Order.objects.filter(pk__in=others).values("id", "order_number")
            }
        for row in rows:
            self._check_row(row, recorded, elsewhere)

    def _check_row(self, row: Row, recorded: dict[str, set[int]], elsewhere: dict[int, str]) -> None:
        values = row.values
        order = self.orders.find(row)
        carrier = values.get("carrier")
        if carrier:
            canonical = self.carriers.get(carrier.lower())
            if canonical is None:
                row.fail(
                    "carrier",
                    f"“{carrier}” is not a carrier Shipdesk knows{_suggest(carrier, self.carriers.values())}"
                    " (add it to a carrier account's tracking company, or to CSV_EXTRA_CARRIERS)",
                )
            values["carrier"] = canonical or carrier
        number = values.get("tracking_number")
        if order is None or not number:
            return self._finish(row, order)
        on_orders = recorded.get(number, set())
        if order["id"] in on_orders and not row.errors:
            row.type, row.message = SKIPPED, f"already recorded: {shown(order)} has tracking {number}"
            return None
        if on_orders - {order["id"]}:
            row.fail(
                "tracking_number",
                f"{number} is already recorded on order "
                f"{', '.join(sorted(elsewhere.get(o, '?') for o in on_orders - {order['id']}))}",
            )
        if order["status"] == Order.Status.CANCELLED:
            row.fail("order_number", f"order {shown(order)} is cancelled; nothing is sent for it")
        earlier = self.order_rows.get(order["id"])
        if earlier is not None:
            row.fail(
                "order_number",
                f"order {shown(order)} is already on row {earlier}; one row per order "
                "(upload a second parcel in another file)",
            )
        twin = self.tracking_rows.get(number)
        if twin is not None and earlier is None:
            row.fail("tracking_number", f"{number} is also on row {twin[0]} (order {twin[1]})")
        self.order_rows.setdefault(order["id"], row.number)
        self.tracking_rows.setdefault(number, (row.number, shown(order)))
        return self._finish(row, order)

    def _finish(self, row: Row, order: dict | None) -> None:
        if row.errors or order is None:
            row.type = ERROR
            return
        values = row.values
        when = values.get("ship_date")
        if when not in self.dates:
            self.dates[when] = (when.isoformat(), f", shipped {when:%Y-%m-%d}") if when else (None, "")
        iso, shipped = self.dates[when]
        row.stored = {
            "order_id": order["id"],
            "order": shown(order),
            "tracking_number": values["tracking_number"],
            "carrier": values["carrier"],
            "service": values.get("service", ""),
            "tracking_url": values.get("tracking_url", ""),
            "shipped_at": iso,
        }
        tail = f"{values['carrier']} {values['tracking_number']}{shipped}"
        if order["status"] in (Order.Status.SHIPPED, Order.Status.DELIVERED):
            row.type, row.message = UPDATED, f"{shown(order)} already shipped: adds parcel {tail}"
        else:
            row.type, row.message = NEW, f"{shown(order)}: {tail}"


class BookChecker:
    """Rows of a "book" upload: the order can be booked, the account and package exist."""

    def __init__(self):
        self.orders = OrderFinder()
        self.accounts = {a.name.lower(): a for a in CarrierAccount.objects.only("id", "name", "is_active")}
        self.packages = {p.name.lower(): p for p in Package.objects.only("id", "name")}
        self.order_rows: dict[int, int] = {}

    def check(self, rows: list[Row]) -> None:
        self.orders.load(rows)
        found = [self.orders.find(r) for r in rows]
        shipped = {
            o["id"] for o in found if o and o["status"] in (Order.Status.SHIPPED, Order.Status.DELIVERED)
        }
        tracking: dict[int, str] = {}
        for order_id, number in (
            Shipment.objects.filter(order_id__in=shipped)
            .order_by("created_at")
            .values_list("order_id", "tracking_number")
        ):
            tracking[order_id] = number
        # What each order has left for us to ship (the default lines a "book" row ships).
        self.positions = order_services.positions_of({o["id"] for o in found if o} - shipped)
        for row, order in zip(rows, found, strict=True):
            self._check_row(row, order, tracking)

    def _check_row(self, row: Row, order: dict | None, tracking: dict[int, str]) -> None:
        values = row.values
        account = package = None
        if values.get("carrier_account"):
            account = self.accounts.get(values["carrier_account"].lower())
            names = [a.name for a in self.accounts.values() if a.is_active]
            if account is None:
                row.fail(
                    "carrier_account",
                    f"no carrier account named “{values['carrier_account']}”"
                    f"{_suggest(values['carrier_account'], names)} (accounts: {_choices(names)})",
                )
            elif not account.is_active:
                row.fail("carrier_account", f"carrier account {account.name} is not active")
        if values.get("package"):
            package = self.packages.get(values["package"].lower())
            if package is None:
                names = [p.name for p in self.packages.values()]
                row.fail(
                    "package",
                    f"no package named “{values['package']}”{_suggest(values['package'], names)}"
                    + (f" (packages: {_choices(names)})" if names else " (no packages are set up)"),
                )
        sides = [values.get(k) for k in ("length_cm", "width_cm", "height_cm")]
        if any(sides) and not all(sides):
            row.fail("length_cm", "give length_cm, width_cm and height_cm together, or none of them")
        if any(sides) and values.get("package"):
            row.fail("package", "give a package or dimensions, not both")
        if order is not None:
            status = order["status"]
            if status in (Order.Status.SHIPPED, Order.Status.DELIVERED):
                row.type = SKIPPED
                row.message = f"{shown(order)} already shipped" + (
                    f" (tracking {tracking[order['id']]})" if order["id"] in tracking else ""
                )
                return
            positions = self.positions.get(order["id"], [])
            if status in order_services.BOOKABLE and not any(p.to_ship for p in positions):
                row.type = SKIPPED
                row.message = order_services.nothing_to_ship_reason(shown(order), positions)
                return
            if status == Order.Status.CANCELLED:
                row.fail("order_number", f"order {shown(order)} is cancelled")
            elif status == Order.Status.ON_HOLD:
                row.fail(
                    "order_number",
                    f"order {shown(order)} is on hold ({order['hold_reason'] or 'no reason given'})"
                    "; release it before booking",
                )
            if not order["ship_line1"] or not order["ship_country"]:
                row.fail("order_number", f"order {shown(order)} has no complete shipping address")
            earlier = self.order_rows.setdefault(order["id"], row.number)
            if earlier != row.number:
                row.fail(
                    "order_number",
                    f"order {shown(order)} is already on row {earlier}; one label per order per file",
                )
        if row.errors or order is None:
            row.type = ERROR
            return
        dims = [str(s) for s in sides] if all(sides) else None
        row.stored = {
            "order_id": order["id"],
            "order": shown(order),
            "carrier_account_id": account.pk if account else None,
            "service": values.get("service", ""),
            "weight_g": values.get("weight_g"),
            "package_id": package.pk if package else None,
            "dimensions": dims,
            "note": values.get("note") or "",
        }
        parts = [
            account.name if account else "carrier from the shipping rules",
            values.get("service") or "default service",
        ]
        if values.get("weight_g"):
            parts.append(f"{values['weight_g']} g")
        if package:
            parts.append(package.name)
        elif dims:
            parts.append(" × ".join(centimetres(d) for d in dims) + " cm")
        if values.get("note"):
            parts.append(f"note “{values['note']}”")
        row.type, row.message = NEW, f"{shown(order)}: book " + ", ".join(parts)


CHECKERS = {"record": RecordChecker, "book": BookChecker}
