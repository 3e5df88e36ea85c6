"""The order desk in a real Chromium at 1400 × 900: the order list fits with its key columns,
and one order is booked with a split from the order page's booking panel.
Screenshots: test-artifacts/."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from tests.factories import ChannelFactory, OrderFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESK = {"width": 1400, "height": 900}


@pytest.fixture
def desk(browser, live_server, artifacts):
    """A signed-in staff member's page at 1400 × 900 (the session of Django's test client,
    handed to the browser). Closed after the test with a screenshot of where it ended."""
    client = Client()
    client.force_login(UserFactory(username="desk", is_superuser=True, is_staff=True))
    context = browser.new_context(viewport=DESK, locale="en-GB")
    context.set_default_timeout(15_000)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    yield page
    page.screenshot(path=str(artifacts / "last.png"), full_page=True)
    context.close()


def box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_the_order_list_fits_1400_pixels_with_total_and_ordered_at(desk, live_server, artifacts):
    names = [
        "Etsy · Maison Lune main shop",
        "Shopify · Lune Wholesale",
        "eBay · Lune Outlet UK",
        "Amazon · Lune EU marketplace",
        "Ecwid · Lune pop-up store",
    ]
    for n, name in enumerate(names):
        channel = ChannelFactory(name=name)
        for i in range(12):
            OrderFactory(
                channel=channel,
                order_number=f"LUNE-2026-{n}{i:04d}",
                customer_name="Bartholomew Featherstonehaugh-Smythe of Lower Wallop",
                requested_service="Royal Mail Tracked 48 Signed For Large Letter",
                total=Decimal("12345.67"),
                ship_by=timezone.now(),
            )

    desk.goto(f"{live_server.url}/admin/orders/order/")
    desk.screenshot(path=str(artifacts / "order-list.png"))

    overflow = desk.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
    hidden = desk.evaluate(
        "(() => { const r = document.querySelector('#changelist .results'); return r.scrollWidth - r.clientWidth; })()"
    )
    assert hidden <= 0, f"the list's columns scroll sideways by {hidden} px"
    table = box(desk, "#changelist .results")
    for column in ["column-total_display", "column-ordered"]:
        header = box(desk, f"#result_list th.{column}")
        assert (
            header and header["x"] + header["width"] <= min(table["x"] + table["width"], DESK["width"]) + 1
        ), f"{column} is cut off"
    assert desk.locator("#result_list td.field-total_display").first.inner_text() == "12345.67 GBP"
    tools, sync = box(desk, "ul.object-tools"), box(desk, "#last-sync")
    assert tools and sync
    apart = (
        tools["x"] + tools["width"] <= sync["x"]
        or sync["x"] + sync["width"] <= tools["x"]
        or tools["y"] + tools["height"] <= sync["y"]
        or sync["y"] + sync["height"] <= tools["y"]
    )
    assert apart, f"the export buttons {tools} cover the last-sync line {sync}"


def test_booking_one_order_with_a_split_from_the_order_page(desk, live_server, artifacts):
    from orders.models import Order
    from tests.factories import BrandFactory, CarrierAccountFactory, OrderLineFactory

    BrandFactory(is_default=True)
    CarrierAccountFactory(name="Own labels", is_default=True)
    order = OrderFactory(order_number="2001")
    mug = OrderLineFactory(order=order, sku="MUG-1", title="Stoneware mug", quantity=2)
    tee = OrderLineFactory(order=order, sku="TEE-M", title="Linen tee", quantity=1)

    desk.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    panel = desk.locator("#booking-panel")
    assert panel.is_visible() and "Left for us to ship: 2 × MUG-1, 1 × TEE-M" in panel.inner_text()
    lines = box(desk, "#order-lines")
    assert lines["y"] < DESK["height"], "the lines are below the first screen"
    desk.screenshot(path=str(artifacts / "order-page.png"))

    desk.uncheck(f"#book_take_{tee.pk}")  # the tee waits for another parcel
    desk.fill(f"#book_qty_{mug.pk}", "1")  # and one mug of two
    desk.click("#book-button")
    desk.wait_for_url(f"**/admin/orders/order/{order.pk}/change/")
    desk.screenshot(path=str(artifacts / "booked.png"), full_page=True)

    assert "Booked" in desk.locator("ul.messagelist").inner_text()
    shipments = desk.locator("#shipments-group").inner_text()
    assert "1 × MUG-1" in shipments and "TEE-M" not in shipments
    assert "Partly shipped" in desk.locator("#work").inner_text()
    row = desk.locator('#order-lines tr[data-sku="MUG-1"]').inner_text().split("\t")
    assert row[-6:-3] == ["2", "1", "1"], row  # ordered 2, open 1, in parcels 1
    order.refresh_from_db()
    assert order.status == Order.Status.PARTLY_SHIPPED
    (shipment,) = order.shipments.all()
    assert [(sl.order_line.sku, sl.quantity) for sl in shipment.lines.all()] == [("MUG-1", 1)]


def test_the_shipment_return_and_supplier_order_lists_fit_1400_pixels(desk, live_server, artifacts):
    from returns.models import ReturnLine, ReturnRequest
    from suppliers.models import SupplierOrder
    from tests.factories import BrandFactory, CarrierAccountFactory, OrderLineFactory
    from tests.shipping.factories import ShipmentFactory
    from tests.suppliers.factories import SupplierFactory

    brand = BrandFactory(name="Maison Lune Homeware and Gifts")
    carrier = CarrierAccountFactory(name="Royal Mail Click & Drop business account", is_default=False)
    supplier = SupplierFactory(name="Atelier Nordique Textiles GmbH")
    channel = ChannelFactory(name="Etsy · Maison Lune main shop")
    for i in range(20):
        order = OrderFactory(
            channel=channel, order_number=f"LUNE-2026-{i:05d}", customer_name="Bartholomew Featherstonehaugh"
        )
        line = OrderLineFactory(
            order=order, sku=f"APRON-LINEN-NATURAL-{i}", title="Linen apron, natural, one size"
        )
        ShipmentFactory(
            order=order,
            carrier_account=carrier,
            service="Tracked 48 Signed For Large Letter",
            fee=Decimal("3.45"),
        )
        ret = ReturnRequest.objects.create(order=order, brand=brand, customer_email="bartholomew@example.com")
        ReturnLine.objects.create(return_request=ret, order_line=line, quantity=1, reason="not_as_described")
        SupplierOrder.objects.create(
            order=order,
            supplier=supplier,
            reference=f"SUP-2026-{i:06d}",
            currency="EUR",
            total_cost=Decimal("1234.50"),
            status="placed",
            placed_at=timezone.now(),
            tracking_due_at=timezone.now(),
            tracking_number=f"00340434161094{i:06d}",
        )

    for name, path in [
        ("shipments", "/admin/shipping/shipment/"),
        ("returns", "/admin/returns/returnrequest/"),
        ("supplier-orders", "/admin/suppliers/supplierorder/"),
    ]:
        desk.goto(f"{live_server.url}{path}")
        desk.screenshot(path=str(artifacts / f"{name}.png"))
        assert desk.locator("#result_list tbody tr").count() == 20, name
        page = desk.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        hidden = desk.evaluate(
            "(() => { const r = document.querySelector('#changelist .results'); return r.scrollWidth - r.clientWidth; })()"
        )
        assert page <= 0 and hidden <= 0, f"the {name} list scrolls sideways ({page} px, columns {hidden} px)"
