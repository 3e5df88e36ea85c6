"""The outbox to Shopify, through the sandbox over HTTP: exactly the parcel's lines per
fulfillment order, never a gift card's, cancelled or relabelled after the push, and sent at most
once when a worker dies mid-push."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from orders import pushing, retracting, services
from orders.models import Fulfilment, Order
from orders.tasks import run_sync
from sandbox import shopify as sandbox_shopify
from sandbox.generators.shopify import add_order, ensure_products, make_order
from sandbox.models import SandboxOrder, SandboxRequest

FO = sandbox_shopify.FO_OFFSET


def imported(channel, store, items):
    """A Shopify order with these (SKU, quantity) lines, synced in: (Order, sandbox order, {SKU: line id})."""
    ensure_products(store)
    sandbox_order = add_order(store, make_order(store, items=items))
    assert not run_sync(channel).errors
    order = Order.objects.get(channel=channel, external_id=sandbox_order.external_id)
    return order, sandbox_order, {li["sku"]: li["id"] for li in sandbox_order.data["line_items"]}


def ship(order, tracking, lines, carrier="Royal Mail"):
    """A parcel holding `lines` [(line id, quantity)]: recorded, and pushed once that commits."""
    fulfilment = services.record_fulfilment(
        order=order,
        tracking_number=tracking,
        carrier_name=carrier,
        tracking_url=f"https://track.example/{tracking}",
        lines=[[str(line), qty] for line, qty in lines],
    )
    fulfilment.refresh_from_db()
    return fulfilment


def fulfillment_posts(store):
    return [
        r.parsed["fulfillment"]
        for r in SandboxRequest.objects.filter(
            store=store, method="POST", path__endswith="/fulfillments.json"
        ).order_by("id")
    ]


def remote(sandbox_order):
    sandbox_order.refresh_from_db()
    return sandbox_order.data


def test_a_split_order_tells_shopify_each_parcels_lines_and_quantities(shopify_sandbox):
    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 2), ("TEE-M-BLK", 1)])
    fo = int(sandbox_order.external_id) + FO

    first = ship(order, "RM1", [(ids["MUG-RED"], 1)])
    order.refresh_from_db()
    assert first.state == Fulfilment.State.SENT and order.status == Order.Status.PARTLY_SHIPPED
    assert remote(sandbox_order)["fulfillment_status"] == "partial"
    second = ship(order, "RM2", [(ids["MUG-RED"], 1), (ids["TEE-M-BLK"], 1)])

    assert [p["line_items_by_fulfillment_order"] for p in fulfillment_posts(store)] == [
        [
            {
                "fulfillment_order_id": fo,
                "fulfillment_order_line_items": [{"id": ids["MUG-RED"] + FO, "quantity": 1}],
            }
        ],
        [
            {
                "fulfillment_order_id": fo,
                "fulfillment_order_line_items": [
                    {"id": ids["MUG-RED"] + FO, "quantity": 1},
                    {"id": ids["TEE-M-BLK"] + FO, "quantity": 1},
                ],
            }
        ],
    ]
    assert [p["tracking_info"]["number"] for p in fulfillment_posts(store)] == ["RM1", "RM2"]
    second.refresh_from_db()
    shopify = remote(sandbox_order)
    assert shopify["fulfillment_status"] == "fulfilled"
    assert [f["tracking_number"] for f in shopify["fulfillments"]] == ["RM1", "RM2"]
    assert second.state == Fulfilment.State.SENT and second.remote_id == str(shopify["fulfillments"][1]["id"])
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED


def test_a_quantity_spread_over_two_fulfillment_orders_takes_from_each_only_what_is_left(shopify_sandbox):
    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 3)])
    # Shopify holds the three mugs on two fulfillment orders of the same location (1 + 2).
    data = sandbox_order.data
    mug = ids["MUG-RED"]
    data["_fulfillment_orders"] = [
        {
            "n": n,
            "handle": "manual",
            "method_type": "shipping",
            "request_status": "unsubmitted",
            "accepted": False,
            "merchant_requests": [],
            "lines": [{"line_item_id": mug, "quantity": q, "fulfillable_quantity": q}],
        }
        for n, q in ((1, 1), (2, 2))
    ]
    SandboxOrder.objects.filter(pk=sandbox_order.pk).update(data=data)

    fulfilment = ship(order, "RM3", [(mug, 2)])  # two of the three

    assert fulfilment.state == Fulfilment.State.SENT, fulfilment.last_error
    [post] = fulfillment_posts(store)
    base = int(sandbox_order.external_id)
    assert post["line_items_by_fulfillment_order"] == [
        {
            "fulfillment_order_id": base + FO,
            "fulfillment_order_line_items": [{"id": mug + FO, "quantity": 1}],
        },
        {
            "fulfillment_order_id": base + 2 * FO,
            "fulfillment_order_line_items": [{"id": mug + 2 * FO, "quantity": 1}],
        },
    ]
    shopify = remote(sandbox_order)
    assert shopify["line_items"][0]["fulfillable_quantity"] == 1
    assert [
        (f["status"], f["line_items"][0]["fulfillable_quantity"])
        for f in sandbox_shopify.fulfillment_orders(store, shopify)
    ] == [("closed", 0), ("in_progress", 1)]


def test_a_gift_cards_fulfillment_order_is_never_named(shopify_sandbox):
    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 1), ("GIFT-CARD-25", 1)])
    shipping_fo, gift_fo = sandbox_shopify.fulfillment_orders(store, sandbox_order.data)
    assert gift_fo["delivery_method"]["method_type"] == "none"
    assert [li["line_item_id"] for li in gift_fo["line_items"]] == [ids["GIFT-CARD-25"]]

    # Even asked for "everything" (no lines named), the connector leaves the gift card alone.
    channel.connector().push_fulfilment(
        pushing.RemoteFulfilment(
            order_external_id=order.external_id, tracking_number="1Z999AA10123456784", carrier="UPS"
        )
    )

    [post] = fulfillment_posts(store)
    assert post["line_items_by_fulfillment_order"] == [{"fulfillment_order_id": shipping_fo["id"]}]
    assert post["tracking_info"]["company"] == "UPS"
    gift_fo = sandbox_shopify.fulfillment_orders(store, remote(sandbox_order))[1]
    assert (gift_fo["status"], gift_fo["line_items"][0]["fulfillable_quantity"]) == ("open", 1)


def test_a_cancelled_label_cancels_the_fulfillment_on_shopify_and_its_lines_open_again(shopify_sandbox):
    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 1)])
    fulfilment = ship(order, "RM4", [(ids["MUG-RED"], 1)])
    assert remote(sandbox_order)["fulfillment_status"] == "fulfilled"

    words = retracting.retract_fulfilment(fulfilment, reason="label RM4 voided")

    assert words == "Shopify-Main had tracking RM4; Shipdesk is taking it back there."
    fulfilment.refresh_from_db()
    assert fulfilment.state == Fulfilment.State.CANCELLED
    [cancel] = SandboxRequest.objects.filter(store=store, path__endswith="/cancel.json")
    assert cancel.path.endswith(f"/fulfillments/{fulfilment.remote_id}/cancel.json")
    shopify = remote(sandbox_order)
    assert [f["status"] for f in shopify["fulfillments"]] == ["cancelled"]
    assert shopify["fulfillment_status"] is None and shopify["line_items"][0]["fulfillable_quantity"] == 1
    [fo] = sandbox_shopify.fulfillment_orders(store, shopify)
    assert (fo["status"], fo["line_items"][0]["fulfillable_quantity"]) == ("open", 1)
    assert order.events.filter(
        message="Withdrawn from Shopify-Main: Shopify-Main cancelled tracking RM4"
    ).exists()
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_SHIPMENT
    # Cancelling it again on Shopify is refused, as Shopify does.
    assert channel.connector().cancel_fulfilment(pushing.remote_fulfilment(fulfilment)).request == {
        "cancelled": [],
        "already_cancelled": [fulfilment.remote_id],
    }


def test_a_relabel_updates_the_tracking_of_the_fulfillment_shopify_has(shopify_sandbox):
    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 1)])
    old = ship(order, "RM5", [(ids["MUG-RED"], 1)])

    retracting.retract_fulfilment(old, reason="label RM5 voided", relabel=True)
    old.refresh_from_db()
    assert old.state == Fulfilment.State.SENT and old.retract_requested_at  # waiting for the new label
    with transaction.atomic():  # what a relabel booking records: the new parcel replaces the old one
        new = services.record_fulfilment(
            order=order,
            tracking_number="1Z999AA10123456784",
            carrier_name="UPS",
            lines=[[str(ids["MUG-RED"]), 1]],
        )
        Fulfilment.objects.filter(pk=new.pk).update(replaces=old)

    [update] = SandboxRequest.objects.filter(store=store, path__endswith="/update_tracking.json")
    assert update.path.endswith(f"/fulfillments/{old.remote_id}/update_tracking.json")
    assert update.parsed == {
        "fulfillment": {
            "tracking_info": {"number": "1Z999AA10123456784", "company": "UPS"},
            "notify_customer": True,
        }
    }
    assert len(fulfillment_posts(store)) == 1  # no second fulfillment
    [shopify_fulfillment] = remote(sandbox_order)["fulfillments"]
    assert (
        shopify_fulfillment["status"],
        shopify_fulfillment["tracking_number"],
        shopify_fulfillment["tracking_company"],
    ) == ("success", "1Z999AA10123456784", "UPS")
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.state == Fulfilment.State.CANCELLED and new.state == Fulfilment.State.SENT
    assert new.remote_id == old.remote_id
    assert order.events.filter(
        message="Withdrawn from Shopify-Main: tracking RM5 replaced by 1Z999AA10123456784 on Shopify-Main"
    ).exists()


def crashed_mid_push(order, lines, tracking):
    """What a worker killed right after Shopify answered leaves behind: the fulfillment exists on
    the channel, the row is still pending, its attempt recorded and its claim gone stale."""
    fulfilment = Fulfilment.objects.create(
        order=order,
        tracking_number=tracking,
        carrier_name="Royal Mail",
        lines=[[str(line), qty] for line, qty in lines],
    )
    sent = order.channel.connector().push_fulfilment(pushing.remote_fulfilment(fulfilment))
    stale = timezone.now() - timedelta(seconds=pushing.claim_seconds() + 5)
    Fulfilment.objects.filter(pk=fulfilment.pk).update(
        attempts=1, claimed_at=stale, claimed_by="worker-2:4242", last_error="attempt 1 (send) started"
    )
    return fulfilment, sent


def test_a_push_whose_worker_died_after_shopify_had_it_is_recorded_sent_not_sent_again(shopify_sandbox):
    channel, store = shopify_sandbox
    # Two mugs, one in this parcel: sent blind again, Shopify would fulfil the second mug with it.
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 2)])
    fulfilment, sent = crashed_mid_push(order, [(ids["MUG-RED"], 1)], "RM6")

    assert fulfilment.pk in pushing.due_fulfilment_ids()  # the dispatcher sees the dead claim
    assert pushing.push_due(channel) == (1, 0)

    fulfilment.refresh_from_db()
    assert fulfilment.state == Fulfilment.State.SENT and fulfilment.remote_id == sent.remote_id
    assert fulfilment.claimed_at is None and not fulfilment.claimed_by
    assert len(fulfillment_posts(store)) == 1
    assert [f["tracking_number"] for f in remote(sandbox_order)["fulfillments"]] == ["RM6"]
    assert order.events.filter(
        message__contains="was already on Shopify-Main (an earlier attempt reached it)"
    )


def test_a_live_workers_claim_is_not_taken_and_is_renewed_before_each_call(shopify_sandbox):
    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 1)])
    fulfilment = Fulfilment.objects.create(
        order=order,
        tracking_number="RM7",
        carrier_name="Royal Mail",
        lines=[[str(ids["MUG-RED"]), 1]],
        next_attempt_at=timezone.now(),
    )
    f, claim = pushing._claim(fulfilment.pk)
    assert f.claimed_by == pushing.worker_id()
    assert fulfilment.pk not in pushing.due_fulfilment_ids()  # held by a live worker
    assert pushing.push_fulfilment(fulfilment.pk) == "skipped"
    # Short: a little longer than one connector call can take, not ten minutes.
    assert 20 < pushing.claim_seconds() < 120

    before = claim.at
    connector = pushing._renewing(channel.connector(), claim)
    connector.find_fulfilment(pushing.remote_fulfilment(f))
    assert claim.at > before and Fulfilment.objects.get(pk=f.pk).claimed_at == claim.at

    # Another worker took it over (ours looked dead): ours stops before its next call.
    Fulfilment.objects.filter(pk=f.pk).update(claimed_by="worker-2:4242")
    calls = SandboxRequest.objects.count()
    with pytest.raises(pushing.ClaimLost):
        pushing._send(f, connector, claim)
    assert SandboxRequest.objects.count() == calls and not fulfillment_posts(store)


def test_a_push_whose_answer_was_lost_is_found_on_the_retry_not_sent_twice(shopify_sandbox):
    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 2)])
    # Shopify creates the fulfillment, but its answer arrives cut short (a proxy dropped it).
    store.faults = [{"path": "/admin/api/2024-07/fulfillments.json", "truncate": True}]
    store.save()

    fulfilment = ship(order, "RM8", [(ids["MUG-RED"], 1)])

    assert fulfilment.state == Fulfilment.State.PENDING and fulfilment.attempts == 1
    assert "will retry" in order.events.filter(kind="push_failed").get().message
    Fulfilment.objects.filter(pk=fulfilment.pk).update(next_attempt_at=timezone.now())  # its retry time comes
    assert pushing.push_due(channel) == (1, 0)

    fulfilment.refresh_from_db()
    shopify = remote(sandbox_order)
    assert fulfilment.state == Fulfilment.State.SENT and fulfilment.remote_id == str(
        shopify["fulfillments"][0]["id"]
    )
    assert len(fulfillment_posts(store)) == 1 and shopify["line_items"][0]["fulfillable_quantity"] == 1


def test_a_relabel_with_other_lines_cancels_the_old_fulfillment_and_sends_the_new_one(shopify_sandbox):
    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 1), ("TEE-M-BLK", 1)])
    old = ship(order, "RM9", [(ids["MUG-RED"], 1)])
    retracting.retract_fulfilment(old, reason="label RM9 voided", relabel=True)

    with transaction.atomic():
        new = services.record_fulfilment(
            order=order,
            tracking_number="RM10",
            carrier_name="Royal Mail",
            lines=[[str(ids["MUG-RED"]), 1], [str(ids["TEE-M-BLK"]), 1]],
        )
        Fulfilment.objects.filter(pk=new.pk).update(replaces=old)

    assert not SandboxRequest.objects.filter(store=store, path__endswith="/update_tracking.json").exists()
    assert SandboxRequest.objects.filter(
        store=store, path__endswith=f"/fulfillments/{old.remote_id}/cancel.json"
    )
    assert [p["tracking_info"]["number"] for p in fulfillment_posts(store)] == ["RM9", "RM10"]
    shopify = remote(sandbox_order)
    assert [(f["tracking_number"], f["status"]) for f in shopify["fulfillments"]] == [
        ("RM9", "cancelled"),
        ("RM10", "success"),
    ]
    assert shopify["fulfillment_status"] == "fulfilled"
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.state, new.state) == (Fulfilment.State.CANCELLED, Fulfilment.State.SENT)


def test_a_relabel_of_a_parcel_shopify_never_heard_of_just_withdraws_it(shopify_sandbox):
    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 1)])
    with transaction.atomic():
        old = services.record_fulfilment(
            order=order, tracking_number="RM11", carrier_name="Royal Mail", lines=[[str(ids["MUG-RED"]), 1]]
        )
        Fulfilment.objects.filter(pk=old.pk).update(state=Fulfilment.State.BLOCKED)  # never sent
        new = services.record_fulfilment(
            order=order, tracking_number="RM12", carrier_name="Royal Mail", lines=[[str(ids["MUG-RED"]), 1]]
        )
        Fulfilment.objects.filter(pk=new.pk).update(replaces=old)

    assert not Fulfilment.objects.filter(pk=old.pk).exists()
    assert [p["tracking_info"]["number"] for p in fulfillment_posts(store)] == ["RM12"]
    assert order.events.filter(message__startswith="Tracking RM11 withdrawn before it was sent").exists()


def test_a_channel_that_marks_only_whole_orders_is_told_once_and_earlier_parcels_are_marked_sent_with_it(
    shopify_sandbox, monkeypatch, staff_client
):
    from channels.connectors.shopify import ShopifyConnector

    monkeypatch.setattr(ShopifyConnector, "partial_shipments", False)  # as Ecwid's connector says of itself
    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 1), ("TEE-M-BLK", 1)])

    first = ship(order, "RM13", [(ids["MUG-RED"], 1)])
    assert first.state == Fulfilment.State.PENDING and not fulfillment_posts(store)
    last = ship(order, "RM14", [(ids["TEE-M-BLK"], 1)])

    assert [p["tracking_info"]["number"] for p in fulfillment_posts(store)] == ["RM14"]
    first.refresh_from_db()
    last.refresh_from_db()
    assert first.state == last.state == Fulfilment.State.SENT
    assert first.sent_payload == {"sent_with": last.pk, "tracking_number": "RM14"}
    assert order.events.filter(
        message="Tracking RM13 marked sent with the last parcel: Shopify-Main was told the "
        "whole order shipped, with tracking RM14"
    ).exists()


def test_the_sandbox_refuses_bad_fulfillment_calls_as_shopify_does_and_changes_nothing(shopify_sandbox):
    import requests

    channel, store = shopify_sandbox
    order, sandbox_order, ids = imported(channel, store, [("MUG-RED", 1), ("GIFT-CARD-25", 1)])
    shipping_fo, gift_fo = sandbox_shopify.fulfillment_orders(store, sandbox_order.data)
    api, auth = channel.api_base_url, {"X-Shopify-Access-Token": channel.credentials["access_token"]}

    def post(path, body):
        return requests.post(f"{api}{path}", json=body, headers=auth, timeout=5)

    too_many = post(
        "/fulfillments.json",
        {
            "fulfillment": {
                "line_items_by_fulfillment_order": [
                    {
                        "fulfillment_order_id": shipping_fo["id"],
                        "fulfillment_order_line_items": [
                            {"id": shipping_fo["line_items"][0]["id"], "quantity": 2}
                        ],
                    }
                ]
            }
        },
    )
    wrong_fo = post(
        "/fulfillments.json",
        {
            "fulfillment": {
                "line_items_by_fulfillment_order": [
                    {
                        "fulfillment_order_id": shipping_fo["id"],
                        "fulfillment_order_line_items": [
                            {"id": gift_fo["line_items"][0]["id"], "quantity": 1}
                        ],
                    }
                ]
            }
        },
    )
    assert (too_many.status_code, wrong_fo.status_code) == (422, 422)
    assert too_many.json() == {"errors": ["Invalid fulfillment order line item quantity requested."]}
    assert not remote(sandbox_order)["fulfillments"]

    sent = ship(order, "RM15", [(ids["MUG-RED"], 1)])
    fid = sent.remote_id
    assert post(f"/fulfillments/{int(fid) + 1}/cancel.json", {}).status_code == 404
    no_number = post(f"/fulfillments/{fid}/update_tracking.json", {"fulfillment": {"tracking_info": {}}})
    assert no_number.status_code == 422
    assert post(f"/fulfillments/{fid}/cancel.json", {}).status_code == 200
    again = post(f"/fulfillments/{fid}/cancel.json", {})
    late_update = post(
        f"/fulfillments/{fid}/update_tracking.json", {"fulfillment": {"tracking_info": {"number": "RM16"}}}
    )
    assert (again.status_code, late_update.status_code) == (422, 422)
    [listed] = requests.get(
        f"{api}/orders/{order.external_id}/fulfillments.json", headers=auth, timeout=5
    ).json()["fulfillments"]
    assert (listed["id"], listed["status"], listed["tracking_number"]) == (int(fid), "cancelled", "RM15")
