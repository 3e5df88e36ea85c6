"""Customer emails: per channel, off when the channel writes itself, sent once after commit."""

from django.urls import reverse

from orders.models import OrderEvent
from shipping import emails
from shipping.booking import book_shipment
from shipping.models import EmailTemplate, SentEmail
from tests.factories import ChannelFactory, OrderFactory, OrderLineFactory
from tests.shipping.factories import EmailTemplateFactory, ShippableOrderFactory


def test_the_shipment_email_goes_after_commit_once_and_lands_on_the_timeline(
    selfprint, mailoutbox, django_capture_on_commit_callbacks
):
    channel = ChannelFactory(notify_customer=False)  # the channel will not write to the buyer: Shipdesk does
    order = OrderFactory(channel=channel, email="ann@example.test", ship_name="Ann Park")
    OrderLineFactory(order=order, title="Hand-thrown mug", quantity=2)

    with django_capture_on_commit_callbacks() as callbacks:
        shipment = book_shipment(order=order)
    assert mailoutbox == []  # nothing before the booking commits
    email_callbacks = [c for c in callbacks if c.__module__ == "shipping.emails"]
    assert len(email_callbacks) == 1
    for callback in email_callbacks:
        callback()
    assert emails.send(shipment.pk, "shipped") == "not sent: already sent"

    [message] = mailoutbox
    assert message.subject == f"Your order {order} is on its way" and message.to == ["ann@example.test"]
    assert "Hello Ann Park" in message.body and "2 × Hand-thrown mug" in message.body
    assert f"/track/{shipment.public_token}/" in message.body
    html = message.alternatives[0][0]
    assert "Track your parcel" in html and selfprint.brand.primary_color in html
    assert (
        order.events.filter(
            kind=OrderEvent.Kind.EMAIL, message__contains="Shipment confirmation emailed"
        ).count()
        == 1
    )
    assert SentEmail.objects.get().sent_at is not None


def test_auto_leaves_the_email_to_a_channel_that_writes_itself(selfprint, mailoutbox):
    order = ShippableOrderFactory(channel=ChannelFactory(notify_customer=True))
    shipment = book_shipment(order=order)

    amazon = ChannelFactory(kind="amazon", notify_customer=False)

    assert emails.send(shipment.pk, "shipped") == f"not sent: {order.channel.name} emails the buyer itself"
    assert emails.wanted(amazon, "delivered") == (False, f"{amazon.name} emails the buyer itself")
    assert emails.wanted(ChannelFactory(notify_customer=False), "delivered") == (True, "")
    assert mailoutbox == []


def test_a_channels_own_template_wins_and_off_means_off(selfprint, mailoutbox):
    mine, other, quiet = ChannelFactory(notify_customer=True), ChannelFactory(), ChannelFactory()
    EmailTemplateFactory(channel=None, subject="All channels: {{ order.number }}")
    EmailTemplateFactory(channel=mine, subject="Mine: {{ order.number }} via {{ carrier }}")
    EmailTemplateFactory(channel=quiet, mode=EmailTemplate.Mode.OFF)

    sent = [
        emails.send(book_shipment(order=ShippableOrderFactory(channel=c)).pk, "shipped")
        for c in (mine, other, quiet)
    ]

    assert sent == ["sent", "sent", "not sent: turned off"]
    assert [m.subject.split(":")[0] for m in mailoutbox] == ["Mine", "All channels"]
    assert mailoutbox[0].subject.endswith("via Royal Mail")


def test_a_template_cannot_reach_into_the_database(selfprint, mailoutbox):
    channel = ChannelFactory(credentials={"access_token": "SECRET-TOKEN"})
    EmailTemplateFactory(
        channel=channel, body="{{ order.channel.credentials }}{{ shipment }}{{ order.number }}"
    )
    order = ShippableOrderFactory(channel=channel)

    emails.send(book_shipment(order=order).pk, "shipped")

    assert "SECRET" not in mailoutbox[0].body and str(order) in mailoutbox[0].body


def test_staff_preview_an_unsaved_template_on_a_real_order(staff_client, selfprint):
    order = ShippableOrderFactory(order_number="1042", ship_name="Ann Park")
    shipment = book_shipment(order=order)

    response = staff_client.post(
        reverse("admin:shipping_emailtemplate_preview"),
        {
            "kind": "shipped",
            "mode": "on",
            "subject": "Hi {{ customer_name }}",
            "body": "Your parcel {{ tracking_number }} is with {{ carrier }}.",
            "preview_order": "1042",
        },
    )
    broken = staff_client.post(
        reverse("admin:shipping_emailtemplate_preview"),
        {"kind": "shipped", "mode": "on", "subject": "x", "body": "{% if %}", "preview_order": "1042"},
    )

    page = response.content.decode()
    assert "Subject: Hi Ann Park" in page
    assert f"Your parcel {shipment.tracking_number} is with Royal Mail." in page
    assert "Nothing was sent or saved" in page and not EmailTemplate.objects.exists()
    assert "The template does not work" in broken.content.decode()


def test_the_template_admin_starts_from_the_built_in_words_and_previews_saved_ones(staff_client, selfprint):
    book_shipment(order=ShippableOrderFactory(ship_name="Ann Park"))
    add = staff_client.get(reverse("admin:shipping_emailtemplate_add")).content.decode()
    template = EmailTemplateFactory()

    change = staff_client.get(
        reverse("admin:shipping_emailtemplate_change", args=[template.pk])
    ).content.decode()

    assert "Your order {{ order.number }} is on its way" in add
    assert "Preview on a real order" in change and "Hi Ann Park, Royal Mail has it" in change
