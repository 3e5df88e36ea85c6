"""Sendcloud (carrier aggregator): parcels with `request_label`, labels, cancellation,
tracking, parcel-status webhooks, sender addresses and brands (API v2), returns (API v3) with
their label-free drop-off QR code where the return option offers one (the v2 `qr` document).

Credentials: {"public_key", "secret_key"} (HTTP Basic), optionally "webhook_secret" when the
integration signs webhooks with a separate key. `api_base_url` ends in /api/v2; v3 calls go to
the sibling /api/v3. Booking is idempotent through `external_reference` (our booking
reference), so a retry after a timeout gets the first parcel back instead of a second label."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import random
import threading
import time
from datetime import timedelta
from decimal import Decimal

import requests
from django.conf import settings

from shipping.carriers import register
from shipping.carriers import sendcloud_mapping as m
from shipping.carriers.base import (
    BadSignature,
    Booking,
    BookingRequest,
    CancelResult,
    Carrier,
    CarrierError,
    Rate,
    ServiceOption,
    TrackingUpdate,
)

log = logging.getLogger(__name__)

RETRYABLE = {429, 500, 502, 503, 504}
# Sendcloud allows 100 writes a minute and sends no Retry-After: a rate-limited call waits longer
# (the backoff doubles to about a minute) before a booking in a big batch is given up.
RATE_LIMIT_EXTRA_RETRIES = 6
# The QR code is a nice-to-have next to a label that is already bought: one retry, not the full
# budget, so a slow document service does not keep the customer waiting on the confirm page.
QR_RETRIES = 1
METHODS_TTL = 3600  # the docs: shipping method ids change; do not cache them longer than an hour
DIRECTORY_TTL = 600  # sender addresses and brands
_cache: dict[tuple, tuple[float, object]] = {}
_cache_lock = threading.Lock()


def _cached(key: tuple, ttl: float, load):
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
    value = load()
    with _cache_lock:
        _cache[key] = (now + ttl, value)
    return value


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


class SendcloudClient:
    """HTTP with Basic auth, a timeout on every call and retries (backoff with jitter, honouring
    Retry-After) on timeouts, 429 and 5xx. Returns the response: callers read the status codes,
    because for Sendcloud they carry meaning (the five cancel outcomes)."""

    def __init__(self, base_url: str, public_key: str, secret_key: str, *, session=None):
        self.base_url = base_url.rstrip("/")
        self.auth = (public_key, secret_key)
        self.session = session or requests.Session()
        self.timeout = settings.CONNECTOR_TIMEOUT
        self.max_retries = settings.CONNECTOR_MAX_RETRIES
        self.backoff_base = settings.CONNECTOR_BACKOFF_BASE
        self.max_sleep = settings.CONNECTOR_MAX_SLEEP

    def v2(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def v3(self, path: str) -> str:
        base = self.base_url[:-3] + "/v3" if self.base_url.endswith("/v2") else self.base_url + "/v3"
        return f"{base}{path}"

    def request(
        self, method: str, url: str, *, max_retries: int | None = None, **kwargs
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        max_retries = self.max_retries if max_retries is None else max_retries
        last = ""
        attempt, limited = 0, 0
        while True:
            response = None
            try:
                response = self.session.request(method, url, auth=self.auth, **kwargs)
            except requests.Timeout:
                last = f"no answer within {kwargs['timeout']:g}s"
            except requests.ConnectionError as exc:
                last = f"connection failed ({exc.__class__.__name__})"
            else:
                if response.status_code not in RETRYABLE:
                    break
                last = (
                    "rate limit reached (HTTP 429)"
                    if response.status_code == 429
                    else f"HTTP {response.status_code} {m.error_message(_json(response), response.status_code)}"
                )
            attempt += 1
            limited += response is not None and response.status_code == 429
            allowed = max_retries + min(limited, RATE_LIMIT_EXTRA_RETRIES)
            if attempt > allowed:
                raise CarrierError(
                    f"Sendcloud: {last} for {method} {_path(url)} (tried {attempt} times)", retryable=True
                )
            time.sleep(self._delay(attempt - 1, response))
        if response.status_code == 401:
            raise CarrierError(f"Sendcloud refused the API keys: {m.error_message(_json(response), 401)}")
        return response

    def _delay(self, attempt: int, response) -> float:
        delay = self.backoff_base * (2**attempt) * (0.5 + random.random())
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = max(delay, float(retry_after))
        return min(delay, self.max_sleep)

    def json(self, method: str, url: str, *, ok=(200,), **kwargs):
        response = self.request(method, url, **kwargs)
        data = _json(response)
        if response.status_code not in ok:
            raise CarrierError(
                f"Sendcloud: {m.error_message(data, response.status_code)}",
                retryable=response.status_code >= 500,
            )
        if not isinstance(data, dict):
            raise CarrierError(
                f"Sendcloud answered {method} {_path(url)} with something that is not JSON", retryable=True
            )
        return data

    def pdf(self, url: str) -> bytes:
        response = self.request("GET", url)
        if response.status_code != 200 or not response.content.startswith(b"%PDF"):
            raise CarrierError(
                f"Sendcloud: no label PDF at {_path(url)} "
                f"({m.error_message(_json(response), response.status_code)})",
                retryable=response.status_code >= 500,
            )
        return response.content


def _json(response: requests.Response):
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else url


@register
class SendcloudCarrier(Carrier):
    kind = "sendcloud"
    poll_interval = timedelta(hours=2)
    poll_budget = 200  # two GETs each: well inside 1000 GET/min, leaving room for everything else

    def __init__(self, account, *, session=None):
        super().__init__(account)
        credentials = account.credentials or {}
        self.client = SendcloudClient(
            account.api_base_url or "https://panel.sendcloud.sc/api/v2",
            credentials.get("public_key", ""),
            credentials.get("secret_key", ""),
            session=session,
        )
        self.webhook_secret = credentials.get("webhook_secret") or credentials.get("secret_key", "")

    def close(self) -> None:
        # urllib3 2 drops pools on Session.close() and closes their sockets only when they are
        # garbage-collected; close them now so no keep-alive connection outlives the adapter.
        for http_adapter in self.client.session.adapters.values():
            pools = http_adapter.poolmanager.pools
            for key in list(pools.keys()):
                pools[key].close()
        self.client.session.close()

    # -- directory -------------------------------------------------------------------------------
    def _key(self, *parts) -> tuple:
        return (self.account.pk, self.client.base_url, self.client.auth[0], *parts)

    def sender_addresses(self) -> list[dict]:
        return _cached(
            self._key("senders"),
            DIRECTORY_TTL,
            lambda: (
                self.client.json("GET", self.client.v2("/user/addresses/sender")).get("sender_addresses")
                or []
            ),
        )

    def brands(self) -> list[dict]:
        return _cached(
            self._key("brands"),
            DIRECTORY_TTL,
            lambda: self.client.json("GET", self.client.v2("/brands")).get("brands") or [],
        )

    def sender_address_id(self, sender, *, brand_name: str = "") -> int | None:
        """The Sendcloud sender address at the same postal code and country, if there is one;
        of several, the one that carries the brand named `brand_name`. (A v2 parcel has no brand
        field of its own: it goes out under its sender address's `brand_id`.)"""

        def norm(text):
            return "".join((text or "").split()).upper()

        here = [
            a
            for a in self.sender_addresses()
            if norm(a.get("postal_code")) == norm(sender.postal_code)
            and norm(a.get("country")) == norm(sender.country)
        ]
        if len(here) > 1 and brand_name:
            brand_id = self.brand_id(brand_name)
            here = [a for a in here if brand_id and str(a.get("brand_id")) == str(brand_id)] or here
        return int(here[0]["id"]) if here else None

    def brand_id(self, name: str) -> int | None:
        wanted = (name or "").strip().lower()
        return next(
            (int(b["id"]) for b in self.brands() if wanted and (b.get("name") or "").lower() == wanted), None
        )

    def shipping_methods(self, *, sender_address_id: int | None, to_country: str) -> list[ServiceOption]:
        params = {"sender_address": sender_address_id or "all"}
        if to_country:
            params["to_country"] = to_country.upper()
        return _cached(
            self._key("methods", params["sender_address"], to_country.upper()),
            METHODS_TTL,
            lambda: m.parse_methods(
                self.client.json("GET", self.client.v2("/shipping_methods"), params=params), to_country
            ),
        )

    def services(self, *, sender_country: str = "", to_country: str = "") -> list[ServiceOption]:
        return self.shipping_methods(sender_address_id=None, to_country=to_country or sender_country or "NL")

    # -- rates -----------------------------------------------------------------------------------
    def rates(self, request: BookingRequest) -> list[Rate]:
        """Every shipping method of the account for the sender address and destination, priced
        from the method's destination price (EUR), with its lead time as transit days. Methods
        that do not reach the destination or take the weight come back unavailable, saying why."""
        country = request.recipient.country.upper()
        sender_id = self.sender_address_id(request.sender, brand_name=request.brand_name)
        options = self.shipping_methods(sender_address_id=sender_id, to_country=country)
        rates = [
            m.rate_for(o, account_id=self.account.pk, weight_g=request.weight_g, to_country=country)
            for o in options
        ]
        reaching = {o.code for o in options}
        for other in self.shipping_methods(sender_address_id=sender_id, to_country=""):
            if other.code not in reaching:
                rate = m.rate_for(other, account_id=self.account.pk, weight_g=0, to_country=country)
                rate.price, rate.currency = None, ""
                rate.unavailable = f"does not ship to {country}"
                rates.append(rate)
        return rates

    # -- booking ---------------------------------------------------------------------------------
    def book(self, request: BookingRequest) -> Booking:
        sender_id = self.sender_address_id(request.sender, brand_name=request.brand_name)
        options = self.shipping_methods(sender_address_id=sender_id, to_country=request.recipient.country)
        method = m.pick_method(options, request.service, request.weight_g)
        if method is None:
            names = ", ".join(f"{o.name} ({o.code})" for o in options[:8]) or "none"
            wanted = (request.service or "").strip().lower()
            named = any(o.code == wanted or o.name.lower() == wanted for o in options)
            raise CarrierError(
                f"Sendcloud has no shipping method “{request.service or 'any'}” to {request.recipient.country} "
                f"for {request.weight_g} g. Available: {names}",
                # the service reaches the destination but not at this weight: the weight is wrong
                field="weight" if named or not wanted else "",
            )
        body = m.parcel_body(request, method_id=int(method.code), sender_address_id=sender_id)
        response = self.client.request("POST", self.client.v2("/parcels"), json=body)
        data = _json(response)
        if response.status_code == 400 and "external_reference" in m.error_message(data, 400):
            # Some accounts refuse a duplicate reference instead of answering with the parcel: look it up.
            parcel = self._find_by_reference(request.reference)
        elif response.status_code != 200 or not isinstance(data, dict) or "parcel" not in data:
            failed = (data or {}).get("failed_parcels") if isinstance(data, dict) else None
            message = m.error_message(failed[0].get("errors") if failed else data, response.status_code)
            raise CarrierError(
                f"Sendcloud: {message}", retryable=response.status_code >= 500, field=m.error_field(message)
            )
        else:
            parcel = data["parcel"]
        return self._booking(parcel, size=request.label_size, fee=method.price, service=method.name)

    def _find_by_reference(self, reference: str) -> dict:
        found = self.client.json("GET", self.client.v2("/parcels"), params={"external_reference": reference})
        parcels = found.get("parcels") or []
        if not parcels:
            raise CarrierError(f"Sendcloud refused reference {reference} and has no parcel with it")
        return parcels[0]

    def _booking(self, parcel: dict, *, size: str, fee: Decimal | None, service: str) -> Booking:
        status = parcel.get("status") or {}
        if status.get("id") == 1002 or not parcel.get("tracking_number"):
            errors = parcel.get("errors") or {}
            raise CarrierError(
                f"Sendcloud could not announce parcel {parcel.get('id')}: "
                f"{status.get('message') or 'no tracking number'} {m.error_message(errors, 400)}"
                if errors
                else f"Sendcloud could not announce parcel {parcel.get('id')}: "
                f"{status.get('message') or 'no tracking number'}"
            )
        label = parcel.get("label") or {}
        url = label.get("label_printer") if size != "a4" else (label.get("normal_printer") or [None])[0]
        pdf = self.client.pdf(url) if url else self.label(str(parcel["id"]), size=size)
        return Booking(
            tracking_number=parcel["tracking_number"],
            label_pdf=pdf,
            external_id=str(parcel["id"]),
            tracking_url=parcel.get("tracking_url") or self.tracking_url(parcel["tracking_number"]),
            fee=fee or Decimal("0"),
            currency="EUR" if fee else "",
            service=(parcel.get("shipment") or {}).get("name") or service,
            carrier_name=m.carrier_name((parcel.get("carrier") or {}).get("code", "")),
        )

    def label(self, external_id: str, *, size: str = "a6") -> bytes:
        urls = self.client.json("GET", self.client.v2(f"/labels/{external_id}")).get("label") or {}
        url = urls.get("label_printer") if size != "a4" else (urls.get("normal_printer") or [None])[0]
        if not url:
            raise CarrierError(f"Sendcloud has no {size.upper()} label for parcel {external_id}")
        return self.client.pdf(url)

    def book_return(self, request: BookingRequest) -> Booking:
        """A v3 return: from the customer (request.sender) to the merchant (request.recipient)."""
        option = request.service or self.account.return_service
        if not option:
            raise CarrierError(
                "No return service: set “Return service” on the carrier account "
                "(a Sendcloud shipping option code such as postnl:return)"
            )
        body = m.return_body(request, option_code=option, brand_id=self.brand_id(request.brand_name))
        created = self.client.json("POST", self.client.v3("/returns"), ok=(200, 201), json=body)
        parcel_id = created.get("parcel_id")
        if not parcel_id:
            raise CarrierError(f"Sendcloud created return {created.get('return_id')} without a parcel")
        parcel = self.client.json("GET", self.client.v2(f"/parcels/{parcel_id}")).get("parcel") or {}
        booking = self._booking(parcel, size=request.label_size, fee=None, service=option)
        booking.service = option
        # Label-free drop-off is a property of the shipping option and the carrier behind it; rather
        # than keep a list of which options offer it, ask for the parcel's QR document: a parcel
        # without one answers 404. The label is bought by now, so a failure here only costs the QR.
        booking.qr_code, booking.qr_error = self.qr_code(booking.external_id)
        return booking

    def qr_code(self, external_id: str) -> tuple[bytes, str]:
        """The parcel's label-free drop-off code as (png, problem): (b"", "") when its carrier has
        none, (b"", why) when it could not be fetched. Never raises."""
        try:
            response = self.client.request(
                "GET",
                self.client.v2(m.document_path(external_id, "qr")),
                headers={"Accept": "image/png"},
                max_retries=QR_RETRIES,
            )
        except CarrierError as exc:
            return b"", str(exc)
        png, problem = m.parse_qr_document(response.status_code, response.content, _json(response))
        if problem:
            log.warning("Sendcloud QR code of parcel %s: %s", external_id, problem)
            problem = f"Sendcloud: {problem} (HTTP {response.status_code})"
        return png, problem

    # -- cancelling ------------------------------------------------------------------------------
    def cancel(self, external_id: str, tracking_number: str) -> CancelResult:
        response = self.client.request("POST", self.client.v2(f"/parcels/{external_id}/cancel"))
        data = _json(response) or {}
        message = m.error_message(data, response.status_code)
        if response.status_code == 200:
            return CancelResult(cancelled=True, message=message)
        if response.status_code == 202:
            return CancelResult(cancelled=False, queued=True, message=message)
        if response.status_code == 410:
            return CancelResult(
                cancelled=True, message=f"{message} (its announcement had failed; no label to void)"
            )
        if response.status_code == 404:
            raise CarrierError(f"Sendcloud does not know parcel {external_id}: {message}")
        if response.status_code == 400 and "already being cancelled" in message.lower():
            # Maybe our own earlier attempt, retried after a timeout: the parcel's status tells.
            parcel = self.client.json("GET", self.client.v2(f"/parcels/{external_id}")).get("parcel") or {}
            status = m.STATUS_BY_ID.get((parcel.get("status") or {}).get("id"), "")
            if status == "cancelled":
                return CancelResult(cancelled=True, message="Parcel has been cancelled")
            if status == "cancel_requested":
                return CancelResult(
                    cancelled=False, queued=True, message="Parcel cancellation has been queued"
                )
        return CancelResult(cancelled=False, message=message)

    # -- tracking --------------------------------------------------------------------------------
    def track(self, external_id: str, tracking_number: str) -> list[TrackingUpdate]:
        """The parcel's current status (authoritative, by id) and the carrier's history lines."""
        parcel = self.client.json("GET", self.client.v2(f"/parcels/{external_id}")).get("parcel") or {}
        updates = []
        if tracking_number:
            response = self.client.request("GET", self.client.v2(f"/tracking/{tracking_number}"))
            data = _json(response)
            # An unknown number answers 404 as XML from S3: no history yet, not an error.
            if response.status_code == 200 and isinstance(data, dict):
                updates = m.parse_tracking(data)
        current = m.status_update(parcel, occurred_at=m.parse_timestamp(parcel.get("date_updated")))
        return [*updates, current]

    def parse_webhook(self, body: bytes, headers) -> list[TrackingUpdate]:
        # Bytes on both sides: a non-ASCII header is a wrong signature, not a TypeError.
        signature = (headers.get("Sendcloud-Signature") or "").strip().lower().encode("utf-8", "replace")
        expected = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest().encode()
        if not self.webhook_secret or not hmac.compare_digest(signature, expected):
            raise BadSignature("Sendcloud-Signature does not match this account's key")
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise CarrierError(f"Sendcloud webhook is not JSON: {exc}") from exc
        if _is_stale(data):
            log.warning("Sendcloud webhook ignored: its timestamp is older than WEBHOOK_MAX_AGE_SECONDS")
            return []
        return m.parse_webhook_body(data)


def _is_stale(data) -> bool:
    """The body's `timestamp` (signed with it; epoch milliseconds) is older than the replay window."""
    try:
        sent = float(data.get("timestamp")) / 1000
    except (AttributeError, TypeError, ValueError):
        return False  # undated: the tracking events' own uniqueness still stops a replay
    age = time.time() - sent
    return age > settings.WEBHOOK_MAX_AGE_SECONDS or age < -300
