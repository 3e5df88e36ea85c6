"""A real headless Chromium (Debian's package) driven by Playwright, against live_server.

CI installs chromium (`apt-get install -y chromium`); without it these tests FAIL with the
install command rather than skip, so a missing browser never looks like a pass."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `apt-get install -y chromium` "
            "(or set CHROMIUM_PATH). Browser tests never skip.",
            pytrace=False,
        )
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # between browser steps are plain synchronous code, so Django's async guard is lifted.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache: each test starts as a new visitor."""
    from django.core.cache import caches

    caches["default"].clear()


@pytest.fixture
def artifacts(request) -> Path:
    """Where this test's screenshots go (test-artifacts/<test name>/, not in git)."""
    folder = ARTIFACTS / request.node.name.replace("[", "-").replace("]", "")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def phone(browser, artifacts):
    """A page in a phone-sized window: phone("fr-FR") -> Page. Closed after the test, with a
    screenshot of where it ended (last.png: what to look at when a test fails)."""
    contexts = []

    def open_page(locale="en-GB"):
        context = browser.new_context(
            viewport=PHONE,
            locale=locale,
            is_mobile=True,
            has_touch=True,
            device_scale_factor=2,
            accept_downloads=True,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        for page in context.pages:
            page.screenshot(path=str(artifacts / "last.png"), full_page=True)
        context.close()


# The returns and suppliers fixtures, for the desk flows that pay suppliers and handle returns.
from tests.returns.conftest import brand, carrier, make_order, policy  # noqa: E402, F401
from tests.suppliers.conftest import atelier_nord, paypal, stripe, supplier_store  # noqa: E402, F401
from tests.suppliers.test_tracking import placed_order  # noqa: E402, F401
