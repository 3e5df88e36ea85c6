"""The customer's path through the portal, page by page, with the Django test client."""

import re

import pytest
from django.core import mail
from django.utils.html import escape

from orders.models import OrderEvent
from returns.models import ReturnRequest


def choose(client, order, picks: dict, note=""):
    """picks: {sku: (quantity, reason)}"""
    data = {"note": note}
    for line in order.lines.all():
        quantity, reason = picks.get(line.sku, (0, ""))
        data[f"qty_{line.pk}"], data[f"reason_{line.pk}"] = quantity, reason
    return client.post("/returns/northern/items/", data)


def confirm_key(client) -> str:
    page = client.get("/returns/northern/confirm/")
    return re.search(r'name="key" value="([0-9a-f]+)"', page.content.decode()).group(1)


def test_the_whole_path_gives_a_label_a_tracking_link_and_an_email(
    client, looked_up, django_capture_on_commit_callbacks
):
    order = looked_up
    response = choose(client, order, {"MUG-1": (2, "damaged")}, note="Both cracked")
    assert response["Location"] == "/returns/northern/confirm/"

    page = client.get("/returns/northern/confirm/").content.decode()
    assert "2 × Item MUG-1" in page and "Arrived damaged" in page and "Both cracked" in page
    assert "Northern Goods Returns" in page  # where the parcel goes

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/returns/northern/confirm/", {"key": confirm_key(client)})
    ret = ReturnRequest.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"/returns/northern/r/{ret.public_token}/"
    assert ret.status == "label_issued"
    assert ret.tracking_number.startswith("RT") and ret.tracking_number.endswith("GB")
    assert [(ln.order_line.sku, ln.quantity, ln.reason) for ln in ret.lines.all()] == [
        ("MUG-1", 2, "damaged")
    ]
    assert ret.customer_note == "Both cracked"

    status = client.get(response["Location"])
    text = status.content.decode()
    assert "Your return label is ready" in text
    assert f"/returns/northern/r/{ret.public_token}/label.pdf" in text
    assert ret.tracking_number in text

    pdf = client.get(f"/returns/northern/r/{ret.public_token}/label.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert "attachment" in pdf["Content-Disposition"]

    [email] = mail.outbox
    assert email.to == ["ann@example.test"]
    assert "Your return label for order #1042" in email.subject
    assert email.from_email.startswith("Northern Goods <")
    assert email.reply_to == ["returns@northern.test"]
    assert ret.tracking_number in email.body
    assert f"/returns/northern/r/{ret.public_token}/label.pdf" in email.body
    [(name, content, mimetype)] = email.attachments
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")

    timeline = list(OrderEvent.objects.filter(order=order).order_by("id").values_list("kind", "message"))
    assert ("return", f"Return {ret.number} requested in the portal: 2 × MUG-1 (damaged)") in timeline
    assert any(k == "return" and "label booked with Own account" in m for k, m in timeline)
    assert any(k == "email" and "label email sent to ann@example.test" in m for k, m in timeline)


def test_pressing_confirm_twice_makes_one_return_and_books_one_label(
    client, looked_up, django_capture_on_commit_callbacks
):
    choose(client, looked_up, {"MUG-1": (1, "too_small")})
    key = confirm_key(client)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/returns/northern/confirm/", {"key": key})
        second = client.post(
            "/returns/northern/confirm/", {"key": key}
        )  # the draft is gone from the session now
    assert first["Location"] == second["Location"]
    ret = ReturnRequest.objects.get()
    assert OrderEvent.objects.filter(order=looked_up, message__contains="label booked").count() == 1
    assert len(mail.outbox) == 1
    assert ret.status == "label_issued"


def test_a_double_click_sent_with_the_same_cookie_also_books_once(
    client, looked_up, django_capture_on_commit_callbacks
):
    choose(client, looked_up, {"MUG-1": (1, "too_small")})
    key = confirm_key(client)
    cookie = client.cookies["returns_session"].value
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/returns/northern/confirm/", {"key": key})
        client.cookies["returns_session"] = cookie  # the second click left before the first answer came
        client.post("/returns/northern/confirm/", {"key": key})
    assert ReturnRequest.objects.count() == 1
    assert OrderEvent.objects.filter(order=looked_up, message__contains="label booked").count() == 1


def test_a_stale_confirm_form_goes_back_to_the_items(client, looked_up):
    choose(client, looked_up, {"MUG-1": (1, "too_small")})
    assert (
        client.post("/returns/northern/confirm/", {"key": "0" * 32})["Location"] == "/returns/northern/items/"
    )
    assert not ReturnRequest.objects.exists()


def test_confirm_without_a_draft_goes_back_to_the_items(client, looked_up):
    assert client.get("/returns/northern/confirm/")["Location"] == "/returns/northern/items/"


def test_a_quantity_without_a_reason_is_explained(client, looked_up):
    response = choose(client, looked_up, {"MUG-1": (1, "")})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Choose why you are returning “Item MUG-1”." in text
    mug = looked_up.lines.get(sku="MUG-1")
    assert f'aria-describedby="id_reason_{mug.pk}-error"' in text
    assert 'aria-invalid="true"' in text


def test_choosing_nothing_is_explained(client, looked_up):
    response = choose(client, looked_up, {})
    assert "Choose at least one item to return." in response.content.decode()


def test_more_than_can_be_returned_is_not_offered(client, looked_up):
    mug = looked_up.lines.get(sku="MUG-1")
    response = client.post("/returns/northern/items/", {f"qty_{mug.pk}": 3, f"reason_{mug.pk}": "damaged"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_an_order_that_cannot_be_returned_says_why(client, policy, make_order):
    make_order("1042", "LS1 4AB", delivered_days_ago=45)
    client.post("/returns/northern/", {"order_number": "1042", "postal_code": "LS1 4AB"})
    page = client.get("/returns/northern/items/").content.decode()
    assert "This order cannot be returned online" in page
    assert "30-day return period ended" in page
    assert "<select" not in page


def test_items_already_being_returned_are_shown_with_the_earlier_return(
    client, looked_up, django_capture_on_commit_callbacks
):
    choose(client, looked_up, {"MUG-1": (2, "damaged")})
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/returns/northern/confirm/", {"key": confirm_key(client)})
    ret = ReturnRequest.objects.get()
    page = client.get("/returns/northern/items/").content.decode()
    assert "Already being returned." in page
    assert f"/returns/northern/r/{ret.public_token}/" in page
    tee = looked_up.lines.get(sku="TEE-M")
    assert f'name="qty_{tee.pk}"' in page


def test_with_approval_the_customer_waits_and_is_told_so(
    client, policy, looked_up, django_capture_on_commit_callbacks
):
    policy.requires_approval = True
    policy.save()
    choose(client, looked_up, {"MUG-1": (1, "changed_mind")})
    assert (
        "email you a return label once it is approved"
        in client.get("/returns/northern/confirm/").content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/returns/northern/confirm/", {"key": confirm_key(client)})
    ret = ReturnRequest.objects.get()
    assert ret.status == "awaiting_approval" and not ret.label
    assert "Please do not send anything yet." in client.get(response["Location"]).content.decode()
    [email] = mail.outbox
    assert "We have your return request for order #1042" in email.subject
    assert not email.attachments


def test_the_label_fee_is_shown_before_confirming(client, policy, looked_up):
    policy.label_fee = "4.00"
    policy.save()
    choose(client, looked_up, {"MUG-1": (1, "changed_mind")})
    assert "The return label costs 4.00 GBP" in client.get("/returns/northern/confirm/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_qr_code_is_shown_where_the_carrier_offers_one(
    client, policy, looked_up, sendcloud_returns, django_capture_on_commit_callbacks
):
    from sandbox.models import SandboxRequest

    sendcloud_returns.return_service = "royal_mail:tracked/return-qr"  # label-free: a QR code at the counter
    sendcloud_returns.save()
    choose(client, looked_up, {"TEE-M": (1, "too_large")})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/returns/northern/confirm/", {"key": confirm_key(client)})
    ret = ReturnRequest.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert ret.qr_code and f"/returns/northern/r/{ret.public_token}/qr.png" in page
    assert ret.tracking_url and escape(ret.tracking_url) in page
    qr = client.get(f"/returns/northern/r/{ret.public_token}/qr.png")
    assert b"".join(qr.streaming_content).startswith(b"\x89PNG")
    # what the carrier was asked: from the customer to the brand's return address
    [posted] = [
        r.parsed for r in SandboxRequest.objects.filter(method="POST") if r.path.endswith("/api/v3/returns")
    ]
    assert (
        posted["from_address"]["name"] == "Ann Example" and posted["from_address"]["postal_code"] == "LS1 4AB"
    )
    assert posted["to_address"]["name"] == "Northern Goods Returns"
    assert [(i["quantity"], i.get("sku")) for i in posted["parcel_items"]] == [(1, "TEE-M")]


@pytest.mark.django_db(transaction=True)
def test_when_the_carrier_is_down_the_return_stands_and_the_customer_is_told(
    client, policy, looked_up, sendcloud_returns, django_capture_on_commit_callbacks
):
    from tests.returns.conftest import sendcloud_down

    sendcloud_down(sendcloud_returns)
    choose(client, looked_up, {"TEE-M": (1, "too_large")})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/returns/northern/confirm/", {"key": confirm_key(client)})
    ret = ReturnRequest.objects.get()
    assert ret.status == "approved" and "503" in ret.label_error and ret.label_claimed_at is None
    assert "We could not create the label just now" in client.get(response["Location"]).content.decode()
    assert OrderEvent.objects.filter(order=looked_up, kind="error", message__contains="503").exists()
    assert not mail.outbox


def test_the_status_page_needs_the_right_token_and_brand(
    client, looked_up, django_capture_on_commit_callbacks
):
    choose(client, looked_up, {"MUG-1": (1, "damaged")})
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/returns/northern/confirm/", {"key": confirm_key(client)})
    ret = ReturnRequest.objects.get()
    assert client.get(f"/returns/northern/r/{ret.public_token}x/").status_code == 404
    assert client.get(f"/returns/northern/r/{ret.public_token[:-1]}/label.pdf").status_code == 404


def test_the_brand_logo_and_colours_are_used(client, policy, make_order):
    from django.core.files.base import ContentFile

    brand = policy.brand
    brand.primary_color, brand.accent_color = "#ffe600", "#003366"
    brand.logo.save("logo.svg", ContentFile(b'<svg xmlns="http://www.w3.org/2000/svg"/>'))
    page = client.get("/returns/northern/").content.decode()
    assert '<img src="/returns/northern/logo/" alt="Northern Goods"' in page
    assert "--primary: #ffe600; --on-primary: #1a1a1a;" in page  # dark text on a light brand colour
    assert "Shipdesk" not in page
    logo = client.get("/returns/northern/logo/")
    assert logo["Content-Type"] == "image/svg+xml"
    assert "sandbox" in logo["Content-Security-Policy"]


@pytest.mark.parametrize("colour", ["red; background:url(x)", "#12", "</style><script>"])
def test_a_broken_brand_colour_never_reaches_the_page(client, policy, colour):
    policy.brand.primary_color = colour[:7]
    policy.brand.save()
    page = client.get("/returns/northern/").content.decode()
    assert "--primary: #1f4e79;" in page
