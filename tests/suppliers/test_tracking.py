"""Tracking from each of the three sources (supplier API polling, the supplier's private page, a
CSV in the admin) becomes a shipment on the store order and reaches the channel: a real Etsy
sandbox receipt, imported with a real sync."""

import random

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from orders.models import Order
from orders.tasks import run_sync
from sandbox.generators.etsy import add_receipt, ensure_listings, make_receipt
from sandbox.models import SandboxOrder, SandboxRequest
from shipping.booking import record_external_shipment
from suppliers import checkout
from suppliers.models import Supplier, SupplierOrder
from suppliers.tasks import poll_suppliers
from tests.suppliers.conftest import SUPPLIER_ACCOUNT, SUPPLIER_KEY


def import_mixed_order(channel, store) -> Order:
    """An Etsy receipt with one own line (MUG-RED-L) and two Atelier Nord lines, synced in."""
    ensure_listings(store)
    receipt = make_receipt(store, rng=random.Random(7))
    base = {**receipt["transactions"][0], "is_digital": False, "listing_id": 5001, "quantity": 1}
    receipt["transactions"] = [
        {**base, "transaction_id": receipt["receipt_id"] * 10 + i, "sku": sku, "quantity": qty}
        for i, (sku, qty) in enumerate([("MUG-RED-L", 1), ("TEE-ORG", 2), ("CANDLE-SOY", 1)])
    ]
    receipt["country_iso"] = "GB"
    add_receipt(store, receipt)
    summary = run_sync(channel)
    assert not summary.errors and summary.imported == 1
    return Order.objects.get(channel=channel, external_id=str(receipt["receipt_id"]))


@pytest.fixture
def placed_order(etsy_sandbox, stripe, atelier_nord):
    """A mixed Etsy order whose Atelier Nord part is paid and placed through the supplier API."""
    channel, store = etsy_sandbox
    atelier_nord.allowed_gateways.set([stripe[0]])
    order = import_mixed_order(channel, store)
    supplier_order = SupplierOrder.objects.get(order=order)  # routed by the import hook
    batch, _ = checkout.create_batch(SupplierOrder.objects.filter(pk=supplier_order.pk))
    checkout.pay_batch(batch, gateway=stripe[0])
    supplier_order.refresh_from_db()
    assert supplier_order.status == "placed"
    return order, supplier_order


def etsy_tracking(order):
    return list(SandboxRequest.objects.filter(path__endswith=f"/receipts/{order.external_id}/tracking"))


def assert_reached_etsy(order, supplier_order, number, carrier_code):
    """Etsy can only mark a whole receipt shipped: the supplier's parcel is kept until the mug
    from own stock ships, then Etsy gets both tracking numbers."""
    supplier_order.refresh_from_db()
    assert supplier_order.status == "shipped" and supplier_order.tracking_number == number
    shipment = order.shipments.get()
    assert shipment.tracking_number == number and shipment.fulfilment.state == "pending"
    assert shipment.fulfilment.last_error.startswith("kept: Etsy-Main can only mark the whole order")
    assert shipment.fulfilment.lines == [
        [ln.order_line.external_id, ln.quantity] for ln in supplier_order.lines.select_related("order_line")
    ]
    assert not etsy_tracking(order)

    mug = order.lines.get(sku="MUG-RED-L")
    record_external_shipment(
        order=order, tracking_number="RM123456785GB", carrier="Royal Mail", lines=[[mug.external_id, 1]]
    )

    shipment.fulfilment.refresh_from_db()
    assert shipment.fulfilment.state == "sent"
    pushed = {r.parsed["tracking_code"]: r.parsed["carrier_name"] for r in etsy_tracking(order)}
    assert pushed == {"RM123456785GB": "royal-mail", number: carrier_code}
    receipt = SandboxOrder.objects.get(external_id=order.external_id).data
    assert sorted(s["tracking_code"] for s in receipt["shipments"]) == sorted(pushed)


def test_tracking_polled_from_the_supplier_api_reaches_etsy(placed_order, live_server):
    order, supplier_order = placed_order
    # The supplier ships (the sandbox supplier's own "ship" button).
    shipped = requests.post(
        f"{live_server.url}/sandbox/supplier/{SUPPLIER_ACCOUNT}/v1/orders/{supplier_order.remote_id}/ship",
        json={"tracking_number": "JD014600003828GB", "carrier": "DHL Express"},
        headers={"Authorization": f"Bearer {SUPPLIER_KEY}"},
        timeout=5,
    )
    assert shipped.status_code == 200

    result = poll_suppliers()  # the every-30-minutes task

    assert result["shipped"] == 1 and not result["errors"]
    assert_reached_etsy(order, supplier_order, "JD014600003828GB", "dhl-express")
    assert poll_suppliers()["checked"] == 0  # shipped orders are not asked again
    assert len(etsy_tracking(order)) == 2  # the supplier's parcel and the mug, once each


def test_tracking_typed_on_the_suppliers_private_page_reaches_etsy(placed_order):
    order, supplier_order = placed_order
    Supplier.objects.filter(pk=supplier_order.supplier_id).update(tracking_method="page")
    url = reverse("suppliers:upload", args=[supplier_order.supplier.upload_token])
    browser = Client(enforce_csrf_checks=True)

    page = browser.get(url)
    assert page.status_code == 200 and supplier_order.reference in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin" and "no-store" in page["Cache-Control"]
    forged = browser.post(url, {f"tracking-{supplier_order.reference}": "FORGED1"})
    assert forged.status_code == 403  # CSRF-protected
    response = browser.post(
        url,
        {
            "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
            f"tracking-{supplier_order.reference}": "00340434161094042557",
            f"carrier-{supplier_order.reference}": "DPD",
        },
        follow=True,
    )

    assert "Thank you: 1 tracking number(s) recorded" in response.content.decode()
    assert_reached_etsy(order, supplier_order, "00340434161094042557", "dpd")


def test_the_private_page_needs_the_right_token(placed_order):
    assert Client().get("/supplier/not-the-token/").status_code == 404


def test_tracking_from_a_csv_in_the_admin_reaches_etsy(placed_order, staff_client):
    order, supplier_order = placed_order
    Supplier.objects.filter(pk=supplier_order.supplier_id).update(tracking_method="csv")
    csv_file = SimpleUploadedFile(
        "tracking.csv",
        (
            "Reference;Tracking number;Carrier\n"
            f"{supplier_order.reference};1Z999AA10123456784;UPS\n"
            "PO-NOSUCHREF;X1;UPS\n"
        ).encode("utf-8-sig"),
        content_type="text/csv",
    )

    response = staff_client.post(
        reverse("admin:suppliers_supplierorder_import_tracking"), {"file": csv_file}, follow=True
    )

    text = response.content.decode()
    assert "1 tracking number(s) recorded, 1 problem(s)" in text and "no supplier order PO-NOSUCHREF" in text
    assert_reached_etsy(order, supplier_order, "1Z999AA10123456784", "ups")


def test_a_split_order_is_shipped_when_all_its_parts_are(placed_order, live_server):
    order, supplier_order = placed_order
    requests.post(
        f"{live_server.url}/sandbox/supplier/{SUPPLIER_ACCOUNT}/v1/orders/{supplier_order.remote_id}/ship",
        json={},
        headers={"Authorization": f"Bearer {SUPPLIER_KEY}"},
        timeout=5,
    )
    poll_suppliers()

    order.refresh_from_db()
    assert order.status == "partly_shipped"  # the supplier's lines left; the mug from own stock has not
    assert order.events.filter(message__contains="still to ship: 1 × MUG-RED-L").exists()
    supplier_fulfilment = order.fulfilments.get()
    assert supplier_fulfilment.supplier == "Atelier Nord"
    assert sorted(supplier_fulfilment.lines) == sorted(
        [ln.order_line.external_id, ln.quantity] for ln in supplier_order.lines.select_related("order_line")
    )

    mug = order.lines.get(sku="MUG-RED-L")
    record_external_shipment(
        order=order, tracking_number="RM123456785GB", carrier="Royal Mail", lines=[[mug.external_id, 1]]
    )

    order.refresh_from_db()
    assert order.status == "shipped"


def test_the_same_tracking_twice_records_one_shipment(placed_order, staff_client):
    order, supplier_order = placed_order
    row = f"reference,tracking_number,carrier\n{supplier_order.reference},LX123,La Poste\n"
    url = reverse("admin:suppliers_supplierorder_import_tracking")
    staff_client.post(url, {"file": SimpleUploadedFile("a.csv", row.encode())})
    response = staff_client.post(url, {"file": SimpleUploadedFile("a.csv", row.encode())}, follow=True)
    assert "0 tracking number(s) recorded, 1 already known" in response.content.decode()
    # One shipment, kept for the mug (Etsy marks whole receipts shipped): nothing sent yet.
    assert order.shipments.count() == 1 and len(etsy_tracking(order)) == 0


def test_a_csv_uploaded_on_the_private_page_only_matches_that_suppliers_orders(placed_order):
    order, supplier_order = placed_order
    from tests.suppliers.conftest import supplier_orders_for
    from tests.suppliers.factories import SupplierFactory

    [other] = supplier_orders_for(SupplierFactory(name="Fabrika"), 1)
    SupplierOrder.objects.filter(pk=other.pk).update(status="placed")
    csv_file = SimpleUploadedFile(
        "t.csv",
        (
            "reference,tracking_number,carrier\n"
            f"{supplier_order.reference},CP123456789FR,Colissimo\n"
            f"{other.reference},ZZZ,UPS\n"
        ).encode(),
        content_type="text/csv",
    )

    response = Client().post(
        reverse("suppliers:upload", args=[supplier_order.supplier.upload_token]),
        {"file": csv_file},
        follow=True,
    )

    text = response.content.decode()
    assert "1 tracking number(s) recorded" in text and f"no supplier order {other.reference}" in text
    assert_reached_etsy(order, supplier_order, "CP123456789FR", "colissimo")
    other.refresh_from_db()
    assert other.status == "placed" and not other.tracking_number


def test_an_order_the_supplier_cancels_is_cancelled_here_and_staff_are_alerted(placed_order, live_server):
    from orders.models import AlertSubscription, StaffAlert
    from tests.factories import UserFactory

    order, supplier_order = placed_order
    AlertSubscription.objects.create(user=UserFactory(username="ops"), all_channels=True)
    requests.post(
        f"{live_server.url}/sandbox/supplier/{SUPPLIER_ACCOUNT}/v1/orders/{supplier_order.remote_id}/cancel",
        headers={"Authorization": f"Bearer {SUPPLIER_KEY}"},
        timeout=5,
    )

    assert poll_suppliers()["cancelled"] == 1

    supplier_order.refresh_from_db()
    assert supplier_order.status == "cancelled"
    assert StaffAlert.objects.get().subject == f"Atelier Nord cancelled {supplier_order.reference}"
    assert not etsy_tracking(order)
