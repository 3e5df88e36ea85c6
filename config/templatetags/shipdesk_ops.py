"""The banner on the admin index when the task cluster's dispatcher has stopped running."""

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from config.heartbeat import dispatcher_beat

register = template.Library()


@register.simple_tag
def cluster_banner() -> str:
    beat = dispatcher_beat()
    if not beat.stale:
        return ""
    if beat.at is None:
        said = "The task cluster has never run its every-minute dispatcher"
    else:
        said = format_html(
            "The task cluster's every-minute dispatcher last ran {} ago ({}, on {})",
            timesince(beat.at),
            timezone.localtime(beat.at).strftime("%Y-%m-%d %H:%M:%S"),
            beat.where or "an unknown host",
        )
    return format_html(
        '<p class="errornote" id="cluster-heartbeat">{}: syncs, pushes to channels and bulk jobs are not '
        "being queued. Start it with <code>python -m config.cluster</code> (see /healthz).</p>",
        said,
    )
