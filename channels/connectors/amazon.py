"""Amazon Selling Partner API: orders in through Orders 2026-01-01, shipments out through v0.

Reading walks `searchOrders` (`GET /orders/2026-01-01/orders`) as a change feed with
`lastUpdatedAfter`, for the same reason as the Etsy connector: filtering on
`fulfillmentStatuses=UNSHIPPED,…` would hide the orders shipped or cancelled on Amazon, which
the pull-back and the skip reasons need. `fulfilledBy=MERCHANT` keeps Amazon-fulfilled (FBA/AFN)
orders out altogether: Amazon ships those from its own warehouses, so they are not ours to ship,
not a reason to list them as "skipped", and a busy FBA seller would otherwise page through
thousands of them on every sync. Pagination is `paginationToken` <- `pagination.nextToken`,
which the cursor keeps so a failed page resumes where it stopped.

The new API has every field we need but one: the free-text ship service level ("Std US D2D
Dom"), which sellers map to a carrier service. Only v0 `getOrders` (`ShipServiceLevel`) has it
(2026-01-01 gives the category, `fulfillmentServiceLevel` = STANDARD), so it is read in batches
of 50 order ids from v0, once per order, through the cache; v0's `PaymentMethodDetails` fills the
payment method where the new API's `payment` data has none.

Weight and image are not on the order: they come from the Catalog Items API
(`GET /catalog/2022-04-01/items/{asin}`, package weight and the main image), once per ASIN through
the cache. An app without the Product Listing role is refused there (403); the fields then stay
empty and the sync goes on.

Shipments are confirmed with v0 `confirmShipment` (not deprecated; the new API has no writer),
one package per parcel whose packageReferenceId comes from the parcel's stable reference; a
relabel confirms again with the old parcel's id, which replaces that package. Whether a tracking
number already reached Amazon is read from getOrder's PACKAGES. No call withdraws a package.

Amazon's 429 carries no Retry-After; the client backs off itself, at least one token of the
operation's bucket (`x-amzn-RateLimit-Limit` requests per second, as last seen).

This module is the HTTP client; the JSON shapes (orders, v0 and catalogue facts, the
`confirmShipment` body) are in `amazon_mapping.py`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from channels.connectors import register
from channels.connectors.amazon_mapping import (
    catalog_facts,
    iso,
    live_packages,
    order_ids,
    package_reference,
    parse_order,
    parse_time,
    shipment_confirmation,
    v0_facts,
)
from channels.connectors.base import (
    ConnectorError,
    NotSupported,
    Page,
    PushResult,
    RemoteFulfilment,
    RemoteOrder,
    parse_items,
)
from channels.connectors.carriers import for_channel
from channels.connectors.http import HttpClient
from channels.connectors.oauth import OAuthConnector

PAGE_SIZE = 100  # searchOrders allows 1-100
V0_BATCH = 50  # v0 getOrders takes up to 50 AmazonOrderIds
CLOCK_SKEW = timedelta(minutes=2)
TOKEN_URL = "https://api.amazon.com/auth/o2/token"
DEFAULT_MARKETPLACE = "ATVPDKIKX0DER"
INCLUDED_DATA = "BUYER,RECIPIENT,PROCEEDS,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,PAYMENT"
ORDER_ID = re.compile(r"/\d{3}-\d{7}-\d{7}")


class AmazonHttpClient(HttpClient):
    """Remembers each operation's `x-amzn-RateLimit-Limit` and, on a 429 (which has no
    Retry-After), waits at least the time the token bucket needs to refill one request."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rates: dict[str, float] = {}

    @staticmethod
    def _operation(url: str) -> str:
        return ORDER_ID.sub("/{orderId}", urlsplit(url).path)

    def request(self, method: str, url: str, **kwargs):
        response = super().request(method, url, **kwargs)
        try:
            rate = float(response.headers.get("x-amzn-RateLimit-Limit") or 0)
        except ValueError:
            rate = 0
        if rate > 0:
            self.rates[self._operation(url)] = rate
        return response

    def _sleep_for(self, attempt: int, response) -> float:
        delay = super()._sleep_for(attempt, response)
        if response is not None and response.status_code == 429:
            rate = self.rates.get(self._operation(response.url))
            if rate:
                delay = max(delay, 1 / rate)
        return min(delay, self.max_sleep)


def _v0_key(order: RemoteOrder) -> str:
    return f"amazon-v0:{order.external_id}"


@register
class AmazonConnector(OAuthConnector):
    kind = "amazon"
    always_requires_tracking = True  # confirmShipment refuses a package without a tracking number
    default_token_url = TOKEN_URL
    client_auth = "body"
    # SP-API answers 403 Unauthorized ("The access token you provided has expired") for a stale token.
    token_refused_statuses = (401, 403)

    def __init__(self, *, http=None, **kwargs):
        super().__init__(http=http or AmazonHttpClient(), **kwargs)

    @property
    def marketplace_id(self) -> str:
        return self.shop_id or self.credentials.get("marketplace_id") or DEFAULT_MARKETPLACE

    def auth_headers(self, access_token: str) -> dict:
        return {
            "x-amz-access-token": access_token,
            "Accept": "application/json",
            "User-Agent": "Shipdesk/1.0 (Language=Python)",
        }

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def iter_pages(self, cursor: dict, *, now: datetime, window_days: int) -> Iterator[Page]:
        since = cursor.get("since") or iso(now - timedelta(days=window_days))
        token = cursor.get("token") or ""
        started = cursor.get("started") or iso(now)
        until = cursor.get("until") or ""
        while True:
            params = {
                "marketplaceIds": self.marketplace_id,
                "lastUpdatedAfter": since,
                "fulfilledBy": "MERCHANT",
                "includedData": INCLUDED_DATA,
                "maxResultsPerPage": PAGE_SIZE,
            }
            if token:
                params["paginationToken"] = token
            try:
                data = self.api_json("GET", self.url("/orders/2026-01-01/orders"), params=params)
            except ConnectorError as exc:
                if token and exc.status == 400 and not exc.auth:
                    # A pagination token Amazon no longer accepts (a pass resumed much later):
                    # read this pass again from its start; replays change nothing.
                    token = ""
                    continue
                raise
            if not isinstance(data, dict) or not isinstance(data.get("orders"), list):
                raise ConnectorError("Amazon answered without an orders list")
            # Amazon says up to when its answer is complete; the next pass starts from there.
            until = until or data.get("lastUpdatedBefore") or ""
            orders, skipped = parse_items(data["orders"], parse_order, order_ids)
            token = (data.get("pagination") or {}).get("nextToken") or ""
            if token:
                next_cursor = {"since": since, "token": token, "started": started}
                if until:
                    next_cursor["until"] = until
            else:
                end = parse_time(started)
                if until:
                    end = min(end, parse_time(until))
                next_cursor = {"since": iso(end - CLOCK_SKEW)}
            yield Page(orders=orders, cursor=next_cursor, skipped=skipped)
            if not token:
                return

    # -- facts the order lacks: v0's ship service level, the catalogue's weight and image
    def cache_keys(self, orders: list[RemoteOrder]) -> list[str]:
        keys = [_v0_key(o) for o in orders]
        keys += [f"amazon-catalog:{ln.listing_id}" for o in orders for ln in o.lines if ln.listing_id]
        return keys

    def enrich(self, orders: list[RemoteOrder], cache: dict) -> None:
        self._enrich_v0(orders, cache)
        self._enrich_catalog(orders, cache)

    def _enrich_v0(self, orders: list[RemoteOrder], cache: dict) -> None:
        """`ShipServiceLevel` (and the payment method details) from v0 getOrders, 50 orders a
        call, for orders we may ship; remembered per order. A failed call leaves the category in
        place this time; credentials refused stop the sync."""
        wanted = [
            o
            for o in orders
            if o.is_paid and not o.is_shipped and not o.is_cancelled and _v0_key(o) not in cache
        ]
        for start in range(0, len(wanted), V0_BATCH):
            batch = wanted[start : start + V0_BATCH]
            try:
                data = self.api_json(
                    "GET",
                    self.url("/orders/v0/orders"),
                    params={
                        "MarketplaceIds": self.marketplace_id,
                        "AmazonOrderIds": ",".join(o.external_id for o in batch),
                        "CreatedAfter": iso(min(o.created_at for o in batch) - timedelta(seconds=1)),
                        "MaxResultsPerPage": 100,
                    },
                )
            except ConnectorError as exc:
                if exc.auth:
                    raise
                continue
            for order_id, facts in v0_facts(data):
                cache[f"amazon-v0:{order_id}"] = facts
        for order in orders:
            facts = cache.get(_v0_key(order))
            if not facts:
                continue
            order.requested_service = facts.get("ship_service_level") or order.requested_service
            if not order.payment_method:
                order.payment_method = facts.get("payment_method") or ""

    def _catalog_item(self, asin: str) -> dict:
        data = self.api_json(
            "GET",
            self.url(f"/catalog/2022-04-01/items/{quote(asin, safe='')}"),
            params={"marketplaceIds": self.marketplace_id, "includedData": "dimensions,images"},
        )
        return catalog_facts(data, self.marketplace_id)

    def _enrich_catalog(self, orders: list[RemoteOrder], cache: dict) -> None:
        """One Catalog Items call per ASIN, ever. An ASIN Amazon does not know is remembered as
        missing; other failures leave the fields empty this time."""
        forbidden = False
        for order in orders:
            for line in order.lines:
                key = f"amazon-catalog:{line.listing_id}"
                if not line.listing_id or (forbidden and key not in cache):
                    continue
                if key not in cache:
                    try:
                        cache[key] = self._catalog_item(line.listing_id)
                    except ConnectorError as exc:
                        if exc.status == 404:
                            cache[key] = {"missing": True}
                        elif exc.status == 403:  # the app lacks the Product Listing role
                            forbidden = True
                            continue
                        elif exc.auth:
                            raise
                        else:
                            continue
                facts = cache[key]
                line.weight_g = line.weight_g or facts.get("weight_g")  # a measured weight wins
                line.image_url = facts.get("image_url") or line.image_url
            weights = [ln.weight_g * ln.quantity for ln in order.lines if ln.weight_g]
            if weights:
                order.total_weight_g = sum(weights)

    # -- writing
    def carrier_name(self, company: str) -> str:
        # Amazon's CarrierCode list; a carrier it does not list goes as "Other" + carrierName.
        return for_channel("amazon", company) or "Other"

    def push_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        """confirmShipment for one parcel: one package, its own packageReferenceId (from the
        parcel's stable reference, so a repeat edits that package instead of adding one)."""
        return self._confirm(fulfilment, reference=package_reference(fulfilment.reference))

    def _confirm(self, fulfilment: RemoteFulfilment, *, reference: str) -> PushResult:
        if not fulfilment.tracking_number:
            raise ConnectorError("Amazon requires a tracking number to confirm a shipment", retryable=False)
        order_id = quote(fulfilment.order_external_id)
        order = None
        if not (reference and fulfilment.lines):  # the order decides the package or its items
            order = self._order_with_packages(fulfilment.order_external_id)
        reference, body = shipment_confirmation(
            order,
            fulfilment,
            carrier_code=self.carrier_name(fulfilment.carrier),
            marketplace_id=self.marketplace_id,
            reference=reference,
        )
        try:
            self.api_request(
                "POST", self.url(f"/orders/v0/orders/{order_id}/shipmentConfirmation"), json=body
            )
        except ConnectorError as exc:
            error = refused(exc, f"Amazon refused the shipment of order {fulfilment.order_external_id}")
            if error is exc:
                raise
            raise error from exc
        return PushResult(remote_id=reference, request=body)  # 204, no body

    def _order_with_packages(self, order_external_id: str) -> dict:
        data = self.api_json(
            "GET",
            self.url(f"/orders/2026-01-01/orders/{quote(order_external_id)}"),
            params={"includedData": "FULFILLMENT,PACKAGES"},
        )
        if not isinstance(data, dict) or not isinstance(data.get("order"), dict):
            raise ConnectorError(f"Amazon answered order {order_external_id} without an order")
        return data["order"]

    def find_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult | None:
        """The order's package (getOrder, PACKAGES) that carries this tracking number."""
        if not fulfilment.tracking_number:
            return None  # Amazon never holds a package without one
        for package in live_packages(self._order_with_packages(fulfilment.order_external_id)):
            if package.get("trackingNumber") == fulfilment.tracking_number:
                return PushResult(remote_id=str(package.get("packageReferenceId") or ""), request=package)
        return None

    def update_fulfilment(self, old: RemoteFulfilment, new: RemoteFulfilment) -> PushResult:
        """A relabel replaces the old parcel's package: confirmShipment again with the old
        packageReferenceId, the new tracking and the new parcel's items."""
        reference = old.remote_id if old.remote_id.isdigit() else package_reference(old.reference)
        if not reference:
            found = self.find_fulfilment(old)
            reference = found.remote_id if found else ""
        if not reference:
            raise NotSupported(
                f"Amazon: order {old.order_external_id} has no package with tracking number "
                f"{old.tracking_number or '(none)'} to replace"
            )
        return self._confirm(new, reference=reference)

    def cancel_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        # Neither v0 nor 2026-01-01 has a call that withdraws a confirmed package.
        package = fulfilment.remote_id or package_reference(fulfilment.reference)
        raise NotSupported(
            f"Amazon's API cannot withdraw a confirmed shipment: in Seller Central open order "
            f'{fulfilment.order_external_id} (Orders > Manage Orders), choose "Edit shipment" and correct or remove '
            f"package {package or '?'} with tracking ID {fulfilment.tracking_number or '(none)'}."
        )

    def cancel_order(self, order_external_id: str, reason: str = "") -> None:
        raise NotSupported("Amazon: the Orders API cannot cancel an order; cancel it in Seller Central")


def refused(exc: ConnectorError, what: str) -> ConnectorError:
    """A 4xx from Amazon in Amazon's words (`{"errors": [{code, message, details}]}`); anything
    else (5xx, throttling, credentials) is passed on unchanged."""
    if exc.auth or exc.status is None or not 400 <= exc.status < 500 or exc.status == 429:
        return exc
    text = str(exc)
    message = re.search(r'"message":\s*"((?:[^"\\]|\\.)*)"', text)
    code = re.search(r'"code":\s*"((?:[^"\\]|\\.)*)"', text)
    if not message:
        return exc
    return ConnectorError(
        f"{what}: {message.group(1)}" + (f" ({code.group(1)})" if code else ""),
        status=exc.status,
        retryable=False,
    )
