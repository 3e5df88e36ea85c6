"""`{% load shipping_labels %}{% label_thumbnail shipment %}`: the label's first page as a small
picture linking to the PDF (or "—" without a label), for any admin page that lists shipments
(the shipment page, a bulk job's page, the order page's shipments). The picture is made on first
view (shipping.thumbnails) and loads lazily, so a long list costs nothing until it is scrolled."""

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


def thumbnail_html(shipment, *, width: int = 120) -> str:
    if not shipment or not shipment.pk or not shipment.label:
        return "—"
    return format_html(
        '<a href="{}" class="label-thumb" title="{}"><img src="{}" alt="{}" width="{}" loading="lazy" '
        'style="border:1px solid #ccc;background:#fff;vertical-align:top"></a>',
        reverse("admin:shipping_shipment_label", args=[shipment.pk]),
        _("Label PDF"),
        reverse("admin:shipping_shipment_thumbnail", args=[shipment.pk]),
        _("Label %(tracking)s") % {"tracking": shipment.tracking_number},
        width,
    )


@register.simple_tag
def label_thumbnail(shipment, width: int = 120):
    return thumbnail_html(shipment, width=width)
