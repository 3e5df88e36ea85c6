"""Each channel's documented rate limits, the operation a request spends, and whose budget it is.

Sources: shared/api-facts.md and the official specs in shared/specs/ (Amazon's per-operation
rate and burst tables). The shared budget that enforces them is channels/ratebudget.py; the
sandbox enforces the same numbers on its side (sandbox/ratelimit.py), independently.

- Shopify REST: a leaky bucket per app and store, 40 calls leaking 2 per second (the Standard
  plan's; Advanced and Plus leak faster, so this is safe for every plan).
- Etsy v3: per app key, 10 calls a second and 10,000 a day (rolling 24 h) by default.
- eBay Sell Fulfillment: a daily quota per app, about 100,000 calls.
- Amazon SP-API: a token bucket per selling partner and app, per operation (rate, burst):
  searchOrders 0.0056/20, getOrder 0.5/30, v0 getOrders 0.0167/20, v0 getOrder and
  getOrderItems 0.5/30, confirmShipment 2/10, Catalog Items getCatalogItem 2/2.
- Ecwid: 600 calls a minute per token (10/s), burst 100 (the 2020 docs' figure)."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from channels.ratebudget import Limit

DAY = 86_400

LIMITS: dict[str, dict[str, Limit | tuple[Limit, ...]]] = {
    "shopify": {"api": Limit(2.0, 40)},
    "etsy": {"api": (Limit(10.0, 10), Limit(10_000 / DAY, 10_000))},
    "ebay": {"api": Limit(100_000 / DAY, 100_000)},
    "amazon": {
        "searchOrders": Limit(0.0056, 20),
        "getOrder": Limit(0.5, 30),
        "v0.getOrders": Limit(0.0167, 20),
        "v0.getOrder": Limit(0.5, 30),
        "v0.getOrderItems": Limit(0.5, 30),
        "v0.confirmShipment": Limit(2.0, 10),
        "getCatalogItem": Limit(2.0, 2),
    },
    "ecwid": {"api": Limit(10.0, 100)},
}

# Amazon paths -> operation (the order id is 3-7-7 digits; an ASIN is anything but a slash)
AMAZON_OPERATIONS = [
    (re.compile(r"/orders/2026-01-01/orders$"), "searchOrders"),
    (re.compile(r"/orders/2026-01-01/orders/[^/]+$"), "getOrder"),
    (re.compile(r"/orders/v0/orders$"), "v0.getOrders"),
    (re.compile(r"/orders/v0/orders/[^/]+$"), "v0.getOrder"),
    (re.compile(r"/orders/v0/orders/[^/]+/orderItems$"), "v0.getOrderItems"),
    (re.compile(r"/orders/v0/orders/[^/]+/shipmentConfirmation$"), "v0.confirmShipment"),
    (re.compile(r"/catalog/2022-04-01/items/[^/]+$"), "getCatalogItem"),
]


def operation(connector, method: str, url: str) -> str | None:
    """The operation a request spends: Amazon's by path; elsewhere "api" for every call to the
    channel's host (the OAuth token endpoints are not metered with the API)."""
    path = urlsplit(url).path
    if connector.kind == "amazon":
        return next((op for pattern, op in AMAZON_OPERATIONS if pattern.search(path)), None)
    if "/oauth" in path or "/identity/" in path:
        return None
    host = urlsplit(connector.base_url).netloc
    return "api" if urlsplit(url).netloc == host else None


def account(connector) -> str:
    """Whose budget: Etsy and eBay meter the app (its key), Amazon the selling partner (and app),
    Shopify and Ecwid the shop or store."""
    c = connector.credentials
    if connector.kind == "etsy":
        return c.get("keystring") or connector.shop_id
    if connector.kind == "ebay":
        return c.get("client_id") or connector.base_url
    if connector.kind == "amazon":
        # The refresh token stands for one seller's consent to our app; hashed, never stored.
        consent = c.get("refresh_token") or ""
        return c.get("selling_partner_id") or (
            hashlib.sha256(consent.encode()).hexdigest()[:16] if consent else connector.shop_id
        )
    return connector.shop_id or connector.base_url
