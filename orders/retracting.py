"""Taking back what a channel was told: a label cancelled, or replaced by a new one (a relabel).

A fulfilment the channel never heard of is simply withdrawn: the row is deleted, as it always
was, with a line on the timeline (the Shipment keeps its own record). One the channel heard
of, or may have heard of (an attempt started), gets `retract_requested_at` and stops covering
its lines at once; the outbox (orders.pushing) then asks the connector to cancel it there:
CANCELLED ("Withdrawn from the channel") with a timeline entry, or, where the API cannot,
ATTENTION with the exact step staff must take on the channel, one alert to subscribed staff, and
a count on the desk until staff mark it done (`mark_attention_done`).

A relabel (a fulfilment with `replaces`) puts the new tracking where the old one was: the
connector's `update_fulfilment`; where the API cannot, the old one is cancelled and the new one
sent; where it cannot cancel either, the old one needs attention and the new one is sent."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels.connectors.base import ConnectorError, NotSupported, PushResult, RemoteFulfilment
from orders.models import Fulfilment, OrderEvent
from orders.pushing import KEPT, Claim, claim_seconds, enqueue_push, refresh, release, remote_fulfilment
from orders.services import record_event

S = Fulfilment.State
UNSENT = (S.PENDING, S.BLOCKED, S.FAILED)


def _tracking(f: Fulfilment) -> str:
    return f.tracking_number or "(no tracking)"


def retract_fulfilment(f: Fulfilment, *, reason: str, actor=None, relabel: bool = False) -> str:
    """Its label was cancelled. Returns what happens, in words for staff.

    Never sent (and no attempt started): withdrawn, the row deleted. Sent, being sent, or an
    attempt may have reached the channel: `retract_requested_at` is set and the outbox takes it
    back there. With `relabel=True` (a new label for the same parcel follows) the outbox waits
    PUSH_RELABEL_GRACE_SECONDS for the new fulfilment (`replaces` = this one), which then updates
    the tracking on the channel instead of cancelling it; if none comes, this one is taken back."""
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Fulfilment.objects.select_for_update().select_related("order__channel").filter(pk=f.pk).first()
        )
        if locked is None:
            return f"Tracking {_tracking(f)} was already withdrawn."
        order, channel = locked.order, locked.order.channel
        if locked.state not in (*UNSENT, S.SENT) or locked.retract_requested_at:
            return f"Tracking {_tracking(locked)} is already being withdrawn from {channel.name} ({locked.get_state_display().lower()})."
        being_sent = locked.claimed_at is not None and locked.claimed_at >= now - timedelta(
            seconds=claim_seconds()
        )
        if locked.state != S.SENT and locked.attempts == 0 and not being_sent:
            locked.delete()
            record_event(
                order,
                OrderEvent.Kind.NOTE,
                f"Tracking {_tracking(locked)} withdrawn before it was sent to {channel.name}: {reason}",
                actor=actor,
            )
            refresh(locked, reason=f"tracking {_tracking(locked)} withdrawn", actor=actor)
            return f"Tracking {_tracking(locked)} had not been sent to {channel.name}; it never will be."
        grace = settings.PUSH_RELABEL_GRACE_SECONDS if relabel else 0
        locked.retract_requested_at, locked.next_attempt_at = now, now + timedelta(seconds=grace)
        locked.save(update_fields=["retract_requested_at", "next_attempt_at"])
        heard = "was told of it" if locked.state == S.SENT else "may have heard of it"
        record_event(
            order,
            OrderEvent.Kind.NOTE,
            f"Tracking {_tracking(locked)}: {reason}. {channel.name} {heard}; "
            + ("the new label's tracking replaces it there." if relabel else "Shipdesk takes it back there."),
            actor=actor,
        )
        refresh(locked, reason=f"tracking {_tracking(locked)} withdrawn", actor=actor)
        if not relabel:
            transaction.on_commit(lambda: enqueue_push(locked.pk))
    if relabel:
        return f"{channel.name} will get the new tracking in place of {_tracking(locked)}."
    return f"{channel.name} had tracking {_tracking(locked)}; Shipdesk is taking it back there."


def keep_fulfilment(f: Fulfilment, *, reason: str, actor=None) -> bool:
    """The label whose cancellation asked for this retraction was not cancelled after all (the
    carrier picked the parcel up first): stop taking its tracking back. False when too late: the
    channel already took it back (or a worker is doing so now), and the caller tells it anew."""
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Fulfilment.objects.select_for_update().select_related("order__channel").filter(pk=f.pk).first()
        )
        if locked is None or locked.retract_requested_at is None:
            return locked is not None and locked.state in (*UNSENT, S.SENT)
        if locked.state not in (*UNSENT, S.SENT):
            return False
        if locked.claimed_at and locked.claimed_at >= now - timedelta(seconds=claim_seconds()):
            return False
        locked.retract_requested_at, locked.next_attempt_at = None, now
        locked.save(update_fields=["retract_requested_at", "next_attempt_at"])
        record_event(
            locked.order,
            OrderEvent.Kind.NOTE,
            f"Tracking {_tracking(locked)} stays on {locked.order.channel.name}: {reason}",
            actor=actor,
        )
        refresh(locked, reason=f"tracking {_tracking(locked)} kept: {reason}", actor=actor)
        if locked.state in UNSENT:
            transaction.on_commit(lambda: enqueue_push(locked.pk))
    return True


# -- the outbox side (called by orders.pushing with the fulfilment claimed)


def process_retraction(f: Fulfilment, connector, claim: Claim) -> str:
    """Take a fulfilment back from its channel: cancelled there, or staff told exactly what to do."""
    channel = f.order.channel
    if _replacement_pending(f):
        # The new label's fulfilment updates or cancels this one when it is sent.
        release(f, fields=[], next_attempt_at=timezone.now() + timedelta(seconds=30))
        return "skipped"
    rf = remote_fulfilment(f)
    if f.state != S.SENT:
        return _settle_unsent(f, rf, connector, claim)
    if f.sent_payload.get("sent_with"):
        return withdrawn(
            f,
            f"nothing to take back: {channel.name} never had tracking {_tracking(f)} (it was told the "
            f"whole order shipped with tracking {f.sent_payload.get('tracking_number') or '(none)'})",
        )
    return _cancel_there(f, rf, connector)


def _cancel_there(f: Fulfilment, rf: RemoteFulfilment, connector) -> str:
    channel = f.order.channel
    try:
        result = connector.cancel_fulfilment(rf)
    except NotSupported as exc:
        return needs_attention(f, str(exc))
    except ConnectorError as exc:
        return _retract_failed(f, exc)
    return withdrawn(f, f"{channel.name} cancelled tracking {_tracking(f)}", data=result.request)


def _settle_unsent(f: Fulfilment, rf: RemoteFulfilment, connector, claim: Claim) -> str:
    """Not recorded as sent, but an attempt started: ask the channel before calling it withdrawn."""
    channel = f.order.channel
    try:
        found = connector.find_fulfilment(rf)
    except NotSupported:
        # The channel cannot say: cancel it there in case it arrived (or tell staff what to check).
        try:
            result = connector.cancel_fulfilment(rf)
        except NotSupported as exc:
            return needs_attention(f, f"If tracking {_tracking(f)} shows on the order: {exc}")
        except ConnectorError as exc:
            return _retract_failed(f, exc)
        return withdrawn(f, f"{channel.name} cancelled tracking {_tracking(f)}", data=result.request)
    except ConnectorError as exc:
        return _retract_failed(f, exc)
    if found is None:
        return withdrawn(f, f"{channel.name} never received tracking {_tracking(f)}")
    f.remote_id = rf.remote_id = found.remote_id[:100]
    return _cancel_there(f, rf, connector)


def withdrawn(f: Fulfilment, message: str, *, data: dict | None = None) -> str:
    with transaction.atomic():
        release(f, fields=["state", "remote_id", "last_error"], state=S.CANCELLED, last_error="")
        record_event(
            f.order,
            OrderEvent.Kind.NOTE,
            f"Withdrawn from {f.order.channel.name}: {message}",
            data=data or {},
        )
        refresh(f, reason=f"tracking {_tracking(f)} withdrawn from {f.order.channel.name}")
    return f.state


def needs_attention(f: Fulfilment, step: str) -> str:
    """The channel cannot be put right through its API: staff must do `step` there. One alert."""
    order, channel = f.order, f.order.channel
    with transaction.atomic():
        release(
            f,
            fields=["state", "attention", "last_error"],
            state=S.ATTENTION,
            attention=step,
            last_error=f"Needs attention: {step}",
        )
        record_event(
            order, OrderEvent.Kind.ERROR, f"Tracking {_tracking(f)} needs attention on {channel.name}: {step}"
        )
        refresh(f, reason=f"tracking {_tracking(f)} withdrawn here; {channel.name} needs a manual step")
        from orders.alerts import alert_staff

        transaction.on_commit(
            lambda: alert_staff(channel, f"Needs attention on {channel.name}: {order}", step)
        )
    return f.state


def _retract_failed(f: Fulfilment, exc: ConnectorError) -> str:
    channel = f.order.channel
    tries = int(f.sent_payload.get("retract_tries", 0)) + 1 if isinstance(f.sent_payload, dict) else 1
    if not exc.retryable or tries >= settings.PUSH_MAX_ATTEMPTS:
        return needs_attention(
            f,
            f"{channel.name} would not take back tracking {_tracking(f)} ({exc}). Remove it from order "
            f"{f.order.order_number} on {channel.name} yourself.",
        )
    delay = 60 * (2 ** (tries - 1))
    with transaction.atomic():
        payload = {**(f.sent_payload or {}), "retract_tries": tries}
        release(
            f,
            fields=["sent_payload", "last_error"],
            sent_payload=payload,
            last_error=str(exc)[:2000],
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        record_event(
            f.order,
            OrderEvent.Kind.PUSH_FAILED,
            f"Could not take tracking {_tracking(f)} back from {channel.name}: {exc} (attempt {tries}; "
            "will retry)",
        )
    return "skipped"


# -- relabels


def _replacement_pending(old: Fulfilment) -> bool:
    return (
        Fulfilment.objects.filter(replaces=old, state=S.PENDING, retract_requested_at__isnull=True)
        .exclude(last_error__startswith=KEPT)
        .exists()
    )


def replacement_must_wait(f: Fulfilment) -> bool:
    """Before a relabel's fulfilment is sent, deal with the one it replaces if that one never
    reached the channel: withdrawn (or, if an attempt started, taken back by the outbox). True
    while another worker is sending the old one right now."""
    old = Fulfilment.objects.filter(pk=f.replaces_id).first()
    if old is None or old.state not in UNSENT or old.retract_requested_at:
        return False
    if old.claimed_at and old.claimed_at >= timezone.now() - timedelta(seconds=claim_seconds()):
        return True
    retract_fulfilment(old, reason=f"replaced by tracking {_tracking(f)}")
    f.refresh_from_db(fields=["replaces"])
    return False


def send_replacement(f: Fulfilment, rf: RemoteFulfilment, connector) -> PushResult:
    """Send a relabel's tracking: over the old one's where the channel can change it, else after
    cancelling the old one there (or, where it cannot, telling staff), as a new shipment."""
    old = Fulfilment.objects.select_related("order__channel").filter(pk=f.replaces_id).first()
    if old is None or old.state != S.SENT or old.sent_payload.get("sent_with"):
        return connector.push_fulfilment(rf)
    old_rf = remote_fulfilment(old)
    try:
        result = connector.update_fulfilment(old_rf, rf)
    except NotSupported:
        pass
    else:
        _old_done(
            old,
            f"tracking {_tracking(old)} replaced by {_tracking(f)} on {old.order.channel.name}",
            result.request,
        )
        return result
    try:
        cancelled = connector.cancel_fulfilment(old_rf)
    except NotSupported as exc:
        _old_needs_attention(old, str(exc))
    except ConnectorError as exc:
        # Taken back later by the outbox, on its own; the new tracking goes now.
        _old_later(old, exc)
    else:
        _old_done(
            old,
            f"{old.order.channel.name} cancelled tracking {_tracking(old)}; {_tracking(f)} replaces it",
            cancelled.request,
        )
    return connector.push_fulfilment(rf)


def _claim_old(old: Fulfilment) -> Claim | None:
    """Hold the replaced fulfilment while its state is written (nobody else may be retracting it)."""
    now, stale = timezone.now(), timezone.now() - timedelta(seconds=claim_seconds())
    from django.db.models import Q

    from orders.pushing import worker_id

    me = worker_id()
    if (
        not Fulfilment.objects.filter(pk=old.pk, state=S.SENT)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale))
        .update(claimed_at=now, claimed_by=me)
    ):
        return None
    return Claim(old.pk, now, me)


def _old_done(old: Fulfilment, message: str, data: dict) -> None:
    if _claim_old(old):
        withdrawn(old, message, data=data)


def _old_needs_attention(old: Fulfilment, step: str) -> None:
    if _claim_old(old):
        needs_attention(old, step)


def _old_later(old: Fulfilment, exc: ConnectorError) -> None:
    if _claim_old(old):
        now = timezone.now()
        release(
            old,
            fields=["retract_requested_at", "last_error"],
            retract_requested_at=old.retract_requested_at or now,
            last_error=f"Could not take it back yet: {exc}"[:2000],
            next_attempt_at=now + timedelta(seconds=60),
        )


def replaced(f: Fulfilment, *, already: bool) -> None:
    """After a relabel's fulfilment is recorded sent: the old one must not stay live on the channel.
    After a crash (`already`) the update may have happened without being recorded: the channel's
    shipment found for the new tracking is the old one's, updated."""
    old = Fulfilment.objects.select_related("order__channel").filter(pk=f.replaces_id, state=S.SENT).first()
    if old is None or not already:
        return
    old_ids = set(filter(None, old.remote_id.split(",")))
    if old_ids & set(filter(None, f.remote_id.split(","))):
        _old_done(
            old, f"tracking {_tracking(old)} replaced by {_tracking(f)} on {old.order.channel.name}", {}
        )
    elif not old.retract_requested_at:
        Fulfilment.objects.filter(pk=old.pk).update(
            retract_requested_at=timezone.now(), next_attempt_at=timezone.now()
        )
        transaction.on_commit(lambda: enqueue_push(old.pk))


# -- staff


def mark_attention_done(f: Fulfilment, *, actor) -> bool:
    """Staff did the step on the channel. Returns False if there was nothing to do."""
    with transaction.atomic():
        done = Fulfilment.objects.filter(pk=f.pk, state=S.ATTENTION, attention_done_at__isnull=True).update(
            state=S.CANCELLED, attention_done_at=timezone.now(), last_error=""
        )
        if done:
            f.refresh_from_db()
            record_event(
                f.order,
                OrderEvent.Kind.NOTE,
                f"Done on {f.order.channel.name} by staff: {f.attention}",
                actor=actor,
            )
            refresh(
                f,
                reason=f"tracking {_tracking(f)} withdrawn from {f.order.channel.name} by staff",
                actor=actor,
            )
    return bool(done)


def attention_count(channel=None) -> int:
    """Fulfilments waiting for staff to do a step on the channel (the desk shows this count)."""
    qs = Fulfilment.objects.filter(state=S.ATTENTION, attention_done_at__isnull=True)
    if channel is not None:
        qs = qs.filter(order__channel=channel)
    return qs.count()
