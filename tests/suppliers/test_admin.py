"""The dropshipping admin as staff use it."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from suppliers.models import Supplier, SupplierOrder, SupplierProduct
from suppliers.schedule import ensure_schedules
from tests.factories import ChannelFactory, UserFactory
from tests.suppliers.conftest import supplier_orders_for
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

LIST = "admin:suppliers_supplierorder_changelist"


def test_supplier_orders_filter_by_supplier_and_awaiting_payment_with_badge_and_cost(db, staff_client):
    nord = SupplierFactory(
        name="Atelier Nord", auto_order=True, order_method="api", api_base_url="http://x.invalid"
    )
    SupplierProductFactory(supplier=nord, sku="TEE-ORG", cost_price=Decimal("7.50"))
    fabrika = SupplierFactory(name="Fabrika", currency="PLN")
    mine = supplier_orders_for(nord, 2, quantity=2)
    supplier_orders_for(fabrika, 1)
    SupplierOrder.objects.filter(pk=mine[1].pk).update(status="paid")

    response = staff_client.get(
        reverse(LIST), {"supplier__id__exact": nord.pk, "status__exact": "awaiting_payment"}
    )

    assert [so.pk for so in response.context["cl"].result_list] == [mine[0].pk]
    text = response.content.decode()
    assert "15.00 EUR" in text and "auto · API" in text and "accepts automatic orders" in text
    assert "Awaiting payment" in text and "Import tracking CSV" in text


@pytest.mark.parametrize("query", ["", "?status__exact=awaiting_payment", "?tracking=overdue", "?q=PO-1"])
def test_supplier_order_list_runs_the_same_number_of_queries_for_1_and_50(db, staff_client, query):
    supplier = SupplierFactory()
    channel = ChannelFactory()
    supplier_orders_for(supplier, 1, channel=channel)
    url = reverse(LIST) + query
    with CaptureQueriesContext(connection) as one:
        assert staff_client.get(url).status_code == 200
    supplier_orders_for(supplier, 49, channel=channel)
    with CaptureQueriesContext(connection) as fifty:
        assert staff_client.get(url).status_code == 200
    assert len(one.captured_queries) == len(fifty.captured_queries)


def test_the_order_page_shows_its_supplier_orders(db, staff_client):
    supplier = SupplierFactory(name="Atelier Nord")
    [supplier_order] = supplier_orders_for(supplier, 1)

    page = staff_client.get(reverse("admin:orders_order_change", args=[supplier_order.order_id]))

    text = page.content.decode()
    assert "Supplier orders" in text and supplier_order.reference in text and "Atelier Nord" in text
    assert "The shipping address is locked" not in text  # not placed yet


def test_route_supplier_lines_from_the_order_list(db, staff_client):
    from tests.factories import OrderFactory, OrderLineFactory

    order = OrderFactory()
    OrderLineFactory(order=order, sku="LATE-SKU")
    SupplierProductFactory(sku="LATE-SKU")  # the product was set up after the order came in

    response = staff_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "route_supplier_lines", "_selected_action": [order.pk]},
        follow=True,
    )

    assert "1 supplier order(s) created for 1 order(s)" in response.content.decode()
    assert SupplierOrder.objects.get().order == order


def product_csv() -> SimpleUploadedFile:
    return SimpleUploadedFile(
        "products.csv",
        b"sku,supplier,supplier_sku,title,cost_price,is_active\n"
        b"TEE-ORG,Atelier Nord,AN-TEE,Organic tee,7.50,1\n"
        b"CANDLE-SOY,Atelier Nord,AN-CANDLE,Soy candle,4.25,1\n",
        content_type="text/csv",
    )


def test_supplier_products_import_from_csv_for_staff_with_the_import_permission(db, client):
    Supplier.objects.create(name="Atelier Nord", currency="EUR")
    clerk = UserFactory(username="clerk", is_superuser=False)
    clerk.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_supplierproduct", "add_supplierproduct", "change_supplierproduct"]
        )
    )
    client.force_login(clerk)
    url = reverse("admin:suppliers_supplierproduct_import")
    assert client.get(url).status_code == 403
    assert (
        "Import"
        not in client.get(reverse("admin:suppliers_supplierproduct_changelist"))
        .content.decode()
        .split("object-tools")[1][:300]
    )

    clerk.user_permissions.add(Permission.objects.get(codename="import_supplierproduct"))
    client.force_login(clerk)
    preview = client.post(url, {"import_file": product_csv(), "format": "0", "resource": "0"})
    assert preview.status_code == 200 and "confirm_form" in preview.context
    confirm = preview.context["confirm_form"]
    client.post(
        reverse("admin:suppliers_supplierproduct_process_import"), {**confirm.initial, "resource": "0"}
    )

    rows = sorted(SupplierProduct.objects.values_list("sku", "supplier__name", "cost_price"))
    assert rows == [
        ("CANDLE-SOY", "Atelier Nord", Decimal("4.25")),
        ("TEE-ORG", "Atelier Nord", Decimal("7.50")),
    ]


def test_credentials_are_write_only_on_the_supplier_page(db, staff_client):
    supplier = SupplierFactory(
        order_method="api", api_base_url="https://api.nord.example/v1", credentials={"api_key": "very-secret"}
    )
    page = staff_client.get(reverse("admin:suppliers_supplier_change", args=[supplier.pk])).content.decode()
    assert "very-secret" not in page and "api_key (values hidden)" in page
    assert f"/supplier/{supplier.upload_token}/" in page


def test_an_api_supplier_needs_a_base_url(db, staff_client):
    response = staff_client.post(
        reverse("admin:suppliers_supplier_add"),
        {
            "name": "No URL",
            "currency": "EUR",
            "order_method": "api",
            "tracking_method": "api",
            "watchlist_days": 7,
            "is_active": "on",
        },
    )
    assert (
        response.status_code == 200
        and "The supplier API is used, so give its base URL." in response.content.decode()
    )


def test_schedules_are_created_after_migrate(db):
    from django_q.models import Schedule

    ensure_schedules()
    ensure_schedules()
    assert set(Schedule.objects.filter(func__startswith="suppliers.").values_list("name", "minutes")) == {
        ("poll_suppliers", 30),
        ("supplier_watchlist", 60),
    }


def test_every_dropshipping_admin_page_renders(db, staff_client):
    from suppliers import checkout
    from tests.suppliers.factories import PaymentGatewayFactory

    supplier = SupplierFactory(gateways=[PaymentGatewayFactory()])
    [supplier_order] = supplier_orders_for(supplier, 1)
    batch, _ = checkout.create_batch(SupplierOrder.objects.all())
    for url in [
        reverse("admin:suppliers_supplierorder_change", args=[supplier_order.pk]),
        reverse("admin:suppliers_paymentbatch_change", args=[batch.pk]),
        reverse("admin:suppliers_paymentbatch_changelist"),
        reverse("admin:suppliers_supplierproduct_changelist"),
        reverse("admin:suppliers_supplier_changelist"),
        reverse("admin:suppliers_supplier_add"),
        reverse("admin:suppliers_paymentgateway_add"),
        reverse("admin:suppliers_supplierorder_import_tracking"),
    ]:
        response = staff_client.get(url)
        assert response.status_code == 200, url
    assert (
        supplier_order.reference
        in staff_client.get(reverse("admin:suppliers_paymentbatch_change", args=[batch.pk])).content.decode()
    )
