"""The lookup step: normal forms, answers that reveal nothing, rate limits, CSRF, the session."""

import re

import pytest
from django.test import Client

from returns import portal_session
from tests.factories import BrandFactory

LOOKUP = "/returns/northern/"


def post(client, number, postal, **extra):
    return client.post(LOOKUP, {"order_number": number, "postal_code": postal}, **extra)


@pytest.mark.parametrize("number", ["#1042", "1042", " 1042 ", "# 1042", "1042\t"])
@pytest.mark.parametrize("postal", ["LS1 4AB", "ls1 4ab", "LS14AB", " ls14ab ", "Ls1-4Ab", "l s 1 4 a b"])
def test_every_way_of_typing_the_number_and_postal_code_finds_the_order(
    client, policy, make_order, number, postal
):
    order = make_order("1042", "LS1 4AB")
    response = post(client, number, postal)
    assert response.status_code == 303
    assert response["Location"] == "/returns/northern/items/"
    session = portal_session.PortalSession.loads(response.cookies[portal_session.COOKIE].value)
    assert (session.order_id, session.brand_id) == (order.pk, policy.brand_id)


def test_an_order_number_printed_with_a_hash_is_found_when_typed_without(client, policy, make_order):
    make_order("#A-2001", "75011")
    assert post(client, "a2001", "75 011")["Location"] == "/returns/northern/items/"


def _visible(response) -> bytes:
    """The page as a reviewer compares it: the per-request CSRF mask is the only thing removed."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", response.content)


def test_a_wrong_postal_code_and_an_unknown_order_get_byte_identical_answers(client, policy, make_order):
    make_order("5310", "LS1 4AB")
    client.get(LOOKUP)  # the CSRF cookie, as a browser would have it
    wrong_postal = post(client, "5310", "LS9 9ZZ")
    unknown = post(client, "9999", "LS9 9ZZ")
    unknown_both_right_shape = post(client, "5311", "LS1 4AB")
    for response in (wrong_postal, unknown, unknown_both_right_shape):
        assert response.status_code == 303
        assert response["Location"] == "/returns/northern/?retry=1"
        assert response.content == b""
        assert portal_session.COOKIE not in response.cookies
    assert [(k, v) for k, v in wrong_postal.items() if k != "Date"] == [
        (k, v) for k, v in unknown.items() if k != "Date"
    ]
    # The only cookie keeps what the customer typed as the order number, whatever did not match.
    typed = [{k: c.value.split(":")[0] for k, c in r.cookies.items()} for r in (wrong_postal, unknown)]
    assert typed == [{"returns_typed": "5310"}, {"returns_typed": "9999"}]

    client.cookies.pop("returns_typed")
    page_a, page_b = client.get(wrong_postal["Location"]), client.get(unknown["Location"])
    assert _visible(page_a) == _visible(page_b)
    text = page_a.content.decode()
    assert "We could not find that order" in text
    assert "5310" not in text and "LS9" not in text  # nothing but this browser's own typing comes back


def test_a_failed_lookup_keeps_the_order_number_but_not_the_postal_code(client, policy, make_order):
    make_order("5310", "LS1 4AB")
    client.get(LOOKUP)
    page = client.get(post(client, "#5310", "LS9 9ZZ")["Location"]).content.decode()
    assert "We could not find that order" in page
    assert 'name="order_number" value="#5310"' in page
    assert "LS9" not in page
    # Another browser (no cookie) gets an empty form.
    client.cookies.clear()
    assert 'name="order_number" value=' not in client.get(f"{LOOKUP}?retry=1").content.decode()


def test_an_order_of_another_brand_is_a_mismatch_like_any_other(client, policy, make_order, carrier):
    other = BrandFactory(slug="southern", is_default=False)
    order = make_order("1042", "LS1 4AB")
    order.shipments.update(brand=other)
    assert post(client, "1042", "LS1 4AB")["Location"] == "/returns/northern/?retry=1"
    assert (
        client.post("/returns/southern/", {"order_number": "1042", "postal_code": "LS1 4AB"})["Location"]
        == "/returns/southern/items/"
    )


def test_an_order_without_a_postal_code_cannot_be_found_with_an_empty_one(client, policy, make_order):
    make_order("1042", "")
    response = post(client, "1042", "  ")
    assert response.status_code == 200  # a form error, before any lookup
    assert "Enter the postal code the order was sent to." in response.content.decode()


def test_after_five_tries_a_minute_the_client_is_slowed_down(client, policy, make_order):
    make_order("1042", "LS1 4AB")
    for i in range(5):
        assert post(client, f"99{i}", "XX1")["Location"].endswith("?retry=1")
    limited = post(client, "1042", "LS1 4AB")  # even the right answer is not checked now
    assert limited.status_code == 429
    assert limited["Retry-After"] == "50"
    assert "Too many attempts" in limited.content.decode()
    assert portal_session.COOKIE not in limited.cookies
    # another client is not affected
    assert post(Client(REMOTE_ADDR="10.0.0.9"), "1042", "LS1 4AB")["Location"].endswith("/items/")


def test_one_order_number_cannot_be_walked_through_postal_codes_from_many_addresses(
    client, policy, make_order
):
    make_order("1042", "LS1 4AB")
    for i in range(5):  # RETURNS_LOOKUP_RATE_PER_ORDER: 5/day
        c = Client(REMOTE_ADDR=f"10.0.1.{i}")
        assert post(c, "#1042", f"LS{i} 1AA")["Location"].endswith("?retry=1")
    limited = post(Client(REMOTE_ADDR="10.0.2.1"), "1042", "LS1 4AB")
    assert limited.status_code == 429
    # the same answer for a number that does not exist: the limit says nothing about the order
    for i in range(5):
        post(Client(REMOTE_ADDR=f"10.0.3.{i}"), "7777", f"LS{i} 1AA")
    assert post(Client(REMOTE_ADDR="10.0.4.1"), "7777", "LS1 4AB").status_code == 429
    # other orders are not affected
    make_order("2000", "LS1 4AB")
    assert post(Client(REMOTE_ADDR="10.0.4.2"), "2000", "LS1 4AB")["Location"].endswith("/items/")


def test_the_limits_come_from_settings(client, settings, policy, make_order):
    settings.RETURNS_LOOKUP_RATE_PER_IP = "2/hour"
    make_order("1042", "LS1 4AB")
    post(client, "1", "X")
    post(client, "2", "X")
    limited = post(client, "1042", "LS1 4AB")
    assert limited.status_code == 429
    assert limited["Retry-After"] == "3590"  # the rest of the hour (the clock is held 10 s into one)


def test_behind_a_proxy_the_forwarded_client_address_is_limited(client, settings, policy, make_order):
    settings.RETURNS_TRUSTED_PROXY_COUNT = 1
    make_order("1042", "LS1 4AB")
    for i in range(5):
        post(client, f"9{i}", "X", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert post(client, "1042", "LS1 4AB", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    # a client that forges an extra address on the left is still counted by the one the proxy saw
    assert post(client, "1042", "LS1 4AB", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7").status_code == 429
    assert post(client, "1042", "LS1 4AB", HTTP_X_FORWARDED_FOR="198.51.100.1")["Location"].endswith(
        "/items/"
    )


@pytest.mark.parametrize(
    "path,data",
    [
        ("/returns/northern/", {"order_number": "1042", "postal_code": "LS1 4AB"}),
        ("/returns/northern/items/", {}),
        ("/returns/northern/confirm/", {"key": "x"}),
        ("/returns/northern/start-again/", {}),
        ("/returns/language/", {"language": "fr"}),
    ],
)
def test_every_form_refuses_a_post_without_the_csrf_token(policy, make_order, path, data):
    make_order("1042", "LS1 4AB")
    browser = Client(enforce_csrf_checks=True)
    browser.get(LOOKUP)  # has the CSRF cookie, but the form below does not carry the token
    response = browser.post(path, data)
    assert response.status_code == 403
    assert portal_session.COOKIE not in response.cookies


def test_with_the_token_the_same_form_is_accepted(policy, make_order):
    make_order("1042", "LS1 4AB")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(LOOKUP)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = browser.post(
        LOOKUP, {"order_number": "1042", "postal_code": "LS1 4AB", "csrfmiddlewaretoken": token}
    )
    assert response["Location"] == "/returns/northern/items/"


def test_the_order_appears_only_after_both_match(client, policy, make_order):
    make_order("1042", "LS1 4AB", customer_name="Ann Example")
    assert client.get("/returns/northern/items/")["Location"] == "/returns/northern/?expired=1"
    post(client, "1042", "WRONG")
    assert client.get("/returns/northern/items/")["Location"] == "/returns/northern/?expired=1"
    post(client, "1042", "LS1 4AB")
    page = client.get("/returns/northern/items/")
    assert page.status_code == 200
    assert "Order #1042" in page.content.decode()
    assert page["Cache-Control"] == "no-store"


def test_the_session_is_a_signed_cookie_scoped_to_the_portal_and_one_order(client, policy, make_order):
    first = make_order("1042", "LS1 4AB")
    second = make_order("2000", "LS2 7UE")
    response = post(client, "1042", "LS1 4AB")
    cookie = response.cookies[portal_session.COOKIE]
    assert cookie["path"] == "/returns/"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 3600
    # tampering with it (pointing it at another order) gets nothing
    forged = cookie.value.replace(cookie.value[-5:], "AAAAA")
    client.cookies[portal_session.COOKIE] = forged
    assert client.get("/returns/northern/items/")["Location"] == "/returns/northern/?expired=1"
    # a new lookup replaces it: only the latest order is reachable
    post(client, "2000", "LS2 7UE")
    assert "Order #2000" in client.get("/returns/northern/items/").content.decode()
    assert first.pk != second.pk


def test_a_session_for_one_brand_does_not_open_another_brands_portal(client, policy, make_order):
    BrandFactory(slug="southern", is_default=False)
    make_order("1042", "LS1 4AB")
    post(client, "1042", "LS1 4AB")
    assert client.get("/returns/southern/items/")["Location"] == "/returns/southern/?expired=1"


def test_start_again_forgets_the_order(client, policy, make_order):
    make_order("1042", "LS1 4AB")
    post(client, "1042", "LS1 4AB")
    response = client.post("/returns/northern/start-again/")
    assert response.cookies[portal_session.COOKIE].value == ""
    assert client.get("/returns/northern/items/")["Location"] == "/returns/northern/?expired=1"


def test_the_default_brand_answers_at_returns(client, policy, make_order):
    make_order("1042", "LS1 4AB")
    page = client.get("/returns/")
    assert page.status_code == 200
    assert "Northern Goods" in page.content.decode()
    response = client.post("/returns/", {"order_number": "1042", "postal_code": "LS1 4AB"})
    assert response["Location"] == "/returns/northern/items/"
    assert (
        client.post("/returns/", {"order_number": "1", "postal_code": "X"})["Location"] == "/returns/?retry=1"
    )


def test_an_unknown_brand_is_not_found(client, policy):
    assert client.get("/returns/nope/").status_code == 404


def test_a_lookup_costs_two_queries(client, policy, make_order, django_assert_num_queries):
    make_order("1042", "LS1 4AB")
    with django_assert_num_queries(2):  # the brand (with its policy), the order (with its shipment's brand)
        assert post(client, "1042", "LS1 4AB")["Location"].endswith("/items/")
    with django_assert_num_queries(2):
        assert post(client, "1042", "LS9 9ZZ")["Location"].endswith("?retry=1")
