"""`manage.py demo` (what `make run` loads): channels on the sandbox and a dropshipping supplier,
so that after the first syncs staff see supplier orders awaiting payment."""

from urllib.parse import urlparse

from django.core.management import call_command
from django.urls import reverse

from channels.models import Channel
from orders.tasks import run_sync
from suppliers.models import Supplier, SupplierOrder


def test_demo_creates_atelier_nord_and_its_supplier_orders_await_payment_after_the_syncs(
        live_server, transactional_db, client):
    port = urlparse(live_server.url).port
    call_command("demo", "--no-sync", "--orders", "20", "--port", str(port))
    call_command("demo", "--no-sync", "--orders", "20", "--port", str(port))  # safe to run twice

    nord = Supplier.objects.get()
    assert (nord.name, nord.auto_order, nord.order_method, nord.currency) == ("Atelier Nord", True, "api", "EUR")
    assert nord.api_base_url == f"http://127.0.0.1:{port}/sandbox/supplier/atelier-nord/v1"
    assert sorted(nord.allowed_gateways.values_list("kind", flat=True)) == ["paypal", "stripe"]
    assert nord.products.count() == 6

    for channel in Channel.objects.all():  # what the task cluster does after `make run`
        run_sync(channel)

    waiting = SupplierOrder.objects.filter(supplier=nord, status="awaiting_payment")
    assert waiting.count() >= 3
    assert {so.order.channel.kind for so in waiting} >= {"etsy", "shopify"}
    client.login(username="admin", password="shipdesk-demo")
    page = client.get(reverse("admin:suppliers_supplierorder_changelist"), {"status__exact": "awaiting_payment"})
    assert page.status_code == 200 and waiting.first().reference in page.content.decode()
