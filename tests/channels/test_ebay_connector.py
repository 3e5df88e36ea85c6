"""The eBay Sell Fulfillment connector against the sandbox eBay API over real HTTP."""

import http.client
import json
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import call_command

from channels.connectors import ebay
from channels.connectors.base import NotSupported, RemoteFulfilment
from channels.models import Channel
from orders import services
from orders.models import Fulfilment, Order, OrderEvent, OrderLine, RemoteProductCache, SkippedOrder
from orders.tasks import run_sync
from sandbox import ebay as sandbox_ebay
from sandbox.generators.ebay import add_order, ensure_inventory, generate, make_order
from sandbox.models import SandboxOrder, SandboxRequest
from tests.channels.conftest_marketplaces import *  # noqa: F403 - the sandbox fixtures
from tests.channels.faults import (
    Marketplace,
    all_pages,
    assert_client_secret_refused,
    assert_refused_again_after_one_refresh,
    failing_page_test,
    read_through_one_429,
    sync_after_revoking,
)

NOW = datetime.now(tz=UTC)

EBAY = Marketplace(
    name="ebay",
    sandbox="ebay_sandbox",
    generate=generate,
    orders_path="/order",
    page_size_at=(ebay, "PAGE_SIZE"),
    page_size=10,
    orders=15,
    seed=5,
    resume_key="offset",
    resume_at=10,
    timeout=0.4,
    slow=1.0,
)


def token_requests():
    return SandboxRequest.objects.filter(path__endswith="/oauth2/token")


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(*EBAY.page_size_at, EBAY.page_size)


# -- reading


def test_reads_every_page_through_next_with_an_encoded_filter(ebay_sandbox, small_pages):
    channel, store = ebay_sandbox
    generate(store, 25, mix=False, seed=1)

    pages = all_pages(channel.connector())

    assert [len(p.orders) for p in pages] == [10, 10, 5]
    assert len({o.external_id for p in pages for o in p.orders}) == 25
    assert [p.cursor.get("offset") for p in pages] == [10, 20, None]
    assert set(pages[-1].cursor) == {"since"}  # a finished pass resumes from its start time
    assert pages[-1].cursor["since"] < ebay.iso(datetime.now(tz=UTC))


def test_the_sandbox_refuses_a_filter_that_is_not_percent_encoded(ebay_sandbox):
    channel, _ = ebay_sandbox
    since = ebay.iso(datetime.now(tz=UTC) - timedelta(days=1))
    headers = {"Authorization": f"Bearer {channel.credentials['access_token']}"}

    # requests would escape the brackets itself: send the raw request line.
    url = urlsplit(channel.api_base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    connection.request(
        "GET", f"{url.path}/order?filter=orderfulfillmentstatus:{{NOT_STARTED|IN_PROGRESS}}", headers=headers
    )
    raw = connection.getresponse()
    assert raw.status == 400
    error = json.loads(raw.read())["errors"][0]
    connection.close()
    assert (
        error["errorId"] == 30800 and error["domain"] == "API_FULFILLMENT" and error["category"] == "REQUEST"
    )

    encoded = requests.get(
        f"{channel.api_base_url}/order?filter=orderfulfillmentstatus:%7BNOT_STARTED%7CIN_PROGRESS"
        f"%7D,lastmodifieddate:%5B{since}..%5D",
        headers=headers,
        timeout=5,
    )
    assert encoded.status_code == 200 and encoded.json()["total"] == 0


def test_parses_string_amounts_ship_to_variations_promotions_and_notes(ebay_sandbox):
    channel, store = ebay_sandbox
    order = make_order(store, rng=random.Random(4))
    order.update(
        orderId="27-11111-22222",
        buyerCheckoutNotes="Ring the bell",
        pricingSummary={
            "priceSubtotal": {"value": "48.00", "currency": "GBP"},
            "priceDiscountSubtotal": {"value": "-4.80", "currency": "GBP"},
            "deliveryCost": {"value": "3.95", "currency": "GBP"},
            "deliveryDiscount": {"value": "-1.00", "currency": "GBP"},
            "total": {"value": "46.15", "currency": "GBP"},
        },
    )
    order["paymentSummary"]["payments"][0]["paymentMethod"] = "PAYPAL"
    order["fulfillmentStartInstructions"][0]["shippingStep"] = {
        "shippingCarrierCode": "RoyalMail",
        "shippingServiceCode": "UK_RoyalMailTracked48",
        "shipTo": {
            "fullName": "Ann Lee",
            "companyName": "Lee & Co",
            "email": "ann@example.com",
            "primaryPhone": {"phoneNumber": "+44 113 496 0000"},
            "contactAddress": {
                "addressLine1": "1 High St",
                "addressLine2": "Flat 2",
                "city": "Leeds",
                "stateOrProvince": "West Yorkshire",
                "postalCode": "LS1 4AB",
                "countryCode": "GB",
            },
        },
    }
    line = order["lineItems"][0]
    line.update(
        lineItemId="10001",
        sku="TEE-VINT",
        title="Vintage wash T-shirt",
        quantity=2,
        lineItemCost={"value": "37.00", "currency": "GBP"},
        legacyItemId="295000000102",
        variationAspects=[{"name": "Size", "value": "M"}, {"name": "Colour", "value": "Oat"}],
        appliedPromotions=[
            {
                "promotionId": "5000101",
                "description": "10% off 2 or more items",
                "discountAmount": {"value": "3.70", "currency": "GBP"},
            }
        ],
    )
    camera = dict(
        line,
        lineItemId="10002",
        sku="CAM-OM1",
        quantity=1,
        variationAspects=[],
        appliedPromotions=[],
        lineItemCost={"value": "145.00", "currency": "GBP"},
    )
    order["lineItems"] = [line, camera]
    add_order(store, order)
    ensure_inventory(store)

    connector = channel.connector()
    [page] = all_pages(connector)
    cache = {}
    connector.enrich(page.orders, cache)
    [o] = page.orders

    assert (o.external_id, o.order_number, o.remote_status) == (
        "27-11111-22222",
        "27-11111-22222",
        "NOT_STARTED",
    )
    assert o.is_paid and not o.is_shipped and not o.is_cancelled
    assert (o.total, o.currency) == (Decimal("46.15"), "GBP")
    assert o.discount_total == Decimal("5.80")  # item discounts + delivery discount, both negative on eBay
    assert o.coupon_codes == ["5000101"]  # the promotion id; the description is free text
    assert o.customer_note == "Ring the bell" and o.payment_method == "PAYPAL"
    assert o.requested_service == "UK_RoyalMailTracked48"
    assert (o.customer_name, o.email, o.phone) == ("Ann Lee", "ann@example.com", "+44 113 496 0000")
    a = o.address
    assert (a.name, a.company, a.line1, a.line2, a.city, a.state, a.postal_code, a.country, a.phone) == (
        "Ann Lee",
        "Lee & Co",
        "1 High St",
        "Flat 2",
        "Leeds",
        "West Yorkshire",
        "LS1 4AB",
        "GB",
        "+44 113 496 0000",
    )
    ln, cam = o.lines
    assert (ln.external_id, ln.sku, ln.title, ln.quantity) == ("10001", "TEE-VINT", "Vintage wash T-shirt", 2)
    assert ln.unit_price == Decimal("18.50")  # lineItemCost covers both units
    assert ln.options == {"Size": "M", "Colour": "Oat"} and ln.listing_id == "295000000102"
    assert ln.is_physical
    # Weight and image from the Inventory API by SKU; the camera is not managed there.
    assert ln.weight_g == 198 and ln.image_url.endswith("/295000000102/s-l500.jpg")
    assert (cam.weight_g, cam.image_url) == (None, "") and cache["ebay-item:CAM-OM1"] == {"missing": True}
    assert o.total_weight_g == 396
    assert o.created_at == datetime.fromisoformat(order["creationDate"].replace("Z", "+00:00"))
    assert not o.is_gift  # eBay has no gift flag for shipped goods


def test_without_the_inventory_scope_weights_stay_empty_and_the_sync_goes_on(ebay_sandbox):
    channel, store = ebay_sandbox
    store.settings = {"no_inventory_scope": True}
    store.save()
    generate(store, 3, mix=False, seed=2)

    summary = run_sync(channel)

    channel.refresh_from_db()
    assert summary.imported == 3 and not summary.errors and not channel.needs_reconnect
    assert not OrderLine.objects.exclude(weight_g=None).exists()
    assert not RemoteProductCache.objects.filter(
        key__startswith="ebay-item:"
    ).exists()  # asked again next time


def test_masked_email_pickup_orders_and_gift_cards(ebay_sandbox):
    channel, store = ebay_sandbox
    masked = make_order(store)
    masked["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]["email"] = "Invalid Request"
    add_order(store, masked)
    add_order(store, make_order(store, kind="no_address"))
    add_order(store, make_order(store, kind="digital"))

    summary = run_sync(channel)

    assert summary.imported == 1 and not summary.errors
    assert Order.objects.get().email == ""
    assert dict(summary.skipped) == {"no_address": 1, "digital_only": 1}


def test_a_malformed_order_is_skipped_with_a_reason_and_the_others_import(ebay_sandbox):
    channel, store = ebay_sandbox
    generate(store, 3, mix=False, seed=3)
    broken = make_order(store)
    broken["lineItems"][0]["quantity"] = "two"
    add_order(store, broken)

    summary = run_sync(channel)

    assert summary.imported == 3 and not summary.errors
    skipped = SkippedOrder.objects.get()
    assert (skipped.external_id, skipped.reason) == (broken["orderId"], "malformed")


def test_a_cursor_older_than_ninety_days_is_clamped(ebay_sandbox):
    channel, store = ebay_sandbox
    generate(store, 2, mix=False)
    pages = all_pages(channel.connector(), cursor={"since": "2025-01-01T00:00:00.000Z"})
    assert sum(len(p.orders) for p in pages) == 2


# -- credentials


def test_an_access_token_about_to_expire_is_refreshed_first_and_stored_on_the_channel(ebay_sandbox):
    channel, store = ebay_sandbox
    generate(store, 2, mix=False)
    channel.credentials = {**channel.credentials, "expires_at": int(time.time()) + 60}
    channel.save()
    old = channel.credentials["access_token"]

    summary = run_sync(channel)

    assert summary.imported == 2 and not summary.errors
    channel.refresh_from_db()
    assert channel.credentials["access_token"] != old
    assert abs(channel.credentials["expires_at"] - (time.time() + 7200)) < 60
    assert channel.credentials["refresh_token"] == store.credentials["refresh_token"]
    [grant] = token_requests()
    assert grant.parsed["grant_type"] == "refresh_token" and grant.parsed["scope"] == ebay.SCOPE
    store.refresh_from_db()
    assert channel.credentials["access_token"] in store.settings["tokens"]


def test_a_refused_access_token_is_refreshed_once_and_the_call_retried(ebay_sandbox):
    channel, store = ebay_sandbox
    generate(store, 2, mix=False)
    channel.credentials = {**channel.credentials, "access_token": "v^1.1#revoked-early"}
    channel.save()

    pages = all_pages(channel.connector())

    assert sum(len(p.orders) for p in pages) == 2
    assert token_requests().count() == 1


def test_a_token_refused_again_after_the_refresh_is_an_auth_error_without_a_loop(ebay_sandbox):
    assert_refused_again_after_one_refresh(EBAY, *ebay_sandbox, token_requests)


def test_a_wrong_client_secret_is_refused_as_an_auth_error(ebay_sandbox):
    channel, store = ebay_sandbox
    connector = channel.connector()
    connector.credentials.update(client_secret="wrong", expires_at=int(time.time()) - 10)

    assert_client_secret_refused(connector)


def test_a_revoked_consent_marks_the_channel_needs_reconnecting(ebay_sandbox):
    sync_after_revoking(EBAY, *ebay_sandbox, sandbox_ebay.revoke)


# -- rate limits and faults


def test_a_429_is_retried_and_the_page_read(ebay_sandbox):
    read_through_one_429(EBAY, *ebay_sandbox)


test_a_failing_page_loses_nothing_and_the_next_sync_completes = failing_page_test(EBAY)


# -- pull-back


def test_orders_shipped_or_cancelled_on_ebay_are_shipped_or_cancelled_here(ebay_sandbox):
    channel, store = ebay_sandbox
    shipped_there, cancelled_there, untouched = generate(store, 3, mix=False, seed=6)
    run_sync(channel)
    assert Order.objects.filter(status="awaiting_shipment").count() == 3

    sandbox_ebay.ship(shipped_there, tracking_number="RM123456785GB", carrier="RoyalMail")
    sandbox_ebay.cancel(cancelled_there)
    summary = run_sync(channel)

    assert summary.shipped_on_channel == 1 and summary.cancelled_on_channel == 1 and not summary.errors
    shipped = Order.objects.get(external_id=shipped_there.external_id)
    assert shipped.status == "shipped"
    f = shipped.fulfilments.get()
    assert (f.tracking_number, f.carrier_name, f.state) == ("RM123456785GB", "RoyalMail", "sent")
    assert Order.objects.get(external_id=cancelled_there.external_id).status == "cancelled"
    assert Order.objects.get(external_id=untouched.external_id).status == "awaiting_shipment"
    # The tracking was read once and cached; a later sync does not ask eBay again.
    assert RemoteProductCache.objects.filter(key=f"ebay-fulfilments:{shipped_there.external_id}").exists()
    store.refresh_from_db()
    store.faults = [{"path": "/shipping_fulfillment", "status": 500, "times": 20}]
    store.save()
    assert not run_sync(channel).errors
    store.refresh_from_db()
    assert store.faults[0]["times"] == 20


# -- writing


def test_push_creates_a_shipping_fulfillment_with_ebay_carrier_code_and_reads_the_location(ebay_sandbox):
    channel, store = ebay_sandbox
    [sandbox_order] = generate(store, 1, mix=False, seed=7)
    shipped_at = datetime(2026, 2, 2, 15, 0, tzinfo=UTC)

    result = channel.connector().push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id,
            tracking_number="JD000123456GB",
            carrier="Royal Mail",
            shipped_at=shipped_at,
        )
    )

    request = SandboxRequest.objects.get(path__endswith="/shipping_fulfillment")
    assert request.method == "POST" and request.content_type == "application/json"
    assert request.parsed == {
        "lineItems": [
            {"lineItemId": li["lineItemId"], "quantity": li["quantity"]}
            for li in sandbox_order.data["lineItems"]
        ],
        "shippedDate": "2026-02-02T15:00:00.000Z",
        "shippingCarrierCode": "RoyalMail",
        "trackingNumber": "JD000123456GB",
    }
    assert result.remote_id == "JD000123456GB"  # the fulfillmentId from the Location header
    sandbox_order.refresh_from_db()
    assert sandbox_order.data["orderFulfillmentStatus"] == "FULFILLED"


def test_push_of_some_lines_with_an_unknown_carrier_sends_other(ebay_sandbox):
    channel, store = ebay_sandbox
    order = make_order(store, rng=random.Random(1))
    first = order["lineItems"][0]
    order["lineItems"] = [first, dict(first, lineItemId="20002")]
    sandbox_order = add_order(store, order)

    channel.connector().push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id,
            tracking_number="BOB1",
            carrier="Bob's Couriers",
            lines=[("20002", 1)],
        )
    )

    assert SandboxRequest.objects.get().parsed["shippingCarrierCode"] == "Other"
    assert SandboxRequest.objects.get().parsed["lineItems"] == [{"lineItemId": "20002", "quantity": 1}]
    sandbox_order.refresh_from_db()
    assert sandbox_order.data["orderFulfillmentStatus"] == "IN_PROGRESS"


def test_a_booked_shipment_reaches_ebay_through_the_outbox(ebay_sandbox):
    channel, store = ebay_sandbox
    generate(store, 1, mix=False, seed=8)
    run_sync(channel)
    order = Order.objects.get()

    f = services.record_fulfilment(
        order=order,
        tracking_number="1Z999AA10123456784",
        carrier_name="UPS",
        lines=[(ln.external_id, ln.quantity) for ln in order.lines.filter(is_physical=True)],
    )

    f.refresh_from_db()
    assert f.state == Fulfilment.State.SENT and f.remote_id == "1Z999AA10123456784"
    assert f.sent_payload["shippingCarrierCode"] == "UPS"
    assert order.events.filter(kind=OrderEvent.Kind.PUSHED).exists()
    # eBay now says FULFILLED; the next sync changes nothing here.
    summary = run_sync(channel)
    assert summary.shipped_on_channel == 0 and Fulfilment.objects.count() == 1


def test_ebay_has_no_cancel_call(ebay_sandbox):
    channel, _ = ebay_sandbox
    with pytest.raises(NotSupported):
        channel.connector().cancel_order("12-34567-89012")


def test_sandbox_orders_command_adds_ebay_orders(ebay_sandbox):
    channel, store = ebay_sandbox
    call_command("sandbox_orders", "--channel", "eBay-Main", "--count", "10")
    assert SandboxOrder.objects.filter(store=store).count() == 10
    summary = run_sync(Channel.objects.get(pk=channel.pk))
    assert summary.imported == 8 and sum(summary.skipped.values()) == 2
