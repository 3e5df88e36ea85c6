"""Tracking: webhooks and polling, the order timeline, delivered orders, the public page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent
from shipping import tasks, tracking
from shipping.booking import book_shipment
from shipping.carriers.base import TrackingUpdate
from shipping.carriers.sendcloud import SendcloudCarrier
from shipping.models import Shipment
from tests.shipping.conftest import advance
from tests.shipping.factories import ShippableOrderFactory


def dutch_order(**kw):
    return ShippableOrderFactory(
        ship_country="NL", ship_line1="Kerkstraat 12", email="ann@example.test", **kw
    )


def test_delivered_by_webhook_makes_the_order_delivered_and_emails_the_buyer_once(sendcloud, mailoutbox):
    order = dutch_order()
    shipment = book_shipment(order=order, service="DPD Home 0-31.5kg")

    advance(sendcloud, shipment, 22)
    advance(sendcloud, shipment, 11)
    advance(sendcloud, shipment, 11)  # delivered twice (webhooks are retried)

    shipment.refresh_from_db()
    order.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED and shipment.delivered_at
    assert order.status == Order.Status.DELIVERED and order.delivered_at
    assert [m.subject for m in mailoutbox] == [f"Your order {order} has been delivered"]
    assert mailoutbox[0].to == ["ann@example.test"] and "DPD" in mailoutbox[0].body
    timeline = list(
        order.events.filter(kind__in=["tracking", "email"]).order_by("id").values_list("kind", "message")
    )
    assert [k for k, _ in timeline] == ["tracking", "tracking", "email"]
    assert "Shipment picked up by driver" in timeline[0][1] and "Delivered" in timeline[1][1]


def test_an_update_that_arrives_late_is_history_not_a_status(selfprint):
    shipment = book_shipment(order=ShippableOrderFactory())
    t = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    en_route = TrackingUpdate(
        code="91",
        message="Parcel en route",
        occurred_at=t + timedelta(hours=2),
        status="in_transit",
        is_status=True,
    )
    pickup = TrackingUpdate(
        code="22", message="Shipment picked up by driver", occurred_at=t, status="in_transit", is_status=True
    )

    tracking.apply_updates(shipment, [en_route], source="webhook")
    tracking.apply_updates(shipment, [pickup], source="webhook")

    assert shipment.carrier_status == "91" and shipment.status == Shipment.Status.IN_TRANSIT
    assert shipment.tracking_events.count() == 2
    assert shipment.order.events.filter(message__contains="arrived late, status unchanged").count() == 1


def test_polling_reads_open_parcels_within_the_carriers_limits(sendcloud, monkeypatch):
    first = book_shipment(order=dutch_order(), service="DPD Home 0-31.5kg")
    second = book_shipment(order=dutch_order(), service="DPD Home 0-31.5kg")
    advance(sendcloud, first, 22, webhook=False)
    advance(sendcloud, second, 22, webhook=False)
    monkeypatch.setattr(SendcloudCarrier, "poll_budget", 1)

    report = tasks.poll_tracking()
    again = tasks.poll_tracking()

    assert report[sendcloud.account.name]["polled"] == 1  # the budget
    assert again[sendcloud.account.name]["polled"] == 1  # the other one; the first waits for its interval
    for shipment in (first, second):
        shipment.refresh_from_db()
        assert shipment.status == Shipment.Status.IN_TRANSIT and shipment.last_tracked_at
        assert {"ready-to-send", "picked-up-by-driver", "22"} <= set(
            shipment.tracking_events.values_list("code", flat=True)
        )
    assert tasks.poll_tracking()[sendcloud.account.name]["polled"] == 0
    later = timezone.now() + SendcloudCarrier.poll_interval + timedelta(minutes=1)
    assert tracking.due_for_polling(sendcloud.account, SendcloudCarrier.poll_interval, now=later).count() == 2


def test_selfprint_parcels_are_never_polled(selfprint):
    book_shipment(order=ShippableOrderFactory())

    assert tasks.poll_tracking() == {}


def test_the_public_tracking_page_shows_the_events_under_the_brands_logo(client, selfprint):
    selfprint.brand.logo.save("logo.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=True)
    shipment = book_shipment(order=ShippableOrderFactory(ship_city="Leeds"))
    tracking.apply_updates(
        shipment,
        [
            TrackingUpdate(
                code="22",
                message="Collected from Leeds warehouse",
                occurred_at=datetime(2026, 3, 5, 12, 0, tzinfo=UTC),
                status="in_transit",
                is_status=True,
            )
        ],
        source="poll",
    )

    response = client.get(reverse("shipping:track", args=[shipment.public_token]))

    page = response.content.decode()
    assert response.status_code == 200 and response["Referrer-Policy"] == "no-referrer"
    assert f'src="{selfprint.brand.logo.url}"' in page and 'alt="Northern Goods"' in page
    assert "Collected from Leeds warehouse" in page and shipment.tracking_number in page
    assert "In transit" in page and selfprint.brand.primary_color in page
    assert len(shipment.public_token) >= 20


def test_a_wrong_or_guessed_token_finds_nothing(client, selfprint):
    shipment = book_shipment(order=ShippableOrderFactory())

    assert client.get(reverse("shipping:track", args=[shipment.public_token[:-1] + "x"])).status_code == 404
    assert client.get(reverse("shipping:track", args=[str(shipment.pk)])).status_code == 404


def test_the_polling_schedule_exists_after_migrate(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="poll_tracking")
    assert (
        schedule.func == "shipping.tasks.poll_tracking" and schedule.minutes == 10 and schedule.repeats == -1
    )


@pytest.mark.parametrize("status,expected", [(1999, "cancel_requested"), (80, "exception")])
def test_carrier_side_cancellations_and_problems_arrive_by_webhook(sendcloud, status, expected):
    order = dutch_order()
    shipment = book_shipment(order=order, service="DPD Home 0-31.5kg")

    advance(sendcloud, shipment, status)

    shipment.refresh_from_db()
    assert shipment.status == expected
    assert order.events.filter(kind=OrderEvent.Kind.TRACKING).exists()
