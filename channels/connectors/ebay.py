"""eBay Sell Fulfillment API v1: orders in, shipping fulfilments out.

Reading walks `GET /order` as a change feed: `filter=lastmodifieddate:[since..]` and offset
pagination. Like the Etsy connector it does not add `orderfulfillmentstatus:{NOT_STARTED|
IN_PROGRESS}`: that filter would hide the orders fulfilled or cancelled on eBay, which the
pull-back and the skip reasons need to see. Offsets are safe here because the set only grows
while we page (orders modified meanwhile still match `lastmodifieddate:[since..]`); eBay lists
the newest first, so an order created mid-pass shifts the rest down and we read one twice,
which the import ignores, never skip one.

eBay wants the braces, brackets and pipe of a filter percent-encoded, so the query string is
built here rather than by `requests`. Filters reach back 90 days at most.

Orders carry no weight or image. For items the seller manages through eBay's Inventory API
they come from `GET /sell/inventory/v1/inventory_item/{sku}`, once per SKU through the cache;
that needs the `sell.inventory.readonly` scope in the seller's consent (add it to the
credentials' space-separated `scope`), and without it the fields simply stay empty. Tracking of
orders fulfilled on eBay lives under `/order/{id}/shipping_fulfillment`, fetched once per
fulfilled order through the cache."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, quote, urlsplit

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
from channels.connectors.oauth import OAuthConnector

PAGE_SIZE = 200  # eBay allows up to 1000
CLOCK_SKEW = timedelta(minutes=2)
FILTER_REACH = timedelta(days=89)  # eBay answers 30830 for a start date older than 90 days
SCOPE = "https://api.ebay.com/oauth/api_scope/sell.fulfillment"
TOKEN_URL = "https://api.ebay.com/identity/v1/oauth2/token"
PAID = {"PAID", "PARTIALLY_REFUNDED"}
WEIGHT_TO_GRAMS = {"GRAM": 1, "KILOGRAM": 1000, "OUNCE": 28.349523125, "POUND": 453.59237}


def iso(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def amount(value: dict | None) -> Decimal:
    """eBay amounts are strings: {"value": "24.00", "currency": "USD"}."""
    if not value or value.get("value") in (None, ""):
        return Decimal("0")
    return Decimal(str(value["value"])).quantize(Decimal("0.01"))


def _email(value: str) -> str:
    # eBay masks the buyer's address 14 days after the order ("Invalid Request").
    return value if value and "@" in value else ""


def parse_order(o: dict) -> RemoteOrder:
    payment_status = o.get("orderPaymentStatus") or ""
    fulfilment_status = o.get("orderFulfillmentStatus") or ""
    cancel = o.get("cancelStatus") or {}
    is_cancelled = cancel.get("cancelState") == "CANCELED" or payment_status == "FULLY_REFUNDED"
    if is_cancelled:
        remote_status = "CANCELED" if cancel.get("cancelState") == "CANCELED" else payment_status
    elif payment_status not in PAID:
        remote_status = payment_status or "PENDING"
    else:
        remote_status = fulfilment_status

    instruction = (o.get("fulfillmentStartInstructions") or [{}])[0]
    step = instruction.get("shippingStep") or {}
    ship_to = step.get("shipTo") or {}
    contact = ship_to.get("contactAddress") or {}
    phone = (ship_to.get("primaryPhone") or {}).get("phoneNumber") or ""
    address = None
    if contact:
        address = RemoteAddress(
            name=ship_to.get("fullName") or "",
            company=ship_to.get("companyName") or "",
            line1=contact.get("addressLine1") or "",
            line2=contact.get("addressLine2") or "",
            city=contact.get("city") or "",
            state=contact.get("stateOrProvince") or "",
            postal_code=contact.get("postalCode") or "",
            country=(contact.get("countryCode") or "").upper(),
            phone=phone,
        )

    lines, promotions, buyer_cancel = [], [], ""
    for item in o["lineItems"]:
        quantity = int(item["quantity"])
        lines.append(
            RemoteLine(
                external_id=str(item["lineItemId"]),
                sku=item.get("sku") or "",
                title=item.get("title") or "",
                quantity=quantity,
                # lineItemCost is the price of all the units, before discounts.
                unit_price=(amount(item.get("lineItemCost")) / max(quantity, 1)).quantize(Decimal("0.01")),
                options={a["name"]: a["value"] for a in item.get("variationAspects") or [] if a.get("name")},
                # giftDetails only exists on digital gift cards, which eBay e-mails.
                is_physical=not item.get("giftDetails"),
                listing_id=str(item.get("legacyItemId") or ""),
            )
        )
        for promotion in item.get("appliedPromotions") or []:
            # The promotion id is the code: the description is free text the seller wrote
            # ("10% off 2 or more items"), which names no promotion and may repeat across them.
            code = str(promotion.get("promotionId") or "")
            if code and code not in promotions:
                promotions.append(code)
    for request in cancel.get("cancelRequests") or []:
        if request.get("cancelRequestState") not in ("COMPLETED", "REJECTED"):
            buyer_cancel = f"Buyer asked to cancel: {request.get('cancelReason') or 'no reason given'}"

    pricing = o.get("pricingSummary") or {}
    payments = (o.get("paymentSummary") or {}).get("payments") or []
    total = pricing.get("total") or {}
    # Each line item has its own ship-by date: the order must leave by the earliest of them.
    ship_by = [
        parse_time(d)
        for item in o["lineItems"]
        if not item.get("giftDetails")
        and (d := (item.get("lineItemFulfillmentInstructions") or {}).get("shipByDate"))
    ]
    return RemoteOrder(
        external_id=str(o["orderId"]),
        order_number=str(o["orderId"]),
        remote_status=remote_status,
        is_paid=payment_status in PAID,
        is_shipped=fulfilment_status == "FULFILLED",
        is_cancelled=is_cancelled,
        created_at=parse_time(o["creationDate"]),
        updated_at=parse_time(o.get("lastModifiedDate") or o["creationDate"]),
        currency=total.get("currency") or "",
        total=amount(total),
        lines=lines,
        address=address,
        customer_name=ship_to.get("fullName") or (o.get("buyer") or {}).get("username") or "",
        email=_email(ship_to.get("email") or ""),
        phone=phone,
        requested_service=step.get("shippingServiceCode") or "",
        payment_method=", ".join(
            dict.fromkeys(p["paymentMethod"] for p in payments if p.get("paymentMethod"))
        ),
        # Both are negative amounts on eBay.
        discount_total=abs(amount(pricing.get("priceDiscountSubtotal")))
        + abs(amount(pricing.get("deliveryDiscount"))),
        coupon_codes=promotions,
        customer_note=o.get("buyerCheckoutNotes") or "",
        internal_note=buyer_cancel,
        ship_by=min(ship_by) if ship_by else None,
    )


def line_items(lines) -> list[dict]:
    """(line item id, quantity) pairs as eBay's `lineItems`, one entry per line item (a line
    named twice is summed), in the order first named."""
    totals: dict[str, int] = {}
    for external_id, quantity in lines or []:
        totals[str(external_id)] = totals.get(str(external_id), 0) + int(quantity)
    return [{"lineItemId": ext, "quantity": qty} for ext, qty in totals.items()]


def manual_step(fulfilment: RemoteFulfilment) -> str:
    """What staff must do on eBay to take back a fulfilment the API cannot retract."""
    tracking = fulfilment.tracking_number or "(no tracking number)"
    return (
        f"eBay's API cannot remove a shipping fulfilment: in Seller Hub open order "
        f'{fulfilment.order_external_id} (Orders > All orders), choose "Add or edit tracking number" and '
        f"delete tracking number {tracking}."
    )


def refused(exc: ConnectorError, what: str) -> ConnectorError:
    """A 4xx from eBay in eBay's words: `{"errors": [{errorId, message, longMessage}]}` gives the
    message and the error id; anything else (5xx, timeouts, auth) is passed on unchanged."""
    if exc.auth or exc.status is None or not 400 <= exc.status < 500 or exc.status == 429:
        return exc
    text = str(exc)
    message = re.search(r'"message":\s*"((?:[^"\\]|\\.)*)"', text)
    error_id = re.search(r'"errorId":\s*(\d+)', text)
    if not message:
        return exc
    detail = message.group(1) + (f" (eBay error {error_id.group(1)})" if error_id else "")
    return ConnectorError(f"{what}: {detail}", status=exc.status, retryable=False)


@register
class EbayConnector(OAuthConnector):
    kind = "ebay"
    default_token_url = TOKEN_URL
    client_auth = "basic"
    _no_inventory = False  # set during a sync when the consent lacks the inventory scope

    def token_form(self) -> dict:
        return {"scope": self.credentials.get("scope") or SCOPE}

    def auth_headers(self, access_token: str) -> dict:
        return {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def orders_url(self, since: str, offset: int) -> str:
        # Built by hand so the filter reads exactly as eBay documents it (%5B … %5D; a status
        # set would be %7B…%7C…%7D): requests gets a finished URL and re-quotes nothing.
        flt = quote(f"lastmodifieddate:[{since}..]", safe=":,.")
        return self.url(f"/order?filter={flt}&limit={PAGE_SIZE}&offset={offset}")

    def iter_pages(self, cursor: dict, *, now: datetime, window_days: int) -> Iterator[Page]:
        oldest = now - FILTER_REACH
        since = parse_time(cursor["since"]) if cursor.get("since") else now - timedelta(days=window_days)
        since = iso(max(since, oldest))
        offset = int(cursor.get("offset") or 0)
        started = cursor.get("started") or iso(now)
        while True:
            data = self.api_json("GET", self.orders_url(since, offset))
            if not isinstance(data, dict) or not isinstance(data.get("orders", []), list):
                raise ConnectorError("eBay answered without an orders list")
            raw = data.get("orders") or []
            orders, skipped = [], []
            for o in raw:
                try:
                    orders.append(parse_order(o))
                except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError, IndexError) as exc:
                    oid = str(o.get("orderId", "?")) if isinstance(o, dict) else "?"
                    skipped.append((oid, oid, f"malformed order: {exc!r}"))
            # `next` is a full URL; we take its offset and build the URL ourselves, so the
            # bearer token only ever goes to the configured host and the cursor can resume.
            next_url = data.get("next") or ""
            if next_url and raw:
                offset = int(parse_qs(urlsplit(next_url).query).get("offset", [offset + len(raw)])[0])
                next_cursor = {"since": since, "offset": offset, "started": started}
            else:
                next_cursor = {"since": iso(parse_time(started) - CLOCK_SKEW)}
            yield Page(orders=orders, cursor=next_cursor, skipped=skipped)
            if "offset" not in next_cursor:
                return

    # -- facts the order lacks: tracking of orders fulfilled on eBay, weight and image by SKU
    def inventory_url(self, sku: str) -> str:
        root = self.base_url.rsplit("/sell/fulfillment/v1", 1)[0]
        return f"{root}/sell/inventory/v1/inventory_item/{quote(sku, safe='')}"

    def cache_keys(self, orders: list[RemoteOrder]) -> list[str]:
        keys = [f"ebay-fulfilments:{o.external_id}" for o in orders if o.is_shipped and not o.is_cancelled]
        keys += [f"ebay-item:{ln.sku}" for o in orders for ln in o.lines if ln.is_physical and ln.sku]
        return keys

    def _fetch(self, cache: dict, key: str, url: str, pick, *, inventory: bool = False) -> dict | None:
        """One GET per key, ever. Something eBay does not have is remembered as missing; any
        other failure leaves the fields empty this time and asks again next sync."""
        if key not in cache:
            try:
                cache[key] = pick(self.api_json("GET", url))
            except ConnectorError as exc:
                if exc.status == 404:
                    cache[key] = {"missing": True}
                elif exc.status == 403 and inventory:  # the consent lacks sell.inventory.readonly
                    self._no_inventory = True
                    return None
                elif exc.auth:
                    raise
                else:
                    return None
        return cache[key]

    def enrich(self, orders: list[RemoteOrder], cache: dict) -> None:
        def tracking(data):
            return {
                "tracking": [
                    [f.get("shipmentTrackingNumber") or "", f.get("shippingCarrierCode") or ""]
                    for f in data.get("fulfillments") or []
                    if f.get("shipmentTrackingNumber")
                ]
            }

        def item(data):
            weight = (data.get("packageWeightAndSize") or {}).get("weight") or {}
            grams = None
            if weight.get("value") and weight.get("unit") in WEIGHT_TO_GRAMS:
                grams = round(float(weight["value"]) * WEIGHT_TO_GRAMS[weight["unit"]])
            images = (data.get("product") or {}).get("imageUrls") or []
            return {"weight_g": grams, "image_url": images[0] if images else ""}

        self._no_inventory = False
        for order in orders:
            if order.is_shipped and not order.is_cancelled:
                found = self._fetch(
                    cache,
                    f"ebay-fulfilments:{order.external_id}",
                    self.url(f"/order/{quote(order.external_id)}/shipping_fulfillment"),
                    tracking,
                )
                order.tracking = [
                    RemoteTracking(tracking_number=n, carrier=c) for n, c in (found or {}).get("tracking", [])
                ]
            for line in order.lines:
                if not line.is_physical or not line.sku:
                    continue
                key = f"ebay-item:{line.sku}"
                if key not in cache and self._no_inventory:
                    continue
                facts = self._fetch(cache, key, self.inventory_url(line.sku), item, inventory=True) or {}
                line.weight_g = facts.get("weight_g") or line.weight_g
                line.image_url = facts.get("image_url") or line.image_url
            weights = [ln.weight_g * ln.quantity for ln in order.lines if ln.is_physical and ln.weight_g]
            if weights and order.total_weight_g is None:
                order.total_weight_g = sum(weights)

    # -- writing
    def carrier_name(self, company: str) -> str:
        # eBay's ShippingCarrierCodeType values; "Other" for a carrier eBay does not list.
        return for_channel("ebay", company) or "Other"

    def push_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        """One shipping fulfilment per parcel, naming exactly the parcel's line items (eBay:
        "for each package, execute this call once"). eBay answers 201 with an empty body and
        the new fulfilment's URL in Location; its id is the tracking number when one is given."""
        order_path = f"/order/{quote(fulfilment.order_external_id)}"
        if fulfilment.lines:
            items = line_items(fulfilment.lines)
        else:  # a fulfilment recorded before parcels named their lines: every line still to ship
            order = self.api_json("GET", self.url(order_path))
            items = [
                {"lineItemId": str(li["lineItemId"]), "quantity": int(li["quantity"])}
                for li in order.get("lineItems") or []
                if li.get("lineItemFulfillmentStatus") != "FULFILLED"
            ]
        body = {"lineItems": items, "shippedDate": iso(fulfilment.shipped_at or datetime.now(tz=UTC))}
        if fulfilment.tracking_number:  # eBay: the two are "mutually dependent"
            body["shippingCarrierCode"] = self.carrier_name(fulfilment.carrier)
            body["trackingNumber"] = fulfilment.tracking_number
        try:
            response = self.api_request(
                "POST",
                self.url(f"{order_path}/shipping_fulfillment"),
                json=body,
                headers={"Content-Type": "application/json"},
            )
        except ConnectorError as exc:
            error = refused(
                exc, f"eBay refused the shipping fulfilment for order {fulfilment.order_external_id}"
            )
            if error is exc:
                raise
            raise error from exc
        location = response.headers.get("Location", "")
        return PushResult(remote_id=location.rstrip("/").rsplit("/", 1)[-1] if location else "", request=body)

    def shipping_fulfilments(self, order_external_id: str) -> list[dict]:
        """getShippingFulfillments: every fulfilment eBay holds for the order."""
        data = self.api_json("GET", self.url(f"/order/{quote(order_external_id)}/shipping_fulfillment"))
        if not isinstance(data, dict) or not isinstance(data.get("fulfillments", []), list):
            raise ConnectorError(f"eBay answered order {order_external_id}'s fulfilments without a list")
        return data.get("fulfillments") or []

    def find_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult | None:
        """The shipping fulfilment carrying this tracking number, if eBay has one. Without
        tracking eBay numbers a fulfilment arbitrarily, so one without tracking that names
        exactly the parcel's line items is taken for it."""
        wanted = line_items(fulfilment.lines)
        for found in self.shipping_fulfilments(fulfilment.order_external_id):
            tracking = found.get("shipmentTrackingNumber") or ""
            if fulfilment.tracking_number:
                same = tracking == fulfilment.tracking_number
            else:
                same = (
                    not tracking
                    and bool(wanted)
                    and line_items(
                        [
                            (li.get("lineItemId"), li.get("quantity") or 0)
                            for li in found.get("lineItems") or []
                        ]
                    )
                    == wanted
                )
            if same:
                return PushResult(remote_id=str(found.get("fulfillmentId") or tracking), request=found)
        return None

    def cancel_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        # The Fulfillment API has create and read only: no call deletes or edits a fulfilment.
        raise NotSupported(manual_step(fulfilment))

    def update_fulfilment(self, old: RemoteFulfilment, new: RemoteFulfilment) -> PushResult:
        raise NotSupported(
            "eBay: the Fulfillment API cannot change a shipping fulfilment's tracking; the new "
            "parcel is sent as a fulfilment of its own and the old tracking removed in Seller Hub"
        )

    def cancel_order(self, order_external_id: str, reason: str = "") -> None:
        raise NotSupported(
            "eBay: the Fulfillment API cannot cancel an order; cancel it in Seller Hub "
            "(cancellations go through eBay's Post-Order API)"
        )
