"""Etsy Open API v3: receipts in, tracking out.

Reading walks `GET /shops/{shop_id}/receipts` as a change feed (`min_last_modified`, sorted by
creation so that offsets never skip a receipt while others change), which lets one listing
serve the import, the skip reasons (unpaid, shipped, digital) and the pull-back of orders
shipped or cancelled on Etsy. The paid/unshipped filters (`was_paid`, `was_shipped`) would
hide exactly the receipts whose fate staff need to see.

Every call carries `x-api-key: keystring:shared_secret` and an OAuth Bearer token. Access
tokens last an hour; with a `refresh_token` in the credentials the connector refreshes them
through the shared OAuth code (`channels.connectors.oauth`), as a public PKCE client: the
keystring is the client_id and no secret goes to the token endpoint. Etsy rotates the refresh
token on every refresh, so the new one is stored with the access token. A channel holding only
a static `access_token` keeps using it as it is.

Writing: `createReceiptShipment` (`POST …/receipts/{id}/tracking`, form-encoded) takes a tracking
code, carrier and note to the buyer but no lines, and its first call marks the whole receipt
shipped; a receipt may hold many shipments. So the outbox keeps the earlier parcels of a split
order until the one that completes it, then sends each (`partial_shipments = False`,
`tells_each_parcel`). The API cannot remove or change a shipment: cancelling one is a manual step
in Shop Manager, which `cancel_fulfilment` names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

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
    offset_feed_cursor,
    parse_items,
)
from channels.connectors.carriers import for_channel
from channels.connectors.oauth import OAuthConnector

PAGE_SIZE = 100
# Etsy's developer guide shows https://api.etsy.com/v3/public/oauth/token; shared/api-facts.md
# (from the OpenAPI spec) gives this host. A `token_url` in the credentials overrides it.
TOKEN_URL = "https://openapi.etsy.com/v3/public/oauth/token"
CLOCK_SKEW = timedelta(minutes=2)  # read a little before the last run started: replays are harmless
WEIGHT_TO_GRAMS = {"g": 1, "kg": 1000, "oz": 28.349523125, "lb": 453.59237}
# Carrier names Etsy knows (`GET /shipping-carriers`) beyond Shipdesk's shared vocabulary, keyed
# by how Shipdesk may write them; anything else goes as "other".
ETSY_CARRIERS = {
    "dhl": "dhl",
    "chronopost": "chronopost",
    "hermes": "hermes",
    "evri": "evri",
    "bpost": "bpost",
}
# Where staff put a sent shipment right by hand (the API has no call to remove or change one).
SHOP_MANAGER = "On Etsy: Shop Manager › Orders & Shipping › Completed › receipt {receipt}"


def money(value) -> Decimal:
    if not value:
        return Decimal("0")
    return (Decimal(value["amount"]) / Decimal(value["divisor"] or 1)).quantize(Decimal("0.01"))


def ts(value) -> datetime:
    return datetime.fromtimestamp(int(value or 0), tz=UTC)


def parse_receipt(r: dict) -> RemoteOrder:
    status = (r.get("status") or "").strip()
    transactions = r.get("transactions") or []
    lines = [
        RemoteLine(
            external_id=str(t["transaction_id"]),
            sku=t.get("sku") or "",
            title=t.get("title") or "",
            quantity=int(t.get("quantity") or 1),
            unit_price=money(t.get("price")),
            options={v["formatted_name"]: v["formatted_value"] for v in t.get("variations") or []},
            is_physical=not t.get("is_digital", False),
            listing_id=str(t.get("listing_id") or ""),
            image_url=f"etsy-image:{t['listing_image_id']}" if t.get("listing_image_id") else "",
        )
        for t in transactions
    ]
    service = next((t.get("shipping_method") for t in transactions if t.get("shipping_method")), "") or ""
    upgrade = next((t.get("shipping_upgrade") for t in transactions if t.get("shipping_upgrade")), "") or ""
    if upgrade:
        service = f"{service} ({upgrade})" if service else upgrade
    has_address = bool(r.get("first_line") or r.get("city"))
    address = (
        RemoteAddress(
            name=r.get("name") or "",
            line1=r.get("first_line") or "",
            line2=r.get("second_line") or "",
            city=r.get("city") or "",
            state=r.get("state") or "",
            postal_code=r.get("zip") or "",
            country=(r.get("country_iso") or "").upper(),
        )
        if has_address
        else None
    )
    grand = r.get("grandtotal") or r.get("total_price") or {}
    # expected_ship_date (epoch seconds, nullable) is per transaction: the earliest physical one.
    ship_by = [
        ts(t["expected_ship_date"])
        for t in transactions
        if t.get("expected_ship_date") and not t.get("is_digital", False)
    ]
    return RemoteOrder(
        external_id=str(r["receipt_id"]),
        order_number=str(r["receipt_id"]),
        remote_status=status,
        # The live API answers Title Case; the flags are the reliable part.
        is_paid=bool(r.get("is_paid", status.lower() in ("paid", "completed"))),
        is_shipped=bool(r.get("is_shipped", status.lower() == "completed")),
        is_cancelled=status.lower() in ("canceled", "cancelled", "fully refunded"),
        created_at=ts(r.get("created_timestamp") or r.get("create_timestamp")),
        updated_at=ts(r.get("updated_timestamp") or r.get("update_timestamp") or r.get("created_timestamp")),
        currency=grand.get("currency_code", ""),
        total=money(grand),
        lines=lines,
        address=address,
        customer_name=r.get("name") or "",
        email=r.get("buyer_email") or "",
        requested_service=service,
        payment_method=r.get("payment_method") or "",
        discount_total=money(r.get("discount_amt")),
        is_gift=bool(r.get("is_gift")),
        gift_message=r.get("gift_message") or "",
        customer_note=r.get("message_from_buyer") or "",
        internal_note=r.get("message_from_seller") or "",
        tracking=[
            RemoteTracking(tracking_number=s.get("tracking_code") or "", carrier=s.get("carrier_name") or "")
            for s in r.get("shipments") or []
            if s.get("tracking_code")
        ],
        ship_by=min(ship_by) if ship_by else None,
    )


@register
class EtsyConnector(OAuthConnector):
    kind = "etsy"
    default_token_url = TOKEN_URL
    client_auth = "none"  # a PKCE public client: the keystring names the app, there is no secret

    def token_form(self) -> dict:
        return {"client_id": self.credentials.get("keystring", "")}

    def auth_headers(self, access_token: str) -> dict:
        # Etsy wants the app key beside the user's token on every API call.
        c = self.credentials
        return {
            "x-api-key": f"{c.get('keystring', '')}:{c.get('shared_secret', '')}",
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/json",
        }

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def iter_pages(self, cursor: dict, *, now: datetime, window_days: int) -> Iterator[Page]:
        since = int(cursor.get("since") or (now - timedelta(days=window_days)).timestamp())
        offset = int(cursor.get("offset") or 0)
        started = int(cursor.get("started") or now.timestamp())
        while True:
            data = self.api_json(
                "GET",
                self.url(f"/shops/{self.shop_id}/receipts"),
                params={
                    "min_last_modified": since,
                    "sort_on": "created",
                    "sort_order": "asc",
                    "limit": PAGE_SIZE,
                    "offset": offset,
                },
            )
            if not isinstance(data, dict) or "results" not in data:
                raise ConnectorError("Etsy answered without a results list")
            orders, skipped = parse_items(
                data["results"], parse_receipt, lambda r: (str(r.get("receipt_id", "?")),) * 2
            )
            offset += len(data["results"])
            done = not data["results"] or offset >= int(data.get("count") or 0)
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

    def fetch_order(self, order_external_id: str) -> RemoteOrder:
        receipt = self.api_json("GET", self.url(f"/shops/{self.shop_id}/receipts/{order_external_id}"))
        return parse_receipt(receipt)

    def cache_keys(self, orders: list[RemoteOrder]) -> list[str]:
        keys = []
        for order in orders:
            for line in order.lines:
                if line.is_physical and line.listing_id:
                    keys.append(f"listing:{line.listing_id}")
                    if line.image_url.startswith("etsy-image:"):
                        keys.append(f"image:{line.listing_id}:{line.image_url.split(':', 1)[1]}")
        return keys

    def _cached(self, cache: dict, key: str, path: str, pick) -> dict:
        """One GET per key, ever. A listing Etsy no longer has is remembered as missing;
        any other failure leaves the field empty this time and tries again next sync."""
        if key not in cache:
            try:
                cache[key] = pick(self.api_json("GET", self.url(path)))
            except ConnectorError as exc:
                if exc.status == 404:
                    cache[key] = {"missing": True}
                elif exc.auth:
                    raise
                else:
                    return {}
        return cache[key]

    def enrich(self, orders: list[RemoteOrder], cache: dict) -> None:
        """Weight and image live on the listing, not the receipt: one call per listing, cached."""

        def weight(listing):
            value, unit = listing.get("item_weight"), (listing.get("item_weight_unit") or "g").lower()
            return {"weight_g": round(float(value) * WEIGHT_TO_GRAMS.get(unit, 1)) if value else None}

        def image(data):
            return {"image_url": data.get("url_170x135") or data.get("url_75x75") or ""}

        for order in orders:
            for line in order.lines:
                if not line.is_physical or not line.listing_id:
                    continue
                line.weight_g = self._cached(
                    cache, f"listing:{line.listing_id}", f"/listings/{line.listing_id}", weight
                ).get("weight_g")
                if line.image_url.startswith("etsy-image:"):
                    image_id = line.image_url.split(":", 1)[1]
                    line.image_url = self._cached(
                        cache,
                        f"image:{line.listing_id}:{image_id}",
                        f"/listings/{line.listing_id}/images/{image_id}",
                        image,
                    ).get("image_url", "")
            weights = [ln.weight_g * ln.quantity for ln in order.lines if ln.is_physical and ln.weight_g]
            if weights and order.total_weight_g is None:
                order.total_weight_g = sum(weights)

    #: The first `createReceiptShipment` marks the whole receipt shipped (it names no lines), so
    #: earlier parcels of a split order are kept for the one that completes it; each parcel is
    #: then sent as a shipment of its own, so the buyer gets every tracking number.
    partial_shipments = False
    tells_each_parcel = True

    def carrier_name(self, company: str) -> str:
        # Etsy knows a fixed list (GET /shipping-carriers); anything else goes as "other".
        known = for_channel("etsy", company)
        if known:
            return known
        return ETSY_CARRIERS.get(" ".join((company or "").lower().replace("_", " ").split()), "other")

    def requires_tracking(self, fulfilment: RemoteFulfilment) -> bool:
        # Etsy requires tracking for US orders over $10 and for every shipment to India.
        if fulfilment.country == "IN":
            return True
        return fulfilment.country == "US" and (fulfilment.order_total or 0) > 10

    def _receipt_url(self, receipt_id: str) -> str:
        return self.url(f"/shops/{self.shop_id}/receipts/{receipt_id}")

    def push_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        """`createReceiptShipment`: tracking code, carrier in Etsy's words, and the note to the
        buyer (Etsy puts it in its shipping email)."""
        form = {"send_bcc": "false"}
        if fulfilment.tracking_number:
            form["tracking_code"] = fulfilment.tracking_number
            form["carrier_name"] = self.carrier_name(fulfilment.carrier)
        if fulfilment.note:
            form["note_to_buyer"] = fulfilment.note
        receipt = self.api_json(
            "POST", self._receipt_url(fulfilment.order_external_id) + "/tracking", data=form
        )
        found = _shipment(receipt, fulfilment.tracking_number) if isinstance(receipt, dict) else None
        return PushResult(remote_id=str((found or {}).get("receipt_shipping_id", "")), request=form)

    def find_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult | None:
        """The receipt's `shipments` carrying this tracking code (without tracking: a receipt
        already marked shipped, which is all such a push does)."""
        receipt = self.api_json("GET", self._receipt_url(fulfilment.order_external_id))
        if not isinstance(receipt, dict):
            raise ConnectorError("Etsy answered without a receipt")
        if not fulfilment.tracking_number:
            return PushResult(request={"already_shipped": True}) if receipt.get("is_shipped") else None
        found = _shipment(receipt, fulfilment.tracking_number)
        if found is None:
            return None
        return PushResult(
            remote_id=str(found.get("receipt_shipping_id", "")),
            request={"found_on_etsy": {k: found.get(k) for k in ("tracking_code", "carrier_name")}},
        )

    def cancel_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        where = SHOP_MANAGER.format(receipt=fulfilment.order_external_id)
        raise NotSupported(
            f"{where} › Update tracking: remove tracking {fulfilment.tracking_number or '(none)'}"
            f" ({self.carrier_name(fulfilment.carrier)}). Etsy's API cannot take a shipment back."
        )

    def update_fulfilment(self, old: RemoteFulfilment, new: RemoteFulfilment) -> PushResult:
        raise NotSupported("Etsy's API cannot change a shipment's tracking")


def _shipment(receipt: dict, tracking_number: str) -> dict | None:
    """The receipt's shipment with this tracking code (the newest, if Etsy has it twice)."""
    shipments = [s for s in receipt.get("shipments") or [] if isinstance(s, dict)]
    if tracking_number:
        shipments = [s for s in shipments if s.get("tracking_code") == tracking_number]
    return shipments[-1] if shipments else None
