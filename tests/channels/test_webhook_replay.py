"""Replayed and stale webhooks change nothing: deduplication covers what the channel signed
(Shopify: the body, with the topic; Ecwid: the event id and its creation time), and a delivery
dated outside WEBHOOK_MAX_AGE_SECONDS is acknowledged without queueing a sync."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

from channels.models import WebhookEvent
from tests.channels.test_webhooks import ECWID_SECRET, SHOPIFY_SECRET, shopify_post, sign


def queued_syncs(callbacks) -> int:
    return len(callbacks)


def test_a_captured_shopify_body_replayed_with_new_event_ids_queues_nothing(
    shopify_channel,
    client,
    django_capture_on_commit_callbacks,
):
    raw = json.dumps({"id": 5550000001, "name": "#1001", "updated_at": "2026-12-04T10:00:00Z"}).encode()
    with django_capture_on_commit_callbacks() as first:
        assert shopify_post(client, shopify_channel, event_id="evt-1", raw=raw).json()["status"] == "queued"
    for new_id in ["evt-2", "evt-3", ""]:
        with django_capture_on_commit_callbacks() as again:
            response = shopify_post(client, shopify_channel, event_id=new_id, raw=raw)
        assert response.json()["status"] == "duplicate"
        assert queued_syncs(again) == 0
    assert queued_syncs(first) == 1
    assert WebhookEvent.objects.count() == 1
    # The same body under another topic is another delivery.
    with django_capture_on_commit_callbacks() as other:
        assert (
            shopify_post(client, shopify_channel, raw=raw, topic="orders/updated").json()["status"]
            == "queued"
        )
    assert queued_syncs(other) == 1


def test_a_shopify_delivery_triggered_outside_the_window_is_ignored(
    shopify_channel,
    client,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_MAX_AGE_SECONDS = 600
    raw = json.dumps({"id": 5550000002}).encode()
    old = (datetime.now(UTC) - timedelta(minutes=11)).isoformat()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            f"/webhooks/{shopify_channel.pk}/shopify/",
            data=raw,
            content_type="application/json",
            HTTP_X_SHOPIFY_TOPIC="orders/create",
            HTTP_X_SHOPIFY_TRIGGERED_AT=old,
            HTTP_X_SHOPIFY_HMAC_SHA256=sign(SHOPIFY_SECRET, raw),
        )
    assert response.status_code == 200 and response.json()["status"] == "stale"
    assert queued_syncs(callbacks) == 0 and not WebhookEvent.objects.exists()
    fresh = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
    response = client.post(
        f"/webhooks/{shopify_channel.pk}/shopify/",
        data=raw,
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC="orders/create",
        HTTP_X_SHOPIFY_TRIGGERED_AT=fresh,
        HTTP_X_SHOPIFY_HMAC_SHA256=sign(SHOPIFY_SECRET, raw),
    )
    assert response.json()["status"] == "queued"


def ecwid_event(channel, *, event_id: str, created: int):
    body = {
        "eventId": event_id,
        "eventCreated": created,
        "storeId": int(channel.shop_id),
        "entityId": 1,
        "eventType": "order.updated",
        "data": {},
    }
    return body, sign(ECWID_SECRET, f"{created}.{event_id}".encode())


def test_an_old_ecwid_event_is_ignored_and_its_date_cannot_be_refreshed(
    ecwid_channel,
    client,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_MAX_AGE_SECONDS = 600
    old = int(time.time()) - 3600
    body, signature = ecwid_event(ecwid_channel, event_id="e-old", created=old)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            f"/webhooks/{ecwid_channel.pk}/ecwid/",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_X_ECWID_WEBHOOK_SIGNATURE=signature,
        )
    assert response.json()["status"] == "stale" and queued_syncs(callbacks) == 0
    # eventCreated is signed: bumping it to now breaks the signature.
    body["eventCreated"] = int(time.time())
    response = client.post(
        f"/webhooks/{ecwid_channel.pk}/ecwid/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_X_ECWID_WEBHOOK_SIGNATURE=signature,
    )
    assert response.status_code == 401


def test_a_stale_sendcloud_delivery_changes_no_parcel(db, client, settings):
    from tests.shipping.factories import SendcloudAccountFactory, ShipmentFactory

    settings.WEBHOOK_MAX_AGE_SECONDS = 600
    account = SendcloudAccountFactory()
    secret = account.credentials.get("secret_key") or account.credentials.get("webhook_secret")
    shipment = ShipmentFactory(carrier_account=account, external_id="777", tracking_number="3SSEND0001")

    def post(ts):
        body = json.dumps(
            {
                "action": "parcel_status_changed",
                "timestamp": ts,
                "parcel": {
                    "id": 777,
                    "tracking_number": "3SSEND0001",
                    "status": {"id": 11, "message": "Delivered"},
                },
            }
        ).encode()
        return client.post(
            f"/webhooks/carriers/{account.pk}/",
            data=body,
            content_type="application/json",
            HTTP_SENDCLOUD_SIGNATURE=hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        )

    response = post(int((time.time() - 3600) * 1000))
    assert response.status_code == 200 and response.json()["shipments"] == 0
    shipment.refresh_from_db()
    assert shipment.status == "booked" and not shipment.tracking_events.exists()
    assert post(int(time.time() * 1000)).json()["shipments"] == 1
