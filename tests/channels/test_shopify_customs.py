"""Customs data from Shopify (issue 16): the HS code and country of origin of each variant's
inventory item reach the order lines and fill the product catalogue, over HTTP to the sandbox."""

from datetime import UTC, datetime, timedelta

from orders.models import Order, Product, RemoteProductCache
from orders.tasks import run_sync
from sandbox.generators.shopify import INVENTORY_ITEM_OFFSET, add_order, ensure_products, make_order
from sandbox.models import SandboxStore
from tests.channels.faults import all_pages
from tests.factories import ProductFactory

NOW = datetime.now(tz=UTC)
FEED = {"since": (NOW - timedelta(days=30)).isoformat(timespec="seconds")}


def shop_order(store, items):
    ensure_products(store)
    return add_order(store, make_order(store, kind="ok", items=items))


def test_the_connector_reads_each_lines_hs_code_and_origin_from_its_inventory_item(shopify_sandbox):
    channel, store = shopify_sandbox
    shop_order(store, [("MUG-RED", 1), ("TEE-M-BLK", 2), ("NECK-45", 1), ("CANDLE-CEDAR", 1)])
    connector = channel.connector()
    [page] = all_pages(connector, FEED, now=NOW)
    cache = {}

    connector.enrich(page.orders, cache)

    lines = {ln.sku: (ln.hs_code, ln.origin_country) for ln in page.orders[0].lines}
    assert lines == {
        "MUG-RED": ("691200", "GB"),
        "TEE-M-BLK": ("610910", "PT"),
        "NECK-45": ("711311", ""),  # the merchant gave no origin on Shopify
        "CANDLE-CEDAR": ("", ""),  # nor anything for this one
    }
    # Cached with the product, so the next sync asks Shopify for neither.
    assert cache["product+customs:7100002"]["variants"]["7200021"]["hs_code"] == "691200"


def test_a_sync_fills_the_catalogue_without_overwriting_what_staff_entered(shopify_sandbox):
    channel, store = shopify_sandbox
    ProductFactory(sku="MUG-RED", hs_code="691110", origin_country="CN", customs_description="Mug")
    ProductFactory(sku="TEE-M-BLK", hs_code="", origin_country="", customs_description="Cotton T-shirt")
    ProductFactory(sku="CANDLE-FIG", hs_code="340690", origin_country="", customs_description="Candle")
    shop_order(store, [("MUG-RED", 1), ("TEE-M-BLK", 1), ("CANDLE-FIG", 1), ("NECK-45", 1)])
    shop_order(store, [("MUG-SAGE", 1), ("CANDLE-CEDAR", 2)])

    summary = run_sync(channel)

    assert not summary.errors and Order.objects.count() == 2
    catalogue = {p.sku: (p.hs_code, p.origin_country, p.customs_description) for p in Product.objects.all()}
    assert catalogue == {
        "MUG-RED": ("691110", "CN", "Mug"),  # staff's values stay
        "TEE-M-BLK": ("610910", "PT", "Cotton T-shirt"),  # empty fields filled, the rest kept
        "CANDLE-FIG": ("340690", "GB", "Candle"),  # staff's HS code stays, the missing origin is filled
        "NECK-45": ("711311", "", ""),  # new entries, from Shopify
        "MUG-SAGE": ("691200", "GB", ""),
        # CANDLE-CEDAR has no customs data on Shopify: no entry
    }
    assert Product.objects.get(sku="MUG-SAGE").title == "Hand-thrown mug"


def test_a_failing_inventory_items_call_still_imports_the_order_and_the_next_sync_fills_the_catalogue(
    shopify_sandbox,
):
    channel, store = shopify_sandbox
    shop_order(store, [("MUG-RED", 1)])
    store = SandboxStore.objects.get(pk=store.pk)
    store.faults = [{"path": "/inventory_items.json", "status": 500, "times": 5}]
    store.save()

    first = run_sync(channel)

    assert not first.errors and Order.objects.count() == 1
    line = Order.objects.get().lines.get()
    assert line.sku == "MUG-RED" and line.image_url.endswith(".jpg")  # the product call worked
    assert not Product.objects.exists()
    assert not RemoteProductCache.objects.exists()  # nothing cached: the next sync asks again

    store.refresh_from_db()
    store.faults = []
    store.save()
    shop_order(store, [("MUG-RED", 1)])  # a new order, so the change feed has one to read
    second = run_sync(channel)

    assert not second.errors and Order.objects.count() == 2
    assert Product.objects.get(sku="MUG-RED").hs_code == "691200"


def test_the_sandbox_answers_inventory_items_by_ids_with_shopifys_auth(shopify_sandbox, live_server):
    import requests

    channel, store = shopify_sandbox
    ensure_products(store)
    url = f"{channel.api_base_url}/inventory_items.json"
    token = {"X-Shopify-Access-Token": channel.credentials["access_token"]}

    ok = requests.get(url, params={"ids": f"{7_200_021 + INVENTORY_ITEM_OFFSET},1"}, headers=token)
    refused = requests.get(url, params={"ids": "1"}, headers={"X-Shopify-Access-Token": "wrong"})
    no_ids = requests.get(url, headers=token)

    assert ok.status_code == 200 and ok.headers["X-Shopify-Shop-Api-Call-Limit"]
    [item] = ok.json()["inventory_items"]
    assert (item["sku"], item["harmonized_system_code"], item["country_code_of_origin"]) == (
        "MUG-RED",
        "691200",
        "GB",
    )
    assert refused.status_code == 401 and no_ids.status_code == 422


def test_a_product_cached_before_customs_data_existed_is_read_again_with_it(shopify_sandbox):
    channel, store = shopify_sandbox
    old = {"image": "", "variants": {"7200021": {"image": "", "options": {"Colour": "Red"}}}}
    RemoteProductCache.objects.create(channel=channel, key="product:7100002", data=old)
    shop_order(store, [("MUG-RED", 1)])

    assert not run_sync(channel).errors

    assert Product.objects.get(sku="MUG-RED").hs_code == "691200"


def test_an_app_without_the_read_inventory_scope_imports_orders_without_customs_data(shopify_sandbox):
    channel, store = shopify_sandbox
    store.settings = {**(store.settings or {}), "scopes": ["read_orders", "write_fulfillments"]}
    store.save()
    shop_order(store, [("MUG-RED", 1)])

    summary = run_sync(channel)

    channel.refresh_from_db()
    assert not summary.errors and not channel.needs_reconnect and Order.objects.count() == 1
    assert not Product.objects.exists()
