"""The desk at a glance on the admin index."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels.models import Channel
from orders.models import Fulfilment, Order
from tests.factories import ChannelFactory, FulfilmentFactory, OrderFactory


def test_each_channel_shows_what_waits_what_is_stuck_and_the_last_sync_with_links(staff_client):
    etsy = ChannelFactory(
        name="Etsy-Main",
        last_sync_state=Channel.SyncState.ERROR,
        last_error="HTTP 401",
        last_synced_at=timezone.now() - timedelta(minutes=5),
    )
    OrderFactory.create_batch(3, channel=etsy)
    OrderFactory(channel=etsy, status=Order.Status.SHIPPED)
    FulfilmentFactory(order__channel=etsy, state=Fulfilment.State.BLOCKED)
    FulfilmentFactory.create_batch(2, order__channel=etsy, state=Fulfilment.State.FAILED)

    page = staff_client.get(reverse("admin:index")).content.decode()

    orders, fulfilments = (
        reverse("admin:orders_order_changelist"),
        reverse("admin:orders_fulfilment_changelist"),
    )
    # three awaiting plus the three orders behind the fulfilments (factories leave them awaiting)
    assert (
        f'<a href="{orders}?channel__id__exact={etsy.pk}&amp;status__exact=awaiting_shipment">6</a>' in page
    )
    assert f'{fulfilments}?order__channel__id__exact={etsy.pk}&amp;state__exact=blocked"' in page
    assert f'{fulfilments}?order__channel__id__exact={etsy.pk}&amp;state__exact=failed"' in page
    assert 'font-weight:bold">2</a>' in page
    assert "Error · 5\xa0minutes ago" in page and 'title="HTTP 401"' in page


def test_thirty_days_of_orders_imported_and_shipped_link_to_the_orders_of_that_day(staff_client):
    today = timezone.localdate()
    OrderFactory.create_batch(2)
    shipped = OrderFactory(status=Order.Status.SHIPPED, shipped_at=timezone.now())
    old = OrderFactory()
    Order.objects.filter(pk=old.pk).update(imported_at=timezone.now() - timedelta(days=40))

    page = staff_client.get(reverse("admin:index")).content.decode()
    listing = staff_client.get(reverse("admin:orders_order_changelist") + f"?shipped_at__date={today}")

    assert "Last 30 days: 3 orders imported" in page and "1 shipped" in page
    assert (
        f"?imported_at__date={today.isoformat()}" in page and f"?shipped_at__date={today.isoformat()}" in page
    )
    assert f"{today:%a} {today.day} {today:%b}: 3 imported" in page
    assert listing.status_code == 200 and str(shipped) in listing.content.decode()


def test_the_index_costs_the_same_queries_for_one_channel_or_many(staff_client):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert staff_client.get(reverse("admin:index")).status_code == 200
        return len(ctx.captured_queries)

    ChannelFactory()
    one = queries()
    for _ in range(5):
        OrderFactory(channel=ChannelFactory())
    assert queries() == one
