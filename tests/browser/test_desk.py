"""The staff desk in a real Chromium at 1400 × 900: signing in, the work queues on the index (a
count, following its link), and a count that changes while the page stays open (the poll).
Screenshots: test-artifacts/<test>/."""

import pytest
from django.urls import reverse

from orders import holding
from orders.models import Order
from tests.factories import OrderFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESK = {"width": 1400, "height": 900}


@pytest.fixture
def desk_page(browser, artifacts):
    context = browser.new_context(viewport=DESK, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    page.screenshot(path=str(artifacts / "last.png"), full_page=True)
    context.close()


@pytest.fixture
def clerk(transactional_db):
    return UserFactory(username="clerk", password="correct horse battery")


def sign_in(page, live_server, *, password="correct horse battery"):
    page.goto(live_server.url + reverse("admin:index"))
    page.fill("#id_username", "clerk")
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def test_signing_in_opens_the_desk_and_a_wrong_password_does_not(desk_page, live_server, clerk, artifacts):
    sign_in(desk_page, live_server, password="wrong")
    assert desk_page.locator(".errornote").is_visible()
    assert "/login/" in desk_page.url

    sign_in(desk_page, live_server)

    desk_page.wait_for_selector("#work-queues")
    assert desk_page.title().endswith("Shipdesk")
    assert desk_page.locator("#site-name").inner_text() == "Shipdesk"
    desk_page.screenshot(path=str(artifacts / "desk.png"), full_page=True)


def test_a_queue_count_links_to_its_orders_and_updates_without_reloading(
    desk_page, live_server, clerk, settings, artifacts
):
    settings.DESK_QUEUES_POLL_SECONDS = 1
    held = OrderFactory(order_number="HOLD-1")
    holding.hold_order(held, reason="Customer asked to wait")
    OrderFactory(order_number="FREE-1")
    sign_in(desk_page, live_server)
    queue = desk_page.locator('#work-queues li[data-queue="on_hold"]')

    assert queue.locator(".count").inner_text() == "1"
    assert queue.locator(".action").inner_text() == "release"
    box = desk_page.locator("#work-queues").bounding_box()
    assert box["y"] < DESK["height"] and box["x"] + box["width"] <= DESK["width"]  # first, on screen

    queue.locator("a").click()
    desk_page.wait_for_selector("#result_list")
    rows = desk_page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "HOLD-1" in rows.first.inner_text()
    desk_page.screenshot(path=str(artifacts / "on-hold-list.png"))

    desk_page.go_back()
    desk_page.wait_for_selector("#work-queues")
    desk_page.evaluate("window.__stillTheSamePage = true")
    holding.hold_order(Order.objects.get(order_number="FREE-1"), reason="Fraud check")

    desk_page.wait_for_function(
        """() => document.querySelector('#work-queues li[data-queue="on_hold"] .count').textContent === "2" """
    )
    assert desk_page.evaluate("window.__stillTheSamePage") is True  # updated by the poll, not a reload
    desk_page.screenshot(path=str(artifacts / "updated.png"))


def test_hold_from_the_order_page_with_a_reason_then_release(desk_page, live_server, clerk, artifacts):
    order = OrderFactory(order_number="HOLD-2")
    sign_in(desk_page, live_server)
    desk_page.goto(live_server.url + reverse("admin:orders_order_change", args=[order.pk]))

    desk_page.click("#hold-order")
    desk_page.fill("#id_reason", "Customer is changing the address")
    desk_page.click("#hold-form input[type=submit]")
    desk_page.wait_for_selector("#release-order")
    desk_page.screenshot(path=str(artifacts / "held.png"), full_page=True)

    order.refresh_from_db()
    assert (order.status, order.hold_reason) == (Order.Status.ON_HOLD, "Customer is changing the address")
    assert "held by staff: Customer is changing the address" in desk_page.content()

    desk_page.click("#release-order button")
    desk_page.wait_for_selector("#hold-order")
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_SHIPMENT
    assert "released from hold (Customer is changing the address)" in desk_page.content()
