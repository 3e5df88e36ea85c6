"""Shopify Admin REST (`…/admin/api/2024-07`): orders in, fulfillments out. The HTTP client;
the JSON shapes (statuses, gift messages, request bodies) are in `shopify_mapping.py`.

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

Fields REST lacks: line images and option names live on the product, and customs data (HS code,
country of origin) on its variants' inventory items; both are fetched once per product (two
calls) and cached (`enrich`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

from channels.connectors import register
from channels.connectors.base import (
    Connector,
    ConnectorError,
    NotSupported,
    Page,
    PushResult,
    RemoteFulfilment,
    RemoteOrder,
    parse_items,
)
from channels.connectors.carriers import for_channel
from channels.connectors.shopify_mapping import (
    VARIANT_IMAGE,
    add_customs,
    cancel_body,
    fulfillment_body,
    fulfillment_groups,
    fulfillment_id,
    fulfillment_requests,
    matching_fulfillments,
    order_ids,
    parse_order,
    product_facts,
    requested_entry,
    same_lines,
    successful_fulfillment,
    update_tracking_body,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 250  # Shopify's maximum
INVENTORY_IDS_MAX = 100  # ids one `inventory_items.json` call takes
# The persistent cache key of a product's facts. Until customs data joined them they were cached
# under "product:{id}": a new key, so products cached before are read once more, with it.
PRODUCT_KEY = "product+customs:"
CLOCK_SKEW = timedelta(minutes=2)  # read a little before the last run started: replays are harmless


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
            orders, skipped = parse_items(data["orders"], parse_order, order_ids)
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
                f"{PRODUCT_KEY}{ln.listing_id}"
                for o in orders
                for ln in o.lines
                if ln.listing_id and ln.image_url.startswith(VARIANT_IMAGE)
            }
        )

    def _product(self, cache: dict, product_id: str) -> dict:
        """One GET per product, ever. A deleted product is remembered as missing; any other
        failure (of the product or of its inventory items) leaves image, option names and customs
        data out this time and tries again next sync."""
        key = f"{PRODUCT_KEY}{product_id}"
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
            facts = product_facts((data or {}).get("product") or {})
            if not self._add_customs(facts):
                return facts  # this time without customs data; the next sync asks again
            cache[key] = facts
        return cache[key]

    def _add_customs(self, facts: dict) -> bool:
        """The variants' HS codes and origins, from their inventory items in one call
        (`inventory_items.json?ids=…`). False when that call failed (but for a refused token, which
        raises, and a missing read_inventory scope, which leaves them out)."""
        ids = [v["inventory_item_id"] for v in facts["variants"].values() if v.get("inventory_item_id")]
        ids = ids[:INVENTORY_IDS_MAX]  # Shopify takes at most 100 ids; a bigger product's others go without
        if not ids:
            return True
        try:
            data, _ = self.call(
                "GET", "/inventory_items.json", params={"ids": ",".join(ids), "limit": len(ids)}
            )
        except ConnectorError as exc:
            if exc.status == 403:
                # The app lacks the read_inventory scope: the orders still come, without customs
                # data (cached so: asking each sync would only spend the rate limit).
                log.warning("Shopify refused inventory items (read_inventory scope?): %s", exc)
                return True
            if exc.auth:
                raise
            log.warning("Shopify inventory items %s: %s", ",".join(ids), exc)
            return False
        add_customs(facts, (data or {}).get("inventory_items") or [])
        return True

    def enrich(self, orders: list[RemoteOrder], cache: dict) -> None:
        """Images, option names and customs data live on the product, not the order: one call
        per product (and one for its inventory items), cached."""
        for order in orders:
            for line in order.lines:
                if not line.image_url.startswith(VARIANT_IMAGE):
                    continue
                variant_id = line.image_url[len(VARIANT_IMAGE) :]
                product = self._product(cache, line.listing_id) if line.listing_id else {}
                variant = (product.get("variants") or {}).get(variant_id) or {}
                line.image_url = variant.get("image") or product.get("image") or ""
                line.hs_code = variant.get("hs_code") or ""
                line.origin_country = variant.get("origin_country") or ""
                if variant.get("options") and "Variant" in line.options:
                    named = dict(variant["options"])
                    named.update({k: v for k, v in line.options.items() if k != "Variant"})
                    line.options = named

    # -- writing

    def carrier_name(self, company: str) -> str:
        # Shopify takes any company; the names it knows get a tracking link of their own.
        return for_channel("shopify", company) or (company or "").strip()

    def push_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        """One fulfillment per location holding the parcel's lines, naming the fulfillment order
        line items and quantities the parcel holds, and only fulfillment orders a carrier
        delivers (never a gift card's or a pickup's)."""
        order_id = fulfilment.order_external_id
        data, _ = self.call("GET", f"/orders/{order_id}/fulfillment_orders.json")
        by_location, left_over = fulfillment_groups(
            (data or {}).get("fulfillment_orders") or [], fulfilment.lines
        )
        if not by_location:
            return self._already_fulfilled(fulfilment)

        company = (
            self.carrier_name(fulfilment.carrier) if fulfilment.tracking_number and fulfilment.carrier else ""
        )
        sent, ids = [], []
        # A fulfillment ships from one location: one call per location holding the lines.
        for groups in by_location.values():
            body = fulfillment_body(groups, fulfilment, company=company)
            answer, _ = self.call("POST", "/fulfillments.json", json=body)
            ids.append(fulfillment_id(answer))
            sent.append(body)
        request = sent[0] if len(sent) == 1 else {"fulfillments": sent}
        if left_over:  # already fulfilled on Shopify, or not Shopify's to fulfil: said, not sent
            request = {**request, "not_open_on_shopify": left_over}
        return PushResult(remote_id=",".join(ids), request=request)

    def _fulfillments(self, order_id: str) -> list[dict]:
        data, _ = self.call("GET", f"/orders/{order_id}/fulfillments.json")
        return (data or {}).get("fulfillments") or []

    def find_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult | None:
        """`GET orders/{id}/fulfillments.json`: the live fulfillments carrying this tracking."""
        found = matching_fulfillments(self._fulfillments(fulfilment.order_external_id), fulfilment)
        if not found:
            return None
        return PushResult(
            remote_id=",".join(str(f["id"]) for f in found),
            request={"found_on_shopify": [f.get("name", "") for f in found]},
        )

    def _remote_ids(self, fulfilment: RemoteFulfilment) -> list[str]:
        ids = [i for i in fulfilment.remote_id.split(",") if i]
        if not ids:
            found = self.find_fulfilment(fulfilment)
            ids = [i for i in (found.remote_id.split(",") if found else []) if i]
        return ids

    def cancel_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        """`POST fulfillments/{id}/cancel.json` for each fulfillment the push made: Shopify opens
        their fulfillment order lines again. One already cancelled counts as done (a retry after
        a crash)."""
        cancelled, already = [], []
        ids = self._remote_ids(fulfilment)
        if not ids:
            return PushResult(request={"not_on_shopify": fulfilment.tracking_number})
        for fid in ids:
            try:
                self.call("POST", f"/fulfillments/{fid}/cancel.json", json={})
            except ConnectorError as exc:
                if exc.status != 422 or self._status(fulfilment.order_external_id, fid) != "cancelled":
                    raise
                already.append(fid)
            else:
                cancelled.append(fid)
        return PushResult(
            remote_id=",".join(cancelled + already),
            request={"cancelled": cancelled, **({"already_cancelled": already} if already else {})},
        )

    def _status(self, order_id: str, fid: str) -> str:
        return next(
            (str(f.get("status")) for f in self._fulfillments(order_id) if str(f.get("id")) == fid), ""
        )

    def update_fulfilment(self, old: RemoteFulfilment, new: RemoteFulfilment) -> PushResult:
        """`POST fulfillments/{id}/update_tracking.json`: the new label's tracking on the old
        fulfillment, when the new parcel holds the same lines (otherwise the old one is cancelled
        and the new one sent: NotSupported)."""
        if not same_lines(old.lines, new.lines):
            raise NotSupported(
                "Shopify: the new parcel holds other lines; the old fulfillment is cancelled instead"
            )
        ids = self._remote_ids(old)
        if not ids:
            raise NotSupported(
                "Shopify: the old fulfillment is not on the order; the new one is sent instead"
            )
        company = self.carrier_name(new.carrier) if new.carrier else ""
        body = update_tracking_body(new, company=company)
        for fid in ids:
            self.call("POST", f"/fulfillments/{fid}/update_tracking.json", json=body)
        return PushResult(remote_id=",".join(ids), request=body)

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
        f = successful_fulfillment(order, fulfilment.tracking_number)
        if f is not None:
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
        requested, already, own = [], [], []
        plan = fulfillment_requests((data or {}).get("fulfillment_orders") or [], lines, message=message)
        for what, entry in plan:
            if what == "already":
                already.append(entry)
            elif what == "own":
                own.append(entry)
            else:
                answer, _ = self.call(
                    "POST",
                    f"/fulfillment_orders/{entry['fulfillment_order_id']}/fulfillment_request.json",
                    json={"fulfillment_request": entry["request"]},
                )
                requested.append(requested_entry(answer, entry))
        if not requested and not already:
            if own:
                places = ", ".join(sorted({o["location"] for o in own}))
                raise ConnectorError(
                    f"Shopify assigns these lines to {places}, a location the merchant fulfils: only a "
                    "fulfillment service's lines can be requested and shown in progress (set the "
                    "products' fulfillment service to the supplier on Shopify)",
                    retryable=False,
                )
            raise ConnectorError(
                f"Shopify order {order_id} has nothing open to request for these lines", retryable=False
            )
        return PushResult(
            remote_id=",".join(str(r["fulfillment_order_id"]) for r in requested + already),
            request={"requested": requested, "already": already, "not_requested": own},
        )

    def cancel_order(self, order_external_id: str, reason: str = "") -> None:
        self.call("POST", f"/orders/{order_external_id}/cancel.json", json=cancel_body(reason))

    def is_custom_status(self, remote_status: str) -> bool:
        """Whether staff are expected to map this status (a `status:` tag)."""
        return remote_status.startswith("status:")


def next_page_info(response) -> str:
    url = (response.links.get("next") or {}).get("url") or ""
    return (parse_qs(urlparse(url).query).get("page_info") or [""])[0]
