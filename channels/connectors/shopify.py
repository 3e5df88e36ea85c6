"""Shopify Admin REST (`…/admin/api/2024-07`): orders in, fulfillments out.

Reading. The first pass (no cursor yet) asks only for what may need shipping:
`orders.json?status=any&financial_status=paid&fulfillment_status=unshipped&created_at_min=…`,
so connecting a large shop does not walk months of orders that shipped long ago. Every later
pass is a change feed, `orders.json?status=any&updated_at_min=…` without status filters, so
one listing serves the import, the skip reasons (unpaid, cancelled, digital…) and the pull-back
of orders fulfilled or cancelled on Shopify. Both walk Shopify's cursor pagination (the `Link`
header's `page_info`, which travels alone with `limit`): a keyset, so orders that leave the
filtered set while we page (the backfill's paid/unshipped filter) never shift the ones not yet
read. Each page's cursor holds the next `page_info`; a finished pass resumes from its start
time minus a little skew.

Statuses. "Shipped" means anything fulfilled: a partially fulfilled order is being shipped
from Shopify already, and Shipdesk does not split orders (this matches the backfill's
`fulfillment_status=unshipped`, which excludes partial ones). Shopify has no custom order
statuses; merchants use tags. So the remote status is `<financial_status>/<fulfillment_status>`
(e.g. `paid/unfulfilled`), or `cancelled`, unless the order carries a tag written
`status:<name>` (e.g. `status:awaiting-stock`): that tag is the status staff map in the
channel's status table.

Fields REST lacks: line images and option names live on the product, fetched once per product
and cached (`enrich`). There is no gift flag: the gift message is the `gift_message` (or
"Gift message"/"Gift note") cart attribute that gift-wrap themes and apps write; other cart
attributes join the buyer's note. The merchant's tags go to the internal note."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

from channels.connectors import register
from channels.connectors.base import (
    Connector,
    ConnectorError,
    Page,
    PushResult,
    RemoteAddress,
    RemoteFulfilment,
    RemoteLine,
    RemoteOrder,
    RemoteTracking,
)
from channels.connectors.carriers import for_channel

log = logging.getLogger(__name__)

PAGE_SIZE = 250  # Shopify's maximum
CLOCK_SKEW = timedelta(minutes=2)  # read a little before the last run started: replays are harmless
PAID = {"paid", "partially_refunded"}  # "authorized" is not captured yet; "partially_paid" is not paid
GIFT_ATTRIBUTES = {"gift_message", "gift message", "gift-message", "gift note", "gift_note"}
CANCEL_REASONS = {"customer", "inventory", "fraud", "declined", "staff", "other"}
VARIANT_IMAGE = "shopify-variant:"  # placeholder until enrich() swaps in the product's image


def money(value) -> Decimal:
    return Decimal(str(value or "0")).quantize(Decimal("0.01"))


def when(value: str | None) -> datetime:
    """Shopify writes times in the shop's zone (`2026-11-20T10:15:00-05:00`); ours are UTC."""
    if not value:
        raise ValueError("missing timestamp")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def status_tag(tags: str) -> str:
    for tag in (tags or "").split(","):
        tag = tag.strip()
        if tag.lower().startswith("status:") and tag[7:].strip():
            return "status:" + tag[7:].strip()
    return ""


def parse_line(li: dict) -> RemoteLine:
    options = {"Variant": li["variant_title"]} if li.get("variant_title") else {}
    # Line item properties are the buyer's options (engraving…); names starting "_" are private.
    options.update(
        {
            str(p.get("name")): str(p.get("value") or "")
            for p in li.get("properties") or []
            if p.get("name") and not str(p["name"]).startswith("_")
        }
    )
    grams = li.get("grams")
    return RemoteLine(
        external_id=str(li["id"]),
        sku=li.get("sku") or "",
        title=li.get("title") or li.get("name") or "",
        quantity=int(li.get("quantity") or 1),
        unit_price=money(li.get("price")),
        options=options,
        weight_g=int(grams) if grams else None,
        image_url=f"{VARIANT_IMAGE}{li['variant_id']}"
        if li.get("variant_id") and li.get("product_id")
        else "",
        is_physical=bool(li.get("requires_shipping", True)),
        stock_location=((li.get("origin_location") or {}).get("name") or ""),
        listing_id=str(li.get("product_id") or ""),
    )


def parse_order(o: dict) -> RemoteOrder:
    financial = (o.get("financial_status") or "pending").lower()
    fulfilment = (o.get("fulfillment_status") or "").lower()
    cancelled = bool(o.get("cancelled_at"))
    status = (
        "cancelled"
        if cancelled
        else (status_tag(o.get("tags") or "") or f"{financial}/{fulfilment or 'unfulfilled'}")
    )
    a = o.get("shipping_address") or None
    customer = o.get("customer") or {}
    address = None
    if a:
        address = RemoteAddress(
            name=a.get("name") or " ".join(filter(None, [a.get("first_name"), a.get("last_name")])),
            company=a.get("company") or "",
            line1=a.get("address1") or "",
            line2=a.get("address2") or "",
            city=a.get("city") or "",
            state=a.get("province_code") or a.get("province") or "",
            postal_code=a.get("zip") or "",
            country=(a.get("country_code") or "").upper(),
            phone=a.get("phone") or "",
        )
    gift_message, extra_notes, is_gift = "", [], False
    for attribute in o.get("note_attributes") or []:
        name, value = str(attribute.get("name") or ""), str(attribute.get("value") or "")
        if name.strip().lower() in GIFT_ATTRIBUTES:
            gift_message, is_gift = value, is_gift or bool(value)
        elif name.strip().lower() in ("gift", "is_gift", "gift_wrap", "gift wrap"):
            is_gift = is_gift or value.strip().lower() in ("1", "true", "yes", "on")
        elif name and not name.startswith("_"):
            extra_notes.append(f"{name}: {value}")
    lines = [parse_line(li) for li in o.get("line_items") or []]
    total_weight = o.get("total_weight")
    tags = (o.get("tags") or "").strip()
    billing = o.get("billing_address") or {}
    return RemoteOrder(
        external_id=str(o["id"]),
        order_number=o.get("name") or str(o.get("order_number") or o["id"]),
        remote_status=status,
        needs_mapping=status.startswith("status:"),
        is_paid=financial in PAID,
        is_shipped=fulfilment in ("fulfilled", "partial", "shipped"),
        is_cancelled=cancelled,
        created_at=when(o.get("created_at")),
        updated_at=when(o.get("updated_at") or o.get("created_at")),
        currency=o.get("currency") or "",
        total=money(o.get("total_price")),
        lines=lines,
        address=address,
        customer_name=(address.name if address else "")
        or " ".join(filter(None, [customer.get("first_name"), customer.get("last_name")])),
        email=o.get("email") or o.get("contact_email") or customer.get("email") or "",
        phone=o.get("phone") or customer.get("phone") or (a or {}).get("phone") or billing.get("phone") or "",
        requested_service=next(
            (s.get("title") or s.get("code") or "" for s in o.get("shipping_lines") or []), ""
        ),
        payment_method=", ".join(o.get("payment_gateway_names") or []) or o.get("gateway") or "",
        discount_total=money(o.get("total_discounts")),
        coupon_codes=[d["code"] for d in o.get("discount_codes") or [] if d.get("code")],
        is_gift=is_gift,
        gift_message=gift_message,
        customer_note="\n".join(filter(None, [o.get("note") or "", *extra_notes])),
        internal_note=f"Tags: {tags}" if tags else "",
        total_weight_g=int(total_weight)
        if total_weight
        else (sum(ln.weight_g * ln.quantity for ln in lines if ln.is_physical and ln.weight_g) or None),
        tracking=[
            RemoteTracking(tracking_number=number, carrier=f.get("tracking_company") or "")
            for f in o.get("fulfillments") or []
            if f.get("status") in (None, "success", "open", "pending")
            for number in (
                f.get("tracking_numbers") or ([f["tracking_number"]] if f.get("tracking_number") else [])
            )
        ],
    )


def decode_json(response, what: str):
    if response.status_code == 204 or not response.content:
        return {}
    try:
        return response.json()
    except ValueError as exc:
        raise ConnectorError(
            f"{what}: malformed JSON in the answer ({exc}); body starts {response.text[:80]!r}",
            status=response.status_code,
        ) from exc


@register
class ShopifyConnector(Connector):
    kind = "shopify"
    page_size = PAGE_SIZE

    def headers(self) -> dict:
        return {
            "X-Shopify-Access-Token": self.credentials.get("access_token", ""),
            "Accept": "application/json",
        }

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def call(self, method: str, path: str, **kwargs):
        """One API call: (decoded JSON, response). Slows down when the leaky bucket is nearly full."""
        response = self.http.request(method, self.url(path), headers=self.headers(), **kwargs)
        self._pace(response.headers.get("X-Shopify-Shop-Api-Call-Limit", ""))
        return decode_json(response, f"{method} {path}"), response

    def _pace(self, call_limit: str) -> None:
        # "39/40": one more call and the bucket overflows. Wait about one leak (2/s on most
        # plans) rather than collect a 429.
        try:
            used, size = (int(x) for x in call_limit.split("/"))
        except ValueError:
            return
        if size and used >= size - 1:
            time.sleep(min(0.5, self.http.max_sleep))

    # -- reading

    def iter_pages(self, cursor: dict, *, now: datetime, window_days: int) -> Iterator[Page]:
        started = cursor.get("started") or now.astimezone(UTC).isoformat(timespec="seconds")
        if cursor.get("since"):
            scope = {"since": cursor["since"]}
            first = {"status": "any", "updated_at_min": cursor["since"]}
        else:
            backfill_from = cursor.get("backfill_from") or (now - timedelta(days=window_days)).astimezone(
                UTC
            ).isoformat(timespec="seconds")
            scope = {"backfill_from": backfill_from}
            first = {
                "status": "any",
                "financial_status": "paid",
                "fulfillment_status": "unshipped",
                "created_at_min": backfill_from,
            }
        page_info = cursor.get("page_info") or ""
        while True:
            try:
                params = (
                    {"limit": self.page_size, "page_info": page_info}
                    if page_info
                    else {**first, "limit": self.page_size}
                )
                data, response = self.call("GET", "/orders.json", params=params)
            except ConnectorError as exc:
                if page_info and exc.status == 400 and page_info == cursor.get("page_info"):
                    # A stored page_info Shopify no longer accepts: read this pass again from the top.
                    log.warning("Shopify refused a stored page_info; restarting the pass: %s", exc)
                    page_info = ""
                    continue
                raise
            if not isinstance(data, dict) or not isinstance(data.get("orders"), list):
                raise ConnectorError("Shopify answered without an orders list")
            orders, skipped = [], []
            for raw in data["orders"]:
                try:
                    orders.append(parse_order(raw))
                except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
                    oid = str(raw.get("id", "?")) if isinstance(raw, dict) else "?"
                    number = str(raw.get("name") or oid) if isinstance(raw, dict) else oid
                    skipped.append((oid, number, f"malformed order: {exc!r}"))
            page_info = next_page_info(response)
            if page_info:
                next_cursor = {**scope, "page_info": page_info, "started": started}
            else:
                since = datetime.fromisoformat(started) - CLOCK_SKEW
                next_cursor = {"since": since.isoformat(timespec="seconds")}
            yield Page(orders=orders, cursor=next_cursor, skipped=skipped)
            if not page_info:
                return

    def cache_keys(self, orders: list[RemoteOrder]) -> list[str]:
        return sorted(
            {
                f"product:{ln.listing_id}"
                for o in orders
                for ln in o.lines
                if ln.listing_id and ln.image_url.startswith(VARIANT_IMAGE)
            }
        )

    def _product(self, cache: dict, product_id: str) -> dict:
        """One GET per product, ever. A deleted product is remembered as missing; any other
        failure leaves image and option names out this time and tries again next sync."""
        key = f"product:{product_id}"
        if key not in cache:
            try:
                data, _ = self.call(
                    "GET",
                    f"/products/{product_id}.json",
                    params={"fields": "id,image,images,options,variants"},
                )
            except ConnectorError as exc:
                if exc.status == 404:
                    cache[key] = {"missing": True}
                    return cache[key]
                if exc.auth:
                    raise
                return {}
            product = (data or {}).get("product") or {}
            images = {str(i.get("id")): i.get("src") or "" for i in product.get("images") or []}
            names = [o.get("name") or f"Option {n + 1}" for n, o in enumerate(product.get("options") or [])]
            cache[key] = {
                "image": (product.get("image") or {}).get("src") or "",
                "variants": {
                    str(v.get("id")): {
                        "image": images.get(str(v.get("image_id")), ""),
                        "options": {
                            name: v.get(f"option{n + 1}")
                            for n, name in enumerate(names)
                            if v.get(f"option{n + 1}") and v.get(f"option{n + 1}") != "Default Title"
                        },
                    }
                    for v in product.get("variants") or []
                },
            }
        return cache[key]

    def enrich(self, orders: list[RemoteOrder], cache: dict) -> None:
        """Images and option names live on the product, not the order: one call per product, cached."""
        for order in orders:
            for line in order.lines:
                if not line.image_url.startswith(VARIANT_IMAGE):
                    continue
                variant_id = line.image_url[len(VARIANT_IMAGE) :]
                product = self._product(cache, line.listing_id) if line.listing_id else {}
                variant = (product.get("variants") or {}).get(variant_id) or {}
                line.image_url = variant.get("image") or product.get("image") or ""
                if variant.get("options") and "Variant" in line.options:
                    named = dict(variant["options"])
                    named.update({k: v for k, v in line.options.items() if k != "Variant"})
                    line.options = named

    # -- writing

    def carrier_name(self, company: str) -> str:
        # Shopify takes any company; the names it knows get a tracking link of their own.
        return for_channel("shopify", company) or (company or "").strip()

    def push_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        order_id = fulfilment.order_external_id
        data, _ = self.call("GET", f"/orders/{order_id}/fulfillment_orders.json")
        wanted = {str(line_id): int(quantity) for line_id, quantity in fulfilment.lines}
        by_location: dict[str, list[dict]] = {}
        for fo in (data or {}).get("fulfillment_orders") or []:
            if fo.get("status") not in ("open", "in_progress"):
                continue
            if "create_fulfillment" not in (fo.get("supported_actions") or ["create_fulfillment"]):
                continue
            group: dict = {"fulfillment_order_id": fo["id"]}
            if wanted:
                items = [
                    {
                        "id": li["id"],
                        "quantity": min(
                            wanted[str(li.get("line_item_id"))], int(li.get("fulfillable_quantity") or 0)
                        ),
                    }
                    for li in fo.get("line_items") or []
                    if str(li.get("line_item_id")) in wanted and int(li.get("fulfillable_quantity") or 0) > 0
                ]
                if not items:
                    continue
                group["fulfillment_order_line_items"] = items
            by_location.setdefault(str(fo.get("assigned_location_id")), []).append(group)
        if not by_location:
            return self._already_fulfilled(fulfilment)

        spec: dict = {"notify_customer": bool(fulfilment.notify_customer)}
        if fulfilment.tracking_number:
            info = {"number": fulfilment.tracking_number}
            if fulfilment.carrier:
                info["company"] = self.carrier_name(fulfilment.carrier)
            if fulfilment.tracking_url:
                info["url"] = fulfilment.tracking_url
            spec["tracking_info"] = info
        if fulfilment.note:
            spec["message"] = fulfilment.note
        sent, ids = [], []
        # A fulfillment ships from one location: one call per location holding the lines.
        for groups in by_location.values():
            body = {"fulfillment": {"line_items_by_fulfillment_order": groups, **spec}}
            answer, _ = self.call("POST", "/fulfillments.json", json=body)
            ids.append(str(((answer or {}).get("fulfillment") or {}).get("id", "")))
            sent.append(body)
        return PushResult(
            remote_id=",".join(ids), request=sent[0] if len(sent) == 1 else {"fulfillments": sent}
        )

    def _already_fulfilled(self, fulfilment: RemoteFulfilment) -> PushResult:
        """Nothing left to fulfil: fine if it is ours (an earlier attempt got through before
        its answer was lost); otherwise someone fulfilled it on Shopify and staff must know."""
        order_id = fulfilment.order_external_id
        data, _ = self.call(
            "GET", f"/orders/{order_id}.json", params={"fields": "id,fulfillments,cancelled_at"}
        )
        order = (data or {}).get("order") or {}
        if order.get("cancelled_at"):
            raise ConnectorError(
                f"Shopify order {order_id} is cancelled; nothing was fulfilled", retryable=False
            )
        for f in order.get("fulfillments") or []:
            numbers = f.get("tracking_numbers") or [f.get("tracking_number")]
            if f.get("status") == "success" and (
                not fulfilment.tracking_number or fulfilment.tracking_number in numbers
            ):
                return PushResult(
                    remote_id=str(f.get("id", "")), request={"already_fulfilled": f.get("name", "")}
                )
        raise ConnectorError(
            f"Shopify order {order_id} has nothing left to fulfil (fulfilled there already)", retryable=False
        )

    def mark_in_progress(
        self, order_external_id: str, lines: list[tuple[str, int]] | None = None, *, message: str = ""
    ) -> PushResult:
        """Request fulfilment of `lines` from the fulfillment service holding them (a dropshipping
        supplier is one on Shopify): `POST fulfillment_orders/{id}/fulfillment_request.json`
        per fulfillment order, naming only those lines. Shopify shows the order "In progress"
        once the service accepts. Lines at one of the merchant's own locations cannot be
        requested (Shopify has no "in progress" for them): if no line could be, this raises."""
        order_id = order_external_id
        data, _ = self.call("GET", f"/orders/{order_id}/fulfillment_orders.json")
        wanted = {str(line_id): int(quantity) for line_id, quantity in lines or []}
        live = [fo for fo in (data or {}).get("fulfillment_orders") or [] if fo.get("status") in ("open", "in_progress")]
        # Lines already with a fulfillment service (an earlier request) are not asked for again.
        live.sort(key=lambda fo: fo.get("request_status") not in ("submitted", "accepted"))
        requested, already, own = [], [], []
        for fo in live:
            items = [
                li
                for li in fo.get("line_items") or []
                if (not wanted or wanted.get(str(li.get("line_item_id")), 0) > 0)
                and int(li.get("fulfillable_quantity") or 0) > 0
            ]
            if not items:
                continue
            where = (fo.get("assigned_location") or {}).get("name") or str(fo.get("assigned_location_id"))
            if fo.get("request_status") in ("submitted", "accepted"):
                already.append({"fulfillment_order_id": fo["id"], "location": where,
                                "request_status": fo["request_status"]})
                for li in items:
                    if wanted:
                        wanted[str(li["line_item_id"])] -= int(li["fulfillable_quantity"])
                continue
            if "request_fulfillment" not in (fo.get("supported_actions") or []):
                own.append({"location": where, "line_items": [str(li.get("line_item_id")) for li in items]})
                continue
            request: dict = {"message": message}
            if wanted:
                request["fulfillment_order_line_items"] = [
                    {"id": li["id"],
                     "quantity": min(wanted[str(li["line_item_id"])], int(li["fulfillable_quantity"]))}
                    for li in items
                ]
            answer, _ = self.call(
                "POST", f"/fulfillment_orders/{fo['id']}/fulfillment_request.json",
                json={"fulfillment_request": request},
            )
            submitted = (answer or {}).get("submitted_fulfillment_order") or {}
            requested.append({
                "fulfillment_order_id": submitted.get("id", fo["id"]), "location": where,
                "request_status": submitted.get("request_status", ""),
                "line_items": request.get("fulfillment_order_line_items", "all"),
            })
        if not requested and not already:
            if own:
                places = ", ".join(sorted({o["location"] for o in own}))
                raise ConnectorError(
                    f"Shopify assigns these lines to {places}, a location the merchant fulfils: only a "
                    "fulfillment service's lines can be requested and shown in progress (set the "
                    "products' fulfillment service to the supplier on Shopify)", retryable=False)
            raise ConnectorError(f"Shopify order {order_id} has nothing open to request for these lines",
                                 retryable=False)
        return PushResult(
            remote_id=",".join(str(r["fulfillment_order_id"]) for r in requested + already),
            request={"requested": requested, "already": already, "not_requested": own},
        )

    def cancel_order(self, order_external_id: str, reason: str = "") -> None:
        body = {"reason": reason if reason in CANCEL_REASONS else "other", "email": False}
        self.call("POST", f"/orders/{order_external_id}/cancel.json", json=body)

    def is_custom_status(self, remote_status: str) -> bool:
        """Whether staff are expected to map this status (a `status:` tag)."""
        return remote_status.startswith("status:")


def next_page_info(response) -> str:
    url = (response.links.get("next") or {}).get("url") or ""
    return (parse_qs(urlparse(url).query).get("page_info") or [""])[0]
