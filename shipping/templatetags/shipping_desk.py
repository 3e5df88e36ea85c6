"""The desk at a glance, on the admin index: what needs staff now (a sync, job or fulfilment that
failed or is stuck), per channel what waits, what is stuck and how the last sync went, and
thirty days of orders imported and shipped. A fixed handful of queries
(counts are subqueries on indexed columns), whatever the number of orders."""

from datetime import timedelta

from django import template
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from channels.models import Channel
from orders.models import Fulfilment, Order

register = template.Library()
DAYS = 30
CHART_W, CHART_H, PAD = 720, 150, 24


def _count(qs, group: str):
    counted = qs.order_by().values(group).annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def channel_rows() -> list[dict]:
    orders = reverse("admin:orders_order_changelist")
    fulfilments = reverse("admin:orders_fulfilment_changelist")
    awaiting = Order.objects.filter(channel=OuterRef("pk"), status=Order.Status.AWAITING_SHIPMENT)
    stuck = {
        state: Fulfilment.objects.filter(order__channel=OuterRef("pk"), state=state)
        for state in (Fulfilment.State.BLOCKED, Fulfilment.State.FAILED)
    }
    rows = []
    for c in Channel.objects.annotate(
        n_awaiting=_count(awaiting, "channel"),
        n_blocked=_count(stuck[Fulfilment.State.BLOCKED], "order__channel"),
        n_failed=_count(stuck[Fulfilment.State.FAILED], "order__channel"),
    ):
        rows.append(
            {
                "channel": c,
                "awaiting": c.n_awaiting,
                "awaiting_url": f"{orders}?"
                + urlencode({"channel__id__exact": c.pk, "status__exact": "awaiting_shipment"}),
                "blocked": c.n_blocked,
                "blocked_url": f"{fulfilments}?"
                + urlencode({"order__channel__id__exact": c.pk, "state__exact": "blocked"}),
                "failed": c.n_failed,
                "failed_url": f"{fulfilments}?"
                + urlencode({"order__channel__id__exact": c.pk, "state__exact": "failed"}),
                "sync_url": reverse("admin:channels_channel_change", args=[c.pk]),
            }
        )
    return rows


def per_day(field: str, since) -> dict:
    rows = (
        Order.objects.filter(**{f"{field}__gte": since})
        .annotate(day=TruncDate(field))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {r["day"]: r["n"] for r in rows}


def chart(now=None) -> dict:
    today = timezone.localdate(now or timezone.now())
    days = [today - timedelta(days=i) for i in range(DAYS - 1, -1, -1)]
    since = timezone.make_aware(timezone.datetime.combine(days[0], timezone.datetime.min.time()))
    imported, shipped = per_day("imported_at", since), per_day("shipped_at", since)
    top = max([1, *imported.values(), *shipped.values()])
    orders = reverse("admin:orders_order_changelist")
    slot = (CHART_W - PAD) / DAYS
    bar = max(2.0, slot / 2 - 1)
    bars = []
    for i, day in enumerate(days):
        x = PAD + i * slot
        for offset, (series, counts, field) in enumerate(
            (("imported", imported, "imported_at"), ("shipped", shipped, "shipped_at"))
        ):
            n = counts.get(day, 0)
            h = round((CHART_H - 20) * n / top, 1)
            bars.append(
                {
                    "series": series,
                    "n": n,
                    "day": day,
                    "x": round(x + offset * (bar + 1), 1),
                    "w": round(bar, 1),
                    "y": round(CHART_H - 14 - h, 1),
                    "h": h,
                    "url": f"{orders}?" + urlencode({f"{field}__date": day.isoformat()}),
                }
            )
    labels = [
        {"x": round(PAD + i * slot, 1), "text": d.strftime("%d %b")} for i, d in enumerate(days) if i % 5 == 0
    ]
    return {
        "bars": bars,
        "labels": labels,
        "top": top,
        "width": CHART_W,
        "height": CHART_H,
        "total_imported": sum(imported.values()),
        "total_shipped": sum(shipped.values()),
    }


def problems() -> list[dict]:
    """What staff must look at now: syncs that died or failed, bulk bookings that failed or
    stalled, fulfilments stuck in the outbox or needing a manual step on the channel. The same
    things are emailed once to subscribers (orders.tasks / shipping.tasks dispatchers)."""
    from orders.alerts import stuck_fulfilments
    from shipping.admin.jobs import progress_url
    from shipping.bulk import problem_jobs

    fulfilments = reverse("admin:orders_fulfilment_changelist")
    rows = []
    for c in Channel.objects.stale_syncs():
        rows.append(
            {
                "what": f"Sync of {c.name} stalled",
                "why": f"running {c.syncing_since}; the next dispatch resumes it from the last saved page",
                "url": reverse("admin:channels_channel_change", args=[c.pk]),
            }
        )
    for c in Channel.objects.filter(is_active=True, last_sync_state=Channel.SyncState.ERROR):
        rows.append(
            {
                "what": f"Sync of {c.name} failed",
                "why": c.last_error,
                "url": reverse("admin:channels_channel_change", args=[c.pk]),
            }
        )
    for job, why in problem_jobs():
        rows.append(
            {
                "what": f"{job} {'failed' if job.status == 'failed' else 'is stuck'}",
                "why": why,
                "url": progress_url(job),
            }
        )
    stuck = stuck_fulfilments().count()
    if stuck:
        rows.append(
            {
                "what": f"{stuck} fulfilment(s) stuck in the outbox",
                "why": "due but not sent for a while; is the task cluster running?",
                "url": f"{fulfilments}?" + urlencode({"state__exact": Fulfilment.State.PENDING}),
            }
        )
    attention = Fulfilment.objects.filter(
        state=Fulfilment.State.ATTENTION, attention_done_at__isnull=True
    ).count()
    if attention:
        rows.append(
            {
                "what": f"{attention} fulfilment(s) need a manual step on the channel",
                "why": "Shipdesk cannot change them through the channel's API",
                "url": f"{fulfilments}?" + urlencode({"state__exact": Fulfilment.State.ATTENTION}),
            }
        )
    return rows


@register.inclusion_tag("admin/shipping/desk.html", takes_context=True)
def desk_at_a_glance(context):
    request = context.get("request")
    allowed = request is not None and request.user.has_perm("orders.view_order")
    return {
        "allowed": allowed,
        "rows": channel_rows() if allowed else [],
        "chart": chart() if allowed else None,
        "problems": problems() if allowed else [],
    }
