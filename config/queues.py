"""The work queues on the admin index: what needs doing now, each a count linking to the list
filtered to exactly those rows, and naming the bulk action that clears it where one exists.

`queues_view` answers the page's poll (every DESK_QUEUES_POLL_SECONDS) with the same rows as
JSON. A fixed number of queries whatever the data (pinned in tests/ops/test_queues.py): each
count reads an indexed subset (open orders by status, fulfilments by state, returns by status…).
This is the desk's UI layer, which may read every app; the counts' vocabulary stays in each
app's querysets and list filters, so a count and its link cannot disagree."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings
from django.db.models import Count, Q
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _


@dataclass
class Queue:
    key: str
    label: str
    count: int
    url: str
    action: str = ""  # the bulk action on that list that clears it
    section: str = ""

    @property
    def urgent(self) -> bool:
        return self.count > 0 and self.key in URGENT


URGENT = {"late", "fulfilments_retry", "fulfilments_manual", "stuck_syncs", "failed_syncs", "stuck_jobs"}


def _url(name: str, **params) -> str:
    return f"{reverse(name)}?{urlencode(params)}" if params else reverse(name)


def work_queues(user, now=None) -> list[Queue]:
    now = now or timezone.now()
    can = user.has_perm
    queues: list[Queue] = []
    if can("orders.view_order"):
        queues += _order_queues(now)
    if can("orders.view_fulfilment"):
        queues += _fulfilment_queues()
    if can("shipping.view_shipment"):
        queues += _label_queues()
    if can("returns.view_returnrequest"):
        queues += _return_queues()
    if can("suppliers.view_supplierorder"):
        queues += _supplier_queues()
    if can("channels.view_channel"):
        queues += _sync_queues(now)
    if can("shipping.view_bulkjob"):
        queues += _job_queues(now)
    return queues


def _order_queues(now) -> list[Queue]:
    from orders.importing import UNMAPPED_PREFIX
    from orders.models import Order, end_of_day
    from shipping.rules import unmapped_services

    S = Order.Status
    to_ship = Q(status__in=[S.AWAITING_SHIPMENT, S.PARTLY_SHIPPED])
    # One query over the open orders (the status index), each queue a filtered count that says
    # the same as the list filter its link opens (OrderQuerySet.ship_by_today / late).
    counts = Order.objects.filter(status__in=[S.AWAITING_SHIPMENT, S.PARTLY_SHIPPED, S.ON_HOLD]).aggregate(
        today=Count("pk", filter=to_ship & Q(ship_by__gte=now, ship_by__lt=end_of_day(now))),
        late=Count("pk", filter=to_ship & Q(ship_by__lt=now)),
        on_hold=Count("pk", filter=Q(status=S.ON_HOLD)),
        unmapped=Count("pk", filter=Q(status=S.ON_HOLD, hold_reason__startswith=UNMAPPED_PREFIX)),
    )
    services = unmapped_services()
    orders = "admin:orders_order_changelist"
    return [
        Queue(
            "today", _("To ship today"), counts["today"], _url(orders, ship_by="today"), _("book"), "orders"
        ),
        Queue(
            "late",
            _("Late (ship-by date passed)"),
            counts["late"],
            _url(orders, ship_by="late"),
            _("book"),
            "orders",
        ),
        Queue(
            "on_hold",
            _("On hold"),
            counts["on_hold"],
            _url(orders, status__exact=S.ON_HOLD),
            _("release"),
            "orders",
        ),
        Queue(
            "unmapped_statuses",
            _("Held: channel status not mapped"),
            counts["unmapped"],
            _url(orders, unmapped_status="yes"),
            _("map it on the channel page"),
            "channels",
        ),
        Queue(
            "unmapped_services",
            _("To ship: shipping service not mapped"),
            sum(s["orders"] for s in services),
            _url(orders, service_mapped="no"),
            _("add a line to the channel's shipping mapping"),
            "channels",
        ),
    ]


def _fulfilment_queues() -> list[Queue]:
    from orders.models import Fulfilment

    F = Fulfilment.State
    counts = Fulfilment.objects.filter(state__in=[F.BLOCKED, F.FAILED, F.ATTENTION]).aggregate(
        retry=Count("pk", filter=Q(state__in=[F.BLOCKED, F.FAILED], retract_requested_at__isnull=True)),
        manual=Count("pk", filter=Q(state=F.ATTENTION, attention_done_at__isnull=True)),
    )
    fulfilments = "admin:orders_fulfilment_changelist"
    return [
        Queue(
            "fulfilments_retry",
            _("Fulfilments blocked or failed"),
            counts["retry"],
            _url(fulfilments, needs="retry"),
            _("send again"),
            "orders",
        ),
        Queue(
            "fulfilments_manual",
            _("Fulfilments needing a step on the channel"),
            counts["manual"],
            _url(fulfilments, needs="manual"),
            _("done on the channel"),
            "orders",
        ),
    ]


def _label_queues() -> list[Queue]:
    from shipping.printing import not_printed

    return [
        Queue(
            "labels",
            _("Labels not yet printed"),
            not_printed().count(),
            _url("admin:shipping_shipment_changelist", printed="no"),
            _("print labels"),
            "shipping",
        )
    ]


def _return_queues() -> list[Queue]:
    from returns.models import ReturnRequest

    R = ReturnRequest.Status
    receipt = [R.APPROVED, R.LABEL_ISSUED]
    counts = ReturnRequest.objects.filter(status__in=[R.AWAITING_APPROVAL, *receipt]).aggregate(
        approval=Count("pk", filter=Q(status=R.AWAITING_APPROVAL)),
        receipt=Count("pk", filter=Q(status__in=receipt)),
    )
    returns = "admin:returns_returnrequest_changelist"
    return [
        Queue(
            "returns_approval",
            _("Returns awaiting approval"),
            counts["approval"],
            _url(returns, status__exact=R.AWAITING_APPROVAL),
            _("approve"),
            "returns",
        ),
        Queue(
            "returns_receipt",
            _("Returns awaiting receipt"),
            counts["receipt"],
            _url(returns, status__in=",".join(receipt)),
            _("mark received"),
            "returns",
        ),
    ]


def _supplier_queues() -> list[Queue]:
    from suppliers.models import SupplierOrder

    waiting = SupplierOrder.Status.AWAITING_PAYMENT
    rows = (
        SupplierOrder.objects.filter(status=waiting)
        .order_by()
        .values("supplier_id", "supplier__name")
        .annotate(n=Count("pk"))
        .order_by("supplier__name")
    )
    url = "admin:suppliers_supplierorder_changelist"
    return [
        Queue(
            f"supplier_orders:{r['supplier_id']}",
            _("Supplier orders awaiting payment: %(supplier)s") % {"supplier": r["supplier__name"]},
            r["n"],
            _url(url, status__exact=waiting, supplier__id__exact=r["supplier_id"]),
            _("pay"),
            "suppliers",
        )
        for r in rows
    ] or [
        Queue(
            "supplier_orders",
            _("Supplier orders awaiting payment"),
            0,
            _url(url, status__exact=waiting),
            _("pay"),
            "suppliers",
        )
    ]


def _sync_queues(now) -> list[Queue]:
    from channels.models import Channel

    counts = Channel.objects.aggregate(
        stale=Count("pk", filter=Q(pk__in=Channel.objects.stale_syncs(now).values("pk"))),
        failed=Count("pk", filter=Q(is_active=True, last_sync_state=Channel.SyncState.ERROR)),
    )
    channels = "admin:channels_channel_changelist"
    return [
        Queue(
            "stuck_syncs",
            _("Syncs stalled"),
            counts["stale"],
            _url(channels, sync="stale"),
            _("sync now"),
            "channels",
        ),
        Queue(
            "failed_syncs",
            _("Syncs failed"),
            counts["failed"],
            _url(channels, sync="failed"),
            _("sync now"),
            "channels",
        ),
    ]


def _job_queues(now) -> list[Queue]:
    from shipping.bulk import stuck_jobs

    return [
        Queue(
            "stuck_jobs",
            _("Bulk bookings stuck"),
            stuck_jobs(now).count(),
            _url("admin:shipping_bulkjob_changelist", stuck="yes"),
            "",
            "shipping",
        )
    ]


def as_json(queues: list[Queue]) -> list[dict]:
    return [{**asdict(q), "urgent": q.urgent} for q in queues]


def queues_view(request):
    """The index page's poll: the queues as JSON (admin_site.admin_view: staff only)."""
    # admin_view already marks it never_cache (no-store).
    return JsonResponse({"queues": as_json(work_queues(request.user)), "at": timezone.now().isoformat()})


def poll_seconds() -> int:
    return settings.DESK_QUEUES_POLL_SECONDS
