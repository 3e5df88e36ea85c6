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
payment method where the new API's `payment` data has none. Gift flags come from the new API's
`giftOption` objects, not v0's string "true"/"false" `IsGift`.

Weight and image are not on the order: they come from the Catalog Items API
(`GET /catalog/2022-04-01/items/{asin}`, package weight and the main image), once per ASIN through
the cache. An app without the Product Listing role is refused there (403); the fields then stay
empty and the sync goes on.

Shipments are confirmed with v0 `confirmShipment` (not deprecated; the new API has no writer).

Amazon's 429 carries no Retry-After; the client backs off itself, at least one token of the
operation's bucket (`x-amzn-RateLimit-Limit` requests per second, as last seen)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote, urlsplit

from channels.connectors import register
from channels.connectors.base import (
    ConnectorError,
    NotSupported,
    Page,
    PushResult,
    RemoteAddress,
    RemoteFulfilment,
    RemoteLine,
    RemoteOrder,
    RemoteTracking,
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
PAID = {"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"}
CANCELLED = {"CANCELLED", "UNFULFILLABLE"}
GRAMS = {"GRAMS": 1, "KILOGRAMS": 1000, "MILLIGRAMS": 0.001, "OUNCES": 28.349523125, "POUNDS": 453.59237}
# Catalog Items spells its units in lower case.
CATALOG_GRAMS = {"grams": 1, "kilograms": 1000, "ounces": 28.349523125, "pounds": 453.59237}
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


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def money(value: dict | None) -> Decimal:
    """Amazon amounts are strings: {"amount": "19.99", "currencyCode": "USD"}."""
    if not value or value.get("amount") in (None, ""):
        return Decimal("0")
    return Decimal(str(value["amount"])).quantize(Decimal("0.01"))


def grams(measurement: dict | None) -> int | None:
    """Items sold by weight carry their measured weight; other measurements are not weights."""
    if not measurement or measurement.get("unit") not in GRAMS or measurement.get("value") in (None, ""):
        return None
    return round(float(measurement["value"]) * GRAMS[measurement["unit"]])


def parse_order(o: dict) -> RemoteOrder:
    fulfilment = o.get("fulfillment") or {}
    status = fulfilment.get("fulfillmentStatus") or ""
    lines, promotions, gift_messages, cancel_requests = [], [], [], []
    is_gift = False
    for item in o["orderItems"]:
        product = item.get("product") or {}
        quantity = int(item["quantityOrdered"])
        options = {}
        custom = (product.get("customization") or {}).get("customizedUrl")
        if custom:  # engraving and other buyer customisation: Amazon keeps it behind this page
            options["Customization"] = custom
        lines.append(RemoteLine(
            external_id=str(item["orderItemId"]),
            sku=product.get("sellerSku") or "",
            title=product.get("title") or "",
            quantity=quantity,
            unit_price=money((product.get("price") or {}).get("unitPrice")),
            options=options,
            weight_g=grams(item.get("measurement")),
            listing_id=product.get("asin") or "",
        ))
        for breakdown in (item.get("promotion") or {}).get("breakdowns") or []:
            if breakdown.get("promotionId") and breakdown["promotionId"] not in promotions:
                promotions.append(breakdown["promotionId"])
        gift = ((item.get("fulfillment") or {}).get("packing") or {}).get("giftOption")
        if gift is not None:
            is_gift = True
            if gift.get("giftMessage") and gift["giftMessage"] not in gift_messages:
                gift_messages.append(gift["giftMessage"])
        request = (item.get("cancellation") or {}).get("cancellationRequest")
        if request and status not in CANCELLED:
            cancel_requests.append(request.get("cancelReason") or "no reason given")

    recipient = o.get("recipient") or {}
    a = recipient.get("deliveryAddress")
    address = None
    if a:
        address = RemoteAddress(
            name=a.get("name") or "",
            company=a.get("companyName") or "",
            line1=a.get("addressLine1") or "",
            line2=", ".join(x for x in (a.get("addressLine2"), a.get("addressLine3")) if x),
            city=a.get("city") or "",
            state=a.get("stateOrRegion") or "",
            postal_code=a.get("postalCode") or "",
            country=(a.get("countryCode") or "").upper(),
            phone=a.get("phone") or "",
        )
    preference = recipient.get("deliveryPreference") or {}
    note = "; ".join(x for x in (
        preference.get("addressInstruction") or "",
        f"Drop-off: {preference['dropOffLocation']}" if preference.get("dropOffLocation") else "",
    ) if x)
    proceeds = o.get("proceeds") or {}
    discount = sum((abs(money(b.get("subtotal"))) for b in proceeds.get("breakdowns") or []
                    if b.get("type") == "DISCOUNT"), Decimal("0"))
    payments = [p.get("paymentMethod") for p in (o.get("payment") or {}).get("paymentExecutions") or []]
    buyer = o.get("buyer") or {}
    grand = proceeds.get("grandTotal") or {}
    weights = [ln.weight_g * ln.quantity for ln in lines if ln.weight_g]
    return RemoteOrder(
        external_id=str(o["orderId"]),
        order_number=str(o["orderId"]),
        remote_status=status,
        is_paid=status in PAID,
        is_shipped=status == "SHIPPED",
        is_cancelled=status in CANCELLED,
        created_at=parse_time(o["createdTime"]),
        updated_at=parse_time(o.get("lastUpdatedTime") or o["createdTime"]),
        currency=grand.get("currencyCode") or "",
        total=money(grand),
        lines=lines,
        address=address,
        customer_name=buyer.get("buyerName") or (address.name if address else ""),
        email=buyer.get("buyerEmail") or "",
        phone=address.phone if address else "",
        # The category until v0's ShipServiceLevel replaces it (see `enrich`).
        requested_service=fulfilment.get("fulfillmentServiceLevel") or "",
        payment_method=", ".join(dict.fromkeys(p for p in payments if p)),
        discount_total=discount,
        coupon_codes=promotions,
        is_gift=is_gift,
        gift_message="\n".join(gift_messages),
        customer_note=note,
        internal_note="; ".join(f"Buyer asked to cancel: {r}" for r in dict.fromkeys(cancel_requests)),
        total_weight_g=sum(weights) if weights else None,
        tracking=[
            RemoteTracking(tracking_number=p["trackingNumber"], carrier=p.get("carrier") or "")
            for p in o.get("packages") or []
            if p.get("trackingNumber") and (p.get("packageStatus") or {}).get("status") != "CANCELLED"
        ],
    )


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
        return {"x-amz-access-token": access_token, "Accept": "application/json",
                "User-Agent": "Shipdesk/1.0 (Language=Python)"}

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def iter_pages(self, cursor: dict, *, now: datetime, window_days: int) -> Iterator[Page]:
        since = cursor.get("since") or iso(now - timedelta(days=window_days))
        token = cursor.get("token") or ""
        started = cursor.get("started") or iso(now)
        until = cursor.get("until") or ""
        while True:
            params = {"marketplaceIds": self.marketplace_id, "lastUpdatedAfter": since, "fulfilledBy": "MERCHANT",
                      "includedData": INCLUDED_DATA, "maxResultsPerPage": PAGE_SIZE}
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
            orders, skipped = [], []
            for o in data["orders"]:
                try:
                    orders.append(parse_order(o))
                except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
                    oid = str(o.get("orderId", "?")) if isinstance(o, dict) else "?"
                    skipped.append((oid, oid, f"malformed order: {exc!r}"))
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
        wanted = [o for o in orders if o.is_paid and not o.is_shipped and not o.is_cancelled
                  and _v0_key(o) not in cache]
        for start in range(0, len(wanted), V0_BATCH):
            batch = wanted[start:start + V0_BATCH]
            try:
                data = self.api_json("GET", self.url("/orders/v0/orders"), params={
                    "MarketplaceIds": self.marketplace_id,
                    "AmazonOrderIds": ",".join(o.external_id for o in batch),
                    "CreatedAfter": iso(min(o.created_at for o in batch) - timedelta(seconds=1)),
                    "MaxResultsPerPage": 100,
                })
            except ConnectorError as exc:
                if exc.auth:
                    raise
                continue
            for v0 in (data.get("payload") or {}).get("Orders") or []:
                cache[f"amazon-v0:{v0.get('AmazonOrderId')}"] = {
                    "ship_service_level": v0.get("ShipServiceLevel") or "",
                    "payment_method": ", ".join(v0.get("PaymentMethodDetails") or [])
                    or v0.get("PaymentMethod") or "",
                }
        for order in orders:
            facts = cache.get(_v0_key(order))
            if not facts:
                continue
            order.requested_service = facts.get("ship_service_level") or order.requested_service
            if not order.payment_method:
                order.payment_method = facts.get("payment_method") or ""

    def _catalog_item(self, asin: str) -> dict:
        data = self.api_json("GET", self.url(f"/catalog/2022-04-01/items/{quote(asin, safe='')}"),
                             params={"marketplaceIds": self.marketplace_id, "includedData": "dimensions,images"})

        def ours(entries):
            return next((e for e in entries or [] if e.get("marketplaceId") == self.marketplace_id),
                        (entries or [{}])[0])

        dims = ours(data.get("dimensions"))
        weight = (dims.get("package") or {}).get("weight") or (dims.get("item") or {}).get("weight") or {}
        grams = None
        if weight.get("value") and weight.get("unit") in CATALOG_GRAMS:
            grams = round(float(weight["value"]) * CATALOG_GRAMS[weight["unit"]])
        images = ours(data.get("images")).get("images") or []
        main = next((i for i in images if i.get("variant") == "MAIN"), images[0] if images else {})
        return {"weight_g": grams, "image_url": main.get("link") or ""}

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
        if not fulfilment.tracking_number:
            raise ConnectorError("Amazon requires a tracking number to confirm a shipment", retryable=False)
        order_id = quote(fulfilment.order_external_id)
        order = self.api_json("GET", self.url(f"/orders/2026-01-01/orders/{order_id}"),
                              params={"includedData": "FULFILLMENT,PACKAGES"}).get("order") or {}
        packages = order.get("packages") or []
        # The same tracking number again (a retry after a lost answer) edits that package
        # instead of adding a second one.
        same = next((p for p in packages if p.get("trackingNumber") == fulfilment.tracking_number), None)
        if same:
            reference = str(same["packageReferenceId"])
        else:
            numbers = [int(p["packageReferenceId"]) for p in packages if str(p.get("packageReferenceId")).isdigit()]
            reference = str(max(numbers, default=0) + 1)
        if fulfilment.lines:
            items = [{"orderItemId": str(ext), "quantity": int(qty)} for ext, qty in fulfilment.lines]
        elif same:
            items = [{"orderItemId": i["orderItemId"], "quantity": i["quantity"]} for i in same.get("packageItems") or []]
        else:
            items = []
            for item in order.get("orderItems") or []:
                left = (item.get("fulfillment") or {}).get("quantityUnfulfilled", item.get("quantityOrdered", 0))
                if left:
                    items.append({"orderItemId": str(item["orderItemId"]), "quantity": int(left)})
        code = self.carrier_name(fulfilment.carrier)
        detail = {
            "packageReferenceId": reference,
            "carrierCode": code,
            "trackingNumber": fulfilment.tracking_number,
            "shipDate": iso(fulfilment.shipped_at or datetime.now(tz=UTC)),
            "orderItems": items,
        }
        if code == "Other":
            detail["carrierName"] = fulfilment.carrier or "Other"
        if fulfilment.service:
            detail["shippingMethod"] = fulfilment.service
        body = {"marketplaceId": self.marketplace_id, "packageDetail": detail}
        self.api_request("POST", self.url(f"/orders/v0/orders/{order_id}/shipmentConfirmation"), json=body)
        return PushResult(remote_id=reference, request=body)  # 204, no body

    def cancel_order(self, order_external_id: str, reason: str = "") -> None:
        raise NotSupported("Amazon: the Orders API cannot cancel an order; cancel it in Seller Central")
