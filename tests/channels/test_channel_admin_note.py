"""The channel's default note to the buyer is set on the channel page and reaches the booking
form and the channel with every parcel that has no note of its own."""

from django.urls import reverse

from tests.admin_forms import change_form_data
from tests.factories import ChannelFactory, OrderFactory, OrderLineFactory


def test_staff_set_the_default_note_and_the_booking_form_offers_it(staff_client, shipping_setup):
    channel = ChannelFactory(name="Etsy-Main")
    url = reverse("admin:channels_channel_change", args=[channel.pk])
    data = {**change_form_data(staff_client.get(url)), "default_note": "Thank you for shopping with us!"}

    assert staff_client.post(url, data).status_code == 302

    channel.refresh_from_db()
    assert channel.default_note == "Thank you for shopping with us!"
    order = OrderFactory(channel=channel)
    OrderLineFactory(order=order)
    page = staff_client.get(reverse("admin:shipping_shipment_book", args=[order.pk])).content.decode()
    assert "Thank you for shopping with us!" in page
