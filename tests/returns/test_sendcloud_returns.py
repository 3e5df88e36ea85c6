"""Return labels through Sendcloud (v3 returns), against the Sendcloud sandbox."""

import re
import time

import pytest
from django.core import mail
from django.test import Client

from orders.models import OrderEvent
from returns.models import ReturnRequest
from sandbox.models import SandboxOrder, SandboxRequest
from tests.factories import BrandFactory
from tests.returns.qr import PNG_SIGNATURE, encodes

pytestmark = pytest.mark.django_db(transaction=True)


def returns_posted():
    return [r for r in SandboxRequest.objects.filter(method="POST") if r.path.endswith("/api/v3/returns")]


def test_confirming_twice_books_one_sendcloud_return(
    client, sendcloud_returns, make_order, django_capture_on_commit_callbacks
):
    order = make_order("1042", "LS1 4AB")
    client.post("/returns/northern/", {"order_number": "#1042", "postal_code": "ls1 4ab"})
    mug = order.lines.get(sku="MUG-1")
    client.post("/returns/northern/items/", {f"qty_{mug.pk}": 2, f"reason_{mug.pk}": "faulty"})
    key = re.search(r'name="key" value="(\w+)"', client.get("/returns/northern/confirm/").content.decode())[1]
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/returns/northern/confirm/", {"key": key})
        second = client.post("/returns/northern/confirm/", {"key": key})
    assert first["Location"] == second["Location"]

    [posted] = returns_posted()
    body = posted.parsed
    assert body["ship_with"]["shipping_option_code"] == "postnl:return"
    assert body["from_address"]["postal_code"] == "LS1 4AB" and body["from_address"]["name"] == "Ann Example"
    assert body["to_address"]["name"] == "Northern Goods Returns"
    assert [(i["quantity"], i.get("sku")) for i in body["parcel_items"]] == [(2, "MUG-1")]

    ret = ReturnRequest.objects.get()
    assert ret.status == "label_issued" and ret.external_id and ret.tracking_number
    assert ret.label.open("rb").read(5) == b"%PDF-"
    assert ret.carrier_account == sendcloud_returns
    [email] = mail.outbox
    assert ret.tracking_number in email.body
    # postnl:return needs a printed label: no QR code anywhere, nothing said about one
    assert not ret.qr_code
    assert [mimetype for _, _, mimetype in email.attachments] == ["application/pdf"]
    assert "QR code" not in email.body and "QR code" not in email.alternatives[0][0]
    page = client.get(first["Location"]).content.decode()
    assert "qr.png" not in page and "No printer?" not in page


# -- label-free (QR) returns ------------------------------------------------------------------------
LABEL_FREE = "royal_mail:tracked/return-qr"  # the sandbox's Royal Mail label-free return option (GB)


def return_through_the_portal(client, make_order, *, number="1042", language="en"):
    """A customer finds the order, returns one mug and confirms; the status page's URL."""
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    order = make_order(number, "LS1 4AB")
    client.post("/returns/northern/", {"order_number": number, "postal_code": "LS1 4AB"}, **headers)
    mug = order.lines.get(sku="MUG-1")
    client.post("/returns/northern/items/", {f"qty_{mug.pk}": 1, f"reason_{mug.pk}": "faulty"}, **headers)
    page = client.get("/returns/northern/confirm/", **headers).content.decode()
    key = re.search(r'name="key" value="(\w+)"', page)[1]
    return client.post("/returns/northern/confirm/", {"key": key}, **headers)["Location"]


def test_a_label_free_return_shows_the_qr_code_next_to_the_label_and_emails_it(
    client, sendcloud_returns, make_order, django_capture_on_commit_callbacks
):
    sendcloud_returns.return_service = LABEL_FREE
    sendcloud_returns.save()

    with django_capture_on_commit_callbacks(execute=True):
        status_url = return_through_the_portal(client, make_order)

    ret = ReturnRequest.objects.get()
    assert ret.status == "label_issued" and ret.service == LABEL_FREE
    png = ret.qr_code.open("rb").read()
    assert png.startswith(PNG_SIGNATURE) and encodes(png, ret.tracking_number)
    assert SandboxOrder.objects.get(external_id=ret.external_id).data["_qr_payload"] == ret.tracking_number

    page = client.get(status_url).content.decode()
    qr_url = f"/returns/northern/r/{ret.public_token}/qr.png"
    assert "Download the label (PDF)" in page
    assert f'<img class="qr" src="{qr_url}" alt="QR code for label-free drop-off">' in page
    assert "Show this code at the drop-off point instead of a printed label." in page
    served = client.get(qr_url)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["Cache-Control"] == "no-store" and b"".join(served.streaming_content) == png

    [email] = mail.outbox
    assert [(name, mimetype) for name, _, mimetype in email.attachments] == [
        (f"return-label-{ret.number}.pdf", "application/pdf"),
        (f"return-qr-code-{ret.number}.png", "image/png"),
    ]
    assert email.attachments[1][1] == png
    sentence = "Show the QR code attached to this email at the drop-off point instead of a printed label."
    assert sentence in email.body and sentence in email.alternatives[0][0]
    assert OrderEvent.objects.filter(message__contains="with a QR code for label-free drop-off").exists()


def test_the_qr_code_is_only_served_to_whoever_holds_the_returns_link(
    client, sendcloud_returns, make_order, django_capture_on_commit_callbacks
):
    """Scoped as the label PDF is: by the return's unguessable token (the link in the email), in
    the brand's portal. Another visitor, with their own session and their own return, gets 404
    for anything but that link."""
    sendcloud_returns.return_service = LABEL_FREE
    sendcloud_returns.save()
    with django_capture_on_commit_callbacks(execute=True):
        return_through_the_portal(client, make_order)
    ret = ReturnRequest.objects.get()
    other_brand = BrandFactory(name="Other Brand", slug="other")

    stranger = Client()
    with django_capture_on_commit_callbacks(execute=True):
        return_through_the_portal(stranger, make_order, number="2077")
    theirs = ReturnRequest.objects.exclude(pk=ret.pk).get()
    assert theirs.qr_code  # they have a QR code of their own…

    # …but nothing of anyone else's: a guessed token, the token of a return's label, another brand
    assert stranger.get(f"/returns/northern/r/{ret.public_token[:-1]}x/qr.png").status_code == 404
    assert stranger.get(f"/returns/northern/r/{ret.pk}/qr.png").status_code == 404
    assert stranger.get(f"/returns/{other_brand.slug}/r/{ret.public_token}/qr.png").status_code == 404
    own = stranger.get(f"/returns/northern/r/{theirs.public_token}/qr.png")
    assert (
        b"".join(own.streaming_content) == theirs.qr_code.open("rb").read() != ret.qr_code.open("rb").read()
    )


def test_a_qr_code_that_times_out_leaves_the_label_and_the_timeline_says_so(
    client, sendcloud_returns, make_order, settings, django_capture_on_commit_callbacks
):
    from sandbox.sendcloud import store_for_account

    settings.CONNECTOR_TIMEOUT = 0.5
    sendcloud_returns.return_service = LABEL_FREE
    sendcloud_returns.save()
    store = store_for_account(sendcloud_returns)
    store.faults = [{"delay": 1.5, "path": "/documents/qr", "times": 5}]
    store.save(update_fields=["faults"])

    with django_capture_on_commit_callbacks(execute=True):
        status_url = return_through_the_portal(client, make_order)

    ret = ReturnRequest.objects.get()
    assert ret.status == "label_issued" and ret.label and not ret.qr_code
    page = client.get(status_url).content.decode()
    assert "Download the label (PDF)" in page and "qr.png" not in page
    note = OrderEvent.objects.get(message__contains="no QR code")
    assert note.kind == OrderEvent.Kind.RETURN and note.data == {"return_id": ret.pk}
    assert "the label still works" in note.message and "no answer within 0.5s" in note.message
    [email] = mail.outbox
    assert [mimetype for _, _, mimetype in email.attachments] == ["application/pdf"]
    time.sleep(1.5)  # let the sandbox finish the slow requests before the database is flushed


def test_a_french_customer_gets_the_qr_code_explained_in_french(
    client, sendcloud_returns, make_order, django_capture_on_commit_callbacks
):
    sendcloud_returns.return_service = LABEL_FREE
    sendcloud_returns.save()

    with django_capture_on_commit_callbacks(execute=True):
        status_url = return_through_the_portal(client, make_order, language="fr")

    page = client.get(status_url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Pas d’imprimante\u00a0?" in page  # French puts a no-break space before the question mark
    assert "Présentez ce code au point de dépôt au lieu d’une étiquette imprimée." in page
    assert 'alt="Code QR pour un dépôt sans étiquette"' in page
    [email] = mail.outbox
    phrase = "Présentez au point de dépôt le code QR joint à cet e-mail, au lieu d’une étiquette imprimée."
    assert phrase in email.body and phrase in email.alternatives[0][0]


def test_staff_see_the_qr_code_on_the_returns_page(
    client, staff_client, sendcloud_returns, make_order, django_capture_on_commit_callbacks
):
    sendcloud_returns.return_service = LABEL_FREE
    sendcloud_returns.save()
    customer = Client()
    with django_capture_on_commit_callbacks(execute=True):
        return_through_the_portal(customer, make_order)
    ret = ReturnRequest.objects.get()

    page = staff_client.get(f"/admin/returns/returnrequest/{ret.pk}/change/").content.decode()

    qr_url = f"/returns/northern/r/{ret.public_token}/qr.png"
    assert f'<img src="{qr_url}" alt="QR code for label-free drop-off of {ret.number}"' in page


def test_rejecting_after_the_label_voids_it_with_sendcloud(sendcloud_returns, policy, make_order, staff):
    """Moved here from test_services (whose self-print carrier is never called): the void must
    reach the carrier, and the timeline must say what the carrier answered."""
    from returns import services
    from returns.services import Choice

    order = make_order("1042", "LS1 4AB")
    mug = order.lines.get(sku="MUG-1")
    ret = services.book_return_label(
        services.create_return(
            order=order, brand=policy.brand, choices=[Choice(mug.pk, 1, "damaged")], language="en"
        )
    )
    assert ret.external_id

    services.reject(ret, reason="Outside policy", actor=staff)

    cancels = [r.path for r in SandboxRequest.objects.filter(method="POST") if r.path.endswith("/cancel")]
    assert cancels == [f"/sandbox/sendcloud/api/v2/parcels/{ret.external_id}/cancel"]
    parcel = SandboxOrder.objects.get(external_id=ret.external_id)
    assert parcel.data["status"]["id"] in (2000, 1999)  # cancelled, or queued by a non-instant carrier
    said = OrderEvent.objects.filter(
        order=order,
        data__return_id=ret.pk,
        kind="return",
        message__startswith=f"Return {ret.number}: label {ret.tracking_number}",
    ).get()
    expected = (
        "Parcel has been cancelled" if parcel.data["status"]["id"] == 2000 else "cancellation has been queued"
    )
    assert expected in said.message and "could not" not in said.message
