"""Nobody can lock a customer out: when strangers have used up an order number's wrong postal
codes, the customer asks for a link, which goes only to the email address on the order (the page
never says whether the order exists), and the limits still stop a script guessing postal codes."""

import re

from django.core import mail
from django.test import Client

from orders.models import OrderEvent


def lookup(client, number, postal):
    return client.post("/returns/northern/", {"order_number": number, "postal_code": postal})


def ask_link(client, number):
    return client.post("/returns/northern/email-link/", {"link_order_number": number})


def test_a_hundred_guesses_from_rotating_addresses_are_almost_all_blocked(policy, make_order):
    make_order("1042", "LS1 4AB")
    answers = [
        lookup(Client(REMOTE_ADDR=f"10.9.{i // 250}.{i % 250}"), "1042", f"ZZ{i} 9ZZ").status_code
        for i in range(100)
    ]
    blocked = answers.count(429)
    assert blocked >= 95 and set(answers) == {303, 429}
    # Even the right postal code is refused now: the guesses used the number up for today.
    assert lookup(Client(REMOTE_ADDR="10.8.0.1"), "1042", "LS1 4AB").status_code == 429


def test_the_locked_out_customer_gets_in_through_the_emailed_link(client, policy, make_order):
    order = make_order("1042", "LS1 4AB", email="ann@example.test")
    for i in range(6):
        lookup(Client(REMOTE_ADDR=f"10.7.0.{i}"), "1042", f"XX{i} 1XX")
    page = lookup(client, "1042", "LS1 4AB")
    assert page.status_code == 429 and "Get a link by email" in page.content.decode()

    sent = ask_link(client, "#1042")
    assert sent.status_code == 303 and sent["Location"].endswith("?link=sent")
    assert "If we found that order, we have sent a link" in client.get(sent["Location"]).content.decode()
    [message] = mail.outbox
    assert message.to == ["ann@example.test"] and "1042" in message.subject
    url = re.search(r"http\S+/returns/northern/link/\S+/", message.body).group(0)
    opened = client.get(url[url.index("/returns/") :])
    assert opened.status_code == 303 and opened["Location"].endswith("/returns/northern/items/")
    items = client.get(opened["Location"])
    assert items.status_code == 200 and "Item MUG-1" in items.content.decode()
    assert OrderEvent.objects.filter(order=order, kind="email", message__contains="sign-in link").exists()


def test_an_unknown_order_gets_the_same_answer_and_no_email(client, policy, make_order):
    make_order("1042", "LS1 4AB")
    known, unknown = (
        ask_link(Client(REMOTE_ADDR="10.6.0.1"), "1042"),
        ask_link(Client(REMOTE_ADDR="10.6.0.2"), "9999"),
    )
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mail.outbox) == 1


def test_links_per_order_number_are_limited_so_nobody_floods_an_inbox(policy, make_order):
    make_order("1042", "LS1 4AB")
    answers = [ask_link(Client(REMOTE_ADDR=f"10.5.0.{i}"), "1042") for i in range(6)]
    assert {a.status_code for a in answers} == {303}  # the same answer every time …
    assert len(mail.outbox) == 3  # … but three emails a day (RETURNS_LINK_RATE_PER_ORDER)


def test_a_tampered_or_expired_link_opens_nothing(client, settings, policy, make_order):
    from returns.portal_session import link_token

    order = make_order("1042", "LS1 4AB")
    token = link_token(order_id=order.pk, brand_id=policy.brand.pk)
    assert client.get(f"/returns/northern/link/{token}x/")["Location"].endswith("?expired=1")
    settings.RETURNS_LINK_MINUTES = -1
    assert client.get(f"/returns/northern/link/{token}/")["Location"].endswith("?expired=1")
    assert client.get("/returns/northern/items/")["Location"].endswith("?expired=1")


def test_the_link_request_speaks_french(client, policy, make_order):
    page = client.get("/returns/northern/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Code postal refusé ? Recevez un lien par e-mail" in page.content.decode()
    make_order("1042", "LS1 4AB")
    client.post("/returns/northern/email-link/", {"link_order_number": "1042"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert mail.outbox[0].subject == "Votre lien pour retourner des articles de la commande #1042"
