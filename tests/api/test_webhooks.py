"""Outgoing webhooks: deliveries written with the change, signed, retried, never lost or doubled."""

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from api import delivery, tasks
from api.models import WebhookDelivery, WebhookEndpoint
from orders.alerts import send_due_alerts
from orders.models import AlertSubscription, StaffAlert
from sandbox.models import SandboxRequest, SandboxStore
from sandbox.webhooks import received
from shipping.booking import book_shipment
from tests.api import webhook_fixtures
from tests.factories import UserFactory, WebhookEndpointFactory
from tests.shipping.factories import ShippableOrderFactory

# Fixtures shared by the webhook tests (a conftest of their own would clash with the API's tests).
receivers, desk = webhook_fixtures.receivers, webhook_fixtures.desk


def test_a_booked_shipment_is_delivered_once_to_each_subscribed_endpoint_signed(receivers, desk):
    erp, erp_inbox = receivers("erp", ["shipment.booked", "order.cancelled"])
    wms, wms_inbox = receivers("wms", ["shipment.booked"])
    crm, crm_inbox = receivers("crm", ["order.cancelled", "return.requested"])
    order = ShippableOrderFactory()

    shipment = book_shipment(order=order)

    rows = WebhookDelivery.objects.filter(event_type="shipment.booked")
    assert sorted(rows.values_list("endpoint__description", flat=True)) == ["erp", "wms"]
    assert not WebhookDelivery.objects.filter(endpoint=crm).exists()  # not subscribed
    for inbox, endpoint in [(erp_inbox, erp), (wms_inbox, wms)]:
        got = received(inbox)
        assert len(got) == 1 and got[0]["verified"] and not got[0]["duplicate"]
        assert got[0]["webhook_id"] == rows.get(endpoint=endpoint).webhook_id
        data = got[0]["payload"]["data"]
        assert got[0]["type"] == "shipment.booked"
        assert data["shipment"]["id"] == shipment.pk
        assert data["shipment"]["tracking_number"] == shipment.tracking_number
        assert data["order"]["order_number"] == order.order_number
        assert [ln["quantity"] for ln in data["order"]["lines"]] == [1]
    assert received(crm_inbox) == []
    assert set(rows.values_list("state", flat=True)) == {WebhookDelivery.State.SUCCEEDED}


def test_a_booking_that_rolls_back_leaves_no_delivery(receivers, desk):
    receivers("erp", ["shipment.booked"])
    order = ShippableOrderFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        book_shipment(order=order)
        assert WebhookDelivery.objects.count() == 1  # written in the booking's transaction
        raise RuntimeError("something after the booking failed")

    assert WebhookDelivery.objects.count() == 0
    assert SandboxRequest.objects.count() == 0  # the nudge only runs on commit


def test_a_receiver_with_the_wrong_secret_refuses_it_and_it_is_retried(receivers, desk):
    endpoint, inbox = receivers("erp")
    SandboxStore.objects.filter(pk=inbox.pk).update(
        credentials={"secret": "whsec_" + "A" * 43}  # not the endpoint's secret
    )
    book_shipment(order=ShippableOrderFactory())

    d = WebhookDelivery.objects.get()
    assert d.state == WebhookDelivery.State.PENDING and d.response_status == 401
    assert "No matching signature" in received(inbox, accepted_only=False)[0]["error"]


def _due_now(d):
    WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())


def test_500s_are_retried_with_growing_backoff_and_the_same_webhook_id(receivers, desk):
    endpoint, inbox = receivers("erp")
    inbox.faults = [{"status": 500, "times": 2}]
    inbox.save()

    book_shipment(order=ShippableOrderFactory())  # attempt 1: 500
    d = WebhookDelivery.objects.get()
    first_delay = d.next_attempt_at - d.last_attempt_at
    assert d.state == WebhookDelivery.State.PENDING and d.attempts == 1 and d.response_status == 500
    assert timedelta(seconds=10) < first_delay < timedelta(seconds=50)
    assert tasks.dispatch_due_webhooks() == 0  # not due yet

    _due_now(d)
    assert tasks.dispatch_due_webhooks() == 1  # attempt 2: 500 again
    d.refresh_from_db()
    assert d.attempts == 2 and d.next_attempt_at - d.last_attempt_at > first_delay

    _due_now(d)
    tasks.dispatch_due_webhooks()  # attempt 3: delivered
    d.refresh_from_db()
    assert d.state == WebhookDelivery.State.SUCCEEDED and d.attempts == 3
    sent = received(inbox, accepted_only=False)
    assert [r["status"] for r in sent] == [500, 500, 204]
    assert {r["headers"]["webhook-id"] for r in sent} == {d.webhook_id}
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.is_active


def test_a_delivery_is_given_up_after_the_retry_window(receivers, desk, settings):
    settings.WEBHOOK_RETRY_HOURS = 24
    endpoint, inbox = receivers("erp")
    inbox.faults = [{"status": 503, "times": 5}]
    inbox.save()
    book_shipment(order=ShippableOrderFactory())
    d = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=d.pk).update(
        created_at=timezone.now() - timedelta(hours=25), next_attempt_at=timezone.now()
    )

    tasks.dispatch_due_webhooks()

    d.refresh_from_db()
    assert d.state == WebhookDelivery.State.FAILED and d.next_attempt_at is None
    assert tasks.dispatch_due_webhooks() == 0


def test_a_worker_that_died_after_sending_is_replaced_and_the_receiver_sees_one_event(receivers, desk):
    endpoint, inbox = receivers("erp")
    inbox.faults = [{"status": 500}]
    inbox.save()
    book_shipment(order=ShippableOrderFactory())
    d = WebhookDelivery.objects.get()
    _due_now(d)
    # A worker claims it and its request reaches the receiver, then the worker dies before it
    # records the answer: the row keeps a claim nobody renews.
    real_record = delivery._record
    delivery._record = lambda *args, **kwargs: (_ for _ in ()).throw(SystemExit("worker killed"))
    try:
        with pytest.raises(SystemExit):
            delivery.send_delivery(d.pk)
    finally:
        delivery._record = real_record
    d.refresh_from_db()
    assert d.claimed_at is not None and d.state == WebhookDelivery.State.PENDING
    assert tasks.dispatch_due_webhooks() == 0  # a fresh claim is left to its worker

    WebhookDelivery.objects.filter(pk=d.pk).update(claimed_at=timezone.now() - timedelta(minutes=5))
    assert tasks.dispatch_due_webhooks() == 1

    d.refresh_from_db()
    assert d.state == WebhookDelivery.State.SUCCEEDED and d.claimed_at is None and d.attempts == 3
    got = received(inbox)
    assert [g["webhook_id"] for g in got] == [d.webhook_id, d.webhook_id]
    assert [g["duplicate"] for g in got] == [False, True]  # one logical event for the receiver


def test_a_worker_whose_claim_was_taken_over_writes_nothing(receivers, desk):
    endpoint, inbox = receivers("erp")
    inbox.faults = [{"status": 500}]
    inbox.save()
    book_shipment(order=ShippableOrderFactory())
    d = WebhookDelivery.objects.get()
    _due_now(d)
    claimed = delivery._claim(d.pk)
    assert claimed is not None and delivery._claim(d.pk) is None  # two workers never hold it
    WebhookDelivery.objects.filter(pk=d.pk).update(claimed_at=timezone.now(), claimed_by="other:1")

    assert delivery._record(claimed[0], claimed[1], {}, 200, "", "") == "skipped"
    d.refresh_from_db()
    assert d.state == WebhookDelivery.State.PENDING and d.claimed_by == "other:1"


def test_an_endpoint_that_keeps_failing_is_disabled_with_one_email(receivers, desk, settings):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    AlertSubscription.objects.create(user=UserFactory(email="ops@example.com"), all_channels=True)
    endpoint, inbox = receivers("erp")
    inbox.faults = [{"status": 500, "times": 10}]
    inbox.save()

    book_shipment(order=ShippableOrderFactory())
    book_shipment(order=ShippableOrderFactory())  # two failures
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    tasks.dispatch_due_webhooks()  # the third disables it; the fourth is not sent

    endpoint.refresh_from_db()
    assert not endpoint.is_active and "3 failed attempts in a row" in endpoint.disabled_reason
    assert SandboxRequest.objects.filter(store=inbox).count() == 3
    assert send_due_alerts() == 1
    assert len(mail.outbox) == 1 and "Webhook endpoint disabled" in mail.outbox[0].body
    # Disabled: nothing is sent, new events are not even written for it, no second email.
    book_shipment(order=ShippableOrderFactory())
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert tasks.dispatch_due_webhooks() == 0
    assert WebhookDelivery.objects.count() == 2
    assert StaffAlert.objects.count() == 1


def test_every_attempt_failing_for_a_day_disables_the_endpoint(receivers, desk):
    AlertSubscription.objects.create(user=UserFactory(email="ops@example.com"), all_channels=True)
    endpoint, inbox = receivers("erp")
    inbox.faults = [{"status": 500}]
    inbox.save()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=5, failing_since=timezone.now() - timedelta(hours=25)
    )

    book_shipment(order=ShippableOrderFactory())

    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert StaffAlert.objects.filter(subject__startswith="Webhook endpoint disabled").count() == 1


def test_redirects_are_not_followed_and_timeouts_are_failures(receivers, desk, settings):
    settings.WEBHOOK_TIMEOUT = 0.5
    endpoint, inbox = receivers("erp")
    elsewhere, elsewhere_inbox = receivers("elsewhere", ["return.refunded"])
    inbox.faults = [{"status": 302, "location": elsewhere.url}, {"delay": 2}]
    inbox.save()

    book_shipment(order=ShippableOrderFactory())
    d = WebhookDelivery.objects.get()
    assert d.response_status == 302 and "redirects are not followed" in d.last_error
    assert received(elsewhere_inbox, accepted_only=False) == []
    _due_now(d)
    tasks.dispatch_due_webhooks()
    d.refresh_from_db()
    assert d.state == WebhookDelivery.State.PENDING and "Timeout" in d.last_error
    # The receiver still answers, late: let it finish before the test's database goes away.
    deadline = time.monotonic() + 10
    while SandboxRequest.objects.filter(store=inbox).count() < 2 and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("ftp://example.com/hook", False),
        ("file:///etc/passwd", False),
        ("http://127.0.0.1:8000/hook", False),
        ("http://10.1.2.3/hook", False),
        ("http://[::1]/hook", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("https://8.8.8.8/hook", True),
    ],
)
def test_only_public_http_urls_unless_private_ones_are_allowed(url, allowed, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    if allowed:
        delivery.check_url(url)
    else:
        with pytest.raises(delivery.UnsafeURL):
            delivery.check_url(url)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    if url.startswith("http"):
        delivery.check_url(url)


def test_recording_events_costs_no_query_when_nobody_subscribes(db, django_assert_num_queries):
    from orders.models import OrderEvent
    from orders.services import record_event
    from tests.factories import OrderFactory

    order = OrderFactory()
    WebhookEndpointFactory(event_types=["return.requested"])  # subscribed to something else
    record_event(order, OrderEvent.Kind.BOOKED, "warm the cache", data={"shipment_id": 1})
    with django_assert_num_queries(1):  # the event's INSERT, nothing else
        record_event(order, OrderEvent.Kind.BOOKED, "booked", data={"shipment_id": 1})
    WebhookEndpoint.objects.all().delete()
    record_event(order, OrderEvent.Kind.NOTE, "warm")
    with django_assert_num_queries(1):
        record_event(order, OrderEvent.Kind.BOOKED, "booked", data={"shipment_id": 1})
    assert WebhookDelivery.objects.count() == 0


def test_an_endpoint_deleted_in_another_process_does_not_break_a_booking(receivers, desk):
    endpoint, inbox = receivers("erp")
    book_shipment(order=ShippableOrderFactory())  # the subscriptions are cached now
    # Deleted elsewhere: this process's cache still lists it (a queryset delete clears nothing).
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()

    shipment = book_shipment(order=ShippableOrderFactory())

    assert shipment.pk and WebhookDelivery.objects.count() == 0


def test_the_every_minute_dispatcher_is_scheduled_after_migrate(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="dispatch_due_webhooks")
    assert schedule.func == "api.tasks.dispatch_due_webhooks" and schedule.minutes == 1
