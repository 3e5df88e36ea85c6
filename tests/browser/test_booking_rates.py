"""The booking page's rates table in a real browser (1400 × 900): staff see every account's
services side by side, pick one, and the order's timeline says what it cost."""

from decimal import Decimal

import pytest
from django.urls import reverse

from shipping.models import Shipment
from tests.factories import BrandFactory, CarrierAccountFactory, OrderFactory, OrderLineFactory, UserFactory
from tests.shipping.factories import SendcloudAccountFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(browser, artifacts):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    page.screenshot(path=str(artifacts / "last.png"), full_page=True)
    context.close()


def test_staff_pick_a_rate_and_the_timeline_says_its_price(desk, live_server, transactional_db, artifacts):
    from sandbox.sendcloud import store_for_account
    from shipping.carriers.sendcloud import clear_cache

    clear_cache()
    BrandFactory(name="Northern Goods", slug="northern")
    sendcloud = SendcloudAccountFactory(api_base_url=f"{live_server.url}/sandbox/sendcloud/api/v2")
    store_for_account(sendcloud, post_per_minute=0, burst_per_second=0, get_per_minute=0)
    CarrierAccountFactory(
        name="Royal Mail (own)", flat_rate=Decimal("3.20"), flat_rate_currency="EUR", transit_days=3
    )
    order = OrderFactory(ship_country="GB", ship_postal_code="M1 1AE", ship_city="Manchester", currency="EUR")
    OrderLineFactory(order=order, sku="MUG-1", weight_g=2500)
    user = UserFactory(username="desk")
    user.set_password("desk-password-1")
    user.save()

    desk.goto(live_server.url + reverse("admin:login"))
    desk.get_by_label("Username").fill("desk")
    desk.get_by_label("Password").fill("desk-password-1")
    desk.get_by_role("button", name="Log in").click()
    desk.goto(live_server.url + reverse("admin:shipping_shipment_book", args=[order.pk]))

    table = desk.locator("#rate-table")
    dpd = table.locator("tr", has_text="DPD Home 0-31.5kg")
    assert "7.40 EUR" in dpd.inner_text() and "1 day" in dpd.inner_text()
    letter = table.locator("tr", has_text="Unstamped letter")
    assert "takes up to 2001 g" in letter.inner_text() and letter.locator("input").count() == 0
    assert "3.20 EUR" in table.locator("tr", has_text="Royal Mail (own)").inner_text()
    desk.screenshot(path=str(artifacts / "rates.png"), full_page=True)

    dpd.locator("input[type=radio]").check()
    desk.get_by_role("button", name="Book shipment").click()

    desk.wait_for_url(f"**{reverse('admin:orders_order_change', args=[order.pk])}")
    shipment = Shipment.objects.get(order=order)
    assert (shipment.service, shipment.fee) == ("DPD Home 0-31.5kg", Decimal("7.40"))
    assert "rate quoted DPD (Sendcloud) DPD Home 0-31.5kg 7.40 EUR, 1 day" in desk.content()
    clear_cache()
