"""The return window reads the same on the portal and in the admin, and says what the policy computes
(issue 15 item 8)."""

import html

from orders.models import Order
from returns.eligibility import eligibility, window_rule


def _text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_portal_and_the_admin_show_the_same_window_for_an_order(client, staff_client, looked_up, policy):
    elig = eligibility(looked_up, brand=policy.brand)
    assert elig.window_basis == "delivery"
    assert elig.window_text.startswith("30 days from delivery, until ")

    portal = _text(client.get("/returns/northern/items/"))
    admin = _text(staff_client.get(f"/admin/orders/order/{looked_up.pk}/change/"))
    assert f"Return window: {elig.window_text}" in portal
    assert f"Return window: {elig.window_text}." in admin


def test_an_order_not_yet_delivered_counts_from_dispatch_in_both_places(
    client, staff_client, policy, make_order
):
    order = make_order("2001", "LS1 4AB")
    Order.objects.filter(pk=order.pk).update(delivered_at=None, status=Order.Status.SHIPPED)
    order.refresh_from_db()  # sent with Shipdesk, no delivery date known yet
    elig = eligibility(order, brand=policy.brand)
    assert elig.window_text.startswith("30 days from dispatch, until ")
    client.post("/returns/northern/", {"order_number": "2001", "postal_code": "LS1 4AB"})
    assert f"Return window: {elig.window_text}" in _text(client.get("/returns/northern/items/"))
    assert f"Return window: {elig.window_text}." in _text(
        staff_client.get(f"/admin/orders/order/{order.pk}/change/")
    )


def test_the_portal_first_page_states_the_rule_the_policy_applies(client, policy):
    page = _text(client.get("/returns/northern/"))
    assert window_rule(30) in page
    assert "of dispatch when we do not know the delivery date" in page
    assert "of the order date for orders we did not send" in page


def test_the_rule_in_french(client, policy):
    page = _text(client.get("/returns/northern/", HTTP_ACCEPT_LANGUAGE="fr"))
    assert "dans un délai de 30 jours après la livraison (après l’expédition" in page


def test_a_customisation_address_shows_as_a_link_in_the_portal(client, policy, make_order):
    order = make_order("3001", "LS1 4AB")
    order.lines.filter(sku="MUG-1").update(options={"Size": "L", "Design": "https://designs.example/p/9"})
    client.post("/returns/northern/", {"order_number": "3001", "postal_code": "LS1 4AB"})
    page = client.get("/returns/northern/items/").content.decode()
    assert 'Design: <a href="https://designs.example/p/9"' in page and "your customisation</a>" in page
    assert ">https://designs.example" not in page and "Design: https://" not in page
    assert "Size: L" in page
