"""The portal's session: a signed, expiring cookie bound to one brand and one order.

Only a lookup where both the order number and the postal code matched issues it, and each
lookup replaces it, so it never grants more than the one order. It holds ids and the
customer's draft choices, never the order's data (that is read from the database on each page).
A signed cookie rather than a row in django_session: a lookup costs no database write (the
portal is public, and a burst of lookups must not become a burst of inserts), it expires by
itself after RETURNS_SESSION_MINUTES, and its path is /returns/, so the admin never sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing

COOKIE = "returns_session"
SALT = "returns.portal.session"
COOKIE_PATH = "/returns/"


def _max_age() -> int:
    return int(getattr(settings, "RETURNS_SESSION_MINUTES", 60)) * 60


@dataclass
class PortalSession:
    order_id: int
    brand_id: int
    staff_user_id: int | None = None  # set by the admin's "view as customer"
    # Draft chosen on the items page: [[order line id, quantity, reason], …] and a note.
    selection: list[list] = field(default_factory=list)
    note: str = ""
    # The key the confirm form carries; a new one per draft.
    key: str = ""

    def choose(self, selection: list[list], note: str) -> None:
        self.selection, self.note, self.key = selection, note, uuid.uuid4().hex

    def clear_draft(self) -> None:
        self.selection, self.note, self.key = [], "", ""

    def dumps(self) -> str:
        return signing.dumps(
            {
                "o": self.order_id,
                "b": self.brand_id,
                "u": self.staff_user_id,
                "s": self.selection,
                "n": self.note,
                "k": self.key,
            },
            salt=SALT,
            compress=True,
        )

    @classmethod
    def loads(cls, value: str) -> PortalSession | None:
        try:
            data = signing.loads(value, salt=SALT, max_age=_max_age())
            return cls(
                order_id=int(data["o"]),
                brand_id=int(data["b"]),
                staff_user_id=data.get("u"),
                selection=list(data.get("s") or []),
                note=str(data.get("n") or ""),
                key=str(data.get("k") or ""),
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return None


def load(request) -> PortalSession | None:
    value = request.COOKIES.get(COOKIE)
    return PortalSession.loads(value) if value else None


def save(response, session: PortalSession) -> None:
    response.set_cookie(
        COOKIE,
        session.dumps(),
        max_age=_max_age(),
        path=COOKIE_PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def end(response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, samesite="Lax")


# -- the emailed link: for a customer whose order number met its limit of wrong postal codes

LINK_SALT = "returns.portal.link"


def _link_max_age() -> int:
    return int(getattr(settings, "RETURNS_LINK_MINUTES", 60)) * 60


def link_token(*, order_id: int, brand_id: int) -> str:
    """A signed, expiring token that opens the portal on one order: it is only ever sent to the
    email address on that order, so holding it proves what the postal code would have."""
    return signing.dumps({"o": order_id, "b": brand_id}, salt=LINK_SALT)


def read_link(token: str) -> PortalSession | None:
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=_link_max_age())
        return PortalSession(order_id=int(data["o"]), brand_id=int(data["b"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
