"""The Etsy connector against the sandbox Etsy API over real HTTP."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests

from channels.connectors.base import ConnectorError, RemoteFulfilment
from sandbox.generators.etsy import add_receipt, ensure_listings, generate, make_receipt
from sandbox.models import SandboxRequest

NOW = datetime.now(tz=UTC)


def all_pages(connector, cursor=None):
    return list(connector.iter_pages(cursor or {}, now=NOW, window_days=30))


def test_reads_every_page_with_offset_pagination(etsy_sandbox):
    channel, store = etsy_sandbox
    generate(store, 230, mix=False, seed=1)

    pages = all_pages(channel.connector())

    assert [len(p.orders) for p in pages] == [100, 100, 30]
    assert len({o.external_id for p in pages for o in p.orders}) == 230
    assert pages[0].cursor["offset"] == 100 and pages[1].cursor["offset"] == 200
    assert "offset" not in pages[-1].cursor  # a finished pass resumes from its start time next time


def test_parses_money_with_divisor_title_case_status_and_variations(etsy_sandbox):
    channel, store = etsy_sandbox
    ensure_listings(store)
    receipt = make_receipt(store)
    receipt.update(status="Paid", is_gift=True, gift_message="Happy birthday!", message_from_buyer="No invoice",
                   buyer_email="ann@example.com", payment_method="paypal", zip="LS1 4AB", country_iso="GB",
                   grandtotal={"amount": 2649, "divisor": 100, "currency_code": "GBP"},
                   discount_amt={"amount": 200, "divisor": 100, "currency_code": "GBP"})
    receipt["transactions"] = receipt["transactions"][:1]
    t = receipt["transactions"][0]
    t.update(sku="MUG-RED-L", quantity=2, price={"amount": 1000, "divisor": 100, "currency_code": "GBP"},
             listing_id=5001, is_digital=False, shipping_method="Royal Mail Tracked 48", shipping_upgrade=None,
             variations=[{"property_id": 200, "value_id": 300, "formatted_name": "Colour", "formatted_value": "Red"}])
    add_receipt(store, receipt)

    connector = channel.connector()
    [page] = all_pages(connector)
    order = page.orders[0]
    cache = {}
    connector.enrich(page.orders, cache)

    assert order.total == Decimal("26.49") and order.currency == "GBP"
    assert order.discount_total == Decimal("2.00")
    assert order.is_paid and not order.is_shipped and order.remote_status == "Paid"
    assert order.is_gift and order.gift_message == "Happy birthday!"
    assert order.customer_note == "No invoice" and order.email == "ann@example.com"
    assert order.payment_method == "paypal"
    assert order.requested_service == "Royal Mail Tracked 48"
    assert order.address.postal_code == "LS1 4AB" and order.address.country == "GB"
    line = order.lines[0]
    assert (line.sku, line.quantity, line.unit_price) == ("MUG-RED-L", 2, Decimal("10.00"))
    assert line.options == {"Colour": "Red"}
    assert line.weight_g == 420  # from GET /listings/5001, not on the receipt
    assert line.image_url.endswith("il_170x135.svg")
    assert requests.get(line.image_url, timeout=5).headers["Content-Type"] == "image/svg+xml"
    assert order.total_weight_g == 840
    assert "listing:5001" in cache


def test_refuses_a_key_without_the_shared_secret(etsy_sandbox):
    channel, store = etsy_sandbox
    channel.credentials = {"keystring": "ks", "shared_secret": "", "access_token": "token"}
    connector = channel.connector()
    connector.credentials["shared_secret"] = "wrong"

    with pytest.raises(ConnectorError) as err:
        all_pages(connector)

    assert err.value.auth and err.value.status == 403


def test_tracking_push_is_form_encoded_with_etsy_carrier_name(etsy_sandbox):
    channel, store = etsy_sandbox
    [sandbox_order] = generate(store, 1, mix=False)

    result = channel.connector().push_fulfilment(RemoteFulfilment(
        order_external_id=sandbox_order.external_id, tracking_number="JD000123456GB", carrier="Royal Mail",
        note="On its way"))

    request = SandboxRequest.objects.get(path__endswith="/tracking")
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.parsed == {"tracking_code": "JD000123456GB", "carrier_name": "royal-mail", "send_bcc": "false",
                              "note_to_buyer": "On its way"}
    sandbox_order.refresh_from_db()
    assert sandbox_order.data["shipments"][-1]["tracking_code"] == "JD000123456GB"
    assert sandbox_order.data["is_shipped"] is True
    assert result.remote_id


def test_unknown_carrier_goes_to_etsy_as_other(etsy_sandbox):
    channel, store = etsy_sandbox
    [sandbox_order] = generate(store, 1, mix=False)
    channel.connector().push_fulfilment(RemoteFulfilment(
        order_external_id=sandbox_order.external_id, tracking_number="X1", carrier="Bob's Couriers"))
    assert SandboxRequest.objects.get().parsed["carrier_name"] == "other"


@pytest.mark.parametrize("fault", [{"status": 500, "times": 10}, {"status": 429, "retry_after": 0, "times": 10},
                                   {"truncate": True}, {"malformed": True}])
def test_faults_surface_as_connector_errors(etsy_sandbox, fault):
    channel, store = etsy_sandbox
    generate(store, 3, mix=False)
    store.faults = [fault]
    store.save()
    with pytest.raises(ConnectorError):
        all_pages(channel.connector())


def test_a_single_429_is_retried_after_retry_after(etsy_sandbox):
    channel, store = etsy_sandbox
    generate(store, 3, mix=False)
    store.faults = [{"status": 429, "retry_after": 0}]
    store.save()
    [page] = all_pages(channel.connector())
    assert len(page.orders) == 3


def test_fetch_order_reads_one_receipt(etsy_sandbox):
    channel, store = etsy_sandbox
    [sandbox_order] = generate(store, 1, mix=False)
    order = channel.connector().fetch_order(sandbox_order.external_id)
    assert order.external_id == sandbox_order.external_id
    assert order.address.postal_code == sandbox_order.data["zip"]
