"""The one interface every marketplace connector implements, and the plain data it speaks.

A connector turns the channel's JSON into these dataclasses and back. Nothing outside a
connector knows a remote field name; nothing inside one touches the ORM."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


class ConnectorError(Exception):
    """A call to the channel failed. `retryable` says whether trying later may succeed."""

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool = True, auth: bool = False
    ):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.auth = auth  # credentials refused: the channel needs reconnecting
        # The request changed something and may have reached the channel before it failed (a
        # timeout, a 5xx): ask the channel before sending it again (channels.connectors.http).
        self.maybe_sent = False


class NotSupported(ConnectorError):
    def __init__(self, message: str):
        super().__init__(message, retryable=False)


@dataclass
class RemoteLine:
    external_id: str
    sku: str
    title: str
    quantity: int
    unit_price: Decimal = Decimal("0")
    options: dict[str, str] = field(default_factory=dict)
    weight_g: int | None = None
    image_url: str = ""
    is_physical: bool = True
    stock_location: str = ""
    listing_id: str = ""  # the channel's product id, for lookups of weight and image
    hs_code: str = ""  # customs data, where the channel's API has it (Shopify's inventory items)
    origin_country: str = ""  # ISO 3166-1 alpha-2 country of manufacture


@dataclass
class RemoteAddress:
    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    phone: str = ""

    def is_complete(self) -> bool:
        return bool(self.name and self.line1 and self.city and self.country)


@dataclass
class RemoteTracking:
    tracking_number: str
    carrier: str = ""


@dataclass
class RemoteOrder:
    external_id: str
    order_number: str
    remote_status: str
    is_paid: bool
    is_shipped: bool
    is_cancelled: bool
    created_at: datetime
    updated_at: datetime
    currency: str
    total: Decimal
    lines: list[RemoteLine]
    address: RemoteAddress | None
    customer_name: str = ""
    email: str = ""
    phone: str = ""
    requested_service: str = ""
    payment_method: str = ""
    discount_total: Decimal = Decimal("0")
    coupon_codes: list[str] = field(default_factory=list)
    is_gift: bool = False
    gift_message: str = ""
    customer_note: str = ""
    internal_note: str = ""
    total_weight_g: int | None = None
    tracking: list[RemoteTracking] = field(default_factory=list)  # shipped on the channel itself
    #: the latest time the channel expects the parcel to leave (None where it gives none)
    ship_by: datetime | None = None
    #: remote_status is one of the channel's custom statuses: its meaning comes from a StatusMapping
    needs_mapping: bool = False


@dataclass
class Page:
    orders: list[RemoteOrder]
    cursor: dict  # what to persist once this page's orders are stored
    skipped: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (external_id, number, why): unparseable


@dataclass
class RemoteFulfilment:
    """What the channel is told when an order ships."""

    order_external_id: str
    tracking_number: str
    carrier: str  # our tracking company name; the connector translates it
    service: str = ""
    tracking_url: str = ""
    note: str = ""
    notify_customer: bool = True
    shipped_at: datetime | None = None
    # (line external id, quantity): exactly what the parcel holds. Never empty: Shipdesk always
    # names the lines (a connector whose channel can only mark the whole order says so with
    # `partial_shipments = False`).
    lines: list[tuple[str, int]] = field(default_factory=list)
    country: str = ""
    order_total: Decimal | None = None
    fee: Decimal | None = None  # what the carrier charged, for channels with a field for it
    fee_currency: str = ""
    remote_id: str = ""  # the channel's id of this fulfilment once sent (cancel, update)
    reference: str = ""  # Shipdesk's stable id of this parcel (Amazon packageReferenceId)
    #: every line of the order is in a sent or sending fulfilment once this one is (a channel
    #: that can only mark the whole order waits for this one)
    completes_order: bool = True


@dataclass
class PushResult:
    remote_id: str = ""
    request: dict = field(default_factory=dict)  # what was sent, for the timeline


MALFORMED = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError)


def parse_items(items: list, parse, ids) -> tuple[list[RemoteOrder], list[tuple[str, str, str]]]:
    """Parse a page's raw orders; one that will not parse is skipped with its reason, never
    blocking the others. `ids(raw)` gives (external id, order number) for the skip list."""
    orders, skipped = [], []
    for raw in items:
        try:
            orders.append(parse(raw))
        except MALFORMED as exc:
            external_id, number = ids(raw) if isinstance(raw, dict) else ("?", "?")
            skipped.append((external_id, number, f"malformed order: {exc!r}"))
    return orders, skipped


def offset_feed_cursor(*, since: int, offset: int, started: int, done: bool, skew_seconds: int) -> dict:
    """The cursor after one page of an offset-paginated change feed: mid-pass it resumes at the
    next offset of the same pass; a finished pass starts the next one a little before this one
    began (replays are harmless, gaps are not)."""
    if done:
        return {"since": started - skew_seconds}
    return {"since": since, "offset": offset, "started": started}


class Connector:
    """Base class. Subclasses set `kind` and implement the operations they support."""

    kind: str = ""
    #: the channel refuses a shipment without tracking for some orders (Amazon: always)
    always_requires_tracking: bool = False

    def __init__(
        self,
        *,
        base_url: str,
        credentials: dict,
        shop_id: str = "",
        http=None,
        save_credentials=None,
        load_credentials=None,
    ):
        from channels.connectors.http import HttpClient

        self.base_url = base_url.rstrip("/")
        self.credentials = dict(credentials or {})
        self.shop_id = shop_id
        self.http = http or HttpClient()
        # Called with the new credentials after an OAuth refresh, so the caller can store them.
        self._save_credentials = save_credentials
        # Returns the credentials as stored now: another worker may have refreshed the token since
        # this connector was built (and, where the provider rotates refresh tokens, spent ours).
        self._load_credentials = load_credentials
        if self.rate_limits and getattr(self.http, "budget", False) is None:
            from channels.ratebudget import Budget

            # A weak reference: the client must not keep its connector alive (a cycle would hold
            # the keep-alive socket open until the garbage collector runs).
            operation = weakref.WeakMethod(self.rate_operation)
            self.http.budget = Budget(
                kind=self.kind,
                account=self.rate_account(),
                limits=self.rate_limits,
                classify=lambda method, url: operation()(method, url) if operation() else None,
            )

    # -- the shared rate budget (channels/ratebudget.py); the documented limits of each channel
    # are in channels/connectors/limits.py
    @property
    def rate_limits(self) -> dict:
        """Operation -> Limit (or a tuple: per second and per day). Empty: calls are not paced."""
        from channels.connectors.limits import LIMITS

        return LIMITS.get(self.kind, {})

    def rate_operation(self, method: str, url: str) -> str | None:
        """The operation of `rate_limits` a request spends; None for calls outside the metered
        API (e.g. the OAuth token endpoint)."""
        from channels.connectors.limits import operation

        return operation(self, method, url)

    def rate_account(self) -> str:
        """Whose budget the limits count: the shop, store or seller (Etsy and eBay: the app)."""
        from channels.connectors.limits import account

        return account(self)

    def stored_credentials(self) -> dict | None:
        return dict(self._load_credentials() or {}) if self._load_credentials is not None else None

    def store_credentials(self, credentials: dict) -> None:
        self.credentials = dict(credentials)
        if self._save_credentials is not None:
            self._save_credentials(self.credentials)

    # -- reading
    def iter_pages(self, cursor: dict, *, now: datetime, window_days: int) -> Iterator[Page]:
        """Yield pages of orders changed since `cursor` (created within `window_days` on a first run).
        Each page carries the cursor to persist once its orders are stored."""
        raise NotSupported(f"{self.kind}: reading orders is not supported")

    def fetch_order(self, order_external_id: str) -> RemoteOrder:
        """The channel's current copy of one order (e.g. to check its address before paying a supplier)."""
        raise NotSupported(f"{self.kind}: reading a single order is not supported")

    def cache_keys(self, orders: list[RemoteOrder]) -> list[str]:
        """Keys of the product facts `enrich` will want, so the caller can load them in one query."""
        return []

    def enrich(self, orders: list[RemoteOrder], cache: dict) -> None:
        """Fill fields the order payload lacks (weight, image) from other endpoints, using `cache`."""

    # -- writing
    def push_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        raise NotSupported(f"{self.kind}: pushing tracking is not supported")

    #: the channel accepts a shipment of some lines of an order (False: only the whole order can be
    #: marked shipped, so earlier parcels are kept and the one that completes the order tells it)
    partial_shipments: bool = True

    def find_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult | None:
        """Ask the channel whether this tracking number is already on the order (an earlier
        attempt may have reached it before its worker died or timed out). The PushResult of the
        shipment found, or None when the channel has no such shipment."""
        raise NotSupported(f"{self.kind}: the API cannot list an order's shipments")

    def cancel_fulfilment(self, fulfilment: RemoteFulfilment) -> PushResult:
        """Take back a fulfilment the channel was sent (its label was cancelled). NotSupported,
        with the exact step staff must take on the channel, where the API cannot retract it."""
        raise NotSupported(f"{self.kind}: the API cannot retract a shipment")

    def update_fulfilment(self, old: RemoteFulfilment, new: RemoteFulfilment) -> PushResult:
        """Replace the tracking of a sent fulfilment (a relabel). NotSupported where the API
        cannot; the caller then cancels the old one and sends the new one."""
        raise NotSupported(f"{self.kind}: the API cannot change a shipment's tracking")

    def mark_in_progress(
        self, order_external_id: str, lines: list[tuple[str, int]] | None = None, *, message: str = ""
    ) -> PushResult:
        """Tell the channel someone else (a dropshipping supplier) is fulfilling these lines
        ((line external id, quantity); None = the whole order), with `message` for whoever
        fulfils them. The result names what was asked, for the timeline."""
        raise NotSupported(f"{self.kind}: the API has no way to mark an order in progress")

    def cancel_order(self, order_external_id: str, reason: str = "") -> None:
        raise NotSupported(f"{self.kind}: the API has no way to cancel an order")

    def requires_tracking(self, fulfilment: RemoteFulfilment) -> bool:
        """Whether this channel would refuse (or penalise) this shipment without a tracking number."""
        return self.always_requires_tracking

    def carrier_name(self, company: str) -> str:
        """Our tracking company in the channel's own vocabulary."""
        return company
