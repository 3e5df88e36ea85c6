"""Pushing fulfilments: the outbox from Shipdesk to the channels.

A Fulfilment row is the unit of work. A worker claims it with a conditional UPDATE (two workers
never hold the same one) and sends it through the channel's connector; the outcome goes on the
order's timeline: sent; kept (a channel that can only mark the whole order shipped waits for the
parcel that completes the order); blocked (the channel requires tracking and there is none:
nothing is sent, staff are alerted); or failed, retried with exponential backoff and jitter
until PUSH_MAX_ATTEMPTS. The every-minute dispatcher re-enqueues whatever is due
(`due_fulfilment_ids`), so a lost task is only late.

At most once, even across a crash. A claim is short (`claim_seconds()`, a little longer than
one connector call can take) and is renewed before every HTTP call the connector makes; a worker
whose claim was taken over stops before its next call. The row records that an attempt started
(`attempts`, `last_error`) before the first write reaches the channel, so a row whose earlier
attempt may have got through (its worker died, or the call timed out after the request left) is
never sent blind: the connector is asked first whether the channel already has this tracking
(`Connector.find_fulfilment`), and if so the row is recorded as sent without a second shipment.

Taking back what the channel heard (a cancelled label, a relabel) is in `orders.retracting`;
`retract_fulfilment` and `mark_attention_done` are re-exported here. State changes of the order
itself stay in orders.services (`refresh_status`)."""

from __future__ import annotations

import logging
import os
import random
import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from channels.connectors.base import ConnectorError, NotSupported, PushResult, RemoteFulfilment
from orders.models import Fulfilment, OrderEvent
from orders.services import record_event

log = logging.getLogger(__name__)

S = Fulfilment.State
#: `last_error` of a pending fulfilment held for the parcel that completes the order (the order
#: page shows it as it is); such a row is not due until that parcel is sent.
KEPT = "kept: "
#: fulfilments that cover their lines (the lines branch's `Fulfilment.objects.live()`, spelled out
#: here so the outbox does not depend on it)
LIVE_STATES = (S.PENDING, S.SENT, S.BLOCKED, S.FAILED)


class ClaimLost(Exception):
    """Another worker took this fulfilment over (ours looked dead): stop before the next call."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def claim_seconds() -> int:
    """How long a claim lasts without renewal. Never shorter than one connector call can take
    (timeouts and backoff sleeps of every retry), or a live worker could be taken for dead."""
    one_call = (settings.CONNECTOR_TIMEOUT + settings.CONNECTOR_MAX_SLEEP) * (
        settings.CONNECTOR_MAX_RETRIES + 1
    )
    configured = getattr(settings, "PUSH_CLAIM_SECONDS", None) or 0
    return int(max(configured, one_call + 15))


class Claim:
    """A worker's hold on one fulfilment: (claimed_at, claimed_by) as written by the claim."""

    def __init__(self, pk: int, at, by: str):
        self.pk, self.at, self.by = pk, at, by

    def _mine(self):
        return Fulfilment.objects.filter(pk=self.pk, claimed_at=self.at, claimed_by=self.by)

    def renew(self, **changes) -> None:
        """Extend the claim (and write `changes` with it); ClaimLost if it is no longer ours."""
        now = timezone.now()
        if not self._mine().update(claimed_at=now, **changes):
            raise ClaimLost(f"fulfilment {self.pk} was taken over by another worker")
        self.at = now

    def start_attempt(self, f: Fulfilment, what: str) -> None:
        """Write on the row, before the call leaves, that an attempt started: if this worker dies
        now, the next one knows the channel may have heard and asks before sending."""
        f.attempts += 1
        f.last_error = (
            f"attempt {f.attempts} ({what}) started {timezone.now():%Y-%m-%d %H:%M:%S} UTC by "
            f"{self.by}; no answer recorded yet"
        )
        self.renew(attempts=F("attempts") + 1, last_error=f.last_error)


def _renewing(connector, claim: Claim):
    """Renew the claim before each HTTP call the connector makes (a slow channel never makes a
    live worker look dead, and a worker whose claim was taken stops before its next call)."""
    http = connector.http
    inner = http.request

    def request(method, url, **kwargs):
        claim.renew()
        return inner(method, url, **kwargs)

    http.request = request
    return connector


# -- what the channel is told


def remote_fulfilment(f: Fulfilment) -> RemoteFulfilment:
    order = f.order
    return RemoteFulfilment(
        order_external_id=order.external_id,
        tracking_number=f.tracking_number,
        carrier=f.carrier_name,
        service=f.service,
        tracking_url=f.tracking_url,
        note=f.note or order.channel.default_note,
        notify_customer=f.notify_customer,
        shipped_at=f.created_at,
        lines=lines_of(f),
        country=order.ship_country,
        order_total=order.total,
        fee=f.fee,
        fee_currency=f.fee_currency,
        remote_id=f.remote_id,
        reference=f"shipdesk-f{f.pk}",
        completes_order=completes_order(f),
    )


def lines_of(f: Fulfilment) -> list[tuple[str, int]]:
    """The (line external id, quantity) the parcel holds. A fulfilment recorded before lines were
    named (empty `lines`) holds every physical line of its order."""
    if f.lines:
        return [(str(line_id), int(quantity)) for line_id, quantity in f.lines]
    return [(line.external_id, line.quantity) for line in f.order.lines.filter(is_physical=True)]


def completes_order(f: Fulfilment) -> bool:
    """Whether every physical line of the order is covered once this fulfilment is sent: by it,
    and by the order's other fulfilments already sent or on their way (pending, kept included).
    Blocked and failed ones are not on their way; withdrawn ones cover nothing."""
    others = f.order.fulfilments.exclude(pk=f.pk).filter(
        state__in=[S.PENDING, S.SENT], retract_requested_at__isnull=True
    )
    covered: dict[str, int] = {}
    for lines in [f.lines, *others.values_list("lines", flat=True)]:
        if not lines:
            return True  # recorded before lines were named: the whole order
        for line_id, quantity in lines:
            covered[str(line_id)] = covered.get(str(line_id), 0) + int(quantity)
    return all(
        covered.get(line.external_id, 0) >= line.quantity for line in f.order.lines.filter(is_physical=True)
    )


def preview_push(f: Fulfilment) -> dict:
    """Exactly what the channel would receive, without sending it."""
    connector = f.order.channel.connector()
    rf = remote_fulfilment(f)
    return {
        "carrier_for_channel": connector.carrier_name(rf.carrier) if rf.carrier else "",
        "requires_tracking": f.order.channel.requires_tracking or connector.requires_tracking(rf),
        "fulfilment": rf.__dict__,
    }


# -- the queue


def _due_q(now) -> Q:
    stale = now - timedelta(seconds=claim_seconds())
    ready = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    send = Q(state=S.PENDING, retract_requested_at__isnull=True) & ~Q(last_error__startswith=KEPT)
    retract = Q(state__in=LIVE_STATES, retract_requested_at__isnull=False)
    # A claim nobody renewed: its worker died (or lost the database) mid-way.
    return ((send | retract) & ready & Q(claimed_at__isnull=True)) | (
        (Q(state=S.PENDING) | retract) & Q(claimed_at__lt=stale)
    )


def due_fulfilment_ids(channel=None) -> list[int]:
    """Fulfilments to send, to take back from the channel, or whose worker died holding them."""
    qs = Fulfilment.objects.filter(_due_q(timezone.now()))
    if channel is not None:
        qs = qs.filter(order__channel=channel)
    return list(qs.order_by("created_at").values_list("pk", flat=True)[:500])


def _claim(fulfilment_id: int) -> tuple[Fulfilment, Claim] | None:
    """Take a due fulfilment; None if it is not due or another worker holds it."""
    now, me = timezone.now(), worker_id()
    if (
        not Fulfilment.objects.filter(pk=fulfilment_id)
        .filter(_due_q(now))
        .update(claimed_at=now, claimed_by=me)
    ):
        return None
    f = Fulfilment.objects.select_related("order__channel", "replaces").get(pk=fulfilment_id)
    return f, Claim(f.pk, now, me)


def release(f: Fulfilment, *, fields: list[str], **changes) -> None:
    """Save `changes` and let go of the claim, in one write."""
    for name, value in changes.items():
        setattr(f, name, value)
    f.claimed_at, f.claimed_by = None, ""
    f.save(update_fields=[*fields, *changes, "claimed_at", "claimed_by"])


def enqueue_push(fulfilment_id: int) -> None:
    from django_q.tasks import async_task

    async_task("orders.tasks.push_fulfilment", fulfilment_id, task_name=f"push-fulfilment-{fulfilment_id}")


def push_fulfilment(fulfilment_id: int) -> str:
    """Do what is due for one fulfilment: send it, or take it back from the channel. Returns the
    new state, "kept", or "skipped" (not due, or another worker has it)."""
    from orders import retracting

    taken = _claim(fulfilment_id)
    if taken is None:
        return "skipped"
    f, claim = taken
    try:
        connector = _renewing(f.order.channel.connector(), claim)
        if f.retract_requested_at:
            return retracting.process_retraction(f, connector, claim)
        return _send(f, connector, claim)
    except ClaimLost:
        log.warning("fulfilment %s: claim lost to another worker; stopping", f.pk)
        return "skipped"
    except ConnectorError as exc:  # building the connector, or a call outside the send itself
        return push_failed(f, exc)
    except Exception as exc:  # noqa: BLE001 - a bug must leave a visible, retried row, not a silent claim
        log.exception("push of fulfilment %s failed", f.pk)
        return push_failed(f, ConnectorError(f"{exc.__class__.__name__}: {exc}"))


def _send(f: Fulfilment, connector, claim: Claim) -> str:
    from orders import retracting

    order, channel = f.order, f.order.channel
    rf = remote_fulfilment(f)
    if f.replaces_id and retracting.replacement_must_wait(f):
        release(f, fields=[], next_attempt_at=timezone.now() + timedelta(seconds=30))
        return "skipped"
    try:
        # First of all: if an earlier attempt may have got through, the channel has the last word.
        found = _already_there(f, rf, connector, claim)
    except ConnectorError as exc:
        return push_failed(f, exc)
    if found is not None:
        return _record_sent(f, found, connector, already=True)
    if not connector.partial_shipments and not rf.completes_order:
        return _keep(f)
    if not f.tracking_number and (channel.requires_tracking or connector.requires_tracking(rf)):
        with transaction.atomic():
            release(
                f,
                fields=["state", "last_error"],
                state=S.BLOCKED,
                last_error=f"{channel.name} requires a tracking number for this order; nothing was sent.",
            )
            record_event(order, OrderEvent.Kind.PUSH_BLOCKED, f.last_error, data={"fulfilment_id": f.pk})
            refresh(f, reason="a shipment without tracking was not sent")
        from orders.alerts import alert_staff

        alert_staff(channel, f"Fulfilment blocked for {order}", f.last_error)
        return f.state
    try:
        claim.start_attempt(f, "send")
        if f.replaces_id:
            result = retracting.send_replacement(f, rf, connector)
        else:
            result = connector.push_fulfilment(rf)
    except ConnectorError as exc:
        return push_failed(f, exc)
    return _record_sent(f, result, connector)


def _already_there(f: Fulfilment, rf: RemoteFulfilment, connector, claim: Claim) -> PushResult | None:
    """After an attempt that may have reached the channel (a worker died holding it, or the call
    timed out or met a 5xx after the request left), ask before sending again. The question
    counts as an attempt, so a channel that keeps failing to answer ends failed, not looping."""
    if f.attempts == 0:
        return None
    claim.start_attempt(f, "check whether the channel has it")
    try:
        return connector.find_fulfilment(rf)
    except NotSupported:
        return None  # this channel cannot say; sending again is all there is


def _keep(f: Fulfilment) -> str:
    """A channel that can only mark the whole order shipped: hold this parcel for the one that
    completes the order (it is sent, or marked sent, with that one)."""
    channel = f.order.channel
    message = f"{KEPT}{channel.name} can only mark the whole order; sent with the last parcel"
    with transaction.atomic():
        was_kept = f.last_error.startswith(KEPT)
        release(f, fields=["last_error", "next_attempt_at"], last_error=message, next_attempt_at=None)
        if not was_kept:
            record_event(
                f.order,
                OrderEvent.Kind.NOTE,
                f"Tracking {f.tracking_number or '(none)'} kept: {channel.name} can only mark the whole "
                "order shipped, so it is sent with the parcel that completes the order",
            )
    return "kept"


def _record_sent(f: Fulfilment, result: PushResult, connector, *, already: bool = False) -> str:
    from orders import retracting

    order, channel = f.order, f.order.channel
    with transaction.atomic():
        release(
            f,
            fields=["state", "sent_at", "remote_id", "sent_payload", "last_error"],
            state=S.SENT,
            sent_at=timezone.now(),
            remote_id=result.remote_id[:100],
            sent_payload=result.request,
            last_error="",
        )
        if already:
            message = (
                f"Tracking {f.tracking_number or '(none)'} was already on {channel.name} (an earlier attempt "
                "reached it); recorded as sent, not sent again"
            )
        else:
            message = f"Sent to {channel.name}: tracking {f.tracking_number or '(none)'}" + (
                f" via {f.carrier_name}" if f.carrier_name else ""
            )
        record_event(
            order,
            OrderEvent.Kind.PUSHED,
            message,
            data={"request": result.request, "remote_id": result.remote_id, "fulfilment_id": f.pk},
        )
        if f.replaces_id:
            retracting.replaced(f, already=already)
        if not connector.partial_shipments:
            _settle_kept(f, connector)
        refresh(f, reason=f"tracking {f.tracking_number or '(none)'} sent to {channel.name}")
    return f.state


def _settle_kept(f: Fulfilment, connector) -> None:
    """The parcel that completes the order was sent: the parcels kept for it go now. A channel
    that records each parcel's tracking (`tells_each_parcel`, Etsy) is sent each one; any other
    is told nothing more, and the kept ones are marked sent with this one."""
    kept = list(
        f.order.fulfilments.filter(
            state=S.PENDING,
            last_error__startswith=KEPT,
            retract_requested_at__isnull=True,
            claimed_at__isnull=True,
        )
    )
    if not kept:
        return
    channel, now = f.order.channel, timezone.now()
    if getattr(connector, "tells_each_parcel", False):
        Fulfilment.objects.filter(pk__in=[k.pk for k in kept]).update(last_error="", next_attempt_at=now)
        for k in kept:
            transaction.on_commit(lambda pk=k.pk: enqueue_push(pk))
        return
    for k in kept:
        k.state, k.sent_at, k.remote_id, k.last_error = S.SENT, now, f.remote_id, ""
        k.sent_payload = {"sent_with": f.pk, "tracking_number": f.tracking_number}
        k.save(update_fields=["state", "sent_at", "remote_id", "last_error", "sent_payload"])
        record_event(
            f.order,
            OrderEvent.Kind.PUSHED,
            f"Tracking {k.tracking_number or '(none)'} marked sent with the last parcel: {channel.name} "
            f"was told the whole order shipped, with tracking {f.tracking_number or '(none)'}",
            data={"fulfilment_id": k.pk},
        )


def push_failed(f: Fulfilment, exc: ConnectorError) -> str:
    """A send that did not go through: retried later with backoff, or failed for good."""
    final = isinstance(exc, NotSupported) or not exc.retryable or f.attempts >= settings.PUSH_MAX_ATTEMPTS
    with transaction.atomic():
        changes = {"last_error": str(exc)[:2000]}
        if final:
            changes["state"] = S.FAILED
        else:
            # Exponential backoff with jitter: 1, 2, 4, 8… minutes.
            delay = 60 * (2 ** (max(f.attempts, 1) - 1)) * (0.5 + random.random())
            changes["next_attempt_at"] = timezone.now() + timedelta(seconds=delay)
        release(f, fields=["attempts"], **changes)
        record_event(
            f.order,
            OrderEvent.Kind.PUSH_FAILED,
            f"Could not send tracking {f.tracking_number or '(none)'} to {f.order.channel.name}: {exc}"
            + ("" if final else f" (attempt {f.attempts}; will retry)"),
            # outgoing webhooks: only the final failure is "fulfilment.failed"
            data={"fulfilment_id": f.pk, **({"topic": "fulfilment.failed"} if final else {})},
        )
        if final:
            refresh(f, reason=f"tracking {f.tracking_number or '(none)'} could not be sent")
    if final:
        from orders.alerts import alert_staff

        alert_staff(f.order.channel, f"Fulfilment failed for {f.order}", str(exc))
    return f.state


def refresh(f: Fulfilment, *, reason: str, actor=None) -> None:
    """The order's status follows where its lines are (orders.services owns the rule)."""
    from orders import services

    services.refresh_status(f.order, reason=reason, actor=actor)


def push_due(channel=None) -> tuple[int, int]:
    """Push every due fulfilment (of one channel, or all). Returns (sent, not sent)."""
    sent = failed = 0
    for pk in due_fulfilment_ids(channel):
        state = push_fulfilment(pk)
        if state == S.SENT:
            sent += 1
        elif state in (S.BLOCKED, S.FAILED, S.ATTENTION):
            failed += 1
    return sent, failed
