"""The Shopify connector against the sandbox Shopify Admin REST API over real HTTP."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from django.core.management import call_command

from channels.connectors import connector_class
from channels.connectors.base import ConnectorError, RemoteFulfilment
from channels.models import Channel, StatusMapping
from orders import services
from orders.models import Fulfilment, Order, SkippedOrder
from orders.tasks import run_sync
from sandbox import shopify as sandbox_shopify
from sandbox.generators.shopify import add_order, ensure_products, generate, make_order
from sandbox.models import SandboxOrder, SandboxRequest
from tests.channels.faults import (
    Marketplace,
    assert_a_wrong_token_is_refused,
    failing_page_test,
    read_through_one_429,
)
from tests.channels.faults import all_pages as read_all_pages

NOW = datetime.now(tz=UTC)
FEED = {"since": (NOW - timedelta(days=30)).isoformat(timespec="seconds")}

SHOPIFY = Marketplace(
    name="shopify",
    sandbox="shopify_sandbox",
    generate=generate,
    orders_path="/orders.json",
    page_size_at=(connector_class("shopify"), "page_size"),
    page_size=5,
    orders=8,
    seed=2,
    resume_key="page_info",  # the link to page two
    timeout=1.0,  # generous: the 429 and 5xx cases must not time out on a busy CI machine
    slow=1.5,
    throttle={"retry_after": 0},
)


def all_pages(connector, cursor=None):
    return read_all_pages(connector, cursor, now=NOW)


def ids(pages):
    return [o.external_id for p in pages for o in p.orders]


def headers(channel):
    return {"X-Shopify-Access-Token": channel.credentials["access_token"]}


# -- reading


def test_first_pass_reads_paid_unshipped_orders_page_by_page_through_the_link_header(shopify_sandbox):
    channel, store = shopify_sandbox
    wanted = generate(store, 260, mix=False, seed=1)
    for kind in ("unpaid", "shipped", "cancelled"):
        add_order(store, make_order(store, kind=kind))

    pages = all_pages(channel.connector())

    assert [len(p.orders) for p in pages] == [250, 10]  # Shopify's maximum page, then the rest
    assert sorted(ids(pages)) == sorted(o.external_id for o in wanted)
    assert pages[0].cursor["page_info"] and pages[0].cursor["backfill_from"] and pages[0].cursor["started"]
    assert list(pages[-1].cursor) == ["since"]  # the next sync reads what changed since this one began
    assert datetime.fromisoformat(pages[-1].cursor["since"]) < NOW


def test_later_passes_read_every_changed_order_whatever_its_status(shopify_sandbox, monkeypatch):
    channel, store = shopify_sandbox
    monkeypatch.setattr(connector_class("shopify"), "page_size", 5)
    made = generate(store, 12, mix=True, seed=3)  # unpaid, shipped… among them
    old = add_order(store, make_order(store, kind="ok"))
    SandboxOrder.objects.filter(pk=old.pk).update(updated_ts=int((NOW - timedelta(days=40)).timestamp()))

    pages = all_pages(channel.connector(), FEED)

    assert [len(p.orders) for p in pages] == [5, 5, 2]
    assert sorted(ids(pages)) == sorted(o.external_id for o in made)  # not the one unchanged since
    assert {o.remote_status for p in pages for o in p.orders} >= {
        "paid/unfulfilled",
        "pending/unfulfilled",
        "paid/fulfilled",
    }


def test_page_info_may_travel_only_with_limit_and_fields(shopify_sandbox, live_server):
    channel, store = shopify_sandbox
    generate(store, 3, mix=False)
    url = f"{channel.api_base_url}/orders.json"

    first = requests.get(url, params={"limit": 2, "status": "any"}, headers=headers(channel), timeout=5)
    next_url = first.links["next"]["url"]
    again = requests.get(next_url + "&status=any", headers=headers(channel), timeout=5)
    second = requests.get(next_url, headers=headers(channel), timeout=5)

    assert first.status_code == 200 and len(first.json()["orders"]) == 2
    assert again.status_code == 400 and "status cannot be passed when page_info is present" in again.text
    assert second.status_code == 200 and len(second.json()["orders"]) == 1
    assert 'rel="previous"' in second.headers["Link"] and 'rel="next"' not in second.headers["Link"]
    assert second.headers["X-Shopify-Shop-Api-Call-Limit"].endswith("/40")


def test_parses_the_whole_order(shopify_sandbox):
    channel, store = shopify_sandbox
    ensure_products(store)
    order = make_order(store, kind="ok")
    order.update(
        name="#1042",
        email="bo@example.com",
        phone="+33600000000",
        financial_status="paid",
        tags="VIP, wholesale",
        created_at="2026-11-20T10:15:00-05:00",
        updated_at="2026-11-20T11:00:00-05:00",
        currency="EUR",
        total_price="49.00",
        total_discounts="3.00",
        total_weight=850,
        note="Leave at door",
        discount_codes=[{"code": "WELCOME10", "amount": "3.00", "type": "percentage"}],
        payment_gateway_names=["shopify_payments", "gift_card"],
        note_attributes=[
            {"name": "gift_message", "value": "Happy birthday!"},
            {"name": "Delivery day", "value": "Fri"},
        ],
        shipping_lines=[
            {"id": 1, "title": "Express", "code": "EXPRESS", "source": "shopify", "price": "9.00"}
        ],
        shipping_address={
            "name": "Bo Lee",
            "company": "Lee & Co",
            "address1": "5 Rue X",
            "address2": "Bât. B",
            "city": "Lyon",
            "province": "Rhône",
            "province_code": None,
            "zip": "69001",
            "country": "France",
            "country_code": "FR",
            "phone": "+33611111111",
        },
    )
    line = order["line_items"][0]
    line.update(
        product_id=7_100_001,
        variant_id=7_200_012,
        sku="TEE-M-BLK",
        title="Organic cotton tee",
        variant_title="M / Black",
        quantity=2,
        price="25.00",
        grams=200,
        requires_shipping=True,
        properties=[{"name": "Engraving", "value": "BO"}, {"name": "_bundle", "value": "x"}],
    )
    digital = make_order(store, kind="digital")["line_items"][0]
    order["line_items"] = [line, digital]
    add_order(store, order)

    connector = channel.connector()
    [page] = all_pages(connector, FEED)
    [remote] = page.orders
    cache = {}
    connector.enrich(page.orders, cache)

    assert remote.order_number == "#1042" and remote.external_id == str(order["id"])
    assert remote.created_at == datetime(2026, 11, 20, 15, 15, tzinfo=UTC)  # the shop's zone, read as UTC
    assert remote.is_paid and not remote.is_shipped and not remote.is_cancelled
    assert remote.remote_status == "paid/unfulfilled"
    assert (remote.total, remote.currency, remote.discount_total) == (
        Decimal("49.00"),
        "EUR",
        Decimal("3.00"),
    )
    assert remote.coupon_codes == ["WELCOME10"]
    assert remote.email == "bo@example.com" and remote.phone == "+33600000000"
    assert remote.requested_service == "Express"
    assert remote.payment_method == "shopify_payments, gift_card"
    assert remote.is_gift and remote.gift_message == "Happy birthday!"
    assert remote.customer_note == "Leave at door\nDelivery day: Fri"
    assert remote.internal_note == "Tags: VIP, wholesale"
    assert remote.total_weight_g == 850
    a = remote.address
    assert (a.name, a.company, a.line1, a.line2, a.city, a.state, a.postal_code, a.country, a.phone) == (
        "Bo Lee",
        "Lee & Co",
        "5 Rue X",
        "Bât. B",
        "Lyon",
        "Rhône",
        "69001",
        "FR",
        "+33611111111",
    )
    tee, pattern = remote.lines
    assert (tee.sku, tee.quantity, tee.unit_price, tee.weight_g) == ("TEE-M-BLK", 2, Decimal("25.00"), 200)
    assert tee.options == {"Size": "M", "Colour": "Black", "Engraving": "BO"}  # names from the product
    assert tee.image_url.endswith("/7100001_7200012.jpg")  # the variant's own image, from the product
    assert tee.stock_location == "Leeds warehouse" and tee.is_physical
    assert not pattern.is_physical and pattern.sku == "PDF-PATTERN"
    assert "product+customs:7100001" in cache


def test_tracking_of_an_order_fulfilled_on_shopify_is_read(shopify_sandbox):
    channel, store = shopify_sandbox
    shipped = add_order(store, make_order(store, kind="shipped"))
    [page] = all_pages(channel.connector(), FEED)
    [remote] = page.orders
    assert remote.is_shipped and remote.remote_status == "paid/fulfilled"
    assert [(t.tracking_number, t.carrier) for t in remote.tracking] == [
        (shipped.data["fulfillments"][0]["tracking_number"], "Royal Mail")
    ]


def test_a_malformed_order_is_skipped_with_a_reason_and_the_others_import(shopify_sandbox):
    channel, store = shopify_sandbox
    good = generate(store, 2, mix=False)
    bad = add_order(store, make_order(store))
    bad.data["created_at"] = None
    bad.save()

    summary = run_sync(channel)

    assert summary.imported == 2 and not summary.errors
    assert set(Order.objects.values_list("external_id", flat=True)) == {o.external_id for o in good}
    skipped = SkippedOrder.objects.get()
    assert (skipped.external_id, skipped.order_number, skipped.reason) == (
        bad.external_id,
        bad.data["name"],
        "malformed",
    )


def test_a_status_tag_is_the_status_staff_map(shopify_sandbox):
    channel, store = shopify_sandbox
    order = make_order(store)
    order["tags"] = "VIP, status:awaiting-stock"
    add_order(store, order)
    StatusMapping.objects.create(channel=channel, remote_status="status:awaiting-stock", maps_to="on_hold")

    run_sync(channel)

    imported = Order.objects.get()
    assert imported.remote_status == "status:awaiting-stock" and imported.status == "on_hold"
    assert channel.connector().is_custom_status("status:awaiting-stock")
    assert not channel.connector().is_custom_status("paid/unfulfilled")


# -- refusals, rate limits and faults


def test_a_wrong_token_is_refused_and_the_channel_needs_reconnecting(shopify_sandbox):
    assert_a_wrong_token_is_refused(SHOPIFY, *shopify_sandbox, 401, access_token="shpat_revoked")


def test_a_429_is_retried_after_retry_after(shopify_sandbox, settings):
    settings.CONNECTOR_MAX_SLEEP = 2  # let the client wait as long as it is told
    connector, elapsed = read_through_one_429(SHOPIFY, *shopify_sandbox, retry_after=0.4)

    assert connector.http.calls == 2
    assert elapsed >= 0.4  # waited as told, not the 10 ms the backoff alone would give


def test_the_leaky_bucket_answers_429_when_full_and_the_connector_still_reads_everything(
    shopify_sandbox, monkeypatch
):
    channel, store = shopify_sandbox
    generate(store, 6, mix=False)
    store.settings = {"bucket_size": 2, "leak_rate": 0.5}
    store.save()
    url = f"{channel.api_base_url}/orders.json"

    answers = [requests.get(url, headers=headers(channel), timeout=5) for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[1].headers["X-Shopify-Shop-Api-Call-Limit"] == "2/2"
    assert float(answers[2].headers["Retry-After"]) > 0

    store.refresh_from_db()
    store.settings = {"bucket_size": 2, "leak_rate": 40}
    store.save()
    monkeypatch.setattr(connector_class("shopify"), "page_size", 1)
    assert len(ids(all_pages(channel.connector()))) == 6


def test_the_connector_slows_down_when_the_call_limit_header_says_the_bucket_is_nearly_full(
    shopify_sandbox, monkeypatch, settings
):
    channel, store = shopify_sandbox
    settings.CONNECTOR_MAX_SLEEP = 1
    generate(store, 3, mix=False)
    store.settings = {"bucket_size": 2, "leak_rate": 4}
    store.save()
    monkeypatch.setattr(connector_class("shopify"), "page_size", 1)
    connector = channel.connector()

    assert len(ids(all_pages(connector))) == 3
    assert connector.http.calls == 3  # it waited after "1/2" instead of running into a 429


test_a_failing_page_loses_nothing_and_the_next_sync_completes = failing_page_test(SHOPIFY)


# -- writing


def test_push_creates_a_fulfillment_on_the_fulfillment_order_with_tracking_info(shopify_sandbox):
    channel, store = shopify_sandbox
    [sandbox_order] = generate(store, 1, mix=False)
    fo_id = int(sandbox_order.external_id) + sandbox_shopify.FO_OFFSET

    result = channel.connector().push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id,
            tracking_number="1234567890",
            carrier="DHL Express",
            tracking_url="https://dhl.example/1234567890",
            notify_customer=False,
            note="On its way",
        )
    )

    request = SandboxRequest.objects.get(method="POST")
    assert request.path.endswith("/admin/api/2024-07/fulfillments.json")
    assert request.parsed == {
        "fulfillment": {
            "line_items_by_fulfillment_order": [{"fulfillment_order_id": fo_id}],
            "tracking_info": {
                "number": "1234567890",
                "company": "DHL Express",
                "url": "https://dhl.example/1234567890",
            },
            "notify_customer": False,
            "message": "On its way",
        }
    }
    sandbox_order.refresh_from_db()
    assert sandbox_order.data["fulfillment_status"] == "fulfilled"
    assert result.remote_id == str(sandbox_order.data["fulfillments"][-1]["id"])


def test_push_of_some_lines_names_the_fulfillment_order_line_items(shopify_sandbox):
    channel, store = shopify_sandbox
    order = make_order(store)
    order["line_items"][0]["quantity"] = order["line_items"][0]["fulfillable_quantity"] = 3
    sandbox_order = add_order(store, order)
    line_id = order["line_items"][0]["id"]

    channel.connector().push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id,
            tracking_number="RM1",
            carrier="Royal Mail",
            lines=[(str(line_id), 2)],
        )
    )

    [group] = SandboxRequest.objects.get(method="POST").parsed["fulfillment"][
        "line_items_by_fulfillment_order"
    ]
    assert group["fulfillment_order_line_items"] == [
        {"id": line_id + sandbox_shopify.FO_OFFSET, "quantity": 2}
    ]
    sandbox_order.refresh_from_db()
    assert sandbox_order.data["line_items"][0]["fulfillable_quantity"] == 1


# -- fulfillment requests (a dropshipping supplier's fulfillment service)


def dropshipped_order(store, items):
    """An order whose CANDLE-* and NECK-45 lines Shopify assigns to Atelier Nord's fulfillment service."""
    from sandbox.generators.shopify import use_fulfillment_service

    ensure_products(store)
    use_fulfillment_service(
        store, "atelier-nord", name="Atelier Nord", skus=["CANDLE-FIG", "CANDLE-CEDAR", "NECK-45"]
    )
    sandbox_order = add_order(store, make_order(store, items=items))
    return sandbox_order, {li["sku"]: li["id"] for li in sandbox_order.data["line_items"]}


def fos(sandbox_order):
    sandbox_order.refresh_from_db()
    return sandbox_shopify.fulfillment_orders(sandbox_order.store, sandbox_order.data)


def test_mark_in_progress_requests_only_the_named_lines_and_shopify_splits_the_rest_off(shopify_sandbox):
    channel, store = shopify_sandbox
    sandbox_order, lines = dropshipped_order(store, [("MUG-RED", 1), ("CANDLE-FIG", 3), ("CANDLE-CEDAR", 1)])
    [own, service] = fos(sandbox_order)
    assert "request_fulfillment" in service["supported_actions"]
    assert "request_fulfillment" not in own["supported_actions"]

    result = channel.connector().mark_in_progress(
        sandbox_order.external_id, [(str(lines["CANDLE-FIG"]), 2)], message="Dropshipped by Atelier Nord"
    )

    request = SandboxRequest.objects.get(path__endswith="/fulfillment_request.json")
    assert request.path.endswith(
        f"/admin/api/2024-07/fulfillment_orders/{service['id']}/fulfillment_request.json"
    )
    fig = next(li for li in service["line_items"] if li["line_item_id"] == lines["CANDLE-FIG"])
    assert request.parsed == {
        "fulfillment_request": {
            "message": "Dropshipped by Atelier Nord",
            "fulfillment_order_line_items": [{"id": fig["id"], "quantity": 2}],
        }
    }
    assert result.request["requested"][0]["request_status"] == "submitted"  # Shopify's answer to the request
    # The fulfillment service accepted: in progress with the 2 requested; the rest split off, unsubmitted.
    own, requested, rest = fos(sandbox_order)
    assert (own["status"], own["request_status"]) == ("open", "unsubmitted")
    assert (requested["id"], requested["status"], requested["request_status"]) == (
        service["id"],
        "in_progress",
        "accepted",
    )
    assert [(li["line_item_id"], li["quantity"]) for li in requested["line_items"]] == [
        (lines["CANDLE-FIG"], 2)
    ]
    assert requested["merchant_requests"][0]["message"] == "Dropshipped by Atelier Nord"
    assert (rest["status"], rest["request_status"], rest["assigned_location"]["name"]) == (
        "open",
        "unsubmitted",
        "Atelier Nord",
    )
    assert sorted((li["line_item_id"], li["quantity"]) for li in rest["line_items"]) == sorted(
        [(lines["CANDLE-FIG"], 1), (lines["CANDLE-CEDAR"], 1)]
    )

    # Asking again changes nothing: the lines are already with the service.
    again = channel.connector().mark_in_progress(sandbox_order.external_id, [(str(lines["CANDLE-FIG"]), 2)])
    assert (
        again.request["already"]
        and SandboxRequest.objects.filter(path__endswith="_request.json").count() == 1
    )


def test_a_fulfillment_request_with_a_bad_line_or_quantity_is_refused_with_shopifys_errors(shopify_sandbox):
    channel, store = shopify_sandbox
    sandbox_order, lines = dropshipped_order(store, [("MUG-RED", 1), ("NECK-45", 1)])
    own, service = fos(sandbox_order)
    url = f"{channel.api_base_url}/fulfillment_orders/{service['id']}/fulfillment_request.json"

    def post(items, fo_url=url):
        body = {"fulfillment_request": {"message": "", "fulfillment_order_line_items": items}}
        return requests.post(fo_url, json=body, headers=headers(channel), timeout=5)

    too_many = post([{"id": service["line_items"][0]["id"], "quantity": 2}])
    someone_elses = post([{"id": own["line_items"][0]["id"], "quantity": 1}])
    own_location = post(
        [{"id": own["line_items"][0]["id"], "quantity": 1}], url.replace(str(service["id"]), str(own["id"]))
    )

    assert too_many.status_code == 422
    assert too_many.json() == {"errors": ["Invalid fulfillment order line item quantity requested."]}
    assert (
        someone_elses.status_code == 422
        and "does not belong to fulfillment order" in someone_elses.json()["errors"][0]
    )
    assert own_location.status_code == 422
    assert own_location.json()["errors"] == [
        f"Fulfillment order {own['id']} is not assigned to a fulfillment service location."
    ]
    assert [f["request_status"] for f in fos(sandbox_order)] == [
        "unsubmitted",
        "unsubmitted",
    ]  # nothing changed
    with pytest.raises(ConnectorError, match="Leeds warehouse, a location the merchant fulfils"):
        channel.connector().mark_in_progress(sandbox_order.external_id, [(str(lines["MUG-RED"]), 1)])


def test_the_suppliers_tracking_fulfils_the_accepted_fulfillment_order_only(shopify_sandbox):
    channel, store = shopify_sandbox
    sandbox_order, lines = dropshipped_order(store, [("MUG-RED", 1), ("NECK-45", 1)])
    connector = channel.connector()
    connector.mark_in_progress(sandbox_order.external_id, [(str(lines["NECK-45"]), 1)])

    connector.push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id,
            tracking_number="JD0146",
            carrier="DHL Express",
            lines=[(str(lines["NECK-45"]), 1)],
        )
    )

    own, service = fos(sandbox_order)
    assert (own["status"], service["status"]) == ("open", "closed")
    assert sandbox_order.data["fulfillment_status"] == "partial"


def test_an_unknown_carrier_goes_as_free_text_and_a_repeated_push_is_not_sent_twice(shopify_sandbox):
    channel, store = shopify_sandbox
    [sandbox_order] = generate(store, 1, mix=False)
    push = RemoteFulfilment(
        order_external_id=sandbox_order.external_id,
        tracking_number="BOB1",
        carrier="Bob's Couriers",
        tracking_url="https://bob.example/BOB1",
    )
    connector = channel.connector()

    first = connector.push_fulfilment(push)
    again = connector.push_fulfilment(push)  # e.g. the first answer was lost

    [request] = SandboxRequest.objects.filter(method="POST")
    assert request.parsed["fulfillment"]["tracking_info"]["company"] == "Bob's Couriers"
    assert again.remote_id == first.remote_id


def test_a_booked_shipment_reaches_shopify_through_the_outbox(shopify_sandbox):
    channel, store = shopify_sandbox
    generate(store, 1, mix=False)
    run_sync(channel)
    order = Order.objects.get()

    fulfilment = services.record_fulfilment(
        order=order,
        lines=services.default_lines(order),
        tracking_number="JD000123456GB",
        carrier_name="Royal Mail",
        tracking_url="https://rm.example/JD000123456GB",
    )

    fulfilment.refresh_from_db()
    assert fulfilment.state == Fulfilment.State.SENT and fulfilment.remote_id
    info = SandboxRequest.objects.get(method="POST").parsed["fulfillment"]["tracking_info"]
    assert info == {
        "number": "JD000123456GB",
        "company": "Royal Mail",
        "url": "https://rm.example/JD000123456GB",
    }


def test_cancel_order_cancels_it_on_shopify(shopify_sandbox):
    channel, store = shopify_sandbox
    [sandbox_order] = generate(store, 1, mix=False)

    channel.connector().cancel_order(sandbox_order.external_id, reason="customer")

    assert SandboxRequest.objects.get(path__endswith="/cancel.json").parsed == {
        "reason": "customer",
        "email": False,
    }
    sandbox_order.refresh_from_db()
    assert sandbox_order.data["cancelled_at"]
    assert sandbox_shopify.fulfillment_orders(store, sandbox_order.data)[0]["status"] == "cancelled"


# -- pull back


def test_orders_fulfilled_or_cancelled_on_shopify_are_shipped_or_cancelled_here(shopify_sandbox):
    channel, store = shopify_sandbox
    to_ship, to_cancel, untouched = generate(store, 3, mix=False)
    run_sync(channel)
    assert Order.objects.filter(status="awaiting_shipment").count() == 3

    sandbox_shopify.fulfil(store, to_ship, number="1Z999AA10123456784", company="UPS")
    sandbox_shopify.cancel(store, to_cancel, reason="customer")
    summary = run_sync(channel)

    assert summary.shipped_on_channel == 1 and summary.cancelled_on_channel == 1
    shipped = Order.objects.get(external_id=to_ship.external_id)
    assert shipped.status == "shipped"
    assert list(shipped.fulfilments.values_list("tracking_number", "carrier_name")) == [
        ("1Z999AA10123456784", "UPS")
    ]
    assert Order.objects.get(external_id=to_cancel.external_id).status == "cancelled"
    assert Order.objects.get(external_id=untouched.external_id).status == "awaiting_shipment"


def test_the_change_feed_says_why_orders_were_not_imported(shopify_sandbox):
    channel, store = shopify_sandbox
    Channel.objects.filter(pk=channel.pk).update(cursor=FEED)
    channel.refresh_from_db()
    for kind in ("ok", "unpaid", "shipped", "digital", "no_address", "cancelled"):
        add_order(store, make_order(store, kind=kind))

    summary = run_sync(channel)

    assert summary.imported == 1
    assert dict(summary.skipped) == {
        "unpaid": 1,
        "shipped": 1,
        "digital_only": 1,
        "no_address": 1,
        "cancelled": 1,
    }


def test_sandbox_orders_command_adds_shopify_orders(shopify_sandbox, capsys):
    channel, store = shopify_sandbox
    call_command("sandbox_orders", "--channel", channel.name, "--count", "10", "--seed", "4")
    assert SandboxOrder.objects.filter(store=store).count() == 10
    assert {o.data["financial_status"] for o in SandboxOrder.objects.filter(store=store)} == {
        "paid",
        "pending",
    }
    assert "Added 10 Shopify orders" in capsys.readouterr().out
