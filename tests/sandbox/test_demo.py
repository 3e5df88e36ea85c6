"""`manage.py demo` (what `make run` loads): channels on the sandbox and a dropshipping supplier,
so that after the first syncs staff see supplier orders awaiting payment."""

from urllib.parse import urlparse

from django.core.management import call_command
from django.urls import reverse

from channels.models import Channel
from orders.tasks import run_sync
from suppliers.models import Supplier, SupplierOrder


def test_demo_creates_atelier_nord_and_its_supplier_orders_await_payment_after_the_syncs(
    live_server, transactional_db, client
):
    port = urlparse(live_server.url).port
    call_command("demo", "--no-sync", "--orders", "20", "--port", str(port))
    call_command("demo", "--no-sync", "--orders", "20", "--port", str(port))  # safe to run twice

    nord = Supplier.objects.get()
    assert (nord.name, nord.auto_order, nord.order_method, nord.currency) == (
        "Atelier Nord",
        True,
        "api",
        "EUR",
    )
    assert nord.api_base_url == f"http://127.0.0.1:{port}/sandbox/supplier/atelier-nord/v1"
    assert sorted(nord.allowed_gateways.values_list("kind", flat=True)) == ["paypal", "stripe"]
    assert nord.products.count() == 6

    for channel in Channel.objects.all():  # what the task cluster does after `make run`
        run_sync(channel)

    waiting = SupplierOrder.objects.filter(supplier=nord, status="awaiting_payment")
    assert waiting.count() >= 3
    assert {so.order.channel.kind for so in waiting} >= {"etsy", "shopify"}
    client.post(
        reverse("admin:login"), {"username": "admin", "password": "shipdesk-demo"}
    )  # as printed by the demo
    page = client.get(
        reverse("admin:suppliers_supplierorder_changelist"), {"status__exact": "awaiting_payment"}
    )
    assert page.status_code == 200 and waiting.first().reference in page.content.decode()


def test_after_the_demo_a_customer_returns_a_british_order_and_gets_a_qr_code(
    live_server, transactional_db, client, django_capture_on_commit_callbacks
):
    import re

    from orders.models import Order
    from returns.models import ReturnRequest
    from shipping.booking import book_shipment

    port = urlparse(live_server.url).port
    call_command("demo", "--no-sync", "--orders", "20", "--port", str(port))
    for channel in Channel.objects.filter(kind="etsy"):
        run_sync(channel)
    # An order with a line we ship ourselves (the others are a dropshipping supplier's to ship).
    order = (
        Order.objects.filter(
            ship_country="GB", status="awaiting_shipment", lines__dropshipped_by="", lines__is_physical=True
        )
        .exclude(ship_postal_code="")
        .order_by("id")
        .first()
    )
    assert order is not None, (
        "the demo Etsy shop has British customers: "
        + repr(list(Order.objects.values_list("ship_country", "status", "channel__kind")))
        + repr([(c.name, c.last_sync_state, c.last_error[:300]) for c in Channel.objects.all()])
    )
    line = order.lines.filter(dropshipped_by="", is_physical=True).first()
    book_shipment(
        order=order
    )  # staff ship it (the self-printed Royal Mail label); then the customer returns it

    # As the customer types it: the number as printed, the postal code in lower case without its space.
    page = client.post(
        "/returns/",
        {
            "order_number": f" {order.order_number} ",
            "postal_code": order.ship_postal_code.lower().replace(" ", ""),
        },
    )
    assert page.status_code == 303, page.content.decode()[:500]
    assert page["Location"] == "/returns/northern-goods/items/"  # the default brand's portal
    client.post(page["Location"], {f"qty_{line.pk}": 1, f"reason_{line.pk}": "changed_mind"})
    confirm = client.get("/returns/northern-goods/confirm/").content.decode()
    key = re.search(r'name="key" value="(\w+)"', confirm)[1]
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/returns/northern-goods/confirm/", {"key": key}, follow=True)

    ret = ReturnRequest.objects.get(order=order)
    assert ret.carrier_account.name == "Sendcloud (sandbox)" and ret.tracking_number
    assert ret.qr_code and ret.label
    assert "QR code for label-free drop-off" in done.content.decode()


def test_every_channels_product_pictures_load_after_the_demo(live_server, transactional_db, settings):
    """Issue 15 item 11: the demo's order lines show pictures from every channel, not empty boxes."""
    import requests

    from orders.models import OrderLine

    settings.SITE_URL = live_server.url  # as `make run` sets it (scripts/run.sh)
    port = urlparse(live_server.url).port
    call_command("demo", "--no-sync", "--orders", "10", "--port", str(port))
    for channel in Channel.objects.all():
        run_sync(channel)

    kinds = {}
    for line in OrderLine.objects.exclude(image_url="").select_related("order__channel"):
        kinds.setdefault(line.order.channel.kind, line.image_url)
    assert set(kinds) == {"etsy", "shopify", "ebay", "amazon", "ecwid"}, kinds
    with requests.Session() as http:
        for kind, url in kinds.items():
            answer = http.get(url, timeout=10)
            assert answer.status_code == 200, (kind, url)
            assert answer.headers["Content-Type"].startswith("image/"), (kind, url)
            assert answer.content[:3] == b"\xff\xd8\xff" or answer.content.startswith(b"<svg"), (kind, url)


def test_the_demo_has_direct_carrier_accounts_that_rate_on_their_sandboxes(live_server, transactional_db):
    from shipping.carriers.base import BookingRequest, Party
    from shipping.models import CarrierAccount

    port = urlparse(live_server.url).port
    call_command("demo", "--no-sync", "--orders", "1", "--port", str(port))

    accounts = CarrierAccount.objects.filter(kind="karrio").order_by("name")
    assert [a.karrio_carrier for a in accounts] == ["canadapost", "mydhl", "ups"]
    request = BookingRequest(
        reference="demo-1",
        order_number="1",
        sender=Party(
            name="A", line1="1 Oak St", city="Vancouver", postal_code="V6M2V9", country="CA", state="BC"
        ),
        recipient=Party(
            name="B", line1="1 Main St", city="New York", postal_code="10001", country="US", state="NY"
        ),
        weight_g=500,
    )
    for account in accounts:
        assert account.adapter().rates(request), account.name
