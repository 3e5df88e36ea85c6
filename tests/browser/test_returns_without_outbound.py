"""The returns portal in a real Chromium on a phone, for an order Shipdesk never shipped (a 3PL
or a supplier sent it): refused while the brand's "allow returns without an outbound shipment"
switch is off, returned end to end once it is on. Screenshots: test-artifacts/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from returns.models import ReturnPolicy, ReturnRequest
from tests.browser.test_returns_portal import check_page
from tests.factories import (
    BrandFactory,
    CarrierAccountFactory,
    FulfilmentFactory,
    OrderFactory,
    OrderLineFactory,
)
from tests.returns.factories import ReturnPolicyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def awaiting(transactional_db):
    brand = BrandFactory(
        name="Maison Lune",
        slug="lune",
        is_default=True,
        primary_color="#5b2a86",
        return_address__name="Maison Lune Retours",
    )
    ReturnPolicyFactory(brand=brand, return_carrier=CarrierAccountFactory(name="Colis maison", prefix="RL"))
    order = OrderFactory(
        order_number="3042",
        external_id="e3042",
        ship_postal_code="LS1 4AB",
        ship_name="Ann Example",
        email="ann@example.test",
        status=Order.Status.AWAITING_SHIPMENT,
        ordered_at=timezone.now() - timedelta(days=6),
    )
    OrderLineFactory(order=order, external_id="L-MUG", sku="MUG-1", title="Stoneware mug", quantity=2)
    OrderLineFactory(order=order, external_id="L-TEE", sku="TEE-M", title="Linen tee", quantity=1)
    # the supplier sent the tee; the mugs are still on our shelf
    FulfilmentFactory(order=order, supplier="Atelier Nord", lines=[["L-TEE", 1]])
    return order


def find_order(page, base):
    page.goto(f"{base}/returns/lune/")
    page.get_by_label("Order number", exact=True).fill("3042")
    page.get_by_label("Postal code").fill("LS1 4AB")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_url("**/returns/lune/items/")
    check_page(page)


def test_an_order_shipped_by_a_supplier_is_refused_then_returned_once_the_switch_is_on(
    phone, live_server, awaiting, artifacts
):
    page = phone("en-GB")

    find_order(page, live_server.url)
    alert = page.get_by_role("alert")
    assert alert.inner_text().startswith("This order cannot be returned online")
    assert "This order has not been sent yet, so there is nothing to return." in alert.inner_text()
    assert page.locator("select").count() == 0
    page.screenshot(path=str(artifacts / "1-refused.png"), full_page=True)

    ReturnPolicy.objects.filter(brand__slug="lune").update(allow_without_outbound_shipment=True)
    page.reload()
    check_page(page)
    assert page.get_by_role("group", name="Stoneware mug").count() == 0  # still with us: not offered
    assert page.get_by_text("Not sent yet.").is_visible()
    tee = page.get_by_role("group", name="Linen tee")
    tee.get_by_label("Quantity to return").select_option("1")
    tee.get_by_label("Reason", exact=True).select_option(label="Too small")
    page.screenshot(path=str(artifacts / "2-offered.png"), full_page=True)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/returns/lune/confirm/")
    check_page(page)
    page.get_by_role("button", name="Confirm return").click()
    page.wait_for_url("**/returns/lune/r/**")
    check_page(page)
    page.screenshot(path=str(artifacts / "3-label.png"), full_page=True)

    ret = ReturnRequest.objects.get()
    assert page.get_by_role("heading", name="Your return label is ready").is_visible()
    assert [(ln.order_line.sku, ln.quantity, ln.reason) for ln in ret.lines.all()] == [
        ("TEE-M", 1, "too_small")
    ]
