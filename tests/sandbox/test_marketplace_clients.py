"""The marketplace sandboxes as the vendors' own Python clients see them: Shopify's `ShopifyAPI`
and the Etsy Open API v3 client `etsyv3`, pointed at the stand-ins, list orders, read one and
send the write Shipdesk sends (a fulfilment, tracking), and must understand every answer.

Not here, because they cannot be pointed at a local URL without patching their internals:
`ebay-rest` (each API's host is generated into its code; the only switch is eBay's own
sandbox host) and `python-amazon-sp-api` (the endpoint comes from its `Marketplaces` enum and
the Host header is cut from it; only the token client can be replaced). Their calls are checked
against the official specs in test_specs.py instead."""

import gc
from datetime import datetime, timedelta

import pytest
import shopify
from etsyv3 import etsy_api
from etsyv3.models.receipt_request import CreateReceiptShipmentRequest

from sandbox.generators import etsy as etsy_gen
from sandbox.generators import shopify as shopify_gen
from sandbox.models import SandboxOrder
from sandbox.stores import store_for_channel
from tests.factories import ChannelFactory

# -- Shopify (ShopifyAPI, on pyactiveresource)


@pytest.fixture
def shopify_client(live_server, transactional_db):
    """ShopifyAPI aimed at the sandbox: the site is the API base (as a Session would set it for
    a real shop) and the channel's access token goes in the header a Session would add."""
    channel = ChannelFactory(
        name="Shopify-Main",
        kind="shopify",
        shop_id="northern-goods.myshopify.com",
        api_base_url=f"{live_server.url}/sandbox/shopify/admin/api/2024-07",
        credentials={"access_token": "shpat_sandbox_token"},
    )
    store = store_for_channel(channel)
    shopify.ShopifyResource.set_site(channel.api_base_url)
    shopify.ShopifyResource.set_headers({"X-Shopify-Access-Token": channel.credentials["access_token"]})
    yield channel, store
    shopify.ShopifyResource.clear_session()
    gc.collect()  # the finished live-server threads' database connections, held in reference cycles


def test_shopify_api_lists_reads_and_fulfils_an_order(shopify_client):
    channel, store = shopify_client
    made = shopify_gen.generate(store, 3, mix=False, seed=7)

    orders = shopify.Order.find(status="any", limit=50)
    assert sorted(o.id for o in orders) == sorted(int(o.external_id) for o in made)
    order = shopify.Order.find(orders[0].id)
    assert order.line_items and order.shipping_address.country_code
    product = shopify.Product.find(order.line_items[0].product_id)
    assert product.variants

    fulfillment_orders = shopify.FulfillmentOrders.find(order_id=order.id)
    assert fulfillment_orders and fulfillment_orders[0].status == "open"
    fulfillment = shopify.FulfillmentV2(
        {
            "line_items_by_fulfillment_order": [{"fulfillment_order_id": fulfillment_orders[0].id}],
            "tracking_info": {"number": "RL123456785GB", "company": "Royal Mail"},
            "notify_customer": False,
        }
    )
    assert fulfillment.save(), fulfillment.errors.full_messages()
    assert fulfillment.id and fulfillment.status == "success"
    assert shopify.Order.find(order.id).fulfillment_status == "fulfilled"


def test_shopify_api_cancels_an_order(shopify_client):
    channel, store = shopify_client
    made = shopify_gen.generate(store, 1, mix=False, seed=8)[0]

    order = shopify.Order.find(int(made.external_id))
    order.cancel(reason="customer", email=False)  # the client sends these as query parameters
    stored = shopify.Order.find(order.id)
    assert stored.cancelled_at and stored.cancel_reason == "customer"
    assert order.cancelled_at and order.cancel_reason == "customer"  # the client read the answer back


def test_shopify_api_understands_the_sandbox_errors(shopify_client):
    from pyactiveresource.connection import ResourceNotFound, UnauthorizedAccess

    with pytest.raises(ResourceNotFound):
        shopify.Order.find(999999999)
    shopify.ShopifyResource.set_headers({"X-Shopify-Access-Token": "shpat_forged"})
    with pytest.raises(UnauthorizedAccess):
        shopify.Order.find(status="any")


# -- Etsy (etsyv3)


@pytest.fixture
def etsy_client(etsy_sandbox, monkeypatch):
    """etsyv3 aimed at the sandbox. Its base URL is a module constant (`ETSY_API_BASEURL`, no
    setting for it); the key goes as Etsy now requires it, `keystring:shared_secret`."""
    channel, store = etsy_sandbox
    monkeypatch.setattr(etsy_api, "ETSY_API_BASEURL", channel.api_base_url)
    c = channel.credentials
    client = etsy_api.EtsyAPI(
        keystring=f"{c['keystring']}:{c['shared_secret']}",
        token=c["access_token"],
        refresh_token="",
        expiry=datetime.utcnow() + timedelta(hours=1),
    )
    yield client, channel, store
    client.session.close()  # a keep-alive socket would keep a live-server thread's database session open
    gc.collect()  # and the finished server threads' connections, held in reference cycles


def test_etsyv3_lists_and_reads_receipts_and_listings(etsy_client):
    client, channel, store = etsy_client
    made = etsy_gen.generate(store, 3, mix=False, seed=7)
    shop_id = int(channel.shop_id)

    receipts = client.get_shop_receipts(shop_id, limit=25)  # sends was_paid=True&was_shipped=False
    assert sorted(r["receipt_id"] for r in receipts["results"]) == sorted(int(o.external_id) for o in made)
    receipt = client.get_shop_receipt(shop_id, receipts["results"][0]["receipt_id"])
    assert receipt["transactions"] and receipt["country_iso"]
    transaction = receipt["transactions"][0]
    listing = client.get_listing(transaction["listing_id"])
    assert listing["listing_id"] == transaction["listing_id"]
    image = client.get_listing_image(transaction["listing_id"], transaction["listing_image_id"])
    assert image["url_170x135"]


def test_etsyv3_ships_a_receipt(etsy_client):
    client, channel, store = etsy_client
    receipt = etsy_gen.generate(store, 1, mix=False, seed=7)[0]

    shipped = client.create_receipt_shipment(
        int(channel.shop_id),
        int(receipt.external_id),
        CreateReceiptShipmentRequest(
            tracking_code="RL123456785GB", carrier_name="royal-mail", send_bcc=False
        ),
    )
    assert shipped["is_shipped"] and shipped["shipments"][-1]["tracking_code"] == "RL123456785GB"
    assert SandboxOrder.objects.get(pk=receipt.pk).data["is_shipped"]


def test_etsyv3_understands_the_sandbox_errors(etsy_client):
    client, channel, store = etsy_client
    with pytest.raises(etsy_api.NotFound):
        client.get_shop_receipt(int(channel.shop_id), 999999999)
    client.session.headers["Authorization"] = "Bearer forged.token"
    with pytest.raises(etsy_api.Unauthorised):
        client.get_shop_receipts(int(channel.shop_id))
