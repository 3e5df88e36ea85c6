"""The channel page in a real Chromium at 1400 × 900: "Sync now" imports the sandbox shop's
orders and the page then tells the sync in sentences and the cursor as a date.
Screenshots: test-artifacts/<test name>/."""

import pytest
from django.urls import reverse

from orders.models import Order
from sandbox.generators.etsy import generate
from tests.browser.test_admin_bulk import desk  # noqa: F401 - the signed-in 1400 × 900 page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sync_now_on_the_channel_page(desk, etsy_sandbox, live_server, artifacts):  # noqa: F811
    channel, store = etsy_sandbox
    generate(store, 4, mix=False, seed=2)

    desk.goto(f"{live_server.url}{reverse('admin:channels_channel_change', args=[channel.pk])}")
    desk.get_by_text("Nothing read yet: the first sync reads the import window.").wait_for()
    desk.get_by_role("button", name="Sync now").click()

    desk.get_by_text("Sync of Etsy-Main queued").wait_for()
    desk.get_by_text("Imported 4 new order(s) and updated 0, of 4 read in 1 page(s).").wait_for()
    assert desk.get_by_text("Orders changed since").is_visible()
    desk.screenshot(path=str(artifacts / "synced.png"), full_page=True)
    assert Order.objects.filter(channel=channel).count() == 4
