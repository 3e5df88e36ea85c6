"""The shipping desk's admin screens render, and lists cost a fixed number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shipping.booking import book_shipment
from shipping.models import BulkJob
from tests.factories import OrderFactory, OrderLineFactory
from tests.shipping.factories import (
    EmailTemplateFactory,
    PackageFactory,
    ShipmentFactory,
    ShippableOrderFactory,
    ShippingMappingFactory,
    ShippingRuleFactory,
)
from tests.shipping.forms import book_post


@pytest.mark.parametrize(
    "name",
    [
        "shipment",
        "carrieraccount",
        "address",
        "brand",
        "package",
        "shippingmapping",
        "shippingrule",
        "emailtemplate",
        "bulkjob",
    ],
)
def test_every_list_renders(staff_client, selfprint, name):
    shipment = book_shipment(order=ShippableOrderFactory())
    ShippingMappingFactory(channel=shipment.order.channel)
    ShippingRuleFactory(package=PackageFactory())
    EmailTemplateFactory()
    BulkJob.objects.create(kind=BulkJob.Kind.BOOK_ORDERS, total=1)

    assert staff_client.get(reverse(f"admin:shipping_{name}_changelist")).status_code == 200


def test_the_shipment_and_carrier_pages_render(staff_client, selfprint):
    shipment = book_shipment(order=ShippableOrderFactory())

    for url in [
        reverse("admin:shipping_shipment_change", args=[shipment.pk]),
        reverse("admin:shipping_carrieraccount_change", args=[selfprint.account.pk]),
        reverse("admin:shipping_carrieraccount_add"),
        reverse("admin:shipping_shipment_relabel", args=[shipment.pk]),
        reverse("admin:shipping_shipment_book", args=[ShippableOrderFactory().pk]),
        reverse("admin:shipping_order_cancel", args=[shipment.order_id]),
    ]:
        assert staff_client.get(url).status_code == 200, url
    label = staff_client.get(reverse("admin:shipping_shipment_label", args=[shipment.pk]))
    assert label["Content-Type"] == "application/pdf"


def test_booking_from_the_order_page_form(staff_client, selfprint):
    order = OrderFactory()
    OrderLineFactory(order=order)

    response = staff_client.post(
        reverse("admin:shipping_shipment_book", args=[order.pk]), book_post(order, weight_g=900), follow=True
    )

    shipment = order.shipments.get()
    assert shipment.weight_g == 900 and f"Booked {shipment.tracking_number}" in response.content.decode()


def test_the_carrier_services_page_asks_sendcloud(staff_client, sendcloud):
    change = staff_client.get(reverse("admin:shipping_carrieraccount_change", args=[sendcloud.account.pk]))
    services = staff_client.get(
        reverse("admin:shipping_carrieraccount_services", args=[sendcloud.account.pk]) + "?country=NL"
    )

    assert f"/webhooks/carriers/{sendcloud.account.pk}/" in change.content.decode()
    page = services.content.decode()
    assert "PostNL Standard 0-23kg" in page and "Royal Mail Tracked 48" not in page  # GB only


def test_importing_sendcloud_sender_addresses(staff_client, sendcloud):
    from shipping.models import Address

    staff_client.post(
        reverse("admin:shipping_carrieraccount_changelist"),
        {"action": "import_sender_addresses", "_selected_action": [sendcloud.account.pk]},
    )

    address = Address.objects.get(label=f"{sendcloud.account.name}: Main")
    assert (address.line1, address.postal_code, address.country) == ("Dock 3", "1011 AA", "NL")


def test_the_shipment_list_costs_the_same_queries_for_one_row_or_fifty(staff_client, selfprint):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert staff_client.get(reverse("admin:shipping_shipment_changelist")).status_code == 200
        return len(ctx.captured_queries)

    ShipmentFactory()
    one = queries()
    ShipmentFactory.create_batch(49)
    assert queries() == one
