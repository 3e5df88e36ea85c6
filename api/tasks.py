"""django-q2 entry points for outgoing webhooks: thin, they call api.delivery."""

from __future__ import annotations

from api import delivery


def send_webhooks(delivery_ids: list[int]) -> dict:
    """The nudge queued when deliveries are written (or resent): send those that are still due."""
    states: dict[str, int] = {}
    for pk in delivery_ids:
        state = delivery.send_delivery(pk)
        states[state] = states.get(state, 0) + 1
    return states


def dispatch_due_webhooks() -> int:
    """Every minute: queue what is due (retries whose time came, lost nudges, stale claims), in
    batches, so one slow receiver does not hold up the others for the whole minute."""
    from api.webhooks import nudge

    due = delivery.due_delivery_ids()
    for i in range(0, len(due), 20):
        nudge(due[i : i + 20])
    return len(due)
