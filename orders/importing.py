"""Importing orders from a channel: the rules, the bulk upsert, the skip reasons, the cursor.

One page at a time, in one transaction each: the page's orders, lines, events and skip
reasons are written and the channel's cursor advanced together, so a failure mid-sync loses
nothing and replays nothing twice. The same write renews the sync's heartbeat, and only while
this run still holds the claim: a run whose claim went stale and was taken over stops instead of
writing beside the new one. Every query here runs once per page, whatever its size."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.connectors.base import Page, RemoteOrder
from channels.models import Channel, StatusMapping
from orders import attribution
from orders.models import Order, OrderEvent, OrderLine, Product, RemoteProductCache, SkippedOrder

log = logging.getLogger(__name__)

ORDER_FIELDS = [
    "order_number",
    "remote_status",
    "customer_name",
    "email",
    "phone",
    "ship_name",
    "ship_company",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_state",
    "ship_postal_code",
    "ship_country",
    "ship_phone",
    "requested_service",
    "payment_method",
    "currency",
    "total",
    "discount_total",
    "coupon_codes",
    "is_gift",
    "gift_message",
    "customer_note",
    "internal_note",
    "total_weight_g",
    "ordered_at",
    "remote_updated_at",
    "ship_by",
]
ADDRESS_FIELDS = [f for f in ORDER_FIELDS if f.startswith("ship_") and f != "ship_by"]
NORMAL_FORMS = ["order_number_norm", "email_norm", "postal_code_norm"]
UNMAPPED_PREFIX = "unmapped channel status: "
LINE_FIELDS = [
    "sku",
    "title",
    "quantity",
    "unit_price",
    "weight_g",
    "image_url",
    "options",
    "stock_location",
    "is_physical",
]


class SyncTakenOver(Exception):
    """This run's sync claim went stale and another worker holds it now."""


@dataclass
class SyncSummary:
    seen: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    shipped_on_channel: int = 0
    cancelled_on_channel: int = 0
    skipped: Counter = field(default_factory=Counter)
    pages: int = 0
    pushed: int = 0
    push_errors: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["skipped"] = dict(self.skipped)
        return d

    def __str__(self):
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items())) or "none"
        text = (
            f"{self.imported} imported, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.shipped_on_channel} shipped on channel, {self.cancelled_on_channel} cancelled on channel, "
            f"skipped: {skipped}, {self.pushed} pushed"
        )
        if self.errors:
            text += f", {len(self.errors)} error(s): " + "; ".join(self.errors)
        return text


def summary_sentences(summary: dict) -> list[str]:
    """A stored sync summary (`SyncSummary.as_dict()`) as sentences staff read on the channel page:
    what came in, what was left out and why (with counts), what went to the channel, what failed."""
    if not summary:
        return []
    n = lambda key: int(summary.get(key) or 0)  # noqa: E731
    sentences = [
        _(
            "Imported %(imported)d new order(s) and updated %(updated)d, of %(seen)d read in %(pages)d page(s)."
        )
        % {"imported": n("imported"), "updated": n("updated"), "seen": n("seen"), "pages": n("pages")}
    ]
    if n("shipped_on_channel") or n("cancelled_on_channel"):
        sentences.append(
            _("%(shipped)d order(s) were shipped and %(cancelled)d cancelled on the channel itself.")
            % {"shipped": n("shipped_on_channel"), "cancelled": n("cancelled_on_channel")}
        )
    skipped = {reason: count for reason, count in (summary.get("skipped") or {}).items() if count}
    if skipped:
        labels = dict(SkippedOrder.Reason.choices)
        parts = [
            f"{count} {str(labels.get(reason, reason)).lower()}"
            for reason, count in sorted(skipped.items(), key=lambda item: (-item[1], item[0]))
        ]
        sentences.append(
            _("Skipped %(total)d order(s): %(parts)s.")
            % {"total": sum(skipped.values()), "parts": ", ".join(parts)}
        )
    else:
        sentences.append(_("No order was skipped."))
    if n("pushed") or n("push_errors"):
        sentences.append(
            _("Sent %(pushed)d shipment(s) to the channel; %(failed)d could not be sent.")
            % {"pushed": n("pushed"), "failed": n("push_errors")}
        )
    errors = summary.get("errors") or []
    if errors:
        sentences.append(
            _("%(count)d error(s): %(errors)s") % {"count": len(errors), "errors": "; ".join(errors)}
        )
    return sentences


def payload_hash(remote: RemoteOrder) -> str:
    return hashlib.sha256(json.dumps(_plain(remote), sort_keys=True, default=str).encode()).hexdigest()


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
# Catalogue facts a line carries (record_customs), not the order's: they leave the digest, so
# their arrival does not rewrite every order once.
_UNHASHED = ("hs_code", "origin_country")


def _plain(value):
    """What dataclasses.asdict gives, as JSON sees it (the same digest), without asdict's deep
    copies: a fifth of an import's time went there."""
    cls = type(value)
    if hasattr(cls, "__dataclass_fields__"):
        names = _FIELD_NAMES.get(cls)
        if names is None:
            names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls) if f.name not in _UNHASHED)
        return {name: _plain(getattr(value, name)) for name in names}
    if cls in (list, tuple):
        return [_plain(v) for v in value]
    if cls is dict:
        return {k: _plain(v) for k, v in value.items()}
    return value


def skip_reason(
    remote: RemoteOrder, *, mapping: str | None, window_start: datetime
) -> tuple[str, str] | None:
    """Why a new order is not imported, or None to import it."""
    R = SkippedOrder.Reason
    if remote.needs_mapping and mapping is None and not remote.is_paid:
        return (
            R.UNMAPPED_STATUS,
            f"custom status “{remote.remote_status}” has no mapping; map it on the channel page",
        )
    if mapping == StatusMapping.Target.IGNORE:
        return R.UNMAPPED_STATUS, f"status “{remote.remote_status}” is mapped to “do not import”"
    if mapping == StatusMapping.Target.CANCELLED or (remote.is_cancelled and mapping is None):
        return R.CANCELLED, f"cancelled on the channel ({remote.remote_status})"
    # Staff who map a custom status to "import" or "on hold" say it is as good as paid.
    if not remote.is_paid and mapping not in (StatusMapping.Target.IMPORT, StatusMapping.Target.ON_HOLD):
        return R.UNPAID, f"payment status “{remote.remote_status}”"
    if mapping == StatusMapping.Target.SHIPPED or (remote.is_shipped and mapping is None):
        return R.SHIPPED, "already shipped on the channel"
    if not any(line.is_physical for line in remote.lines):
        return R.DIGITAL_ONLY, f"{len(remote.lines)} digital item(s), nothing to ship"
    if remote.address is None or not remote.address.is_complete():
        return R.NO_ADDRESS, "the order has no complete shipping address"
    if remote.created_at < window_start:
        return R.OUTSIDE_WINDOW, f"created {remote.created_at:%Y-%m-%d}, before the import window"
    return None


def order_values(remote: RemoteOrder) -> dict:
    a = remote.address
    values = {
        "order_number": remote.order_number,
        "remote_status": remote.remote_status[:100],
        "customer_name": (remote.customer_name or (a.name if a else ""))[:200],
        "email": remote.email[:254],
        "phone": remote.phone[:50],
        "requested_service": remote.requested_service[:200],
        "payment_method": remote.payment_method[:100],
        "currency": remote.currency[:3],
        "total": remote.total,
        "discount_total": remote.discount_total,
        "coupon_codes": ", ".join(remote.coupon_codes)[:300],
        "is_gift": remote.is_gift,
        "gift_message": remote.gift_message,
        "customer_note": remote.customer_note,
        "internal_note": remote.internal_note,
        "total_weight_g": remote.total_weight_g,
        "ordered_at": remote.created_at,
        "remote_updated_at": remote.updated_at,
        "ship_by": remote.ship_by,
    }
    if a:
        values.update(
            ship_name=a.name[:200],
            ship_company=a.company[:200],
            ship_line1=a.line1[:200],
            ship_line2=a.line2[:200],
            ship_city=a.city[:100],
            ship_state=a.state[:100],
            ship_postal_code=a.postal_code[:20],
            ship_country=a.country[:2],
            ship_phone=a.phone[:50],
        )
    return values


def import_page(
    channel: Channel, page: Page, *, summary: SyncSummary, now: datetime | None = None
) -> list[int]:
    """Store one page of remote orders and advance the channel's cursor. Returns new order ids."""
    now = now or timezone.now()
    window_start = now - timedelta(days=channel.import_window_days)
    mappings = dict(channel.status_mappings.values_list("remote_status", "maps_to"))
    summary.pages += 1
    summary.seen += len(page.orders) + len(page.skipped)

    # The last copy of an order on a page wins (a change feed may list one twice).
    remotes: dict[str, RemoteOrder] = {r.external_id: r for r in page.orders}
    from orders import services  # the state writers

    with transaction.atomic():
        existing = {
            o.external_id: o for o in Order.objects.filter(channel=channel, external_id__in=list(remotes))
        }
        to_create, to_update, skipped_rows, events = [], [], [], []
        status_changes: list[tuple[Order, RemoteOrder, str]] = []
        for ext_id, remote in remotes.items():
            digest = payload_hash(remote)
            mapping = mappings.get(remote.remote_status)
            order = existing.get(ext_id)
            if order is None:
                reason = skip_reason(remote, mapping=mapping, window_start=window_start)
                if reason:
                    skipped_rows.append(
                        SkippedOrder(
                            channel=channel,
                            external_id=ext_id,
                            order_number=remote.order_number[:100],
                            reason=reason[0],
                            detail=reason[1][:500],
                            remote_status=remote.remote_status[:100],
                        )
                    )
                    summary.skipped[reason[0]] += 1
                    continue
                order = Order(
                    channel=channel, external_id=ext_id, payload_hash=digest, **order_values(remote)
                )
                if mapping == StatusMapping.Target.ON_HOLD:
                    order.status = Order.Status.ON_HOLD
                    order.hold_reason = f"channel status “{remote.remote_status}” is mapped to on hold"
                elif remote.needs_mapping and mapping is None:
                    # Paid, but in a custom status nobody has mapped yet: import it flagged, on hold.
                    order.status = Order.Status.ON_HOLD
                    order.hold_reason = f"{UNMAPPED_PREFIX}{remote.remote_status}"
                order.fill_normal_forms()
                to_create.append((order, remote))
                continue
            if order.payload_hash == digest:
                summary.unchanged += 1
                continue
            values = order_values(remote)
            if order.address_locked:
                for name in ADDRESS_FIELDS:
                    values.pop(name, None)
            changed = [name for name, value in values.items() if getattr(order, name) != value]
            for name, value in values.items():
                setattr(order, name, value)
            order.payload_hash = digest
            order.fill_normal_forms()
            to_update.append((order, remote))
            summary.updated += 1
            interesting = [c for c in changed if c not in ("remote_updated_at", "remote_status")]
            if interesting:
                events.append(
                    OrderEvent(
                        order=order,
                        kind=OrderEvent.Kind.UPDATED,
                        message="Updated from the channel: " + ", ".join(interesting),
                        data={"fields": interesting},
                    )
                )
            if (
                remote.is_cancelled or mapping == StatusMapping.Target.CANCELLED
            ) and order.status != Order.Status.CANCELLED:
                status_changes.append((order, remote, "cancelled"))
            elif (remote.is_shipped or mapping == StatusMapping.Target.SHIPPED) and order.status in (
                Order.Status.AWAITING_SHIPMENT,
                Order.Status.ON_HOLD,
                Order.Status.PARTLY_SHIPPED,
            ):
                status_changes.append((order, remote, "shipped"))

        if to_create:
            Order.objects.bulk_create([o for o, _ in to_create])
            if any(o.pk is None for o, _ in to_create):  # backends without RETURNING
                ids = dict(
                    Order.objects.filter(
                        channel=channel, external_id__in=[o.external_id for o, _ in to_create]
                    ).values_list("external_id", "id")
                )
                for o, _ in to_create:
                    o.pk = o.id = ids[o.external_id]
            summary.imported += len(to_create)
            for o, remote in to_create:
                events.append(
                    OrderEvent(
                        order=o,
                        kind=OrderEvent.Kind.IMPORTED,
                        message=f"Imported from {channel.name}: {len(remote.lines)} line(s), "
                        f"{o.total} {o.currency}, status “{remote.remote_status}”",
                    )
                )
        if to_update:
            Order.objects.bulk_update(
                [o for o, _ in to_update], ORDER_FIELDS + NORMAL_FORMS + ["payload_hash"]
            )

        lines = [
            OrderLine(
                order=o,
                external_id=ln.external_id[:100],
                sku=ln.sku[:100],
                title=ln.title[:300],
                quantity=ln.quantity,
                unit_price=ln.unit_price,
                weight_g=ln.weight_g,
                image_url=ln.image_url[:500],
                options=ln.options,
                stock_location=ln.stock_location[:100],
                is_physical=ln.is_physical,
            )
            for o, remote in to_create + to_update
            for ln in remote.lines
        ]
        if lines:
            OrderLine.objects.bulk_create(
                lines,
                update_conflicts=True,
                unique_fields=["order", "external_id"],
                update_fields=LINE_FIELDS,
            )
        if events:
            for event in events:
                attribution.stamp(event)  # orders added through the API name its key
            OrderEvent.objects.bulk_create(events)
            services.announce_events(events)  # outgoing webhooks, in this transaction

        for ext_id, number, why in page.skipped:
            skipped_rows.append(
                SkippedOrder(
                    channel=channel,
                    external_id=ext_id[:100],
                    order_number=number[:100],
                    reason=SkippedOrder.Reason.MALFORMED,
                    detail=why[:500],
                )
            )
            summary.skipped[SkippedOrder.Reason.MALFORMED] += 1
        if skipped_rows:
            SkippedOrder.objects.bulk_create(
                skipped_rows,
                update_conflicts=True,
                unique_fields=["channel", "external_id"],
                update_fields=["order_number", "reason", "detail", "remote_status", "last_seen_at"],
            )
        if to_create:  # an order that now qualifies leaves the skipped list
            SkippedOrder.objects.filter(
                channel=channel, external_id__in=[o.external_id for o, _ in to_create]
            ).delete()

        for order, remote, change in status_changes:
            if change == "cancelled":
                services.cancel_from_channel(order, remote_status=remote.remote_status)
                summary.cancelled_on_channel += 1
            else:
                services.ship_from_channel(
                    order, tracking=[(t.tracking_number, t.carrier) for t in remote.tracking]
                )
                summary.shipped_on_channel += 1

        record_customs(remotes.values())

        # The cursor moves with the page, and says this sync is alive (if it still holds the claim).
        claimed = (
            Q(sync_started_at=channel.sync_started_at, sync_claimed_by=channel.sync_claimed_by)
            if channel.sync_started_at
            else Q()
        )
        if not Channel.objects.filter(claimed, pk=channel.pk).update(
            cursor=page.cursor, sync_heartbeat_at=timezone.now()
        ):
            raise SyncTakenOver(
                f"the sync of {channel.name} was taken over by another worker; this run stopped"
            )
        channel.cursor = page.cursor

        new_ids = [o.pk for o, _ in to_create]
        if new_ids and settings.ORDER_IMPORTED_HANDLERS:
            transaction.on_commit(lambda: services.run_handlers("ORDER_IMPORTED_HANDLERS", new_ids))
    return new_ids


def record_customs(remotes) -> None:
    """The catalogue learns the HS codes and origins the channel gave its lines (Shopify's
    inventory items): a SKU with no entry gets one; an entry's EMPTY hs_code / origin_country is
    filled; nothing staff entered is overwritten. Two queries at most, none when no line has any."""
    found: dict[str, dict] = {}
    for remote in remotes:
        for ln in remote.lines:
            sku = (ln.sku or "").strip()[:100]
            hs_code = "".join(ch for ch in ln.hs_code or "" if ch.isdigit())
            origin = (ln.origin_country or "").strip().upper()
            hs_code = hs_code if 6 <= len(hs_code) <= 10 else ""
            origin = origin if len(origin) == 2 and origin.isalpha() else ""
            if sku and (hs_code or origin):
                facts = found.setdefault(sku, {"title": ln.title[:300], "hs_code": "", "origin_country": ""})
                facts["hs_code"] = facts["hs_code"] or hs_code
                facts["origin_country"] = facts["origin_country"] or origin
    if not found:
        return
    Product.objects.bulk_create(
        [Product(sku=sku, **facts) for sku, facts in found.items()], ignore_conflicts=True
    )
    # Entries that existed (or were made by staff meanwhile): fill only their empty fields.
    with_hs = {sku: f["hs_code"] for sku, f in found.items() if f["hs_code"]}
    with_origin = {sku: f["origin_country"] for sku, f in found.items() if f["origin_country"]}

    def filled(field: str, values: dict[str, str]):
        return Case(
            *[When(Q(sku=sku, **{field: ""}), then=Value(v)) for sku, v in values.items()],
            default=F(field),
        )

    updates = {}
    if with_hs:
        updates["hs_code"] = filled("hs_code", with_hs)
    if with_origin:
        updates["origin_country"] = filled("origin_country", with_origin)
    Product.objects.filter(
        Q(sku__in=list(with_hs), hs_code="") | Q(sku__in=list(with_origin), origin_country="")
    ).update(**updates, updated_at=Now())


def enrich_page(channel: Channel, connector, page: Page) -> None:
    """Let the connector fill what the payload lacks, through the persistent product cache."""
    keys = connector.cache_keys(page.orders)
    if not keys:
        return
    cache = dict(RemoteProductCache.objects.filter(channel=channel, key__in=keys).values_list("key", "data"))
    known = set(cache)
    connector.enrich(page.orders, cache)
    fresh = [RemoteProductCache(channel=channel, key=k, data=v) for k, v in cache.items() if k not in known]
    if fresh:
        RemoteProductCache.objects.bulk_create(fresh, ignore_conflicts=True)


def import_orders(
    channel: Channel, *, connector=None, summary: SyncSummary | None = None, now: datetime | None = None
) -> SyncSummary:
    """Read every page the channel has for us and store it. Raises ConnectorError on a failed
    page; the pages before it are stored and the cursor points after them."""
    summary = summary or SyncSummary()
    connector = connector or channel.connector()
    now = now or timezone.now()
    for page in connector.iter_pages(channel.cursor or {}, now=now, window_days=channel.import_window_days):
        if not channel.renew_sync_heartbeat():  # fetched: alive (enriching may take a while)
            raise SyncTakenOver(
                f"the sync of {channel.name} was taken over by another worker; this run stopped"
            )
        enrich_page(channel, connector, page)
        import_page(channel, page, summary=summary, now=now)
    return summary
