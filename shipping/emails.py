"""Customer emails: the shipment confirmation and the delivery email, in the merchant's words.

Each channel may have its own template, else the template for all channels, else the built-in
text under templates/emails/shipping/. “Auto” leaves an email off when the channel already
writes to the buyer (Etsy and Shopify when asked to notify, Amazon and eBay always on
shipment; Amazon also forbids direct delivery emails). An email is queued after the
transaction commits and sent at most once per shipment and kind (a SentEmail row is claimed
first); each one lands on the order's timeline."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template import Context, Engine, TemplateSyntaxError
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import linebreaks

from orders import services as order_services
from orders.display import options_html
from orders.models import OrderEvent
from shipping.models import EmailTemplate, SentEmail, Shipment

log = logging.getLogger(__name__)

K = EmailTemplate.Kind
# Channels that email the buyer themselves whatever Shipdesk asks (kind of email -> channel kinds).
ALWAYS_NOTIFY = {K.SHIPPED: {"amazon", "ebay"}, K.DELIVERED: {"amazon"}}


def _source(name: str) -> str:
    """A template file's text, unrendered: the starting point staff edit in the admin."""
    return get_template(name).template.source


def default_template(kind: str) -> EmailTemplate:
    return EmailTemplate(
        kind=kind,
        mode=EmailTemplate.Mode.AUTO,
        subject=_source(f"emails/shipping/{kind}_subject.txt").strip(),
        body=_source(f"emails/shipping/{kind}_body.txt"),
    )


def saved_template(channel, kind: str, templates: dict | None = None) -> EmailTemplate | None:
    """The channel's own template, else the one for all channels. `templates` ({(channel id or
    None, kind): template}, see all_templates) saves the query when booking many orders."""
    if templates is None:
        templates = {
            (t.channel_id, t.kind): t
            for t in EmailTemplate.objects.filter(kind=kind).filter(
                Q(channel=channel) | Q(channel__isnull=True)
            )
        }
    return templates.get((channel.pk, kind)) or templates.get((None, kind))


def all_templates() -> dict:
    return {(t.channel_id, t.kind): t for t in EmailTemplate.objects.all()}


def template_for(channel, kind: str) -> EmailTemplate:
    return saved_template(channel, kind) or default_template(kind)


def channel_emails_buyer(channel, kind: str) -> bool:
    if channel.kind in ALWAYS_NOTIFY.get(kind, set()):
        return True
    return kind == K.SHIPPED and channel.notify_customer


def wanted(
    channel, kind: str, template: EmailTemplate | None = None, *, templates: dict | None = None
) -> tuple[bool, str]:
    template = template or saved_template(channel, kind, templates)
    mode = template.mode if template else EmailTemplate.Mode.AUTO
    if mode == EmailTemplate.Mode.OFF:
        return False, "turned off"
    if mode == EmailTemplate.Mode.AUTO and channel_emails_buyer(channel, kind):
        return False, f"{channel.name} emails the buyer itself"
    return True, ""


def tracking_page_url(shipment: Shipment) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("shipping:track", args=[shipment.public_token])


@dataclass(frozen=True)
class ParcelLine:
    """One line of the parcel as templates see it: `{{ line }}` reads "2 × Mug (Colour: Blue)";
    `line.quantity`, `line.title`, `line.options`, `line.sku` and `line.image_url` are there too."""

    quantity: int
    title: str
    sku: str = ""
    options: str = ""
    image_url: str = ""
    option_values: tuple = ()  # (name, value) pairs, for the HTML layout: URL values become links

    @property
    def options_html(self):
        return options_html(dict(self.option_values))

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}" + (f" ({self.options})" if self.options else "")


def _web_image(url: str) -> str:
    return url if (url or "").lower().startswith(("https://", "http://")) else ""


def parcel_lines(shipment: Shipment) -> list[ParcelLine]:
    """Exactly what this parcel holds (its shipment lines). A shipment booked before parcels
    recorded their lines (and a preview's sample) holds the order's physical lines, as then."""
    held = (
        [(sl.order_line, sl.quantity) for sl in shipment.lines.select_related("order_line")]
        if shipment.pk
        else []
    )  # (a preview's sample shipment is never saved)
    if not held:
        held = [(ln, ln.quantity) for ln in shipment.order.lines.all() if ln.is_physical]
    return [
        ParcelLine(
            quantity=qty,
            title=ln.title,
            sku=ln.sku,
            options=ln.options_display,
            image_url=_web_image(ln.image_url),
            option_values=tuple((ln.options or {}).items()),
        )
        for ln, qty in held
    ]


def context(shipment: Shipment) -> dict:
    """Plain values only: a template written in the admin never reaches a model (or a credential)."""
    order, brand = shipment.order, shipment.brand
    return {
        "order": {
            "number": str(order),
            "ordered_at": order.ordered_at.strftime("%d %b %Y"),
            "total": f"{order.total} {order.currency}",
            "ship_to": order.address_lines,
        },
        "customer_name": order.ship_name or order.customer_name or "there",
        "shop": order.channel.name,
        "brand": brand.name if brand else order.channel.name,
        "carrier": shipment.tracking_company or "the carrier",
        "service": shipment.shipping_name or shipment.service,
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
        "tracking_page": tracking_page_url(shipment),
        "lines": parcel_lines(shipment),
        "delivered_at": shipment.delivered_at.strftime("%d %b %Y") if shipment.delivered_at else "",
    }


def render(template: EmailTemplate, shipment: Shipment) -> tuple[str, str, str]:
    """(subject, text, html). A template that does not parse raises ValueError with the reason."""
    engine = Engine.get_default()
    values = context(shipment)
    try:
        subject = engine.from_string(template.subject).render(Context(values, autoescape=False))
        body = engine.from_string(template.body)
        text = body.render(Context({**values, "html": False}, autoescape=False))
        # The HTML part shows the parcel's lines with their pictures under the text: a template
        # can leave its own list out there with {% if not html %}…{% endif %}.
        html_text = body.render(Context({**values, "html": True}, autoescape=False))
    except TemplateSyntaxError as exc:
        raise ValueError(f"The template does not work: {exc}") from exc
    brand = shipment.brand
    logo = ""
    if brand and brand.logo:
        logo = settings.SITE_URL.rstrip("/") + brand.logo.url
    html = render_to_string(
        "emails/shipping/layout.html",
        {
            **values,
            "body_html": linebreaks(html_text.strip()),
            "logo_url": logo,
            "brand_color": brand.primary_color if brand else "#1f4e79",
            "accent_color": brand.accent_color if brand else "#f2b134",
        },
    )
    return " ".join(subject.split()), text.strip() + "\n", html


def queue(shipment: Shipment, kind: str, *, templates: dict | None = None) -> bool:
    """Call inside the transaction that booked or delivered: the email goes once it commits."""
    ok, _ = wanted(shipment.order.channel, kind, templates=templates)
    if ok and shipment.order.email:
        pk = shipment.pk
        transaction.on_commit(lambda: _enqueue(pk, kind))
    return ok


def _enqueue(shipment_id: int, kind: str) -> None:
    from django_q.tasks import async_task

    async_task(
        "shipping.tasks.send_customer_email", shipment_id, kind, task_name=f"email-{kind}-{shipment_id}"
    )


def send(shipment_id: int, kind: str) -> str:
    """Send one customer email, at most once. Returns what happened."""
    shipment = Shipment.objects.select_related("order__channel", "brand").get(pk=shipment_id)
    order = shipment.order
    template = template_for(order.channel, kind)
    ok, why = wanted(order.channel, kind, template)
    if not ok:
        return f"not sent: {why}"
    if not order.email:
        return "not sent: the order has no email address"
    try:
        with transaction.atomic():
            claim = SentEmail.objects.create(shipment=shipment, kind=kind, to=order.email)
    except IntegrityError:
        return "not sent: already sent"
    try:
        subject, text, html = render(template, shipment)
        message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [order.email])
        message.attach_alternative(html, "text/html")
        message.send()
    except Exception as exc:  # noqa: BLE001 - a failed email is released for a retry and shown on the order
        claim.delete()
        order_services.record_event(
            order, OrderEvent.Kind.ERROR, f"{K(kind).label} email to {order.email} failed: {exc}"
        )
        log.warning("customer email %s for shipment %s failed: %s", kind, shipment_id, exc)
        return f"failed: {exc}"
    SentEmail.objects.filter(pk=claim.pk).update(sent_at=timezone.now(), subject=subject[:200])
    order_services.record_event(
        order,
        OrderEvent.Kind.EMAIL,
        f"{K(kind).label} emailed to {order.email}: “{subject}”",
        data={"shipment": shipment.pk, "kind": kind},
    )
    return "sent"
