"""Direct carrier accounts (UPS, DHL Express, Canada Post… any installed Karrio extension)
through the Karrio SDK: book, rates, void, tracking, customs, PDF or ZPL labels.

One adapter kind ("karrio") drives every extension: the account names the extension
(`karrio_carrier`, e.g. "ups", "mydhl", "canadapost"), its credentials are that extension's
Settings fields (UPS: client_id, client_secret, account_number; MyDHL: username, password,
account_number; Canada Post: username, password, customer_number, contract_id), and
`api_base_url`, when set, replaces the extension's own host through a Settings subclass (no
extension reads a base URL from its config). The mapping to and from Karrio's models is in
karrio_mapping.py.

None of these carriers has an idempotency key. A booking attempt is claimed under its reference
before the label request goes out; an attempt whose answer never came (timeout, 5xx) keeps its
claim, and a retry is refused with words telling staff to check the carrier's account, rather
than buying a second label."""

from __future__ import annotations

import functools
import logging
import time
from concurrent import futures
from datetime import timedelta

import attr
from django.conf import settings
from django.core.cache import cache

from shipping.carriers import karrio_mapping as m
from shipping.carriers import register
from shipping.carriers.base import (
    Booking,
    BookingRequest,
    CancelResult,
    Carrier,
    CarrierError,
    NotSupported,
    Rate,
    ServiceOption,
    TrackingUpdate,
)

log = logging.getLogger(__name__)

# Settings fields every extension has, which are not credentials staff type in.
COMMON_FIELDS = {"id", "carrier_id", "test_mode", "metadata", "config", "account_country_code", "base_url"}
# Fields that are secrets (write-only in the admin, never shown again).
SECRET_WORDS = ("password", "secret", "key", "token")
# How long the claim of a booking attempt that got no answer stands (staff check the carrier's
# account meanwhile; a booking that did get an answer releases it at once).
CLAIM_SECONDS = 24 * 3600
RATE_LIMIT_RETRIES = 3
# What staff and channels call the carrier, where the extension's own label says otherwise.
DISPLAY_NAMES = {"mydhl": "DHL Express", "dhl_express": "DHL Express"}
# Carriers with no void: DHL Express (MyDHL has no cancel-shipment endpoint; an unused AWB is
# not billed).
NO_VOID = {
    "mydhl": "DHL Express has no way to void a label: an unused waybill is simply not billed. "
    "Do not hand the parcel over; nothing else is needed."
}


@functools.cache
def providers() -> dict:
    """The installed Karrio extensions: {id: plugin metadata}. Imported once (slow: ~1 s)."""
    import karrio.references as references
    from loguru import logger

    # Karrio logs every request (and a traceback for every carrier "no") through loguru to stderr;
    # Shipdesk reports those failures itself. KARRIO_LOGS=true brings Karrio's own log back.
    if not getattr(settings, "KARRIO_LOGS", False):
        logger.disable("karrio")
    return dict(references.collect_providers_data())


def carrier_choices() -> list[tuple[str, str]]:
    return sorted(((key, meta.label or key) for key, meta in providers().items()), key=lambda c: c[1])


def credential_fields(carrier: str) -> list[str]:
    """The credential fields of an installed extension's Settings, in its own order."""
    meta = providers().get(carrier)
    if meta is None:
        return []
    return [a.name for a in attr.fields(meta.Settings) if a.name not in COMMON_FIELDS]


def is_secret(field: str) -> bool:
    return any(word in field for word in SECRET_WORDS)


@functools.cache
def settings_class(carrier: str):
    """The extension's Settings with `server_url` taken from `base_url` when one is set, so an
    account can be pointed at /sandbox/… (or a proxy)."""
    base = providers()[carrier].Settings

    @attr.s(auto_attribs=True)
    class LocalSettings(base):
        base_url: str = ""

        @property
        def server_url(self):
            return self.base_url.rstrip("/") if self.base_url else base.server_url.fget(self)

    LocalSettings.__name__ = f"{base.__name__}WithBaseURL"
    return LocalSettings


@register
class KarrioCarrier(Carrier):
    kind = "karrio"
    poll_interval = timedelta(hours=2)
    poll_budget = 100

    def __init__(self, account):
        super().__init__(account)
        self.carrier = account.karrio_carrier or ""
        meta = providers().get(self.carrier)
        # Not raised here: the tracking schedule builds every account's adapter, and one account
        # whose extension was uninstalled must not stop the others.
        self.missing = (
            ""
            if meta
            else f"Karrio extension {self.carrier!r} is not installed (installed: "
            f"{', '.join(sorted(providers())) or 'none'}; pip install karrio-<carrier>)"
        )
        self.label = DISPLAY_NAMES.get(self.carrier) or (meta.label if meta else "") or self.carrier
        self.label_format = account.label_format or "pdf"
        self.timeout = settings.CONNECTOR_TIMEOUT * 3  # a booking may take several calls (token, ship, label)
        self._gateway = None

    # -- plumbing --------------------------------------------------------------------------------
    @property
    def gateway(self):
        if self.missing:
            raise NotSupported(self.missing)
        if self._gateway is None:
            import karrio.sdk as ksdk

            creds = {k: v for k, v in (self.account.credentials or {}).items() if v not in (None, "")}
            wanted = set(credential_fields(self.carrier))
            values = {k: v for k, v in creds.items() if k in wanted}
            config = {"label_type": "ZPL" if self.label_format == "zpl" else "PDF"}
            try:
                instance = settings_class(self.carrier)(
                    **values,
                    id=str(self.account.pk),
                    test_mode=self.account.test_mode,
                    base_url=self.account.api_base_url or "",
                    config=config,
                )
            except TypeError as exc:
                missing = [f for f in wanted if f not in values]
                raise CarrierError(
                    f"{self.label}: the account's credentials are incomplete"
                    + (f" (missing {', '.join(missing)})" if missing else f" ({exc})")
                ) from exc
            self._gateway = ksdk.gateway[self.carrier].create(instance)
        return self._gateway

    def _undeclared(self, gateway, request: BookingRequest):
        """Where Karrio declares customs by country alone (MyDHL: any two countries), a parcel
        Shipdesk says crosses no customs border (FR→DE) goes out undeclared."""
        if request.customs is not None or request.sender.country == request.recipient.country:
            return
        if self.carrier not in m.DECLARES_BY_COUNTRY:
            return
        mapper = gateway.mapper
        for name in ("create_shipment_request", "create_rate_request"):
            original = getattr(type(mapper), name)

            def patched(payload, _original=original):
                serializable = _original(mapper, payload)
                m.drop_declaration(serializable.value)
                return serializable

            setattr(mapper, name, patched)

    def _call(self, what: str, action):
        """Run one Karrio operation with a time limit (Karrio's HTTP has none of its own).
        Returns (result, messages)."""
        pool = futures.ThreadPoolExecutor(max_workers=1)
        try:
            return pool.submit(action).result(timeout=self.timeout)
        except futures.TimeoutError:
            raise CarrierError(
                f"{self.label}: no answer to {what} within {self.timeout:g}s", retryable=True
            ) from None
        except CarrierError:
            raise
        except Exception as exc:  # Karrio raises its own errors and urllib's  # noqa: BLE001
            raise CarrierError(f"{self.label}: {what} failed ({exc})", retryable=True) from exc
        finally:
            pool.shutdown(wait=False)

    def _with_retries(self, what: str, action, *, retry_server_errors: bool = True):
        """Karrio answers (result, messages). A rate limit (or, where safe, a server error) is
        tried again with backoff; any other message is the carrier's "no"."""
        attempt = 0
        while True:
            result, messages = self._call(what, action)
            if result or not messages:
                return result, messages
            limited = any(
                "429" in str(getattr(x, "code", "")) or "rate limit" in str(x.message).lower()
                for x in messages
            )
            if not m.is_retryable(messages) or attempt >= RATE_LIMIT_RETRIES:
                return result, messages
            if not limited and not retry_server_errors:
                return result, messages
            attempt += 1
            time.sleep(min(settings.CONNECTOR_BACKOFF_BASE * 2**attempt, settings.CONNECTOR_MAX_SLEEP))

    def _error(self, what: str, messages) -> CarrierError:
        return CarrierError(f"{self.label}: {m.message_text(messages)}", retryable=m.is_retryable(messages))

    # -- rates -----------------------------------------------------------------------------------
    def rates(self, request: BookingRequest) -> list[Rate]:
        import karrio.sdk as ksdk

        body = m.rate_request(request, self.carrier)
        gateway = self.gateway
        self._undeclared(gateway, request)
        found, messages = self._with_retries(
            "the rate request", lambda: ksdk.Rating.fetch(body).from_(gateway).parse()
        )
        if not found and messages:
            raise self._error("rates", messages)
        return m.rates(found, account_id=self.account.pk, carrier=self.label)

    def services(self, *, sender_country: str = "", to_country: str = "") -> list[ServiceOption]:
        meta = providers().get(self.carrier)
        units = getattr(meta, "services", None)
        if units is None:
            return super().services(sender_country=sender_country, to_country=to_country)
        return [ServiceOption(code=s.name, name=m.service_name(s.name), carrier=self.label) for s in units]

    # -- booking ---------------------------------------------------------------------------------
    def book(self, request: BookingRequest) -> Booking:
        import karrio.sdk as ksdk

        service = request.service or self.account.default_service
        fee, currency = None, ""
        if not service:  # no service chosen: the cheapest this account quotes
            quoted = [r for r in self.rates(request) if r.price is not None]
            if not quoted:
                raise CarrierError(f"{self.label} quotes no service for this parcel")
            service, fee, currency = quoted[0].service, quoted[0].price, quoted[0].currency
        label_format = "zpl" if "zpl" in (request.label_format, self.label_format) else "pdf"
        self.label_format = label_format
        body = m.shipment_request(request, carrier=self.carrier, service=service, label_format=label_format)
        gateway = self.gateway
        self._undeclared(gateway, request)
        claim = f"karrio-booking:{self.account.pk}:{request.reference}"
        if not cache.add(claim, "sent", CLAIM_SECONDS):
            raise CarrierError(
                f"{self.label}: an earlier attempt to book {request.reference} got no answer and may "
                f"have bought a label. Check the {self.label} account for a shipment with reference "
                f"{request.order_number} (void it there if it exists) before booking again.",
            )
        try:
            details, messages = self._with_retries(
                "the booking",
                lambda: ksdk.Shipment.create(body).from_(gateway).parse(),
                retry_server_errors=False,  # a 5xx may have bought a label: never blindly resend
            )
        except CarrierError:
            raise  # no answer: the claim stays, a retry is refused until staff have checked
        if details is None:
            if not m.is_retryable(messages) or _rate_limited(messages):
                cache.delete(claim)  # the carrier said no: nothing was bought, try again freely
            raise self._error("booking", messages)
        cache.delete(claim)
        booking = m.booking(
            details,
            label_format=self.label_format,
            service=service,
            fee=fee,
            currency=currency,
            carrier=self.label,
        )
        if not booking.label_pdf:
            raise CarrierError(f"{self.label} booked {booking.tracking_number} but returned no label")
        booking.label_pdf = _with_invoice(booking, m.invoice_pdf(details))
        booking.tracking_url = booking.tracking_url or self.tracking_url(booking.tracking_number)
        return booking

    # -- cancelling ------------------------------------------------------------------------------
    def cancel(self, external_id: str, tracking_number: str) -> CancelResult:
        import karrio.sdk as ksdk

        if self.carrier in NO_VOID:
            raise NotSupported(NO_VOID[self.carrier])
        body = {
            "shipment_identifier": external_id or tracking_number,
            "options": {"tracking_number": tracking_number},
        }
        gateway = self.gateway
        confirmation, messages = self._with_retries(
            "the void request", lambda: ksdk.Shipment.cancel(body).from_(gateway).parse()
        )
        if confirmation is None and self.carrier in EMPTY_REPLY_VOID and _empty_reply(messages):
            # Karrio 2026.1 cannot decode Canada Post's empty 204 to a successful DELETE ("Document
            # is empty"). Asking again tells: a voided shipment answers 404 with no message, which
            # Karrio reads as done; one still there is voided now, one transmitted is refunded.
            confirmation, messages = self._call(
                "the void request", lambda: ksdk.Shipment.cancel(body).from_(gateway).parse()
            )
        if confirmation is not None and getattr(confirmation, "success", False):
            return CancelResult(cancelled=True, message=f"{self.label} voided the label")
        if messages and m.is_retryable(messages):
            raise self._error("void", messages)
        return CancelResult(cancelled=False, message=m.message_text(messages))

    # -- tracking --------------------------------------------------------------------------------
    def track(self, external_id: str, tracking_number: str) -> list[TrackingUpdate]:
        import karrio.sdk as ksdk

        number = tracking_number or external_id
        gateway = self.gateway
        # Karrio 2026.1's Canada Post parser finds <tracking-detail> only inside the bundle it makes
        # of two or more answers, never as the root of a single one: ask for the PIN twice.
        numbers = [number, number] if self.carrier in BUNDLED_TRACKING_ONLY else [number]
        found, messages = self._with_retries(
            "the tracking request",
            lambda: ksdk.Tracking.fetch({"tracking_numbers": numbers}).from_(gateway).parse(),
        )
        found = list({d.tracking_number: d for d in found or []}.values())
        if not found:
            if messages and m.is_retryable(messages):
                raise self._error("tracking", messages)
            return []  # not known yet: no history, not an error
        return [u for details in found for u in m.tracking_updates(details)]

    def tracking_url(self, tracking_number: str) -> str:
        template = self.account.tracking_url_template
        if template:
            return template.format(tracking_number=tracking_number)
        meta = providers().get(self.carrier)
        url = getattr(getattr(meta, "Settings", None), "tracking_url", None)
        return url.format(tracking_number) if isinstance(url, str) and "{}" in url else ""


EMPTY_REPLY_VOID = {"canadapost"}
BUNDLED_TRACKING_ONLY = {"canadapost"}


def _empty_reply(messages) -> bool:
    return any("document is empty" in str(getattr(x, "message", "")).lower() for x in messages or [])


def _rate_limited(messages) -> bool:
    return any(
        "429" in str(getattr(x, "code", "")) or "rate limit" in str(getattr(x, "message", "")).lower()
        for x in messages or []
    )


def _with_invoice(booking: Booking, invoice: bytes) -> bytes:
    """The label PDF with the carrier's customs invoice appended (a ZPL label stays as it is)."""
    if booking.label_format != "pdf" or not invoice:
        return booking.label_pdf
    from shipping.labels import merge_pdfs

    return merge_pdfs([booking.label_pdf, invoice])


__all__ = ["KarrioCarrier", "carrier_choices", "credential_fields", "providers"]
