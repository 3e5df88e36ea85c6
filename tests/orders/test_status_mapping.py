"""Custom channel statuses: unmapped ones flag the order and show on the channel page until mapped."""

from django.urls import reverse

from channels.models import StatusMapping
from orders.importing import SyncSummary, import_page
from orders.models import Order, SkippedOrder
from tests.factories import ChannelFactory
from tests.orders.test_importing import Page, remote


def test_paid_order_in_an_unmapped_custom_status_is_held_and_listed_until_mapped(staff_client):
    channel = ChannelFactory(kind="ecwid")
    import_page(
        channel,
        Page(
            orders=[
                remote("1", remote_status="CUSTOM_FULFILLMENT_STATUS_1", needs_mapping=True),
                remote("2", remote_status="CUSTOM_PAYMENT_STATUS_2", needs_mapping=True, is_paid=False),
            ],
            cursor={},
        ),
        summary=SyncSummary(),
    )

    held = Order.objects.get()
    assert held.status == "on_hold" and "CUSTOM_FULFILLMENT_STATUS_1" in held.hold_reason
    assert SkippedOrder.objects.get().reason == "unmapped_status"
    url = reverse("admin:channels_channel_change", args=[channel.pk])
    page = staff_client.get(url).content.decode()
    assert "CUSTOM_FULFILLMENT_STATUS_1</strong> (1 orders)" in page
    assert "CUSTOM_PAYMENT_STATUS_2</strong> (1 orders)" in page

    form = {
        "name": channel.name,
        "kind": "ecwid",
        "is_active": "on",
        "api_base_url": channel.api_base_url,
        "shop_id": channel.shop_id,
        "new_credentials": "",
        "sync_mode": "auto",
        "sync_interval_minutes": 5,
        "import_window_days": 30,
        "status_mappings-TOTAL_FORMS": 1,
        "status_mappings-INITIAL_FORMS": 0,
        "status_mappings-0-remote_status": "CUSTOM_FULFILLMENT_STATUS_1",
        "status_mappings-0-maps_to": "import",
    }
    response = staff_client.post(url, form, follow=True)
    assert b"1 order(s) held" in response.content

    held.refresh_from_db()
    assert held.status == "awaiting_shipment" and held.hold_reason == ""
    assert "CUSTOM_FULFILLMENT_STATUS_1</strong>" not in staff_client.get(url).content.decode()


def test_a_mapping_decides_what_an_order_in_that_status_becomes(db):
    channel = ChannelFactory(kind="ecwid")
    StatusMapping.objects.create(channel=channel, remote_status="Packed elsewhere", maps_to="ignore")
    StatusMapping.objects.create(channel=channel, remote_status="Awaiting stock", maps_to="on_hold")
    import_page(
        channel,
        Page(
            orders=[
                remote("1", remote_status="Packed elsewhere", needs_mapping=True),
                remote("2", remote_status="Awaiting stock", needs_mapping=True),
            ],
            cursor={},
        ),
        summary=SyncSummary(),
    )
    assert SkippedOrder.objects.get().external_id == "1"
    assert Order.objects.get().status == "on_hold"
