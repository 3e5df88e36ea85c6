"""Emails to the customer about their return, in the language they used in the portal."""

from __future__ import annotations

from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from orders.models import OrderEvent
from orders.services import record_event
from returns import theme
from returns.models import ReturnRequest

KINDS = ("requested", "label", "rejected")


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def send(return_id: int, kind: str) -> bool:
    """Send one email about a return; True if it went. Recorded on the order's timeline."""
    if kind not in KINDS:
        raise ValueError(f"unknown return email {kind!r}")
    ret = ReturnRequest.objects.select_related("order", "brand__return_address", "brand__sender_address").get(
        pk=return_id
    )
    order, brand = ret.order, ret.brand
    if not ret.customer_email:
        record_event(
            order,
            OrderEvent.Kind.EMAIL,
            f"Return {ret.number}: no {kind} email sent (no email address)",
            data={"return_id": ret.pk},
        )
        return False
    status_url = _absolute(reverse("returns:status", args=[brand.slug, ret.public_token]))
    with translation.override(ret.language or "en"):
        context = {
            "ret": ret,
            "order": order,
            "brand": brand,
            "theme": theme.for_brand(brand),
            "lines": list(ret.lines.select_related("order_line")),
            "status_url": status_url,
            "label_url": _absolute(reverse("returns:label", args=[brand.slug, ret.public_token])),
            "return_address": (brand.return_address or brand.sender_address),
        }
        subject = " ".join(render_to_string(f"emails/returns/{kind}_subject.txt", context).split())
        text = render_to_string(f"emails/returns/{kind}.txt", context)
        html = render_to_string(f"emails/returns/{kind}.html", context)
    address = (brand.return_address or brand.sender_address).email
    message = EmailMultiAlternatives(
        subject,
        text,
        from_email=formataddr((brand.name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1])),
        to=[ret.customer_email],
        reply_to=[address] if address else None,
    )
    message.attach_alternative(html, "text/html")
    if kind == "label" and ret.label:
        with ret.label.open("rb") as f:
            message.attach(f"return-label-{ret.number}.pdf", f.read(), "application/pdf")
    if kind == "label" and ret.qr_code:  # label-free drop-off: the code to show on a phone
        with ret.qr_code.open("rb") as f:
            message.attach(f"return-qr-code-{ret.number}.png", f.read(), "image/png")
    message.send()
    record_event(
        order,
        OrderEvent.Kind.EMAIL,
        f"Return {ret.number}: {kind} email sent to {ret.customer_email}",
        data={"return_id": ret.pk, "email": kind},
    )
    return True


def send_portal_link(order, brand, *, language: str = "en") -> None:
    """The customer asked for a link instead of typing the postal code: it goes only to the email
    address on the order, and is recorded on the order's timeline."""
    from returns.portal_session import link_token

    url = _absolute(
        reverse("returns:link", args=[brand.slug, link_token(order_id=order.pk, brand_id=brand.pk)])
    )
    with translation.override(language or "en"):
        context = {
            "order": order,
            "brand": brand,
            "theme": theme.for_brand(brand),
            "link_url": url,
            "minutes": settings.RETURNS_LINK_MINUTES,
        }
        subject = " ".join(render_to_string("emails/returns/link_subject.txt", context).split())
        text = render_to_string("emails/returns/link.txt", context)
    message = EmailMultiAlternatives(
        subject,
        text,
        from_email=formataddr((brand.name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1])),
        to=[order.email],
    )
    message.send()
    record_event(
        order,
        OrderEvent.Kind.EMAIL,
        f"Returns portal: a sign-in link was emailed to {order.email}",
        data={"email": "portal_link"},
    )
