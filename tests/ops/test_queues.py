"""The work queues on the admin index: each count, and the list its link opens shows exactly
those rows; the JSON the page polls, at a fixed number of queries."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from channels.models import Channel
from orders import holding
from orders.importing import UNMAPPED_PREFIX
from orders.models import Fulfilment, Order, end_of_day
from returns.models import ReturnRequest
from shipping.models import BulkJob, Shipment
from suppliers.models import SupplierOrder
from tests.factories import ChannelFactory, FulfilmentFactory, OrderFactory
from tests.returns.factories import ReturnRequestFactory
from tests.shipping.factories import MappingLineFactory, ShipmentFactory, ShippingMappingFactory
from tests.suppliers.factories import SupplierFactory, SupplierOrderFactory

S = Order.Status


def label(shipment, *, printed=False):
    shipment.label.save(f"{shipment.tracking_number}.pdf", ContentFile(b"%PDF-1.4 label"), save=False)
    shipment.label_printed_at = timezone.now() if printed else None
    shipment.save()
    return shipment


@pytest.fixture
def desk(db):
    """Rows in each queue, and beside each, rows that look alike but are not in it. Returns
    {queue key: the primary keys its list must show}."""
    now = timezone.now()
    today = now + (end_of_day(now) - now) / 2
    shop = ChannelFactory(name="Shop")
    ShippingMappingFactory(channel=shop)
    MappingLineFactory(mapping=shop.shipping_mapping, requested_service="Royal Mail Tracked 48")

    def order(**kw):
        return OrderFactory(channel=shop, **kw)

    q = {}
    q["today"] = [order(ship_by=today).pk, order(ship_by=today, status=S.PARTLY_SHIPPED).pk]
    q["late"] = [order(ship_by=now - timedelta(days=1)).pk]
    order(ship_by=now + timedelta(days=2))  # not today
    order(ship_by=today, status=S.SHIPPED)  # gone
    held = order(ship_by=now - timedelta(hours=3))  # held: not "late", "on hold"
    holding.hold_order(held, reason="Customer asked to wait")
    unmapped = order(status=S.ON_HOLD, remote_status="Ready", hold_reason=f"{UNMAPPED_PREFIX}Ready")
    q["on_hold"] = [held.pk, unmapped.pk]
    q["unmapped_statuses"] = [unmapped.pk]
    q["unmapped_services"] = [
        order(requested_service="Std US D2D Dom").pk,
        OrderFactory(requested_service="Express").pk,  # another channel, no mapping at all
    ]
    order(requested_service="Std US D2D Dom", status=S.SHIPPED)  # shipped: not work

    f = Fulfilment.State
    q["fulfilments_retry"] = [
        FulfilmentFactory(order=order(status=S.SHIPPED), state=f.BLOCKED).pk,
        FulfilmentFactory(order=order(status=S.SHIPPED), state=f.FAILED).pk,
    ]
    FulfilmentFactory(order=order(status=S.SHIPPED), state=f.FAILED, retract_requested_at=now)
    q["fulfilments_manual"] = [FulfilmentFactory(order=order(status=S.SHIPPED), state=f.ATTENTION).pk]
    FulfilmentFactory(order=order(status=S.SHIPPED), state=f.ATTENTION, attention_done_at=now)
    FulfilmentFactory(order=order(status=S.SHIPPED), state=f.SENT)

    q["labels"] = [label(ShipmentFactory(order=order(status=S.SHIPPED))).pk]
    label(ShipmentFactory(order=order(status=S.SHIPPED)), printed=True)
    ShipmentFactory(order=order(status=S.SHIPPED))  # no label file
    label(ShipmentFactory(order=order(status=S.SHIPPED), status=Shipment.Status.CANCELLED))
    label(ShipmentFactory(order=order(status=S.SHIPPED), carrier_account=None))  # booked elsewhere

    R = ReturnRequest.Status
    q["returns_approval"] = [ReturnRequestFactory(order=order(status=S.DELIVERED)).pk]
    q["returns_receipt"] = [
        ReturnRequestFactory(order=order(status=S.DELIVERED), status=R.APPROVED).pk,
        ReturnRequestFactory(order=order(status=S.DELIVERED), status=R.LABEL_ISSUED).pk,
    ]
    ReturnRequestFactory(order=order(status=S.DELIVERED), status=R.RECEIVED)
    ReturnRequestFactory(order=order(status=S.DELIVERED), status=R.REJECTED)

    nord, sud = SupplierFactory(name="Atelier Nord"), SupplierFactory(name="Sud Textile")
    q[f"supplier_orders:{nord.pk}"] = [
        SupplierOrderFactory(supplier=nord, order__channel=shop).pk for _ in range(2)
    ]
    q[f"supplier_orders:{sud.pk}"] = [SupplierOrderFactory(supplier=sud, order__channel=shop).pk]
    SupplierOrderFactory(supplier=nord, order__channel=shop, status=SupplierOrder.Status.PAID)

    long_ago = now - timedelta(hours=2)
    q["stuck_syncs"] = [
        ChannelFactory(sync_started_at=long_ago, sync_heartbeat_at=long_ago, is_active=True).pk
    ]
    ChannelFactory(sync_started_at=now, sync_heartbeat_at=now)  # syncing, alive
    q["failed_syncs"] = [ChannelFactory(last_sync_state=Channel.SyncState.ERROR, last_error="HTTP 401").pk]
    ChannelFactory(last_sync_state=Channel.SyncState.ERROR, is_active=False)

    stuck = BulkJob.objects.create(kind=BulkJob.Kind.BOOK_ORDERS, status=BulkJob.Status.RUNNING, total=1)
    alive = BulkJob.objects.create(
        kind=BulkJob.Kind.BOOK_ORDERS, status=BulkJob.Status.RUNNING, total=1, heartbeat_at=now
    )
    BulkJob.objects.filter(pk__in=[stuck.pk, alive.pk]).update(created_at=long_ago)
    BulkJob.objects.create(kind=BulkJob.Kind.BOOK_ORDERS, status=BulkJob.Status.DONE, total=1)
    q["stuck_jobs"] = [stuck.pk]
    return q


def polled(client) -> dict:
    response = client.get(reverse("admin:queues"))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    return {q["key"]: q for q in response.json()["queues"]}


def shown(client, url) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, url
    cl = response.context["cl"]
    assert cl.result_count == len(cl.result_list)  # one page: every row is on it
    return {row.pk for row in cl.result_list}


def test_each_queue_counts_its_rows_and_its_link_shows_exactly_them(staff_client, desk):
    queues = polled(staff_client)

    assert set(queues) == set(desk)
    for key, pks in desk.items():
        assert queues[key]["count"] == len(pks), key
        assert shown(staff_client, queues[key]["url"]) == set(pks), key


def test_each_queue_names_the_bulk_action_that_clears_it(staff_client, desk):
    queues = polled(staff_client)
    actions = {key: q["action"] for key, q in queues.items()}

    assert actions["today"] == actions["late"] == "book"
    assert actions["on_hold"] == "release"
    assert actions["fulfilments_retry"] == "send again"
    assert actions["returns_approval"] == "approve" and actions["returns_receipt"] == "mark received"
    assert {actions[k] for k in desk if k.startswith("supplier_orders:")} == {"pay"}
    assert actions["labels"] == "print labels"
    assert actions["stuck_syncs"] == actions["failed_syncs"] == "sync now"
    # ... and the list it opens has that action
    lists = {
        "on_hold": "release",
        "fulfilments_retry": "retry",
        "fulfilments_manual": "attention_done",
        "returns_approval": "approve",
        "returns_receipt": "mark_received",
        "labels": "print_labels",
        "stuck_syncs": "sync_now",
    }
    for key, action in lists.items():
        page = staff_client.get(queues[key]["url"]).content.decode()
        assert f'value="{action}"' in page, key
    supplier_list = next(q["url"] for k, q in queues.items() if k.startswith("supplier_orders:"))
    assert 'value="pay_selected"' in staff_client.get(supplier_list).content.decode()


def test_the_index_shows_the_queues_first_with_counts_links_and_the_poll(staff_client, desk):
    page = staff_client.get(reverse("admin:index")).content.decode()

    assert page.index('id="work-queues"') < page.index('id="desk-at-a-glance"')
    assert f'data-poll-url="{reverse("admin:queues")}"' in page and 'data-poll-ms="30000"' in page
    late = polled(staff_client)["late"]
    assert f'<a href="{late["url"].replace("&", "&amp;")}"><span class="count">1</span>' in page
    assert 'data-queue="stuck_syncs"' in page and "Syncs stalled" in page


def test_the_poll_runs_the_same_few_queries_for_an_empty_desk_or_a_busy_one(
    staff_client, django_assert_num_queries
):
    # session, user, then: orders, unmapped services (pairs, mapping lines), fulfilments,
    # labels, returns, supplier orders, channels, jobs
    with django_assert_num_queries(11):
        polled(staff_client)


def test_the_poll_query_count_does_not_grow_with_the_data(staff_client, desk, django_assert_num_queries):
    for _ in range(3):
        SupplierOrderFactory(supplier=SupplierFactory())
        OrderFactory(requested_service="Other service")
    with django_assert_num_queries(11):
        polled(staff_client)


def test_a_count_follows_a_change(staff_client, desk):
    before = polled(staff_client)["on_hold"]["count"]
    holding.hold_order(OrderFactory(), reason="Address check")

    assert polled(staff_client)["on_hold"]["count"] == before + 1


def test_queues_are_for_signed_in_staff_and_show_only_what_they_may_see(client, desk):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    anonymous = client.get(reverse("admin:queues"))
    clerk = UserFactory(username="clerk", is_superuser=False)
    clerk.user_permissions.add(Permission.objects.get(codename="view_returnrequest"))
    client.force_login(clerk)

    assert anonymous.status_code == 302 and "/login/" in anonymous.url
    assert set(polled(client)) == {"returns_approval", "returns_receipt"}


def test_downloading_a_label_marks_it_printed_and_clears_it_from_the_queue(staff_client, desk):
    shipment = Shipment.objects.get(pk=desk["labels"][0])

    response = staff_client.get(reverse("admin:shipping_shipment_label", args=[shipment.pk]))
    b"".join(response.streaming_content)

    shipment.refresh_from_db()
    assert shipment.label_printed_at is not None
    assert polled(staff_client)["labels"]["count"] == 0
