"""Who asked for a change when it was not a staff member in the admin: an integration calling
Shipdesk's API with its key. The caller wraps its work in `acting_via(...)`; every timeline entry
written inside (by record_event or an import) says so in its message and its data, whichever
service wrote it, without each service taking one more argument."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Via:
    label: str  # shown to staff, e.g. "API key “ERP”"; empty: the message is left as it is
    data: dict  # merged into the event's data, e.g. {"api_key": "ERP", "api_key_id": 3}
    actor: object = None  # a staff user, set on events that name none


_current: ContextVar[Via | None] = ContextVar("shipdesk_event_via", default=None)


@contextmanager
def acting_via(label: str, *, actor=None, **data) -> Iterator[Via]:
    token = _current.set(Via(label=label, data=data, actor=actor))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def current() -> Via | None:
    return _current.get()


def stamp(event) -> None:
    """Attribute an unsaved OrderEvent to the current caller, if any."""
    via = _current.get()
    if via is None:
        return
    suffix = f" (via {via.label})"
    if via.label and not event.message.endswith(suffix):
        event.message = f"{event.message}{suffix}"
    event.data = {**(event.data or {}), **via.data}
    if via.actor is not None and event.actor_id is None:
        event.actor = via.actor
