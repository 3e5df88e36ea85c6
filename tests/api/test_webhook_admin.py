"""Staff register webhook endpoints, see each delivery, resend one, test and re-enable endpoints."""

from django.urls import reverse
from django.utils import timezone

from api.models import WebhookDelivery, WebhookEndpoint
from sandbox.webhooks import received, receiver
from shipping.booking import book_shipment
from tests.api import webhook_fixtures
from tests.factories import WebhookEndpointFactory
from tests.shipping.factories import ShippableOrderFactory

# Fixtures shared by the webhook tests (a conftest of their own would clash with the API's tests).
receivers, desk = webhook_fixtures.receivers, webhook_fixtures.desk


def test_staff_register_an_endpoint_choosing_event_types_and_see_its_secret(staff_client, live_server):
    add = reverse("admin:api_webhookendpoint_add")
    page = staff_client.get(add).content.decode()
    assert "shipment.booked" in page and "return.requested" in page and "whsec_" not in page

    response = staff_client.post(
        add,
        {
            "url": f"{live_server.url}/sandbox/webhooks/erp/",
            "description": "Our ERP",
            "event_types": ["shipment.booked", "order.cancelled"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["shipment.booked", "order.cancelled"]
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    change = staff_client.get(
        reverse("admin:api_webhookendpoint_change", args=[endpoint.pk])
    ).content.decode()
    assert endpoint.secret in change


def test_an_endpoint_with_a_non_http_url_is_refused(staff_client, settings):
    response = staff_client.post(
        reverse("admin:api_webhookendpoint_add"),
        {"url": "ftp://example.com/x", "description": "x", "event_types": ["shipment.booked"]},
    )
    assert response.status_code == 200 and not WebhookEndpoint.objects.exists()
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = staff_client.post(
        reverse("admin:api_webhookendpoint_add"),
        {"url": "http://127.0.0.1:8000/x", "description": "x", "event_types": ["shipment.booked"]},
    )
    assert "private address" in response.content.decode() and not WebhookEndpoint.objects.exists()


def test_send_a_test_event_then_resend_it_with_the_same_webhook_id(staff_client, receivers):
    endpoint, inbox = receivers("erp")
    changelist = reverse("admin:api_webhookendpoint_changelist")

    response = staff_client.post(
        changelist, {"action": "send_test", "_selected_action": [endpoint.pk]}, follow=True
    )
    assert "1 test event queued" in response.content.decode()
    d = WebhookDelivery.objects.get()
    assert d.event_type == "webhook.test" and d.state == WebhookDelivery.State.SUCCEEDED
    assert [g["type"] for g in received(inbox)] == ["webhook.test"]

    page = staff_client.get(reverse("admin:api_webhookdelivery_change", args=[d.pk])).content.decode()
    assert d.webhook_id in page and "webhook-signature" in page and "A test event from Shipdesk" in page
    assert "Delivered" in page

    response = staff_client.post(
        reverse("admin:api_webhookdelivery_changelist"),
        {"action": "resend", "_selected_action": [d.pk]},
        follow=True,
    )
    assert "1 delivery queued again" in response.content.decode()
    got = received(inbox)
    assert [g["webhook_id"] for g in got] == [d.webhook_id, d.webhook_id]
    assert got[1]["duplicate"]
    d.refresh_from_db()
    assert d.attempts == 2 and d.state == WebhookDelivery.State.SUCCEEDED


def test_re_enabling_a_disabled_endpoint_sends_what_waited(staff_client, receivers, desk):
    endpoint, inbox = receivers("erp")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason="kept failing"
    )
    waiting = WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="shipment.booked", body='{"type":"shipment.booked"}'
    )
    book_shipment(order=ShippableOrderFactory())  # a disabled endpoint gets no new rows
    assert WebhookDelivery.objects.count() == 1

    response = staff_client.post(
        reverse("admin:api_webhookendpoint_changelist"),
        {"action": "enable", "_selected_action": [endpoint.pk]},
        follow=True,
    )

    assert "1 endpoint re-enabled" in response.content.decode()
    endpoint.refresh_from_db()
    waiting.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_reason == ""
    assert waiting.state == WebhookDelivery.State.SUCCEEDED
    assert [g["webhook_id"] for g in received(inbox)] == [waiting.webhook_id]
    book_shipment(order=ShippableOrderFactory())  # and new events reach it again
    assert len(received(inbox)) == 2


def test_the_lists_cost_the_same_queries_for_one_row_or_many(staff_client, django_assert_max_num_queries):
    receiver("erp", "whsec_" + "A" * 43)

    def load(url):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert staff_client.get(url).status_code == 200
        return len(ctx)

    endpoints = reverse("admin:api_webhookendpoint_changelist")
    deliveries = reverse("admin:api_webhookdelivery_changelist")
    first = WebhookEndpointFactory()
    WebhookDelivery.objects.create(endpoint=first, event_type="shipment.booked", body="{}")
    one = (load(endpoints), load(deliveries))
    for _ in range(30):
        e = WebhookEndpointFactory()
        WebhookDelivery.objects.create(endpoint=e, event_type="shipment.booked", body="{}")
    assert (load(endpoints), load(deliveries)) == one
