"""The outbox to Etsy, through the sandbox over HTTP. Etsy's createReceiptShipment names no lines
and its first call marks the whole receipt shipped, so a split order's earlier parcels are kept
until the last one; a shipment Etsy has cannot be taken back through the API, so staff are told
the exact step; and a push is sent at most once when a worker dies mid-push."""

import random
from datetime import timedelta

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders import pushing, retracting, services
from orders.alerts import send_due_alerts
from orders.models import AlertSubscription, Fulfilment, Order, StaffAlert
from orders.tasks import run_sync
from sandbox.generators.etsy import add_receipt, ensure_listings, make_receipt
from sandbox.models import SandboxOrder, SandboxRequest
from tests.factories import UserFactory


def imported(channel, store, items):
    """An Etsy receipt with these (SKU, quantity) transactions, synced in: (Order, {SKU: transaction id})."""
    ensure_listings(store)
    receipt = make_receipt(store, rng=random.Random(11))
    base = {**receipt["transactions"][0], "is_digital": False, "listing_id": 5001}
    receipt["transactions"] = [
        {**base, "transaction_id": receipt["receipt_id"] * 10 + i, "sku": sku, "quantity": qty}
        for i, (sku, qty) in enumerate(items)
    ]
    receipt["country_iso"] = "GB"
    add_receipt(store, receipt)
    assert not run_sync(channel).errors
    order = Order.objects.get(channel=channel, external_id=str(receipt["receipt_id"]))
    return order, {t["sku"]: t["transaction_id"] for t in receipt["transactions"]}


def ship(order, tracking, lines, carrier="Royal Mail"):
    fulfilment = services.record_fulfilment(
        order=order,
        tracking_number=tracking,
        carrier_name=carrier,
        lines=[[str(line), qty] for line, qty in lines],
    )
    fulfilment.refresh_from_db()
    return fulfilment


def pushes(store):
    return [
        r.parsed
        for r in SandboxRequest.objects.filter(store=store, path__endswith="/tracking").order_by("id")
    ]


def receipt_of(order):
    return SandboxOrder.objects.get(external_id=order.external_id).data


def test_a_split_order_is_kept_until_its_last_parcel_then_etsy_gets_every_tracking_number(
    etsy_sandbox, staff_client
):
    channel, store = etsy_sandbox
    channel.default_note = "Thank you for your order!"
    channel.save()
    order, ids = imported(channel, store, [("MUG-RED-L", 2), ("TEE-ORG", 1)])

    first = ship(order, "1Z999AA10123456784", [(ids["MUG-RED-L"], 2)], carrier="UPS")

    assert first.state == Fulfilment.State.PENDING and not pushes(store)  # Etsy would mark it all shipped
    assert first.last_error == "kept: Etsy-Main can only mark the whole order; sent with the last parcel"
    assert first.pk not in pushing.due_fulfilment_ids()
    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "kept: Etsy-Main can only mark the whole order; sent with the last parcel" in page
    assert not receipt_of(order)["is_shipped"]

    last = ship(order, "JD000000002GB", [(ids["TEE-ORG"], 1)])

    assert pushes(store) == [
        {
            "tracking_code": "JD000000002GB",
            "carrier_name": "royal-mail",
            "send_bcc": "false",
            "note_to_buyer": "Thank you for your order!",
        },
        {
            "tracking_code": "1Z999AA10123456784",
            "carrier_name": "ups",
            "send_bcc": "false",
            "note_to_buyer": "Thank you for your order!",
        },
    ]
    receipt = receipt_of(order)
    assert receipt["is_shipped"] and [
        (s["tracking_code"], s["carrier_name"]) for s in receipt["shipments"]
    ] == [("JD000000002GB", "royal-mail"), ("1Z999AA10123456784", "ups")]
    first.refresh_from_db()
    last.refresh_from_db()
    assert first.state == last.state == Fulfilment.State.SENT
    assert first.remote_id == str(receipt["shipments"][1]["receipt_shipping_id"]) and not first.last_error
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED


def test_a_kept_parcel_whose_label_is_cancelled_is_withdrawn_without_a_word_to_etsy(etsy_sandbox):
    channel, store = etsy_sandbox
    order, ids = imported(channel, store, [("MUG-RED-L", 1), ("TEE-ORG", 1)])
    kept = ship(order, "JD000000003GB", [(ids["MUG-RED-L"], 1)])

    words = retracting.retract_fulfilment(kept, reason="label JD000000003GB voided")

    assert words == "Tracking JD000000003GB had not been sent to Etsy-Main; it never will be."
    assert not Fulfilment.objects.filter(pk=kept.pk).exists() and not pushes(store)
    assert order.events.filter(
        message="Tracking JD000000003GB withdrawn before it was sent to Etsy-Main: label JD000000003GB voided"
    ).exists()


def test_a_cancelled_label_etsy_was_told_of_needs_one_manual_step_and_staff_hear_once(
    etsy_sandbox, staff_client
):
    channel, store = etsy_sandbox
    AlertSubscription.objects.create(
        user=UserFactory(username="ops", email="ops@example.test"), all_channels=True
    )
    order, ids = imported(channel, store, [("MUG-RED-L", 1)])
    fulfilment = ship(order, "JD000000004GB", [(ids["MUG-RED-L"], 1)])
    assert fulfilment.state == Fulfilment.State.SENT

    retracting.retract_fulfilment(fulfilment, reason="label JD000000004GB voided")

    fulfilment.refresh_from_db()
    step = (
        f"On Etsy: Shop Manager › Orders & Shipping › Completed › receipt {order.external_id} › Update tracking: "
        "remove tracking JD000000004GB (royal-mail). Etsy's API cannot take a shipment back."
    )
    assert fulfilment.state == Fulfilment.State.ATTENTION and fulfilment.attention == step
    assert len(pushes(store)) == 1  # nothing more was sent to Etsy
    assert StaffAlert.objects.get().subject == f"Needs attention on Etsy-Main: {order}"
    assert send_due_alerts() == 1 and len(mail.outbox) == 1 and step in mail.outbox[0].body
    assert retracting.attention_count() == 1 and fulfilment.pk not in pushing.due_fulfilment_ids()
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_SHIPMENT
    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Needs attention: On Etsy: Shop Manager" in page
    page = staff_client.get(reverse("admin:orders_fulfilment_change", args=[fulfilment.pk])).content.decode()
    assert "Needs attention" in page and "Update tracking: remove tracking JD000000004GB" in page

    response = staff_client.post(
        reverse("admin:orders_fulfilment_changelist"),
        {"action": "attention_done", "_selected_action": [fulfilment.pk]},
        follow=True,
    )

    assert "1 fulfilment(s) marked done on the channel" in response.content.decode()
    fulfilment.refresh_from_db()
    assert fulfilment.state == Fulfilment.State.CANCELLED and fulfilment.attention_done_at
    assert retracting.attention_count() == 0 and StaffAlert.objects.count() == 1
    assert order.events.filter(message=f"Done on Etsy-Main by staff: {step}").exists()


def test_a_retraction_whose_task_was_lost_is_picked_up_by_the_dispatcher(etsy_sandbox):
    channel, store = etsy_sandbox
    order, ids = imported(channel, store, [("MUG-RED-L", 1)])
    fulfilment = ship(order, "JD000000005GB", [(ids["MUG-RED-L"], 1)])
    Fulfilment.objects.filter(pk=fulfilment.pk).update(
        retract_requested_at=timezone.now(), next_attempt_at=timezone.now()
    )

    assert pushing.due_fulfilment_ids() == [fulfilment.pk]
    assert pushing.push_due() == (0, 1)

    fulfilment.refresh_from_db()
    assert fulfilment.state == Fulfilment.State.ATTENTION and pushing.due_fulfilment_ids() == []


def test_a_push_whose_worker_died_after_etsy_had_it_is_recorded_sent_not_sent_again(etsy_sandbox):
    channel, store = etsy_sandbox
    order, ids = imported(channel, store, [("MUG-RED-L", 1)])
    fulfilment = Fulfilment.objects.create(
        order=order,
        tracking_number="JD000000006GB",
        carrier_name="Royal Mail",
        lines=[[str(ids["MUG-RED-L"]), 1]],
    )
    sent = channel.connector().push_fulfilment(pushing.remote_fulfilment(fulfilment))  # Etsy has it…
    stale = timezone.now() - timedelta(seconds=pushing.claim_seconds() + 5)
    Fulfilment.objects.filter(pk=fulfilment.pk).update(  # …and the worker died before recording it
        attempts=1, claimed_at=stale, claimed_by="worker-2:4242", last_error="attempt 1 (send) started"
    )

    assert pushing.due_fulfilment_ids() == [fulfilment.pk]
    assert pushing.push_due(channel) == (1, 0)

    fulfilment.refresh_from_db()
    assert fulfilment.state == Fulfilment.State.SENT and fulfilment.remote_id == sent.remote_id
    assert len(pushes(store)) == 1
    assert [s["tracking_code"] for s in receipt_of(order)["shipments"]] == ["JD000000006GB"]
    assert order.events.filter(
        message__contains="was already on Etsy-Main (an earlier attempt reached it)"
    ).exists()


def test_the_carrier_that_carries_the_parcel_is_named_in_etsys_words(etsy_sandbox, shopify_sandbox):
    etsy, shopify = etsy_sandbox[0].connector(), shopify_sandbox[0].connector()

    assert [etsy.carrier_name(c) for c in ("UPS", "ups", "DHL Express", "dhl_express", "Bob's Couriers")] == [
        "ups",
        "ups",
        "dhl-express",
        "dhl-express",
        "other",
    ]
    assert [shopify.carrier_name(c) for c in ("UPS", "ups", "royal_mail", "Bob's Couriers")] == [
        "UPS",
        "UPS",
        "Royal Mail",
        "Bob's Couriers",
    ]


def test_etsy_refuses_a_carrier_name_it_does_not_know(etsy_sandbox):
    import requests

    channel, store = etsy_sandbox
    order, _ = imported(channel, store, [("MUG-RED-L", 1)])
    c = channel.credentials
    response = requests.post(
        f"{channel.api_base_url}/shops/{channel.shop_id}/receipts/{order.external_id}/tracking",
        data={"tracking_code": "X1", "carrier_name": "UPS"},
        timeout=5,
        headers={
            "x-api-key": f"{c['keystring']}:{c['shared_secret']}",
            "Authorization": f"Bearer {c['access_token']}",
        },
    )

    assert response.status_code == 400 and "not a known shipping carrier" in response.json()["error"]
    assert not receipt_of(order)["shipments"]


def test_a_relabel_on_etsy_sends_the_new_tracking_and_asks_staff_to_remove_the_old_one(etsy_sandbox):
    from django.db import transaction

    channel, store = etsy_sandbox
    order, ids = imported(channel, store, [("MUG-RED-L", 1)])
    old = ship(order, "JD000000007GB", [(ids["MUG-RED-L"], 1)])
    retracting.retract_fulfilment(old, reason="label JD000000007GB voided", relabel=True)

    with transaction.atomic():
        new = services.record_fulfilment(
            order=order,
            tracking_number="JD000000008GB",
            carrier_name="Royal Mail",
            lines=[[str(ids["MUG-RED-L"]), 1]],
        )
        Fulfilment.objects.filter(pk=new.pk).update(replaces=old)

    assert [p["tracking_code"] for p in pushes(store)] == ["JD000000007GB", "JD000000008GB"]
    old.refresh_from_db()
    new.refresh_from_db()
    assert new.state == Fulfilment.State.SENT and old.state == Fulfilment.State.ATTENTION
    assert old.attention.startswith(
        f"On Etsy: Shop Manager › Orders & Shipping › Completed › receipt "
        f"{order.external_id} › Update tracking: remove tracking JD000000007GB"
    )
    assert retracting.attention_count(channel) == 1
