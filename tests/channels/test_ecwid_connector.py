"""The Ecwid connector against the sandbox Ecwid API over real HTTP."""

from datetime import UTC, datetime
from decimal import Decimal

import requests
from django.core.management import call_command

from channels.connectors import connector_class
from channels.connectors.base import RemoteFulfilment
from channels.models import StatusMapping
from orders import services
from orders.models import Fulfilment, Order, SkippedOrder
from orders.tasks import run_sync
from sandbox import ecwid as sandbox_ecwid
from sandbox.generators.ecwid import add_order, generate, make_order
from sandbox.models import SandboxOrder, SandboxRequest
from tests.channels.faults import (
    Marketplace,
    assert_a_wrong_token_is_refused,
    failing_page_test,
    read_through_one_429,
)
from tests.channels.faults import all_pages as read_all_pages

NOW = datetime.now(tz=UTC)

ECWID = Marketplace(
    name="ecwid",
    sandbox="ecwid_sandbox",
    generate=generate,
    orders_path="/orders",
    page_size_at=(connector_class("ecwid"), "page_size"),
    page_size=5,
    orders=8,
    seed=2,
    resume_key="offset",
    resume_at=5,
    timeout=1.0,  # generous: the 429 and 5xx cases must not time out on a busy CI machine
    slow=1.5,
    throttle={"retry_after": 0},
)


def all_pages(connector, cursor=None):
    return read_all_pages(connector, cursor, now=NOW)


def ids(pages):
    return [o.external_id for p in pages for o in p.orders]


def auth(channel):
    return {"Authorization": f"Bearer {channel.credentials['access_token']}"}


# -- reading


def test_reads_every_page_with_offset_and_limit(ecwid_sandbox):
    channel, store = ecwid_sandbox
    made = generate(store, 130, mix=True, seed=1)

    pages = all_pages(channel.connector())

    assert [len(p.orders) for p in pages] == [100, 30]  # Ecwid's maximum page, then the rest
    assert sorted(ids(pages)) == sorted(o.external_id for o in made)  # unpaid and shipped ones too
    assert pages[0].cursor["offset"] == 100 and pages[0].cursor["started"]
    assert list(pages[-1].cursor) == ["since"]
    assert pages[-1].cursor["since"] < NOW.timestamp()


def test_the_list_answers_total_count_offset_limit_and_filters_by_status(ecwid_sandbox):
    channel, store = ecwid_sandbox
    generate(store, 10, mix=True, seed=5)  # one unpaid, one shipped
    url = f"{channel.api_base_url}/{channel.shop_id}/orders"

    page = requests.get(url, params={"offset": 2, "limit": 3}, headers=auth(channel), timeout=5).json()
    paid = requests.get(
        url,
        params={"paymentStatus": "PAID", "fulfillmentStatus": "AWAITING_PROCESSING"},
        headers=auth(channel),
        timeout=5,
    ).json()
    too_many = requests.get(url, params={"limit": 101}, headers=auth(channel), timeout=5)

    assert (page["total"], page["count"], page["offset"], page["limit"], len(page["items"])) == (
        10,
        3,
        2,
        3,
        3,
    )
    assert paid["total"] == 8
    assert {(o["paymentStatus"], o["fulfillmentStatus"]) for o in paid["items"]} == {
        ("PAID", "AWAITING_PROCESSING")
    }
    assert too_many.status_code == 400


def test_parses_the_whole_order(ecwid_sandbox):
    channel, store = ecwid_sandbox
    store.settings = {"formatsAndUnits": {"currency": "CAD", "weightUnit": "KILOGRAM"}}
    store.save()
    order = make_order(store)
    order.update(
        vendorOrderNumber="XJ12H",
        email="kim@example.com",
        paymentMethod="Credit card",
        total=51.5,
        couponDiscount=5,
        discount=2.5,
        orderComments="Gift - no prices please",
        privateAdminNotes="VIP",
        discountCoupon={"name": "Spring", "code": "SPRING5", "discountType": "ABS", "discount": 5},
        createTimestamp=1767859200,
        updateTimestamp=1767862800,
        shippingPerson={
            "name": "Kim Park",
            "companyName": "Park Studio",
            "street": "77 King St\nUnit 4",
            "city": "Toronto",
            "stateOrProvinceCode": "ON",
            "postalCode": "M5H 1J9",
            "countryCode": "CA",
            "phone": "+14165550100",
        },
        shippingOption={
            "shippingCarrierName": "Canada Post",
            "shippingMethodName": "Expedited Parcel",
            "shippingRate": 12.5,
            "isPickup": False,
        },
    )
    soap = {
        "id": 88001,
        "productId": 501,
        "sku": "SOAP-LAV",
        "name": "Soap",
        "quantity": 3,
        "price": 6,
        "weight": 0.15,
        "imageUrl": "https://d2j6dbq0eux0bg.cloudfront.net/x.jpg",
        "isShippingRequired": True,
        "digital": False,
        "selectedOptions": [
            {"name": "Scent", "type": "CHOICE", "value": "Lavender"},
            {"name": "Extras", "type": "CHOICES", "valuesArray": ["Ribbon", "Card"]},
            {"name": "Engraving", "type": "TEXT", "value": "K.P."},
        ],
    }
    ebook = {
        "id": 88002,
        "productId": 505,
        "sku": "EBOOK",
        "name": "E-book",
        "quantity": 1,
        "price": 9,
        "weight": 0,
        "isShippingRequired": False,
        "digital": True,
        "selectedOptions": [],
    }
    order["items"] = [soap, ebook]
    add_order(store, order)

    [page] = all_pages(channel.connector(), {"since": 1767000000})  # a change feed reaching back to January
    [remote] = page.orders

    assert remote.external_id == order["id"] and remote.order_number == "XJ12H"
    assert remote.is_paid and not remote.is_shipped and not remote.is_cancelled
    assert remote.remote_status == "PAID / AWAITING_PROCESSING"
    assert remote.created_at == datetime(2026, 1, 8, 8, 0, tzinfo=UTC)
    assert (remote.total, remote.currency) == (Decimal("51.50"), "CAD")  # currency from the store profile
    assert remote.discount_total == Decimal("7.50") and remote.coupon_codes == ["SPRING5"]
    assert remote.email == "kim@example.com" and remote.phone == "+14165550100"
    assert remote.requested_service == "Expedited Parcel" and remote.payment_method == "Credit card"
    assert remote.customer_note == "Gift - no prices please" and remote.internal_note == "VIP"
    assert not remote.is_gift and remote.gift_message == ""  # Ecwid has no gift flag
    a = remote.address
    assert (a.name, a.company, a.line1, a.line2, a.city, a.state, a.postal_code, a.country, a.phone) == (
        "Kim Park",
        "Park Studio",
        "77 King St",
        "Unit 4",
        "Toronto",
        "ON",
        "M5H 1J9",
        "CA",
        "+14165550100",
    )
    line, book = remote.lines
    assert (line.external_id, line.sku, line.title, line.quantity, line.unit_price) == (
        "88001",
        "SOAP-LAV",
        "Soap",
        3,
        Decimal("6.00"),
    )
    assert line.weight_g == 150 and remote.total_weight_g == 450  # kilograms in the store's unit
    assert line.options == {"Scent": "Lavender", "Extras": "Ribbon, Card", "Engraving": "K.P."}
    assert line.image_url == "https://d2j6dbq0eux0bg.cloudfront.net/x.jpg" and line.is_physical
    assert not book.is_physical


def test_weights_follow_the_store_unit(ecwid_sandbox):
    channel, store = ecwid_sandbox
    store.settings = {"formatsAndUnits": {"currency": "USD", "weightUnit": "OUNCE"}}
    store.save()
    order = make_order(store)
    order["items"] = order["items"][:1]
    order["items"][0].update(weight=2, quantity=1)
    add_order(store, order)

    [page] = all_pages(channel.connector())

    assert page.orders[0].lines[0].weight_g == 57 and page.orders[0].currency == "USD"


def test_shipped_cancelled_and_custom_statuses(ecwid_sandbox):
    channel, store = ecwid_sandbox
    shipped = add_order(store, make_order(store, kind="shipped"))
    cancelled = add_order(store, make_order(store, kind="cancelled"))
    custom = add_order(store, make_order(store, kind="custom"))

    [page] = all_pages(channel.connector())
    by_id = {o.external_id: o for o in page.orders}

    s = by_id[shipped.external_id]
    assert s.is_shipped and [(t.tracking_number, t.carrier) for t in s.tracking] == [
        (shipped.data["trackingNumber"], shipped.data["shippingOption"]["shippingCarrierName"])
    ]
    assert by_id[cancelled.external_id].is_cancelled
    assert by_id[custom.external_id].remote_status == "CUSTOM_FULFILLMENT_STATUS_1"
    assert channel.connector().is_custom_status("CUSTOM_FULFILLMENT_STATUS_1")


def test_a_custom_status_is_imported_as_staff_mapped_it(ecwid_sandbox):
    channel, store = ecwid_sandbox
    add_order(store, make_order(store, kind="custom"))
    StatusMapping.objects.create(
        channel=channel, remote_status="CUSTOM_FULFILLMENT_STATUS_1", maps_to="on_hold"
    )

    run_sync(channel)

    assert Order.objects.get().status == "on_hold"


def test_a_malformed_order_is_skipped_with_a_reason_and_the_others_import(ecwid_sandbox):
    channel, store = ecwid_sandbox
    good = generate(store, 2, mix=False)
    bad = add_order(store, make_order(store))
    del bad.data["createTimestamp"]
    bad.save()

    summary = run_sync(channel)

    assert summary.imported == 2 and not summary.errors
    assert set(Order.objects.values_list("external_id", flat=True)) == {o.external_id for o in good}
    assert SkippedOrder.objects.get().reason == "malformed"


def test_sync_says_why_orders_were_not_imported(ecwid_sandbox):
    channel, store = ecwid_sandbox
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


# -- refusals, rate limits and faults


def test_a_wrong_token_is_refused_and_the_channel_needs_reconnecting(ecwid_sandbox):
    assert_a_wrong_token_is_refused(ECWID, *ecwid_sandbox, 403, access_token="secret_revoked")


def test_a_429_is_retried_after_retry_after(ecwid_sandbox, settings):
    settings.CONNECTOR_MAX_SLEEP = 2  # let the client wait as long as it is told
    connector, elapsed = read_through_one_429(ECWID, *ecwid_sandbox, retry_after=0.4)

    assert connector.http.calls == 3  # the profile, the refused page, the page
    assert elapsed >= 0.4  # waited as told, not the 10 ms the backoff alone would give


def test_over_the_per_minute_limit_ecwid_answers_429_with_retry_after(ecwid_sandbox):
    channel, store = ecwid_sandbox
    store.settings = {"rate_limit_per_minute": 2}
    store.save()
    url = f"{channel.api_base_url}/{channel.shop_id}/orders"

    answers = [requests.get(url, headers=auth(channel), timeout=5) for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 61


test_a_failing_page_loses_nothing_and_the_next_sync_completes = failing_page_test(ECWID)


# -- writing


def test_push_marks_the_order_shipped_with_tracking_and_the_carrier(ecwid_sandbox):
    channel, store = ecwid_sandbox
    [sandbox_order] = generate(store, 1, mix=False)
    chosen = dict(sandbox_order.data["shippingOption"])

    channel.connector().push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id,
            tracking_number="7023210039414604",
            carrier="DHL Express",
            tracking_url="https://dhl.example/7023210039414604",
            notify_customer=False,
        )
    )

    request = SandboxRequest.objects.get(method="PUT")
    assert request.path.endswith(f"/api/v3/4870020/orders/{sandbox_order.external_id}")
    assert request.parsed == {
        "fulfillmentStatus": "SHIPPED",
        "trackingNumber": "7023210039414604",
        "trackingUrl": "https://dhl.example/7023210039414604",
        "shippingOption": {
            **chosen,
            "shippingCarrierName": "DHL",
        },  # Ecwid's name for it; the buyer's choice kept
        "disableAllCustomerNotifications": True,
    }
    sandbox_order.refresh_from_db()
    assert sandbox_order.data["fulfillmentStatus"] == "SHIPPED"
    assert sandbox_order.data["trackingNumber"] == "7023210039414604"
    assert sandbox_order.data["shippingOption"]["shippingMethodName"] == chosen["shippingMethodName"]


def test_a_repeated_push_is_not_sent_twice(ecwid_sandbox):
    channel, store = ecwid_sandbox
    [sandbox_order] = generate(store, 1, mix=False)
    push = RemoteFulfilment(
        order_external_id=sandbox_order.external_id, tracking_number="RM1", carrier="Royal Mail"
    )
    connector = channel.connector()

    connector.push_fulfilment(push)
    connector.push_fulfilment(push)

    [request] = SandboxRequest.objects.filter(method="PUT")
    assert request.parsed["shippingOption"]["shippingCarrierName"] == "Royal Mail"
    assert "disableAllCustomerNotifications" not in request.parsed


def test_a_booked_shipment_reaches_ecwid_through_the_outbox(ecwid_sandbox):
    channel, store = ecwid_sandbox
    generate(store, 1, mix=False)
    run_sync(channel)
    order = Order.objects.get()

    fulfilment = services.record_fulfilment(
        order=order,
        tracking_number="1Z999AA10123456784",
        carrier_name="UPS",
        lines=[(ln.external_id, ln.quantity) for ln in order.lines.filter(is_physical=True)],
    )

    fulfilment.refresh_from_db()
    assert fulfilment.state == Fulfilment.State.SENT
    request = SandboxRequest.objects.get(method="PUT")
    assert (request.parsed["trackingNumber"], request.parsed["shippingOption"]["shippingCarrierName"]) == (
        "1Z999AA10123456784",
        "UPS",
    )


def test_cancel_order_sets_the_payment_status_cancelled(ecwid_sandbox):
    channel, store = ecwid_sandbox
    [sandbox_order] = generate(store, 1, mix=False)

    channel.connector().cancel_order(sandbox_order.external_id)

    assert SandboxRequest.objects.get(method="PUT").parsed == {"paymentStatus": "CANCELLED"}
    sandbox_order.refresh_from_db()
    assert sandbox_order.data["paymentStatus"] == "CANCELLED"


# -- pull back


def test_orders_shipped_or_cancelled_on_ecwid_are_shipped_or_cancelled_here(ecwid_sandbox):
    channel, store = ecwid_sandbox
    to_ship, to_cancel, untouched = generate(store, 3, mix=False)
    run_sync(channel)
    assert Order.objects.filter(status="awaiting_shipment").count() == 3

    sandbox_ecwid.ship(to_ship, tracking_number="7023210039414604", carrier="Canada Post")
    sandbox_ecwid.cancel(to_cancel)
    summary = run_sync(channel)

    assert summary.shipped_on_channel == 1 and summary.cancelled_on_channel == 1
    shipped = Order.objects.get(external_id=to_ship.external_id)
    assert shipped.status == "shipped"
    assert list(shipped.fulfilments.values_list("tracking_number", "carrier_name")) == [
        ("7023210039414604", "Canada Post")
    ]
    assert Order.objects.get(external_id=to_cancel.external_id).status == "cancelled"
    assert Order.objects.get(external_id=untouched.external_id).status == "awaiting_shipment"


def test_sandbox_orders_command_adds_ecwid_orders(ecwid_sandbox, capsys):
    channel, store = ecwid_sandbox
    call_command("sandbox_orders", "--channel", channel.name, "--count", "10", "--seed", "4")
    statuses = {o.data["paymentStatus"] for o in SandboxOrder.objects.filter(store=store)}
    assert SandboxOrder.objects.filter(store=store).count() == 10 and statuses == {"PAID", "AWAITING_PAYMENT"}
    assert "Added 10 Ecwid orders" in capsys.readouterr().out
