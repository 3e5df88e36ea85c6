"""Webhooks: signatures checked in constant time, repeated deliveries done once, a sync queued
(run inline here: Q_CLUSTER sync=True) that imports what changed.

The end-to-end cases run against the sandbox over HTTP; the others only need to know whether a
sync was queued, which is the on-commit callback the view registers."""

import base64
import hashlib
import hmac
import json
import time

import pytest

from channels.models import WebhookEvent
from orders.models import Order
from sandbox.generators import ecwid as ecwid_orders
from sandbox.generators import shopify as shopify_orders

SHOPIFY_SECRET, ECWID_SECRET = "shpss_sandbox_secret", "ecwid_client_secret"


def sign(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def shopify_post(client, channel, *, event_id="evt-1", topic="orders/create", raw=None, signature=None):
    raw = raw if raw is not None else json.dumps({"id": 5550000001, "name": "#1001"}).encode()
    return client.post(
        f"/webhooks/{channel.pk}/shopify/",
        data=raw,
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC=topic,
        HTTP_X_SHOPIFY_EVENT_ID=event_id,
        HTTP_X_SHOPIFY_WEBHOOK_ID=f"wh-{event_id}",
        HTTP_X_SHOPIFY_SHOP_DOMAIN=channel.shop_id,
        HTTP_X_SHOPIFY_API_VERSION="2024-07",
        HTTP_X_SHOPIFY_HMAC_SHA256=signature if signature is not None else sign(SHOPIFY_SECRET, raw),
    )


def ecwid_post(
    client, channel, *, event_id="evt-1", event_type="order.created", store_id=None, secret=ECWID_SECRET
):
    created = int(time.time())
    body = {
        "eventId": event_id,
        "eventCreated": created,
        "storeId": int(store_id or channel.shop_id),
        "entityId": 1021,
        "eventType": event_type,
        "data": {"oldPaymentStatus": "AWAITING_PAYMENT", "newPaymentStatus": "PAID"},
    }
    return client.post(
        f"/webhooks/{channel.pk}/ecwid/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_X_ECWID_WEBHOOK_SIGNATURE=sign(secret, f"{created}.{event_id}".encode()),
    )


# -- end to end: the queued sync imports the order from the sandbox


def test_a_signed_shopify_webhook_queues_a_sync_that_imports_the_order(shopify_sandbox, client):
    channel, store = shopify_sandbox
    [placed] = shopify_orders.generate(store, 1, mix=False)

    response = shopify_post(client, channel, event_id="evt-create-1")

    assert response.status_code == 200 and response.json() == {"status": "queued"}
    assert list(Order.objects.values_list("external_id", flat=True)) == [placed.external_id]
    event = WebhookEvent.objects.get()
    assert (event.channel, event.topic) == (channel, "orders/create")
    assert event.event_id.startswith("sha256:")  # what Shopify signed (the body), not its unsigned event id


def test_a_repeated_shopify_delivery_is_processed_once(shopify_sandbox, client):
    channel, store = shopify_sandbox
    shopify_orders.generate(store, 1, mix=False)
    assert shopify_post(client, channel, event_id="evt-7").status_code == 200
    shopify_orders.generate(store, 1, mix=False)  # a second order appears; only a new event may fetch it

    again = shopify_post(client, channel, event_id="evt-7")

    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert Order.objects.count() == 1 and WebhookEvent.objects.count() == 1
    assert shopify_post(client, channel, event_id="evt-8", topic="orders/updated").json() == {
        "status": "queued"
    }
    assert Order.objects.count() == 2


def test_a_signed_ecwid_event_queues_a_sync_that_imports_the_order(ecwid_sandbox, client):
    channel, store = ecwid_sandbox
    [placed] = ecwid_orders.generate(store, 1, mix=False)

    response = ecwid_post(client, channel, event_id="08a1ec8d-10f6-4d8e-90b3-4dc4d0e6f3b0")

    assert response.status_code == 200 and response.json() == {"status": "queued"}
    assert list(Order.objects.values_list("external_id", flat=True)) == [placed.external_id]
    assert WebhookEvent.objects.get().topic == "order.created"


# -- refused, repeated, ignored


@pytest.mark.parametrize(
    "raw,signature",
    [
        (b'{"id": 1}', sign("wrong-secret", b'{"id": 1}')),
        (b'{"id": 1}', ""),
        (b'{"id": 2}', sign(SHOPIFY_SECRET, b'{"id": 1}')),
    ],
    ids=["wrong-secret", "no-signature", "body-changed-after-signing"],
)
def test_a_shopify_webhook_with_a_bad_signature_is_refused(
    shopify_channel, client, django_capture_on_commit_callbacks, raw, signature
):
    with django_capture_on_commit_callbacks() as queued:
        response = shopify_post(client, shopify_channel, raw=raw, signature=signature)

    assert response.status_code == 401
    assert not queued and not WebhookEvent.objects.exists()


def test_a_channel_without_a_webhook_secret_refuses_every_webhook(shopify_channel, client):
    shopify_channel.credentials = {"access_token": "shpat_x"}
    shopify_channel.save()
    assert shopify_post(client, shopify_channel).status_code == 401


@pytest.mark.parametrize(
    "kwargs",
    [{"secret": "not-the-client-secret"}, {"store_id": "999"}],
    ids=["wrong-secret", "another-store"],
)
def test_an_ecwid_event_with_a_bad_signature_or_for_another_store_is_refused(
    ecwid_channel, client, django_capture_on_commit_callbacks, kwargs
):
    with django_capture_on_commit_callbacks() as queued:
        response = ecwid_post(client, ecwid_channel, **kwargs)

    assert response.status_code == 401
    assert not queued and not WebhookEvent.objects.exists()


def test_a_repeated_ecwid_event_is_queued_once(ecwid_channel, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as first:
        ecwid_post(client, ecwid_channel, event_id="evt-1")
    with django_capture_on_commit_callbacks() as again:
        response = ecwid_post(client, ecwid_channel, event_id="evt-1", event_type="order.updated")

    assert len(first) == 1 and not again
    assert response.json() == {"status": "duplicate"} and WebhookEvent.objects.count() == 1


@pytest.mark.parametrize(
    "kind,post,topic",
    [("shopify", shopify_post, "products/update"), ("ecwid", ecwid_post, "unfinished_order.created")],
)
def test_events_that_are_not_about_orders_are_acknowledged_without_a_sync(
    request, client, django_capture_on_commit_callbacks, kind, post, topic
):
    channel = request.getfixturevalue(f"{kind}_channel")
    with django_capture_on_commit_callbacks() as queued:
        response = post(client, channel, **({"topic": topic} if kind == "shopify" else {"event_type": topic}))

    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    assert not queued


def test_a_webhook_for_an_unknown_channel_or_the_wrong_kind_is_not_found(ecwid_channel, client):
    def post(url):
        return client.post(url, data="{}", content_type="application/json").status_code

    assert post(f"/webhooks/{ecwid_channel.pk + 1}/ecwid/") == 404
    assert post(f"/webhooks/{ecwid_channel.pk}/shopify/") == 404
    assert post(f"/webhooks/{ecwid_channel.pk}/etsy/") == 404
    assert client.get(f"/webhooks/{ecwid_channel.pk}/ecwid/").status_code == 405
