"""Admin and public flows in a real Chromium at 1400 × 900 (issue 15 item 9): paying a supplier's
orders, a return approved, received and refunded, the supplier's private tracking page, and the
public tracking page. Screenshots under test-artifacts/<test>/."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from returns import services as return_services
from returns.models import ReturnRequest
from returns.services import Choice
from suppliers.models import PaymentBatch, Supplier, SupplierOrder
from tests.suppliers.conftest import supplier_orders_for
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DESK = {"width": 1400, "height": 900}
PASSWORD = "desk-pass-1"


@pytest.fixture
def desk(browser, live_server, artifacts):
    """A staff member signed in through the admin's sign-in page, in a 1400 × 900 window."""
    get_user_model().objects.create_superuser("desk", "desk@example.test", PASSWORD)
    context = browser.new_context(viewport=DESK, locale="en-GB", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("desk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    yield page
    page.screenshot(path=str(artifacts / "last.png"), full_page=True)
    context.close()


def test_staff_pay_a_suppliers_orders_in_the_browser(desk, live_server, stripe, paypal, artifacts):
    supplier = SupplierFactory(name="Atelier Nord", auto_order=True, gateways=[stripe[0], paypal[0]])
    SupplierProductFactory(supplier=supplier, sku="TEE-ORG", cost_price=Decimal("7.50"))
    made = supplier_orders_for(supplier, 3, quantity=2)

    desk.goto(
        f"{live_server.url}{reverse('admin:suppliers_supplierorder_changelist')}?status__exact=awaiting_payment"
    )
    for so in made:
        desk.locator(f'input[name="_selected_action"][value="{so.pk}"]').check()
    desk.locator('select[name="action"]').select_option("pay_selected")
    desk.screenshot(path=str(artifacts / "1-selected.png"), full_page=True)
    desk.get_by_role("button", name="Go").click()

    desk.wait_for_url("**/checkout/")
    assert "45.00 EUR" in desk.content()
    desk.get_by_label("Card (Stripe)").check()
    desk.screenshot(path=str(artifacts / "2-checkout.png"), full_page=True)
    desk.get_by_role("button", name="Pay").click()
    desk.wait_for_load_state()
    assert "Paid 45.00 EUR to Atelier Nord through Card (Stripe)" in desk.content()
    desk.screenshot(path=str(artifacts / "3-paid.png"), full_page=True)
    assert PaymentBatch.objects.get().status == "paid"
    assert set(SupplierOrder.objects.values_list("status", flat=True)) == {"placed"}


def test_a_return_approved_received_and_refunded_with_its_amount(
    desk, live_server, policy, make_order, artifacts
):
    policy.requires_approval = True
    policy.save()
    order = make_order("7001")
    ret = return_services.create_return(
        order=order, brand=policy.brand, choices=[Choice(order.lines.first().pk, 1, "damaged")]
    )
    url = f"{live_server.url}{reverse('admin:returns_returnrequest_change', args=[ret.pk])}"

    desk.goto(url)
    desk.get_by_role("button", name="Approve").click()
    desk.wait_for_load_state()
    assert "1 return(s) approved." in desk.content()
    desk.get_by_role("button", name="Mark received").click()
    desk.wait_for_load_state()
    assert "1 return(s) marked received." in desk.content()

    desk.get_by_role("link", name="Mark refunded…").click()
    amount = desk.locator(f'input[name="r{ret.pk}-amount"]')
    ret.refresh_from_db()
    assert Decimal(amount.input_value()) == return_services.default_refund_amount(ret)  # prefilled
    assert ret.status == "received"  # nothing refunded by opening the page
    amount.fill("12.40")
    desk.screenshot(path=str(artifacts / "1-refund.png"), full_page=True)
    desk.get_by_role("button", name="Confirm the refund").click()
    desk.wait_for_load_state()
    assert "1 return(s) marked refunded." in desk.content()
    desk.screenshot(path=str(artifacts / "2-refunded.png"), full_page=True)
    ret.refresh_from_db()
    assert (ret.status, ret.refund_amount) == (ReturnRequest.Status.REFUNDED, Decimal("12.40"))


def test_the_supplier_types_tracking_on_its_private_page_in_chromium(
    browser, live_server, placed_order, artifacts
):
    """Chromium sends the form's Origin: the page's referrer policy must not turn it into `null`
    (which Django's CSRF check refuses with 403)."""
    order, supplier_order = placed_order
    Supplier.objects.filter(pk=supplier_order.supplier_id).update(tracking_method="page")
    context = browser.new_context(viewport=DESK)
    page = context.new_page()
    response = page.goto(f"{live_server.url}/supplier/{supplier_order.supplier.upload_token}/")
    assert response.headers["referrer-policy"] == "same-origin"
    page.locator(f'input[name="tracking-{supplier_order.reference}"]').fill("00340434161094042557")
    page.locator(f'[name="carrier-{supplier_order.reference}"]').fill("DPD")
    page.screenshot(path=str(artifacts / "1-typed.png"), full_page=True)
    page.locator(f'input[name="tracking-{supplier_order.reference}"]').press("Enter")
    page.wait_for_load_state()
    page.screenshot(path=str(artifacts / "2-sent.png"), full_page=True)
    assert "Thank you: 1 tracking number(s) recorded" in page.content(), page.content()[:500]
    supplier_order.refresh_from_db()
    assert supplier_order.status == "shipped" and supplier_order.tracking_number == "00340434161094042557"
    context.close()


def test_the_public_tracking_page_in_chromium(browser, live_server, make_order, artifacts):
    order = make_order("8001")
    shipment = order.shipments.get()
    shipment.status = "in_transit"
    shipment.save()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    response = page.goto(f"{live_server.url}/track/{shipment.public_token}/")
    assert response.status == 200
    assert response.headers["x-robots-tag"] == "noindex, nofollow"
    text = page.locator("body").inner_text()
    assert shipment.tracking_number in text
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # fits a phone
    page.screenshot(path=str(artifacts / "track.png"), full_page=True)
    context.close()
