"""Sandboxes for dropshipping: Stripe, PayPal and a supplier API served by live_server, and
helpers that build supplier orders the way routing does."""

from decimal import Decimal

import pytest

from orders.models import Order
from sandbox.models import SandboxStore
from suppliers.models import PaymentGateway, Supplier
from suppliers.routing import route_orders
from tests.factories import OrderFactory, OrderLineFactory
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

SUPPLIER_ACCOUNT = "atelier-nord"
SUPPLIER_KEY = "sup_live_atelier"


@pytest.fixture
def stripe(live_server, transactional_db):
    """A Stripe test account in the sandbox and the gateway paying through it with a Visa card."""
    store = SandboxStore.objects.create(
        kind="stripe", key="acct_shipdesk", credentials={"secret_key": "sk_test_sd"}
    )
    gateway = PaymentGateway.objects.create(
        name="Card (Stripe)",
        kind="stripe",
        api_base_url=f"{live_server.url}/sandbox/stripe/v1",
        credentials={"secret_key": "sk_test_sd", "payment_method": "pm_card_visa"},
    )
    return gateway, store


@pytest.fixture
def paypal(live_server, transactional_db):
    """A PayPal REST app in the sandbox and the gateway paying from a saved PayPal account."""
    store = SandboxStore.objects.create(
        kind="paypal",
        key="shipdesk-app",
        credentials={"client_id": "AZ-client", "client_secret": "EL-secret"},
    )
    gateway = PaymentGateway.objects.create(
        name="PayPal",
        kind="paypal",
        api_base_url=f"{live_server.url}/sandbox/paypal",
        credentials={"client_id": "AZ-client", "client_secret": "EL-secret", "vault_id": "8kk8451t"},
    )
    return gateway, store


@pytest.fixture
def supplier_store(live_server, transactional_db):
    return SandboxStore.objects.create(
        kind="supplier", key=SUPPLIER_ACCOUNT, credentials={"api_key": SUPPLIER_KEY}
    )


@pytest.fixture
def atelier_nord(live_server, supplier_store):
    """An automatic-order supplier with an API, selling TEE-ORG and CANDLE-SOY."""
    supplier = SupplierFactory(
        name="Atelier Nord",
        auto_order=True,
        order_method=Supplier.OrderMethod.API,
        tracking_method=Supplier.TrackingMethod.API,
        currency="EUR",
        api_base_url=f"{live_server.url}/sandbox/supplier/{SUPPLIER_ACCOUNT}/v1",
        credentials={"api_key": SUPPLIER_KEY},
    )
    SupplierProductFactory(
        supplier=supplier, sku="TEE-ORG", supplier_sku="AN-TEE", cost_price=Decimal("7.50")
    )
    SupplierProductFactory(
        supplier=supplier, sku="CANDLE-SOY", supplier_sku="AN-CANDLE", cost_price=Decimal("4.25")
    )
    return supplier


def supplier_orders_for(supplier, count: int, *, channel=None, quantity: int = 1, cost=Decimal("6.00")):
    """`count` store orders with one line of this supplier's product each, routed."""
    product = supplier.products.first() or SupplierProductFactory(supplier=supplier, cost_price=cost)
    extra = {"channel": channel} if channel is not None else {}
    orders = [OrderFactory(**extra) for _ in range(count)]
    for order in orders:
        OrderLineFactory(order=order, sku=product.sku, quantity=quantity)
    route_orders(Order.objects.filter(pk__in=[o.pk for o in orders]))
    return list(supplier.orders.filter(order__in=orders).order_by("id"))


@pytest.fixture
def shopify(live_server, transactional_db):
    """A Shopify channel on the sandbox whose shop stocks CANDLE-FIG and NECK-45 at Atelier Nord's
    fulfillment service (how a dropshipping supplier appears on Shopify), and its store."""
    from sandbox.generators.shopify import ensure_products, use_fulfillment_service
    from sandbox.stores import store_for_channel
    from tests.factories import ChannelFactory

    channel = ChannelFactory(
        name="Shopify-Main",
        kind="shopify",
        api_base_url=f"{live_server.url}/sandbox/shopify/admin/api/2024-07",
        shop_id="northern-goods.myshopify.com",
        credentials={"access_token": "shpat_sandbox_token", "webhook_secret": "shpss_sandbox_secret"},
    )
    store = store_for_channel(channel)
    ensure_products(store)
    use_fulfillment_service(store, "atelier-nord", name="Atelier Nord", skus=["CANDLE-FIG", "NECK-45"])
    return channel, store
