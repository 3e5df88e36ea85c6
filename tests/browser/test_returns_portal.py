"""The returns portal in a real Chromium on a 360 × 740 phone: the whole customer path in
French and in English, and once with the keyboard only. Screenshots: test-artifacts/."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.models import Order
from returns.models import ReturnRequest
from tests.factories import BrandFactory, CarrierAccountFactory, OrderFactory, OrderLineFactory
from tests.returns.factories import ReturnPolicyFactory, ShipmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Ratio of text to background for one element, computed by the browser (WCAG 2 formula).
CONTRAST_JS = """el => {
  const rgb = c => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                     return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let bg = 'rgb(255, 255, 255)';
  for (let n = el; n; n = n.parentElement) { const c = getComputedStyle(n).backgroundColor; if (!c.startsWith('rgba(0, 0, 0, 0)')) { bg = c; break; } }
  const [a, b] = [lum(getComputedStyle(el).color), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.fixture
def shop(transactional_db):
    brand = BrandFactory(
        name="Maison Lune",
        slug="lune",
        is_default=True,
        primary_color="#5b2a86",
        accent_color="#f2b134",
        return_address__name="Maison Lune Retours",
        return_address__city="Lyon",
        return_address__postal_code="69002",
        return_address__country="FR",
    )
    carrier = CarrierAccountFactory(name="Colis maison", prefix="RL")
    ReturnPolicyFactory(brand=brand, return_carrier=carrier)
    order = OrderFactory(
        order_number="1042",
        external_id="e1042",
        ship_postal_code="LS1 4AB",
        ship_name="Ann Example",
        email="ann@example.test",
        status=Order.Status.DELIVERED,
        ordered_at=timezone.now() - timedelta(days=6),
        delivered_at=timezone.now() - timedelta(days=2),
    )
    OrderLineFactory(order=order, sku="MUG-1", title="Tasse en grès", quantity=2)
    OrderLineFactory(order=order, sku="TEE-M", title="T-shirt lin", quantity=1)
    ShipmentFactory(order=order, carrier_account=carrier, brand=brand)
    return order


def check_page(page):
    """What every portal page must do on a phone: no sideways scrolling, every field labelled,
    the main button readable."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at 360px"
    unlabelled = page.evaluate("""[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.name)""")
    assert unlabelled == []
    for button in page.locator(".button").all():
        if button.is_visible():
            assert button.evaluate(CONTRAST_JS) >= 4.5, button.inner_text()


def customer_path(page, base, artifacts, lang, words):
    page.goto(f"{base}/returns/lune/")
    assert page.locator("html").get_attribute("lang") == lang
    check_page(page)
    page.screenshot(path=str(artifacts / f"1-lookup-{lang}.png"), full_page=True)

    page.get_by_label(words["number"], exact=True).fill("#1042")
    page.get_by_label(words["postal"]).fill("ls1 4ab")
    page.get_by_role("button", name=words["find"]).click()
    page.wait_for_url("**/returns/lune/items/")
    check_page(page)
    page.screenshot(path=str(artifacts / f"2-items-{lang}.png"), full_page=True)

    mug = page.get_by_role("group", name="Tasse en grès")
    mug.get_by_label(words["quantity"]).select_option("1")
    mug.get_by_label(words["reason"], exact=True).select_option(label=words["damaged"])
    page.get_by_role("button", name=words["continue"]).click()
    page.wait_for_url("**/returns/lune/confirm/")
    check_page(page)
    assert "Maison Lune Retours" in page.content()
    page.screenshot(path=str(artifacts / f"3-confirm-{lang}.png"), full_page=True)

    page.get_by_role("button", name=words["confirm"]).click()
    page.wait_for_url("**/returns/lune/r/**")
    check_page(page)
    ret = ReturnRequest.objects.get()
    assert page.get_by_role("heading", name=words["ready"]).is_visible()
    assert page.get_by_text(ret.tracking_number).first.is_visible()
    page.screenshot(path=str(artifacts / f"4-label-{lang}.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name=words["download"]).click()
    path = download.value.path()
    with open(path, "rb") as f:
        assert f.read(5) == b"%PDF-"
    assert download.value.suggested_filename == f"return-label-{ret.number}.pdf"
    return ret


def test_the_customer_path_in_french_on_a_phone(phone, live_server, shop, artifacts):
    page = phone("fr-FR")
    ret = customer_path(
        page,
        live_server.url,
        artifacts,
        "fr",
        {
            "number": "Numéro de commande",
            "postal": "Code postal",
            "find": "Trouver ma commande",
            "quantity": "Quantité à retourner",
            "reason": "Motif",
            "damaged": "Arrivé endommagé",
            "continue": "Continuer",
            "confirm": "Confirmer le retour",
            "ready": "Votre étiquette de retour est prête",
            "download": "Télécharger l’étiquette (PDF)",
        },
    )
    assert ret.language == "fr"
    [email] = mail.outbox
    assert email.subject.startswith("Votre étiquette de retour pour la commande #1042")


def test_the_customer_path_in_english_on_a_phone(phone, live_server, shop, artifacts):
    page = phone("en-GB")
    # a wrong postal code first: one polite message, nothing echoed
    page.goto(f"{live_server.url}/returns/lune/")
    page.get_by_label("Order number", exact=True).fill("1042")
    page.get_by_label("Postal code").fill("LS9 9ZZ")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_url("**/returns/lune/?retry=1")
    assert page.get_by_role("alert").inner_text().startswith("We could not find that order")
    assert page.get_by_label("Order number", exact=True).input_value() == "1042"  # kept for a retry
    assert page.get_by_label("Postal code").input_value() == ""
    page.screenshot(path=str(artifacts / "0-mismatch-en.png"), full_page=True)

    ret = customer_path(
        page,
        live_server.url,
        artifacts,
        "en",
        {
            "number": "Order number",
            "postal": "Postal code",
            "find": "Find my order",
            "quantity": "Quantity to return",
            "reason": "Reason",
            "damaged": "Arrived damaged",
            "continue": "Continue",
            "confirm": "Confirm return",
            "ready": "Your return label is ready",
            "download": "Download the label (PDF)",
        },
    )
    assert [(ln.order_line.sku, ln.quantity, ln.reason) for ln in ret.lines.all()] == [
        ("MUG-1", 1, "damaged")
    ]


def test_the_language_switch_works_without_javascript(browser, live_server, shop, artifacts):
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="en-GB", java_script_enabled=False
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/returns/lune/")
    page.get_by_role("button", name="Français").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Retourner un article"
    page.get_by_label("Numéro de commande", exact=True).fill("1042")
    page.get_by_label("Code postal").fill("LS1 4AB")
    page.get_by_role("button", name="Trouver ma commande").click()
    page.wait_for_url("**/items/")
    page.screenshot(path=str(artifacts / "items-no-js-fr.png"), full_page=True)
    context.close()


def focused(page) -> str:
    """The focused element: `name=value` for a form control, else its id or its text."""
    return page.evaluate("""() => { const el = document.activeElement;
        if (el.name) return `${el.name}=${el.value}`;
        return el.id || el.textContent.trim().slice(0, 60); }""")


def tab(page) -> str:
    page.keyboard.press("Tab")
    return focused(page)


def tab_to(page, wanted, limit=40) -> str:
    """Press Tab until the focused element matches `wanted` (text, or a callable on the text)."""
    seen = []
    for _ in range(limit):
        now = tab(page)
        seen.append(now)
        if wanted(now) if callable(wanted) else now == wanted:
            return now
    raise AssertionError(f"Tab never reached {wanted!r}; it went {seen}")


def assert_focus_visible(page):
    style = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return [s.outlineStyle, s.outlineWidth, s.boxShadow]; }""")
    assert style[0] != "none" and style[1] != "0px", style


def test_keyboard_only(phone, live_server, shop, artifacts):
    page = phone("en-GB")
    page.goto(f"{live_server.url}/returns/lune/")
    # focus order: skip link, home, language switch, the two fields, the button
    order = [tab(page) for _ in range(6)]
    assert order == [
        "Skip to main content",
        "Maison Lune",
        "language=en",
        "language=fr",
        "order_number=",
        "postal_code=",
    ]
    assert_focus_visible(page)
    assert tab(page) == "Find my order"
    assert_focus_visible(page)

    # a wrong answer: the message takes the focus, so a screen reader reads it first
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("1042")
    page.keyboard.press("Tab")
    page.keyboard.type("XX1 1XX")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?retry=1")
    assert focused(page) == "lookup-error"

    page.goto(f"{live_server.url}/returns/lune/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # skip link: straight to the form
    assert tab(page) == "order_number="
    page.keyboard.type("#1042")
    page.keyboard.press("Tab")
    page.keyboard.type("ls1 4ab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/items/")

    # choose 1 mug, damaged: Tab to each select and pick with the arrow keys
    tab_to(page, lambda f: f.startswith("qty_"))
    page.keyboard.press("ArrowDown")
    assert focused(page).endswith("=1")
    page.keyboard.press("Tab")
    assert focused(page).startswith("reason_")
    for _ in range(3):  # Too small, Too large, Arrived damaged
        page.keyboard.press("ArrowDown")
    assert focused(page).endswith("=damaged")
    assert_focus_visible(page)
    tab_to(page, "Continue")
    page.keyboard.press("Enter")
    page.wait_for_url("**/confirm/")
    page.screenshot(path=str(artifacts / "keyboard-confirm.png"), full_page=True)

    tab_to(page, "Confirm return")
    page.keyboard.press("Enter")
    page.wait_for_url("**/r/**")
    tab_to(page, "Download the label (PDF)")
    assert_focus_visible(page)
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename.endswith(".pdf")
    page.screenshot(path=str(artifacts / "keyboard-label.png"), full_page=True)
    assert ReturnRequest.objects.get().status == "label_issued"
