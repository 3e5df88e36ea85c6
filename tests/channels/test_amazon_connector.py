"""The Amazon SP-API connector against the sandbox Amazon API over real HTTP."""

import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from django.core.management import call_command

from channels.connectors import amazon
from channels.connectors.base import NotSupported, RemoteFulfilment
from channels.models import Channel
from orders import services
from orders.models import Fulfilment, Order, OrderEvent, OrderLine, SkippedOrder
from orders.tasks import run_sync
from sandbox import amazon as sandbox_amazon
from sandbox.generators.amazon import add_order, ensure_catalog, generate, make_order
from sandbox.models import SandboxOrder, SandboxRequest
from tests.channels.conftest_marketplaces import *  # noqa: F403 - the sandbox fixtures
from tests.channels.faults import (
    Marketplace,
    all_pages,
    assert_client_secret_refused,
    failing_page_test,
    read_through_one_429,
    sync_after_revoking,
)

SEARCH = "/orders/2026-01-01/orders"

AMAZON = Marketplace(
    name="amazon",
    sandbox="amazon_sandbox",
    generate=generate,
    orders_path=SEARCH,
    page_size_at=(amazon, "PAGE_SIZE"),
    page_size=10,
    orders=15,
    seed=5,
    resume_key="token",  # the pagination token of page two
    timeout=0.4,
    slow=1.0,  # Amazon's 429 carries no Retry-After: backed off
)


def token_requests():
    return SandboxRequest.objects.filter(path__endswith="/auth/o2/token")


def confirmations():
    return SandboxRequest.objects.filter(path__endswith="/shipmentConfirmation")


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(*AMAZON.page_size_at, AMAZON.page_size)


# -- reading


def test_reads_every_page_with_the_pagination_token(amazon_sandbox, small_pages):
    channel, store = amazon_sandbox
    generate(store, 25, mix=False, seed=1)

    pages = all_pages(channel.connector())

    assert [len(p.orders) for p in pages] == [10, 10, 5]
    assert len({o.external_id for p in pages for o in p.orders}) == 25
    assert pages[0].cursor["token"] and pages[1].cursor["token"] != pages[0].cursor["token"]
    assert set(pages[-1].cursor) == {"since"}  # a finished pass resumes from its start time


def test_amazon_fulfilled_orders_are_never_read(amazon_sandbox):
    channel, store = amazon_sandbox
    for kind in ["ok", "afn", "ok", "afn"]:
        add_order(store, make_order(store, kind=kind))

    summary = run_sync(channel)

    assert summary.seen == 2 and summary.imported == 2 and not summary.skipped
    afn = SandboxOrder.objects.filter(store=store, data__fulfillment__fulfilledBy="AMAZON")
    assert not Order.objects.filter(external_id__in=afn.values("external_id")).exists()


def test_parses_every_field_and_the_v0_ship_service_level(amazon_sandbox):
    channel, store = amazon_sandbox
    order = make_order(store, rng=random.Random(2))
    cup, beans, necklace = (
        {
            "orderItemId": "11111111111111",
            "quantityOrdered": 2,
            "product": {
                "asin": "B0SHPDK001",
                "title": "Stoneware coffee cup",
                "sellerSku": "CUP-01",
                "price": {"unitPrice": {"amount": "19.99", "currencyCode": "GBP"}},
            },
            "promotion": {"breakdowns": [{"promotionId": "SPRING10"}]},
            "fulfillment": {
                "quantityFulfilled": 0,
                "quantityUnfulfilled": 2,
                "packing": {"giftOption": {"giftMessage": "Happy birthday!", "giftWrapLevel": "Classic"}},
            },
        },
        {
            "orderItemId": "22222222222222",
            "quantityOrdered": 1,
            "measurement": {"unit": "KILOGRAMS", "value": 1.5},
            "product": {
                "asin": "B0SHPDK004",
                "title": "Coffee beans",
                "sellerSku": "BEANS-1KG",
                "price": {"unitPrice": {"amount": "24.00", "currencyCode": "GBP"}},
            },
            "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": 1},
        },
        {
            "orderItemId": "33333333333333",
            "quantityOrdered": 1,
            "product": {
                "asin": "B0SHPDK003",
                "title": "Name necklace",
                "sellerSku": "NECK-NAME",
                "price": {"unitPrice": {"amount": "34.50", "currencyCode": "GBP"}},
                "customization": {"customizedUrl": "https://www.amazon.co.uk/gp/custom/333"},
            },
            "cancellation": {"cancellationRequest": {"requester": "BUYER", "cancelReason": "Wrong name"}},
            "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": 1},
        },
    )
    order.update(
        orderId="202-1234567-7654321",
        orderItems=[cup, beans, necklace],
        buyer={"buyerName": "Ann Lee", "buyerEmail": "abc123@marketplace.amazon.co.uk"},
        recipient={
            "deliveryAddress": {
                "name": "Ann Lee",
                "companyName": "Lee & Co",
                "addressLine1": "1 High St",
                "addressLine2": "Flat 2",
                "addressLine3": "Rear",
                "city": "Leeds",
                "stateOrRegion": "West Yorkshire",
                "postalCode": "LS1 4AB",
                "countryCode": "GB",
                "phone": "+44 113 496 0000",
            },
            "deliveryPreference": {"addressInstruction": "Behind the green gate", "dropOffLocation": "Porch"},
        },
        proceeds={
            "grandTotal": {"amount": "95.49", "currencyCode": "GBP"},
            "breakdowns": [
                {"type": "ITEM", "subtotal": {"amount": "98.48", "currencyCode": "GBP"}},
                {"type": "DISCOUNT", "subtotal": {"amount": "-2.99", "currencyCode": "GBP"}},
            ],
        },
        payment={
            "paymentExecutions": [
                {"paymentMethod": "CreditCard", "paymentAmount": {"amount": "95.49", "currencyCode": "GBP"}}
            ]
        },
    )
    order["_v0"]["ShipServiceLevel"] = "Std UK Dom_1"
    add_order(store, order)
    ensure_catalog(store)

    connector = channel.connector()
    [page] = all_pages(connector)
    cache = {}
    connector.enrich(page.orders, cache)
    [o] = page.orders

    assert (o.external_id, o.order_number, o.remote_status) == (
        "202-1234567-7654321",
        "202-1234567-7654321",
        "UNSHIPPED",
    )
    assert o.is_paid and not o.is_shipped and not o.is_cancelled
    assert (o.total, o.currency, o.discount_total) == (Decimal("95.49"), "GBP", Decimal("2.99"))
    assert o.requested_service == "Std UK Dom_1"  # from v0: 2026-01-01 only says STANDARD
    assert o.payment_method == "CreditCard"
    assert o.coupon_codes == ["SPRING10"]
    assert o.is_gift and o.gift_message == "Happy birthday!"
    assert o.customer_note == "Behind the green gate; Drop-off: Porch"
    assert o.internal_note == "Buyer asked to cancel: Wrong name"
    assert (o.customer_name, o.email, o.phone) == (
        "Ann Lee",
        "abc123@marketplace.amazon.co.uk",
        "+44 113 496 0000",
    )
    a = o.address
    assert (a.name, a.company, a.line1, a.line2, a.city, a.state, a.postal_code, a.country) == (
        "Ann Lee",
        "Lee & Co",
        "1 High St",
        "Flat 2, Rear",
        "Leeds",
        "West Yorkshire",
        "LS1 4AB",
        "GB",
    )
    lines = {ln.sku: ln for ln in o.lines}
    assert (lines["CUP-01"].quantity, lines["CUP-01"].unit_price, lines["CUP-01"].listing_id) == (
        2,
        Decimal("19.99"),
        "B0SHPDK001",
    )
    # Package weight and main image from Catalog Items; a weight Amazon measured on the order wins.
    assert (lines["CUP-01"].weight_g, lines["NECK-NAME"].weight_g, lines["BEANS-1KG"].weight_g) == (
        431,
        71,
        1500,
    )
    assert lines["CUP-01"].image_url.endswith("/B0SHPDK001._SL500_.jpg")
    assert o.total_weight_g == 2 * 431 + 71 + 1500
    assert lines["NECK-NAME"].options == {"Customization": "https://www.amazon.co.uk/gp/custom/333"}
    assert cache["amazon-v0:202-1234567-7654321"]["ship_service_level"] == "Std UK Dom_1"


def test_without_the_catalog_role_weights_stay_empty_and_the_sync_goes_on(amazon_sandbox):
    channel, store = amazon_sandbox
    store.settings = {"no_catalog_role": True}
    store.save()
    generate(store, 3, mix=False, seed=2)

    summary = run_sync(channel)

    channel.refresh_from_db()
    assert summary.imported == 3 and not summary.errors and not channel.needs_reconnect
    assert not OrderLine.objects.exclude(image_url="").exists()


def test_pending_orders_are_skipped_as_unpaid_and_imported_once_paid(amazon_sandbox):
    channel, store = amazon_sandbox
    pending = add_order(store, make_order(store, kind="unpaid"))

    run_sync(channel)
    assert SkippedOrder.objects.get().reason == "unpaid"

    paid = make_order(store, kind="ok")
    pending.data.update(buyer=paid["buyer"], recipient=paid["recipient"])
    pending.data["fulfillment"]["fulfillmentStatus"] = "UNSHIPPED"
    sandbox_amazon.touch(pending)
    summary = run_sync(channel)

    assert summary.imported == 1 and not SkippedOrder.objects.exists()
    assert Order.objects.get().requested_service == pending.data["_v0"]["ShipServiceLevel"]


def test_a_malformed_order_is_skipped_with_a_reason_and_the_others_import(amazon_sandbox):
    channel, store = amazon_sandbox
    generate(store, 3, mix=False, seed=3)
    broken = make_order(store)
    broken["orderItems"][0]["quantityOrdered"] = None
    add_order(store, broken)

    summary = run_sync(channel)

    assert summary.imported == 3 and not summary.errors
    skipped = SkippedOrder.objects.get()
    assert (skipped.external_id, skipped.reason) == (broken["orderId"], "malformed")


def test_a_pagination_token_amazon_no_longer_takes_restarts_the_pass(amazon_sandbox):
    channel, store = amazon_sandbox
    generate(store, 3, mix=False)
    since = amazon.iso(datetime.now(tz=UTC) - timedelta(days=3))
    pages = all_pages(channel.connector(), cursor={"since": since, "token": "stale", "started": since})
    assert sum(len(p.orders) for p in pages) == 3


# -- credentials


def test_an_access_token_about_to_expire_is_refreshed_with_lwa_and_stored_on_the_channel(amazon_sandbox):
    channel, store = amazon_sandbox
    generate(store, 2, mix=False)
    channel.credentials = {**channel.credentials, "expires_at": int(time.time()) + 120}
    channel.save()
    old = channel.credentials["access_token"]

    summary = run_sync(channel)

    assert summary.imported == 2 and not summary.errors
    channel.refresh_from_db()
    assert (
        channel.credentials["access_token"].startswith("Atza|") and channel.credentials["access_token"] != old
    )
    assert abs(channel.credentials["expires_at"] - (time.time() + 3600)) < 60
    [grant] = token_requests()
    assert grant.parsed == {"grant_type": "refresh_token", "client_id": channel.credentials["client_id"]}


def test_an_expired_token_refused_with_403_is_refreshed_once_and_the_call_retried(amazon_sandbox):
    channel, store = amazon_sandbox
    generate(store, 2, mix=False)
    # Amazon says "403 Unauthorized: the access token you provided has expired"; our clock disagreed.
    store.credentials = {**store.credentials, "expires_at": int(time.time()) - 5}
    store.save()

    pages = all_pages(channel.connector())

    assert sum(len(p.orders) for p in pages) == 2
    assert token_requests().count() == 1


def test_a_wrong_client_secret_is_refused_as_an_auth_error(amazon_sandbox):
    channel, store = amazon_sandbox
    # Staff typed the wrong secret: it is what is stored, not a stale copy another worker replaced.
    Channel.objects.filter(pk=channel.pk).update(
        credentials={**channel.credentials, "client_secret": "wrong", "access_token": ""}
    )
    connector = Channel.objects.get(pk=channel.pk).connector()

    assert_client_secret_refused(connector)


def test_a_revoked_authorisation_marks_the_channel_needs_reconnecting(amazon_sandbox):
    sync_after_revoking(AMAZON, *amazon_sandbox, sandbox_amazon.revoke)


# -- rate limits and faults


def test_the_sandbox_answers_like_amazon_with_rate_limit_and_request_id_headers(amazon_sandbox):
    channel, store = amazon_sandbox
    url = f"{channel.api_base_url}/orders/2026-01-01/orders"
    params = {"marketplaceIds": "A1F83G8C2ARO7P", "lastUpdatedAfter": "2026-01-01T00:00:00Z"}
    headers = {"x-amz-access-token": channel.credentials["access_token"]}
    store.faults = [{"status": 429}]
    store.save()

    throttled = requests.get(url, params=params, headers=headers, timeout=5)
    ok = requests.get(url, params=params, headers=headers, timeout=5)
    refused = requests.get(url, params=params, headers={"x-amz-access-token": "Atza|nope"}, timeout=5)

    assert throttled.status_code == 429 and throttled.json()["errors"][0]["code"] == "QuotaExceeded"
    assert "Retry-After" not in throttled.headers and throttled.headers["x-amzn-RequestId"]
    assert ok.status_code == 200 and ok.headers["x-amzn-RateLimit-Limit"] == "0.0056"
    assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "Unauthorized"


def test_a_429_without_retry_after_is_backed_off_and_the_page_read(amazon_sandbox):
    connector, _ = read_through_one_429(AMAZON, *amazon_sandbox)

    assert connector.http.rates["/sandbox/amazon/orders/2026-01-01/orders"] == pytest.approx(0.0056)


test_a_failing_page_loses_nothing_and_the_next_sync_completes = failing_page_test(AMAZON)


# -- pull-back


def test_orders_shipped_or_cancelled_on_amazon_are_shipped_or_cancelled_here(amazon_sandbox):
    channel, store = amazon_sandbox
    shipped_there, cancelled_there, untouched = generate(store, 3, mix=False, seed=6)
    run_sync(channel)
    assert Order.objects.filter(status="awaiting_shipment").count() == 3

    sandbox_amazon.ship(shipped_there, tracking_number="9400111899223344556677", carrier_code="USPS")
    sandbox_amazon.cancel(cancelled_there)
    summary = run_sync(channel)

    assert summary.shipped_on_channel == 1 and summary.cancelled_on_channel == 1 and not summary.errors
    shipped = Order.objects.get(external_id=shipped_there.external_id)
    f = shipped.fulfilments.get()
    assert shipped.status == "shipped" and (f.tracking_number, f.carrier_name) == (
        "9400111899223344556677",
        "USPS",
    )
    assert Order.objects.get(external_id=cancelled_there.external_id).status == "cancelled"
    assert Order.objects.get(external_id=untouched.external_id).status == "awaiting_shipment"


# -- writing


def test_confirm_shipment_with_a_carrier_amazon_lists(amazon_sandbox):
    channel, store = amazon_sandbox
    [sandbox_order] = generate(store, 1, mix=False, seed=7)

    result = channel.connector().push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id,
            tracking_number="JD000123456GB",
            carrier="Royal Mail",
            service="Tracked 48",
            shipped_at=datetime(2026, 2, 4, 16, 0, tzinfo=UTC),
        )
    )

    request = confirmations().get()
    assert request.parsed == {
        "marketplaceId": "A1F83G8C2ARO7P",
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "Royal Mail",
            "trackingNumber": "JD000123456GB",
            "shippingMethod": "Tracked 48",
            "shipDate": "2026-02-04T16:00:00Z",
            "orderItems": [
                {"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]}
                for i in sandbox_order.data["orderItems"]
            ],
        },
    }
    assert result.remote_id == "1"
    sandbox_order.refresh_from_db()
    assert sandbox_order.data["fulfillment"]["fulfillmentStatus"] == "SHIPPED"


def test_confirm_shipment_with_a_carrier_amazon_does_not_list_sends_other_and_the_name(amazon_sandbox):
    channel, store = amazon_sandbox
    [sandbox_order] = generate(store, 1, mix=False, seed=8)

    channel.connector().push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id, tracking_number="BOB1", carrier="Bob's Couriers"
        )
    )

    detail = confirmations().get().parsed["packageDetail"]
    assert (detail["carrierCode"], detail["carrierName"]) == ("Other", "Bob's Couriers")


def test_a_second_package_gets_the_next_reference_and_a_retry_edits_the_same_one(amazon_sandbox):
    channel, store = amazon_sandbox
    order = make_order(store)
    order["orderItems"] = order["orderItems"][:1]
    order["orderItems"][0].update(
        quantityOrdered=2, fulfillment={"quantityFulfilled": 0, "quantityUnfulfilled": 2}
    )
    sandbox_order = add_order(store, order)
    item = order["orderItems"][0]["orderItemId"]
    connector = channel.connector()

    first = connector.push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id,
            tracking_number="A1",
            carrier="UPS",
            lines=[(item, 1)],
        )
    )
    second = connector.push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id,
            tracking_number="A2",
            carrier="UPS",
            lines=[(item, 1)],
        )
    )
    again = connector.push_fulfilment(
        RemoteFulfilment(order_external_id=sandbox_order.external_id, tracking_number="A2", carrier="UPS")
    )

    assert (first.remote_id, second.remote_id, again.remote_id) == ("1", "2", "2")
    sandbox_order.refresh_from_db()
    assert len(sandbox_order.data["packages"]) == 2
    assert sandbox_order.data["fulfillment"]["fulfillmentStatus"] == "SHIPPED"


def test_a_shipment_without_tracking_is_blocked_and_never_sent(amazon_sandbox):
    channel, store = amazon_sandbox
    generate(store, 1, mix=False, seed=9)
    run_sync(channel)
    order = Order.objects.get()

    f = services.record_fulfilment(
        order=order,
        tracking_number="",
        carrier_name="Royal Mail",
        lines=[(ln.external_id, ln.quantity) for ln in order.lines.filter(is_physical=True)],
    )

    f.refresh_from_db()
    assert f.state == Fulfilment.State.BLOCKED and "requires a tracking number" in f.last_error
    assert order.events.filter(kind=OrderEvent.Kind.PUSH_BLOCKED).exists()
    assert not confirmations().exists()


def test_a_booked_shipment_reaches_amazon_through_the_outbox(amazon_sandbox):
    channel, store = amazon_sandbox
    generate(store, 1, mix=False, seed=10)
    run_sync(channel)
    order = Order.objects.get()

    f = services.record_fulfilment(
        order=order,
        tracking_number="1Z999AA10123456784",
        carrier_name="UPS",
        lines=[(ln.external_id, ln.quantity) for ln in order.lines.filter(is_physical=True)],
    )

    f.refresh_from_db()
    assert f.state == Fulfilment.State.SENT and f.remote_id
    assert f.remote_id == f.sent_payload["packageDetail"]["packageReferenceId"]
    assert f.sent_payload["packageDetail"]["carrierCode"] == "UPS"
    summary = run_sync(channel)  # Amazon now says SHIPPED; nothing changes here
    assert summary.shipped_on_channel == 0 and Fulfilment.objects.count() == 1


def test_amazon_has_no_cancel_call(amazon_sandbox):
    channel, _ = amazon_sandbox
    with pytest.raises(NotSupported):
        channel.connector().cancel_order("202-1234567-7654321")


def test_sandbox_orders_command_adds_amazon_orders(amazon_sandbox):
    channel, store = amazon_sandbox
    call_command("sandbox_orders", "--channel", "Amazon-UK", "--count", "10")
    assert SandboxOrder.objects.filter(store=store).count() == 10
    summary = run_sync(Channel.objects.get(pk=channel.pk))
    assert summary.imported == 8 and dict(summary.skipped) == {"unpaid": 1, "shipped": 1}
