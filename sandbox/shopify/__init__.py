"""Shopify Admin REST stand-in (see shared/api-facts.md §2), at
/sandbox/shopify/admin/api/<version>/… with the real paths below the version.

The store is the one whose `access_token` credential matches `X-Shopify-Access-Token` (on
Shopify the shop is the host name; here the token picks it). It keeps Shopify's habits: cursor
pagination through the `Link` header (`page_info` may travel only with `limit` and `fields`),
a leaky bucket per store (40 calls, 2 per second by default; `store.settings["bucket_size"]`
and `["leak_rate"]` change it) answered with 429 + `Retry-After` and the
`X-Shopify-Shop-Api-Call-Limit` header on every answer, fulfillment orders per location (the
shop's own and fulfillment services'), fulfillment requests to a fulfillment service
(`POST fulfillment_orders/{id}/fulfillment_request.json`), `POST fulfillments.json`, an order's
fulfillments (`GET orders/{id}/fulfillments.json`), cancelling one (`POST fulfillments/{id}/cancel.json`:
its lines open again) or replacing its tracking (`POST fulfillments/{id}/update_tracking.json`),
`POST orders/{id}/cancel.json`, products and their variants' inventory items (HS code and country
of origin: `GET inventory_items.json?ids=…`). Gift card and digital lines have a fulfillment order of their own
whose `delivery_method.method_type` is "none"."""

from django.urls import re_path

from sandbox.shopify import fulfillment, fulfillments, orders

# What tests/channels reaches for on the stand-in (its other callers import from the modules).
from sandbox.shopify.fulfillment import FO_OFFSET, fulfil, fulfillment_orders
from sandbox.shopify.orders import cancel

__all__ = ["FO_OFFSET", "cancel", "fulfil", "fulfillment_orders", "urlpatterns"]

VERSION = r"admin/api/(?P<version>\d{4}-(?:01|04|07|10)|unstable)/"
urlpatterns = [
    re_path(VERSION + r"orders\.json$", orders.orders),
    re_path(VERSION + r"orders/(?P<order_id>\d+)\.json$", orders.order),
    re_path(
        VERSION + r"orders/(?P<order_id>\d+)/fulfillment_orders\.json$", fulfillment.order_fulfillment_orders
    ),
    re_path(VERSION + r"orders/(?P<order_id>\d+)/cancel\.json$", orders.order_cancel),
    re_path(VERSION + r"orders/(?P<order_id>\d+)/fulfillments\.json$", fulfillments.order_fulfillments),
    re_path(VERSION + r"fulfillments\.json$", fulfillment.fulfillments),
    re_path(VERSION + r"fulfillments/(?P<fulfillment_id>\d+)/cancel\.json$", fulfillments.fulfillment_cancel),
    re_path(
        VERSION + r"fulfillments/(?P<fulfillment_id>\d+)/update_tracking\.json$",
        fulfillments.fulfillment_update_tracking,
    ),
    re_path(
        VERSION + r"fulfillment_orders/(?P<fo_id>\d+)/fulfillment_request\.json$",
        fulfillment.fulfillment_request,
    ),
    re_path(VERSION + r"products/(?P<product_id>\d+)\.json$", orders.product),
    re_path(VERSION + r"inventory_items\.json$", orders.inventory_items),
]
