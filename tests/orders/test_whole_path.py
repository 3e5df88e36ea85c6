"""The whole path: sandbox Etsy orders -> sync -> book -> push -> the sandbox receipt has the tracking."""

from django.urls import reverse

from orders.models import Fulfilment, Order
from orders.tasks import dispatch_due_syncs, run_sync
from sandbox.generators.etsy import generate
from sandbox.models import SandboxOrder, SandboxRequest
from shipping.booking import book_shipment
from tests.factories import BrandFactory, CarrierAccountFactory, UserFactory, catalogue
from tests.shipping.forms import book_post


def test_imported_order_booked_in_the_admin_reaches_etsy_with_its_tracking(etsy_sandbox, client):
    channel, store = etsy_sandbox
    BrandFactory()
    CarrierAccountFactory(name="Royal Mail (own account)")
    generate(store, 5, mix=False, seed=3)
    client.force_login(UserFactory())

    dispatch_due_syncs()  # what the task cluster runs every minute

    assert Order.objects.filter(channel=channel, status="awaiting_shipment").count() == 5
    order = Order.objects.order_by("id").first()
    catalogue()  # the shop's SKUs with their customs data (its orders go abroad too)

    # Staff open the order and book from its page.
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert page.status_code == 200 and b"Book shipment" in page.content
    response = client.post(
        reverse("admin:shipping_shipment_book", args=[order.pk]), book_post(order), follow=True
    )
    assert response.status_code == 200

    order.refresh_from_db()
    shipment = order.shipments.get()
    assert order.status == "shipped"
    assert shipment.fulfilment.state == Fulfilment.State.SENT  # pushed right after the booking committed

    pushed = SandboxRequest.objects.get(path__endswith=f"/receipts/{order.external_id}/tracking")
    assert pushed.parsed["tracking_code"] == shipment.tracking_number
    assert pushed.parsed["carrier_name"] == "royal-mail"
    receipt = SandboxOrder.objects.get(store=store, external_id=order.external_id).data
    assert receipt["shipments"][-1]["tracking_code"] == shipment.tracking_number and receipt["is_shipped"]

    timeline = list(order.events.order_by("id").values_list("kind", flat=True))
    assert timeline == ["imported", "booked", "status", "pushed"]

    label = client.get(reverse("admin:shipping_shipment_label", args=[shipment.pk]))
    assert label["Content-Type"] == "application/pdf"
    assert b"".join(label.streaming_content).startswith(b"%PDF")

    # The next sync sees the receipt shipped on Etsy (by us) and changes nothing here.
    summary = run_sync(channel)
    assert not summary.errors
    order.refresh_from_db()
    assert order.status == "shipped" and order.fulfilments.count() == 1


def test_a_push_that_fails_is_retried_later_and_sent_once(etsy_sandbox, settings):
    channel, store = etsy_sandbox
    BrandFactory()
    CarrierAccountFactory()
    generate(store, 1, mix=False)
    run_sync(channel)
    order = Order.objects.get()
    store.faults = [{"path": "/tracking", "status": 503, "times": 4}]
    store.save()
    catalogue()

    shipment = book_shipment(order=order)

    f = shipment.fulfilment
    f.refresh_from_db()
    assert f.state == "pending" and f.attempts == 1 and "503" in f.last_error
    assert order.events.filter(kind="push_failed").exists()
    # A 503 may come after the channel acted: the POST is not repeated blindly (one fault taken).
    store.refresh_from_db()
    assert store.faults[0]["times"] == 3
    store.faults = []
    store.save()

    Fulfilment.objects.filter(pk=f.pk).update(next_attempt_at=None)  # its backoff has passed
    run_sync(channel)
    run_sync(channel)  # a second pass must not send it again

    f.refresh_from_db()
    assert f.state == "sent"
    assert SandboxRequest.objects.filter(path__endswith="/tracking").count() == 1


def test_a_channel_that_requires_tracking_never_gets_a_fulfilment_without_one(etsy_sandbox):
    channel, store = etsy_sandbox
    channel.requires_tracking = True
    channel.save()
    generate(store, 1, mix=False)
    run_sync(channel)
    order = Order.objects.get()
    from orders.services import default_lines, record_fulfilment

    f = record_fulfilment(
        order=order, lines=default_lines(order), tracking_number="", carrier_name="Royal Mail"
    )

    f.refresh_from_db()
    assert f.state == "blocked"
    assert "requires a tracking number" in order.events.get(kind="push_blocked").message
    assert not SandboxRequest.objects.filter(path__endswith="/tracking").exists()
