import os
import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.urls import reverse

from channels.connectors import connector_class
from channels.models import Channel
from returns.models import ReturnPolicy
from sandbox import generators
from sandbox.generators.shopify import use_fulfillment_service
from sandbox.models import SandboxOrder, SandboxProduct, SandboxStore
from sandbox.sendcloud import store_for_account
from sandbox.stores import store_for_channel
from shipping.models import Address, Brand, CarrierAccount
from suppliers.models import PaymentGateway, Supplier, SupplierProduct

# Atelier Nord's products: SKUs the demo channels' generated orders carry (Etsy, Shopify, Ecwid).
# store SKU, Atelier Nord's SKU, title, cost price in EUR
ATELIER_NORD = [
    ("TEE-ORG", "AN-TEE-ORG", "Organic cotton tee", "7.50"),
    ("CANDLE-SOY", "AN-CANDLE-SOY", "Soy candle", "4.25"),
    ("CANDLE-FIG", "AN-CANDLE-FIG", "Soy candle, fig", "5.00"),
    ("CANDLE-CEDAR", "AN-CANDLE-CEDAR", "Soy candle, cedar", "5.00"),
    ("NECK-45", "AN-NECK-45", "Silver leaf necklace, 45 cm", "21.00"),
    ("CANDLE-L", "AN-CANDLE-L", "Large candle", "6.00"),
]


def demo_channels(base: str) -> list[tuple[str, str, str, str, dict]]:
    """name, kind, API base URL, shop id, credentials — every channel on the local sandbox."""
    far = int(time.time()) + 3600
    return [
        (
            "Etsy-Main",
            "etsy",
            base + "etsy/v3/application",
            "10001",
            {"keystring": "demo-keystring", "shared_secret": "demo-secret", "access_token": "demo-token"},
        ),
        (
            "Shopify-Main",
            "shopify",
            base + "shopify/admin/api/2024-07",
            "northern-goods.myshopify.com",
            {"access_token": "shpat_demo_token", "webhook_secret": "shpss_demo_secret"},
        ),
        (
            "eBay-Main",
            "ebay",
            base + "ebay/sell/fulfillment/v1",
            "",
            {
                "client_id": "Shipdesk-demo",
                "client_secret": "demo-cs",
                "refresh_token": "v^1.1#demo-refresh",
                "access_token": "v^1.1#demo-access",
                "expires_at": far,
                "token_url": base + "ebay/identity/v1/oauth2/token",
            },
        ),
        (
            "Amazon-UK",
            "amazon",
            base + "amazon",
            "A1F83G8C2ARO7P",
            {
                "client_id": "amzn1.application-oa2-client.demo",
                "client_secret": "demo-cs",
                "refresh_token": "Atzr|demo-refresh",
                "access_token": "Atza|demo-access",
                "expires_at": far,
                "token_url": base + "amazon/auth/o2/token",
            },
        ),
        (
            "Ecwid-Main",
            "ecwid",
            base + "ecwid/api/v3",
            "4870020",
            {"access_token": "secret_demo_token", "client_secret": "ecwid_demo_secret"},
        ),
    ]


def _upsert(model, lookup: dict, values: dict):
    """get_or_create, and the URL fields brought up to date (the port may change between runs)."""
    row, created = model.objects.get_or_create(**lookup, defaults=values)
    if not created and row.api_base_url != values["api_base_url"]:
        row.api_base_url = values["api_base_url"]
        row.save(update_fields=["api_base_url"])
    return row


def demo_supplier(base: str) -> Supplier:
    """Atelier Nord: automatic orders placed through the sandbox supplier store's API, paid by card
    (the Stripe sandbox) or PayPal (the PayPal sandbox). Safe to run twice."""
    SandboxStore.objects.get_or_create(
        kind="stripe",
        key="acct_shipdesk_demo",
        defaults={"credentials": {"secret_key": "sk_test_shipdesk_demo"}},
    )
    SandboxStore.objects.get_or_create(
        kind="paypal",
        key="shipdesk-demo",
        defaults={"credentials": {"client_id": "AZ-shipdesk-demo", "client_secret": "EL-shipdesk-demo"}},
    )
    supplier_store, _ = SandboxStore.objects.get_or_create(
        kind="supplier", key="atelier-nord", defaults={"credentials": {"api_key": "sup_demo_atelier_nord"}}
    )
    for _sku, supplier_sku, title, _cost in ATELIER_NORD:
        SandboxProduct.objects.get_or_create(
            store=supplier_store,
            external_id=supplier_sku,
            defaults={"data": {"sku": supplier_sku, "title": title}},
        )
    card = _upsert(
        PaymentGateway,
        {"name": "Card (Stripe)"},
        {
            "kind": PaymentGateway.Kind.STRIPE,
            "api_base_url": base + "stripe/v1",
            "credentials": {"secret_key": "sk_test_shipdesk_demo", "payment_method": "pm_card_visa"},
        },
    )
    paypal = _upsert(
        PaymentGateway,
        {"name": "PayPal"},
        {
            "kind": PaymentGateway.Kind.PAYPAL,
            "api_base_url": base + "paypal",
            "credentials": {
                "client_id": "AZ-shipdesk-demo",
                "client_secret": "EL-shipdesk-demo",
                "vault_id": "demo-paypal-vault",
            },
        },
    )
    supplier = _upsert(
        Supplier,
        {"name": "Atelier Nord"},
        {
            "contact_name": "Ingrid Nord",
            "email": "orders@atelier-nord.example",
            "currency": "EUR",
            "auto_order": True,
            "order_method": Supplier.OrderMethod.API,
            "tracking_method": Supplier.TrackingMethod.API,
            "api_base_url": base + "supplier/atelier-nord/v1",
            "credentials": {"api_key": "sup_demo_atelier_nord"},
            "notes": "Demo supplier: its orders go to the sandbox supplier store.",
        },
    )
    supplier.allowed_gateways.add(card, paypal)
    for sku, supplier_sku, title, cost in ATELIER_NORD:
        SupplierProduct.objects.get_or_create(
            sku=sku,
            defaults={
                "supplier": supplier,
                "supplier_sku": supplier_sku,
                "title": title,
                "cost_price": Decimal(cost),
            },
        )
    return supplier


def demo_sendcloud(base: str, port: int) -> CarrierAccount:
    """A Sendcloud account on the sandbox (not the default for outbound parcels: the self-printed
    Royal Mail account stays that), booking the brand's return labels with Royal Mail's label-free
    returns, so the portal shows a QR code. Its parcel-status webhooks come back to this server."""
    account = _upsert(
        CarrierAccount,
        {"name": "Sendcloud (sandbox)"},
        {
            "kind": CarrierAccount.Kind.SENDCLOUD,
            "api_base_url": f"{base}sendcloud/api/v2",
            "credentials": {"public_key": "demo-sendcloud-public", "secret_key": "demo-sendcloud-secret"},
            "default_service": "Royal Mail Tracked 48",
            "tracking_company": "Royal Mail",
            "return_service": "royal_mail:tracked/return-qr",
        },
    )
    store_for_account(
        account,
        webhook_url=f"http://127.0.0.1:{port}" + reverse("shipping:carrier_webhook", args=[account.pk]),
    )
    return account


DIRECT_CARRIERS = [
    # (account name, Karrio extension, sandbox prefix, credentials, tracking company)
    (
        "UPS (sandbox)",
        "ups",
        "ups",
        {"client_id": "demo-ups-client", "client_secret": "demo-ups-secret", "account_number": "A1B2C3"},
        "UPS",
    ),
    (
        "DHL Express (sandbox)",
        "mydhl",
        "mydhl",
        {"username": "demo-dhl-key", "password": "demo-dhl-secret", "account_number": "123456789"},
        "DHL Express",
    ),
    (
        "Canada Post (sandbox)",
        "canadapost",
        "canadapost",
        {
            "username": "demo-cp-user",
            "password": "demo-cp-secret",
            "customer_number": "0001234567",
            "contract_id": "0040000000",
        },
        "Canada Post",
    ),
]


def demo_direct_carriers(base: str) -> list[CarrierAccount]:
    """Direct carrier accounts through Karrio, each on its sandbox stand-in (not the default)."""
    import importlib

    accounts = []
    for name, carrier, prefix, credentials, company in DIRECT_CARRIERS:
        account = _upsert(
            CarrierAccount,
            {"name": name},
            {
                "kind": CarrierAccount.Kind.KARRIO,
                "karrio_carrier": carrier,
                "api_base_url": f"{base}{prefix}",
                "credentials": credentials,
                "tracking_company": company,
                "test_mode": True,
            },
        )
        importlib.import_module(f"sandbox.{prefix}").store_for_account(account)
        accounts.append(account)
    return accounts


def connector_kinds() -> set[str]:
    kinds = set()
    for kind in Channel.Kind.values:
        try:
            connector_class(kind)
            kinds.add(kind)
        except Exception:  # noqa: BLE001 - a kind without a connector module
            pass
    return kinds


DEMO_SEED = 2026


class Command(BaseCommand):
    help = (
        "Load demo data: sandbox channels with orders, a brand, a carrier, a dropshipping supplier with its "
        "payment gateways, and a superuser. Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument(
            "--orders", type=int, default=30, help="Sandbox orders per channel on the first run"
        )
        parser.add_argument("--no-sync", action="store_true", help="Do not queue an immediate sync")

    def handle(self, *args, port, orders, no_sync, **options):
        base = f"http://127.0.0.1:{port}/sandbox/"
        warehouse, _ = Address.objects.get_or_create(
            label="Leeds warehouse",
            defaults={
                "name": "Northern Goods Ltd",
                "company": "Northern Goods",
                "line1": "Unit 4, Canal Wharf",
                "city": "Leeds",
                "postal_code": "LS11 5PS",
                "country": "GB",
                "email": "ship@example.com",
                "phone": "+44 113 496 0000",
            },
        )
        returns, _ = Address.objects.get_or_create(
            label="Leeds returns",
            defaults={
                "name": "Northern Goods Returns",
                "line1": "Unit 5, Canal Wharf",
                "city": "Leeds",
                "postal_code": "LS11 5PS",
                "country": "GB",
                "email": "returns@example.com",
            },
        )
        brand, _ = Brand.objects.get_or_create(
            slug="northern-goods",
            defaults={
                "name": "Northern Goods",
                "sender_address": warehouse,
                "return_address": returns,
                "is_default": True,
            },
        )
        CarrierAccount.objects.get_or_create(
            name="Royal Mail (own account)",
            defaults={
                "kind": "selfprint",
                "default_service": "Tracked 48",
                "tracking_company": "Royal Mail",
                "prefix": "SD",
                "tracking_url_template": "https://www.royalmail.com/track-your-item#/tracking-results/{tracking_number}",
                "is_default": True,
            },
        )

        sendcloud = demo_sendcloud(base, port)
        ReturnPolicy.objects.get_or_create(
            brand=brand, defaults={"return_carrier": sendcloud, "allow_not_shipped_with_shipdesk": True}
        )
        self.stdout.write(
            f"  {sendcloud.name}: carrier account; return labels with a QR code for label-free drop-off"
        )

        for account in demo_direct_carriers(base):
            self.stdout.write(f"  {account.name}: direct carrier account (Karrio) on its sandbox")

        # Before the first sync: routing runs as orders are imported.
        supplier = demo_supplier(base)
        self.stdout.write(
            f"  {supplier.name}: dropshipping supplier with {supplier.products.count()} products"
        )

        for name, kind, url, shop_id, creds in demo_channels(base):
            generate = generators.get(kind)
            if generate is None or kind not in connector_kinds():
                self.stdout.write(f"  {name}: no {kind} connector in this build, skipped")
                continue
            channel, created = Channel.objects.get_or_create(
                name=name,
                defaults={
                    "kind": kind,
                    "api_base_url": url,
                    "shop_id": shop_id,
                    "credentials": creds,
                    "sync_interval_minutes": 1,
                },
            )
            if not created and channel.api_base_url != url:  # the port changed since the last run
                channel.api_base_url = url
                channel.credentials = {
                    **channel.credentials,
                    **{k: v for k, v in creds.items() if k == "token_url"},
                }
                channel.save(update_fields=["api_base_url", "credentials"])
            store = store_for_channel(channel)
            if kind == "shopify":  # on Shopify a dropshipping supplier is a fulfillment service
                use_fulfillment_service(
                    store, "atelier-nord", name=supplier.name, skus=[p[0] for p in ATELIER_NORD]
                )
            existing = SandboxOrder.objects.filter(store=store).count()
            if existing == 0:
                # The same demo every time (a fixed seed per shop): the tour and the tests can rely on
                # what it holds (British customers for the returns walk, supplier lines, skipped orders).
                generate(store, orders, mix=True, seed=DEMO_SEED + len(name))
                self.stdout.write(
                    f"  {name}: {orders} sandbox orders created (about one in five will be skipped)"
                )
            else:
                self.stdout.write(f"  {name}: sandbox already has {existing} orders")
            if not no_sync:
                from django_q.tasks import async_task

                async_task("orders.tasks.sync_channel", channel.pk, task_name=f"sync-{channel.pk}")

        User = get_user_model()
        username = os.environ.get("DEMO_USER", "admin")
        password = os.environ.get("DEMO_PASSWORD", "shipdesk-demo")
        user, _ = User.objects.get_or_create(username=username, defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"\nShipdesk admin: http://127.0.0.1:{port}/admin/\nLogin: {username} / {password}\n"
                f"Returns portal: http://127.0.0.1:{port}/returns/ (ship an order first, then type its number and postal code)\n"
            )
        )
