"""Bulk work in the admin, in a real Chromium at 1400 × 900: book orders from the order list and
download the merged label PDF from the job's page (each order with its tracking number and
label picture); upload a "record shipments" CSV, check its preview and confirm it.
Screenshots: test-artifacts/<test name>/."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from orders.models import Order
from shipping.models import BulkJob, Shipment
from tests.factories import BrandFactory, CarrierAccountFactory, ChannelFactory, UserFactory
from tests.shipping.factories import ShippableOrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DESK = {"width": 1400, "height": 900}


@pytest.fixture
def desk(browser, artifacts, live_server):
    """A signed-in staff member's page at 1400 × 900 (signed in through the admin's own form)."""
    UserFactory(username="desk", password="desk-pw")
    context = browser.new_context(viewport=DESK, locale="en-GB", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "desk")
    page.fill("#id_password", "desk-pw")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}{reverse('admin:index')}")
    yield page
    page.screenshot(path=str(artifacts / "last.png"), full_page=True)
    context.close()


@pytest.fixture
def shop(transactional_db):
    BrandFactory(name="Northern Goods", slug="northern")
    CarrierAccountFactory(name="Royal Mail (own account)")
    channel = ChannelFactory(name="Etsy-Main")
    orders = [
        ShippableOrderFactory(channel=channel, external_id=str(n), order_number=str(n))
        for n in range(1001, 1004)
    ]
    return channel, orders


def test_bulk_book_from_the_order_list_and_download_the_merged_pdf(desk, shop, live_server, artifacts):
    _, orders = shop
    desk.goto(
        f"{live_server.url}{reverse('admin:orders_order_changelist')}?channel__id__exact={orders[0].channel_id}"
    )
    desk.check("#action-toggle")  # every order on the list
    desk.select_option("select[name=action]", "book_shipments")
    desk.click("button[name=index]")
    desk.get_by_role("button", name="Book shipments").click()  # the confirmation page, one note for all
    desk.wait_for_url("**/progress/")
    desk.get_by_text("Print labels (one PDF)").wait_for()
    desk.screenshot(path=str(artifacts / "job.png"), full_page=True)

    job = BulkJob.objects.get()
    assert (job.status, job.done, job.failed) == ("done", 3, 0)
    rows = desk.locator("#job-items tbody tr")
    assert rows.count() == 3
    for order in orders:
        shipment = Shipment.objects.get(order=order)
        row = rows.filter(has_text=str(order))
        assert shipment.tracking_number in row.inner_text()
        picture = row.locator("img")
        picture.scroll_into_view_if_needed()
        desk.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
        assert picture.evaluate("img => img.naturalWidth") == 240

    # The link opens the PDF in the browser's viewer to print (inline, not a download): fetch it
    # with the page's own session, as the viewer does.
    link = desk.get_by_text("Print labels (one PDF)")
    answer = desk.context.request.get(live_server.url + link.get_attribute("href"))
    assert answer.ok and answer.headers["content-type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(answer.body()))
    assert len(pdf.pages) == 3
    text = " ".join(p.extract_text() for p in pdf.pages)
    assert all(Shipment.objects.get(order=o).tracking_number in text for o in orders)


def test_upload_a_csv_check_the_preview_and_confirm(desk, shop, live_server, artifacts, tmp_path):
    _, orders = shop
    upload = tmp_path / "tracking.csv"
    upload.write_text(
        "order_number,channel,carrier,tracking_number,ship_date\n"
        "1001,Etsy-Main,Royal Mail,RM100000001GB,2026-12-01\n"
        "1002,Etsy-Main,Royal Mail,RM100000002GB,2026-12-01\n"
    )

    desk.goto(f"{live_server.url}{reverse('shipping_csv:upload')}")
    desk.check("input[name=mode][value=record]")
    desk.set_input_files("input[name=file]", str(upload))
    desk.get_by_role("button", name="Upload and check").click()
    confirm = desk.get_by_role("button", name="Confirm: record 2 shipments")
    confirm.wait_for()
    desk.screenshot(path=str(artifacts / "preview.png"), full_page=True)
    assert not Shipment.objects.exists()  # the preview writes nothing

    confirm.click()
    desk.get_by_text("Recorded 2 shipments.").first.wait_for()
    desk.screenshot(path=str(artifacts / "done.png"), full_page=True)

    assert sorted(Shipment.objects.values_list("tracking_number", flat=True)) == [
        "RM100000001GB",
        "RM100000002GB",
    ]
    assert Order.objects.get(order_number="1003").status == Order.Status.AWAITING_SHIPMENT
    assert Order.objects.get(order_number="1001").status != Order.Status.AWAITING_SHIPMENT
