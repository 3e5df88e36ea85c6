"""Finding a customer's order in the portal: normalised order number + postal code, matched in
one indexed query and compared again in constant time, behind rate limits per client and per
order number."""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from orders import normalise
from orders.models import Order
from returns import ratelimit
from returns.eligibility import brand_id_of
from shipping.models import Brand, Shipment


@dataclass
class LookupResult:
    order_id: int | None
    limited: bool = False
    retry_after: int = 0


@functools.cache
def _lookup_sql() -> str:
    """find_order's query, written out once: it runs on every portal lookup, and building it
    through the ORM each time cost more CPU than running it. Plain SQL for SQLite and PostgreSQL."""
    order, shipment = Order._meta, Shipment._meta
    return (
        f"SELECT o.id, o.order_number_norm, o.postal_code_norm, "
        f"(SELECT s.brand_id FROM {shipment.db_table} s WHERE s.order_id = o.id "
        f"AND s.carrier_account_id IS NOT NULL AND s.status <> %s ORDER BY s.created_at DESC LIMIT 1) "
        f"FROM {order.db_table} o WHERE o.order_number_norm = %s AND o.postal_code_norm = %s "
        f"ORDER BY o.ordered_at DESC, o.id DESC LIMIT 5"
    )


def find_order(*, brand: Brand, order_number: str, postal_code: str) -> int | None:
    """The id of the order of `brand` whose normalised number AND postal code are exactly these.

    The database compares the pair in one indexed query (`order_lookup`, or the number's own
    index: the planner chooses; either reads at most the rows of that one number), so an unknown
    number and a known number with the wrong postal code answer the same.
    The candidates are checked again with constant-time comparisons, without early exit, in
    case a database collation matched loosely. Only the few columns this needs are read."""
    number, postal = normalise.order_number(order_number), normalise.postal_code(postal_code)
    if not number or not postal:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), [Shipment.Status.CANCELLED, number, postal])
        candidates = cursor.fetchall()
    found = None
    for pk, order_number_norm, postal_code_norm, shipped_brand_id in candidates:
        same = hmac.compare_digest(order_number_norm.encode(), number.encode())
        same &= hmac.compare_digest(postal_code_norm.encode(), postal.encode())
        if same and found is None:
            # Unbranded (never shipped with Shipdesk): the rules decide, on the full order.
            order = Order(pk=pk) if shipped_brand_id else Order.objects.get(pk=pk)
            owner = brand_id_of(order, shipped_brand_id=shipped_brand_id)
            if owner == brand.pk or (owner is None and brand.is_default):
                found = pk
    return found


def orders_of_brand(*, brand: Brand, order_number: str) -> list[Order]:
    """The orders of `brand` with this normalised number (usually one; one per channel at most),
    for the emailed link, which needs no postal code because it only goes to the order's email."""
    number = normalise.order_number(order_number)
    if not number:
        return []
    found = []
    for order in Order.objects.filter(order_number_norm=number).order_by("-ordered_at")[:5]:
        shipped_brand_id = (
            order.shipments.filter(carrier_account__isnull=False)
            .exclude(status=Shipment.Status.CANCELLED)
            .order_by("-created_at")
            .values_list("brand_id", flat=True)
            .first()
        )
        owner = brand_id_of(order, shipped_brand_id=shipped_brand_id)
        if owner == brand.pk or (owner is None and brand.is_default):
            found.append(order)
    return found


def request_link(*, brand: Brand, order_number: str, client: str, language: str = "en") -> LookupResult:
    """Email a link that opens the portal on the order to the address on the order, if there is
    such an order with an email. The answer is the same whether or not there is (only `limited`
    differs, and it counts attempts, not orders): the page never says an order exists. Behind the
    per-client limit and its own per-order-number limit, so nobody can flood a customer's inbox."""
    from returns import emails

    per_client = ratelimit.Rate.parse(settings.RETURNS_LOOKUP_RATE_PER_IP)
    per_order = ratelimit.Rate.parse(settings.RETURNS_LINK_RATE_PER_ORDER)
    number = normalise.order_number(order_number)
    if ratelimit.hit("client", client, per_client) > per_client.limit:
        return LookupResult(None, limited=True, retry_after=ratelimit.retry_after(per_client))
    if ratelimit.hit("link", number, per_order) > per_order.limit:
        return LookupResult(None)  # the same answer as a link sent: no sign the order exists
    for order in orders_of_brand(brand=brand, order_number=order_number):
        if order.email:
            emails.send_portal_link(order, brand, language=language)
    return LookupResult(None)


def lookup(*, brand: Brand, order_number: str, postal_code: str, client: str) -> LookupResult:
    """find_order behind two rate limits: per client address (every attempt counts) and per
    order number (failed attempts count, whether or not such an order exists, so the limit
    itself says nothing about the number). When either is reached nothing is looked up."""
    per_client = ratelimit.Rate.parse(settings.RETURNS_LOOKUP_RATE_PER_IP)
    per_order = ratelimit.Rate.parse(settings.RETURNS_LOOKUP_RATE_PER_ORDER)
    number = normalise.order_number(order_number)
    if ratelimit.hit("client", client, per_client) > per_client.limit:
        return LookupResult(None, limited=True, retry_after=ratelimit.retry_after(per_client))
    if ratelimit.count("order", number, per_order) >= per_order.limit:
        return LookupResult(None, limited=True, retry_after=ratelimit.retry_after(per_order))
    order_id = find_order(brand=brand, order_number=order_number, postal_code=postal_code)
    if order_id is None:
        ratelimit.hit("order", number, per_order)
    return LookupResult(order_id)
