"""The work queues at the top of the admin index (config/queues.py), refreshed by polling."""

from django import template
from django.urls import reverse

from config import queues

register = template.Library()


@register.inclusion_tag("admin/work_queues.html", takes_context=True)
def work_queues(context):
    request = context.get("request")
    if request is None or not request.user.is_active or not request.user.is_staff:
        return {"queues": []}
    rows = queues.work_queues(request.user)
    return {
        "queues": rows,
        "poll_url": reverse("admin:queues"),
        "poll_ms": queues.poll_seconds() * 1000,
    }
