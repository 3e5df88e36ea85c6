"""Ecwid REST API v3 (`https://app.ecwid.com/api/v3`, store id from the channel): orders in,
tracking out.

Reading walks `GET /{storeId}/orders?updatedFrom=…&offset=…&limit=100` as a change feed, as the
Etsy connector does, and for the same reason: Ecwid pages by offset, and an offset walk is only
safe over a set that nothing leaves while we page. Orders only ever enter an `updatedFrom` set
(a change moves their update time forward, never back), so no order is skipped; the
`paymentStatus=PAID&fulfillmentStatus=AWAITING_PROCESSING` filters would drop an order from
the set the moment it ships or is refunded, shifting the ones behind it past our offset, and
would hide exactly the orders whose fate staff need to see (unpaid, shipped, cancelled). A
finished pass resumes from its start time minus a little skew.

Ecwid orders carry neither a currency nor a weight unit: both come from the store profile,
read once per sync. Custom statuses (`CUSTOM_FULFILLMENT_STATUS_n`, `CUSTOM_PAYMENT_STATUS_n`)
are the remote status as they are, for staff to map; otherwise the remote status is
`<paymentStatus> / <fulfillmentStatus>`. A custom payment status is not taken as paid. Ecwid
has no gift flag and no partial shipment: one fulfilment status and one tracking number per
order, so the parcel that completes the order marks it shipped (`partial_shipments = False`),
a relabel replaces the tracking number, and a cancelled label puts the order back to awaiting
processing. The note to the buyer goes in an order extra field shown to the customer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from channels.connectors import register
from channels.connectors.base import (
    Connector,
    ConnectorError,
    NotSupported,
    Page,
    PushResult,
    RemoteAddress,
    RemoteFulfilment,
    RemoteLine,
    RemoteOrder,
    RemoteTracking,
    offset_feed_cursor,
    parse_items,
)
from channels.connectors.carriers import for_channel

PAGE_SIZE = 100  # Ecwid's maximum
CLOCK_SKEW = timedelta(minutes=2)
WEIGHT_TO_GRAMS = {"KILOGRAM": 1000, "GRAM": 1, "OUNCE": 28.349523125, "POUND": 453.59237, "CARAT": 0.2}
PAID = {"PAID", "PARTIALLY_REFUNDED"}
SHIPPED = {"SHIPPED", "DELIVERED", "OUT_FOR_DELIVERY", "READY_FOR_PICKUP", "RETURNED"}
CANCELLED_PAYMENT = {"CANCELLED", "REFUNDED"}


def money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def ts(value) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


def is_custom(status: str) -> bool:
    return status.startswith(("CUSTOM_FULFILLMENT_STATUS_", "CUSTOM_PAYMENT_STATUS_"))


def option_value(option: dict) -> str:
    if option.get("value") not in (None, ""):
        return str(option["value"])
    if option.get("valuesArray"):
        return ", ".join(str(v) for v in option["valuesArray"])
    return ", ".join(f.get("name", "") for f in option.get("files") or [])


def grams(weight, unit: str) -> int | None:
    if not weight:
        return None
    return round(float(weight) * WEIGHT_TO_GRAMS.get(unit, 1000))


def parse_order(o: dict, *, currency: str = "", weight_unit: str = "KILOGRAM") -> RemoteOrder:
    payment = (o.get("paymentStatus") or "").upper()
    fulfilment = (o.get("fulfillmentStatus") or "").upper()
    status = (
        fulfilment
        if is_custom(fulfilment)
        else payment
        if is_custom(payment)
        else f"{payment} / {fulfilment}"
    )
    lines = []
    for item in o.get("items") or []:
        shipping_required = item.get("isShippingRequired")
        lines.append(
            RemoteLine(
                external_id=str(item["id"]),
                sku=item.get("sku") or "",
                title=item.get("name") or "",
                quantity=int(item.get("quantity") or 1),
                unit_price=money(item.get("price")),
                options={
                    str(opt.get("name")): option_value(opt)
                    for opt in item.get("selectedOptions") or []
                    if opt.get("name")
                },
                weight_g=grams(item.get("weight"), weight_unit),
                image_url=item.get("imageUrl")
                or item.get("hdThumbnailUrl")
                or item.get("smallThumbnailUrl")
                or "",
                is_physical=bool(shipping_required)
                if shipping_required is not None
                else not item.get("digital", False),
                listing_id=str(item.get("productId") or ""),
            )
        )
    person = o.get("shippingPerson") or {}
    option = o.get("shippingOption") or {}
    address = None
    if person and (person.get("street") or person.get("city")) and not option.get("isPickup"):
        # Ecwid keeps every address line in `street`, one per line.
        street = [s.strip() for s in (person.get("street") or "").replace("\r", "").split("\n") if s.strip()]
        address = RemoteAddress(
            name=person.get("name")
            or " ".join(filter(None, [person.get("firstName"), person.get("lastName")])),
            company=person.get("companyName") or "",
            line1=street[0] if street else "",
            line2=", ".join(street[1:]),
            city=person.get("city") or "",
            state=person.get("stateOrProvinceCode") or person.get("stateOrProvinceName") or "",
            postal_code=person.get("postalCode") or "",
            country=(person.get("countryCode") or "").upper(),
            phone=person.get("phone") or "",
        )
    billing = o.get("billingPerson") or {}
    coupon = o.get("discountCoupon") or {}
    physical = [ln for ln in lines if ln.is_physical and ln.weight_g]
    tracking = o.get("trackingNumber") or ""
    return RemoteOrder(
        external_id=str(o.get("id") or o["orderNumber"]),
        order_number=str(o.get("vendorOrderNumber") or o.get("orderNumber") or o["id"]),
        remote_status=status,
        needs_mapping=is_custom(status),
        is_paid=payment in PAID,
        is_shipped=fulfilment in SHIPPED,
        is_cancelled=payment in CANCELLED_PAYMENT or fulfilment == "WILL_NOT_DELIVER",
        created_at=ts(o["createTimestamp"]),
        updated_at=ts(o.get("updateTimestamp") or o["createTimestamp"]),
        currency=currency,
        total=money(o.get("total")),
        lines=lines,
        address=address,
        customer_name=(address.name if address else "") or billing.get("name") or "",
        email=o.get("email") or "",
        phone=person.get("phone") or billing.get("phone") or "",
        requested_service=option.get("shippingMethodName") or "",
        payment_method=o.get("paymentMethod") or "",
        # `discount` leaves out the coupon; together they are what the buyer saved.
        discount_total=money(o.get("couponDiscount")) + money(o.get("discount")),
        coupon_codes=[coupon["code"]] if coupon.get("code") else [],
        customer_note=o.get("orderComments") or "",
        internal_note=o.get("privateAdminNotes") or "",
        total_weight_g=sum(ln.weight_g * ln.quantity for ln in physical) or None,
        tracking=[RemoteTracking(tracking_number=tracking, carrier=option.get("shippingCarrierName") or "")]
        if tracking and fulfilment in SHIPPED
        else [],
    )


NOTE_FIELD = "shipdesk_note_to_buyer"
NOTE_TITLE = "Note from the seller"


def shipped_with(order: dict, tracking_number: str) -> bool:
    """Ecwid's order is marked shipped and carries this tracking number ("" = none)."""
    return (order.get("fulfillmentStatus") or "") in SHIPPED and (order.get("trackingNumber") or "") == (
        tracking_number or ""
    )


def note_fields(current, note: str) -> list | None:
    """The order's extra fields with our note to the buyer set (or removed when `note` is empty),
    or None when nothing changes. Ecwid has no note-to-buyer field; an order extra field with a
    title and `orderDetailsDisplaySection` is shown to the customer in their order details, and
    in invoices and notification emails that list extra fields. PUT replaces the whole list, so
    the others are sent back as they are."""
    fields = [f for f in current or [] if isinstance(f, dict)]
    others = [f for f in fields if f.get("id") != NOTE_FIELD]
    if note:
        mine = {
            "id": NOTE_FIELD,
            "title": NOTE_TITLE,
            "value": note,
            "orderDetailsDisplaySection": "order_comments",
        }
        return None if mine in fields else [*others, mine]
    return others if len(others) != len(fields) else None


@register
class EcwidConnector(Connector):
    kind = "ecwid"
    page_size = PAGE_SIZE

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._profile: dict | None = None

    def headers(self) -> dict:
        return {
            "Authorization": f"Bearer {self.credentials.get('access_token', '')}",
            "Accept": "application/json",
        }

    def url(self, path: str) -> str:
        # The base URL is …/api/v3; tolerate one that already ends with the store id.
        base = self.base_url
        if self.shop_id and not base.endswith(f"/{self.shop_id}"):
            base = f"{base}/{self.shop_id}"
        return f"{base}{path}"

    def profile(self) -> dict:
        """Currency and weight unit: orders carry neither. Read once per connector (per sync)."""
        if self._profile is None:
            data = self.http.json("GET", self.url("/profile"), headers=self.headers())
            units = (data or {}).get("formatsAndUnits") or {} if isinstance(data, dict) else {}
            self._profile = {
                "currency": units.get("currency") or "",
                "weight_unit": units.get("weightUnit") or "KILOGRAM",
            }
        return self._profile

    def iter_pages(self, cursor: dict, *, now: datetime, window_days: int) -> Iterator[Page]:
        since = int(cursor.get("since") or (now - timedelta(days=window_days)).timestamp())
        offset = int(cursor.get("offset") or 0)
        started = int(cursor.get("started") or now.timestamp())
        units = self.profile()
        while True:
            data = self.http.json(
                "GET",
                self.url("/orders"),
                params={"updatedFrom": since, "offset": offset, "limit": self.page_size},
                headers=self.headers(),
            )
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise ConnectorError("Ecwid answered without an items list")

            def ids(raw):
                oid = str(raw.get("id") or raw.get("orderNumber") or "?")
                return oid, str(raw.get("vendorOrderNumber") or oid)

            orders, skipped = parse_items(
                data["items"],
                lambda raw: parse_order(raw, currency=units["currency"], weight_unit=units["weight_unit"]),
                ids,
            )
            offset += len(data["items"])
            done = not data["items"] or offset >= int(data.get("total") or 0)
            next_cursor = offset_feed_cursor(
                since=since,
                offset=offset,
                started=started,
                done=done,
                skew_seconds=int(CLOCK_SKEW.total_seconds()),
            )
            yield Page(orders=orders, cursor=next_cursor, skipped=skipped)
            if done:
                return

    def carrier_name(self, company: str) -> str:
        return for_channel("ecwid", company) or (company or "").strip()

    # -- writing: Ecwid keeps one fulfilment status and one tracking number per order, so the
    # parcel that completes the order marks it shipped (earlier parcels wait for it).
    partial_shipments = False

    def _order(self, order_id: str) -> dict:
        current = self.http.json("GET", self.url(f"/orders/{order_id}"), headers=self.headers())
        if not isinstance(current, dict):
            raise ConnectorError(f"Ecwid answered order {order_id} without an order")
        return current

    def _update(self, order_id: str, body: dict, what: str) -> None:
        answer = self.http.json("PUT", self.url(f"/orders/{order_id}"), json=body, headers=self.headers())
        if not isinstance(answer, dict) or int(answer.get("updateCount") or 0) != 1:
            raise ConnectorError(f"Ecwid did not {what} order {order_id}: {answer!r}"[:300])

    def _shipment(self, current: dict, fulfilment: RemoteFulfilment) -> dict:
        body: dict = {"fulfillmentStatus": "SHIPPED"}
        if fulfilment.tracking_number:
            body["trackingNumber"] = fulfilment.tracking_number
        if fulfilment.tracking_url:
            body["trackingUrl"] = fulfilment.tracking_url
        if fulfilment.carrier:
            # shippingOption is replaced as a whole: keep what the buyer chose, name the carrier.
            body["shippingOption"] = {
                **(current.get("shippingOption") or {}),
                "shippingCarrierName": self.carrier_name(fulfilment.carrier),
            }
        fields = note_fields(current.get("orderExtraFields"), fulfilment.note)
        if fields is not None:
            body["orderExtraFields"] = fields
        if not fulfilment.notify_customer:
            body["disableAllCustomerNotifications"] = True
        return body

    def push_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        if not fulfilment.completes_order:
            raise NotSupported(
                "Ecwid can only mark the whole order shipped: this parcel is kept until the one "
                "that completes the order is sent"
            )
        order_id = fulfilment.order_external_id
        current = self._order(order_id)
        if shipped_with(current, fulfilment.tracking_number) and fulfilment.tracking_number:
            return PushResult(
                request={"already_shipped": fulfilment.tracking_number}
            )  # an earlier try got through
        body = self._shipment(current, fulfilment)
        self._update(order_id, body, "mark shipped")
        return PushResult(request=body)

    def find_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult | None:
        """The order says shipped with this tracking number (without one: shipped with none)."""
        current = self._order(fulfilment.order_external_id)
        if not shipped_with(current, fulfilment.tracking_number):
            return None
        return PushResult(
            request={
                "fulfillmentStatus": current.get("fulfillmentStatus"),
                "trackingNumber": current.get("trackingNumber") or "",
            }
        )

    def update_fulfilment(self, old: RemoteFulfilment, new: RemoteFulfilment) -> PushResult:
        """A relabel: the order's tracking number (and note) become the new parcel's."""
        current = self._order(new.order_external_id)
        if shipped_with(current, new.tracking_number) and new.tracking_number:
            return PushResult(request={"already_shipped": new.tracking_number})
        body = self._shipment(current, new)
        self._update(new.order_external_id, body, "change the tracking of")
        return PushResult(request=body)

    def cancel_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        """Put the order back to awaiting processing without a tracking number (and without the
        note we added), unless it no longer carries this parcel's tracking: then another parcel or
        staff on Ecwid have changed it since, and it is left as it is."""
        order_id = fulfilment.order_external_id
        current = self._order(order_id)
        if not shipped_with(current, fulfilment.tracking_number):
            return PushResult(
                request={
                    "not_on_order": fulfilment.tracking_number,
                    "trackingNumber": current.get("trackingNumber") or "",
                }
            )
        body: dict = {"fulfillmentStatus": "AWAITING_PROCESSING", "trackingNumber": ""}
        if current.get("trackingUrl"):
            body["trackingUrl"] = ""
        fields = note_fields(current.get("orderExtraFields"), "")
        if fields is not None:
            body["orderExtraFields"] = fields
        self._update(order_id, body, "withdraw the shipment of")
        return PushResult(request=body)

    def cancel_order(self, order_external_id: str, reason: str = "") -> None:
        answer = self.http.json(
            "PUT",
            self.url(f"/orders/{order_external_id}"),
            json={"paymentStatus": "CANCELLED"},
            headers=self.headers(),
        )
        if not isinstance(answer, dict) or int(answer.get("updateCount") or 0) != 1:
            raise ConnectorError(f"Ecwid did not cancel order {order_external_id}: {answer!r}"[:300])

    def is_custom_status(self, remote_status: str) -> bool:
        """Whether staff are expected to map this status (Ecwid's custom statuses)."""
        return is_custom(remote_status)
