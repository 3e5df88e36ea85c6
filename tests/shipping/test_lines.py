"""Every line ships once: parcels hold chosen lines, the default is what Shipdesk ships itself
(not a supplier's lines, not lines already in a parcel), and the order's status follows."""

from decimal import Decimal

import pytest
from django.urls import reverse

from orders import pushing
from orders.models import Fulfilment, Order, OrderEvent
from orders.services import default_lines
from sandbox.models import SandboxRequest
from shipping.booking import BookingError, book_shipment, cancel_shipment, relabel_shipment
from shipping.models import Shipment, ShipmentLine
from suppliers import services as supplier_services
from suppliers.models import SupplierOrder
from suppliers.routing import route_orders
from suppliers.tracking import record_tracking
from tests.factories import ChannelFactory, OrderFactory, OrderLineFactory, catalogue
from tests.shipping.factories import ShippingMappingFactory
from tests.shipping.forms import book_post
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory


def mixed_order(**kw):
    """Our candle (×3, 250 g each) and Atelier Nord's necklace (×1, 900 g), routed: the
    necklace is the supplier's, whatever its order's state (awaiting payment here)."""
    supplier = SupplierFactory(name="Atelier Nord")
    SupplierProductFactory(supplier=supplier, sku="NECK-45", cost_price=Decimal("12.00"))
    order = OrderFactory(total=Decimal("95.00"), **kw)
    candle = OrderLineFactory(
        order=order,
        sku="CANDLE-CEDAR",
        title="Cedar candle",
        quantity=3,
        weight_g=250,
        unit_price=Decimal("15.00"),
    )
    necklace = OrderLineFactory(
        order=order, sku="NECK-45", title="Necklace", quantity=1, weight_g=900, unit_price=Decimal("50.00")
    )
    route_orders(Order.objects.filter(pk=order.pk))
    candle.refresh_from_db()
    necklace.refresh_from_db()
    return order, candle, necklace


def held(shipment) -> list[tuple[str, int]]:
    return [(sl.order_line.sku, sl.quantity) for sl in ShipmentLine.objects.filter(shipment=shipment)]


def ship_by_supplier(order, tracking="LX123456789FR"):
    """The supplier is paid, places the order and sends tracking (suppliers.tracking)."""
    supplier_order = SupplierOrder.objects.get(order=order)
    supplier_services.set_status(supplier_order, SupplierOrder.Status.PAID, reason="paid")
    supplier_services.set_status(supplier_order, SupplierOrder.Status.PLACED, reason="placed")
    record_tracking(supplier_order, tracking_number=tracking, carrier="La Poste", source="the test")


def test_a_mixed_order_booked_in_the_admin_sends_only_our_lines_to_sendcloud(staff_client, sendcloud):
    order, candle, necklace = mixed_order(
        ship_country="US", ship_state="NY", ship_city="New York", ship_postal_code="10001", currency="USD"
    )
    assert necklace.dropshipped_by == "Atelier Nord" and not candle.dropshipped_by

    page = staff_client.get(reverse("admin:shipping_shipment_book", args=[order.pk])).content.decode()
    assert f'name="take_{candle.pk}" id="id_take_{candle.pk}" checked' in page
    assert f'name="take_{necklace.pk}" id="id_take_{necklace.pk}">' in page  # the supplier's: not preselected
    assert "shipped by Atelier Nord" in page
    response = staff_client.post(
        reverse("admin:shipping_shipment_book", args=[order.pk]),
        book_post(order, service="UPS Standard 0-70kg"),
        follow=True,
    )

    shipment = order.shipments.get()
    assert f"Booked {shipment.tracking_number}" in response.content.decode()
    assert held(shipment) == [("CANDLE-CEDAR", 3)]
    assert shipment.weight_g == 750
    parcel = SandboxRequest.objects.get(method="POST", path__endswith="/api/v2/parcels").parsed["parcel"]
    assert parcel["weight"] == "0.750" and parcel["total_order_value"] == "45.00"
    assert [(i["sku"], i["quantity"]) for i in parcel["parcel_items"]] == [("CANDLE-CEDAR", 3)]
    assert shipment.fulfilment.lines == [[candle.external_id, 3]]
    order.refresh_from_db()
    assert order.status == Order.Status.PARTLY_SHIPPED

    ship_by_supplier(order)

    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    supplier_parcel = order.fulfilments.get(supplier="Atelier Nord")
    assert supplier_parcel.lines == [[necklace.external_id, 1]]
    assert held(order.shipments.get(fulfilment=supplier_parcel)) == [("NECK-45", 1)]


def test_a_mixed_order_and_a_supplier_only_order_booked_in_bulk(
    staff_client, selfprint, django_capture_on_commit_callbacks
):
    mixed, candle, necklace = mixed_order()
    supplier_only = OrderFactory()
    OrderLineFactory(order=supplier_only, sku="NECK-45", quantity=2)
    route_orders(Order.objects.filter(pk=supplier_only.pk))

    with django_capture_on_commit_callbacks() as callbacks:
        staff_client.post(
            reverse("admin:orders_order_changelist"),
            {
                "action": "book_shipments",
                "_selected_action": [mixed.pk, supplier_only.pk],
                "post": "yes",
                "note": "Thank you!",
            },
        )
    for callback in callbacks:
        callback()

    shipment = mixed.shipments.get()
    assert held(shipment) == [("CANDLE-CEDAR", 3)] and shipment.weight_g == 750
    assert shipment.note == "Thank you!" and shipment.fulfilment.note == "Thank you!"
    assert not supplier_only.shipments.exists()
    mixed.refresh_from_db()
    supplier_only.refresh_from_db()
    assert (mixed.status, supplier_only.status) == ("partly_shipped", "awaiting_shipment")
    from shipping.models import BulkJob

    job = BulkJob.objects.get()
    assert (job.done, job.failed) == (1, 1)
    assert (
        job.failures[0]["message"]
        == f"{supplier_only}: all remaining lines are shipped by supplier Atelier Nord"
    )
    page = staff_client.get(reverse("admin:shipping_bulkjob_progress", args=[job.pk])).content.decode()
    assert "all remaining lines are shipped by supplier Atelier Nord" in page

    ship_by_supplier(mixed)
    mixed.refresh_from_db()
    assert mixed.status == Order.Status.SHIPPED


def test_an_order_split_into_two_parcels_through_the_booking_form(staff_client, selfprint):
    order = OrderFactory()
    mug = OrderLineFactory(order=order, sku="MUG", quantity=2, weight_g=400)
    tee = OrderLineFactory(order=order, sku="TEE", quantity=1, weight_g=200)
    url = reverse("admin:shipping_shipment_book", args=[order.pk])

    staff_client.post(url, book_post(order, lines={mug: 1}))

    first = order.shipments.get()
    assert held(first) == [("MUG", 1)] and first.weight_g == 400
    order.refresh_from_db()
    assert order.status == Order.Status.PARTLY_SHIPPED
    assert [(ln.sku, qty) for ln, qty in default_lines(order)] == [("MUG", 1), ("TEE", 1)]
    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Partly shipped" in page and "Left for us to ship: 1 × MUG, 1 × TEE (600 g)" in page

    staff_client.post(url, book_post(order))  # the preselection: what is left

    second = order.shipments.exclude(pk=first.pk).get()
    assert held(second) == [("MUG", 1), ("TEE", 1)] and second.weight_g == 600
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert sorted(map(tuple, second.fulfilment.lines)) == [(mug.external_id, 1), (tee.external_id, 1)]
    with pytest.raises(BookingError, match="every line is already in a parcel"):
        book_shipment(order=order, additional=True)


@pytest.mark.parametrize(
    "case, message",
    [
        ("too_many", "MUG: 3 is more than the 2 still open"),
        ("other_order", "is a line of order"),
        ("empty", "a parcel must hold at least one line"),
        ("digital", "GIFT-CARD is not a physical item"),
        ("supplier", "NECK-45 is shipped by supplier Atelier Nord"),
        ("zero", "MUG: the quantity must be at least 1"),
    ],
)
def test_bad_lines_are_refused_with_a_clear_message_and_change_nothing(
    staff_client, selfprint, case, message
):
    order, candle, necklace = mixed_order()
    mug = OrderLineFactory(order=order, sku="MUG", quantity=2)
    digital = OrderLineFactory(order=order, sku="GIFT-CARD", is_physical=False)
    stranger = OrderLineFactory(sku="MUG")
    lines = {
        "too_many": [(mug, 3)],
        "other_order": [(stranger, 1)],
        "empty": [],
        "digital": [(digital, 1)],
        "supplier": [(necklace, 1)],
        "zero": [(mug, 0)],
    }[case]
    events = order.events.count()

    with pytest.raises(BookingError, match=message):
        book_shipment(order=order, lines=lines)

    assert not Shipment.objects.exists() and not Fulfilment.objects.exists()
    assert order.events.count() == events
    # Through the form: the same words, nothing booked.
    if case in ("too_many", "zero", "supplier"):
        line = {"too_many": mug, "zero": mug, "supplier": necklace}[case]
        data = book_post(order, lines={candle: 3})
        data.pop(f"take_{candle.pk}")
        data[f"take_{line.pk}"], data[f"qty_{line.pk}"] = "on", str(lines[0][1])
        response = staff_client.post(
            reverse("admin:shipping_shipment_book", args=[order.pk]), data, follow=True
        )
        assert message in response.content.decode() and not Shipment.objects.exists()


def test_a_ups_parcel_through_sendcloud_tells_the_channel_ups_though_the_mapping_says_royal_mail(sendcloud):
    order = OrderFactory(ship_country="US", ship_state="NY", ship_city="New York", ship_postal_code="10001")
    OrderLineFactory(order=order)
    ShippingMappingFactory(
        channel=order.channel,
        carrier_account=sendcloud.account,
        service="UPS Standard 0-70kg",
        tracking_company="Royal Mail",
    )

    shipment = book_shipment(order=order)

    assert shipment.tracking_company == "UPS" and shipment.fulfilment.carrier_name == "UPS"
    assert pushing.preview_push(shipment.fulfilment)["carrier_for_channel"] == "ups"  # Etsy's code
    assert order.events.filter(
        kind=OrderEvent.Kind.NOTE, message__contains="the parcel is carried by UPS, not Royal Mail"
    ).exists()
    assert shipment.fee == Decimal("12.90") and shipment.currency == "EUR"
    assert (shipment.fulfilment.fee, shipment.fulfilment.fee_currency) == (Decimal("12.90"), "EUR")


def test_the_mapping_tracking_company_stands_for_its_own_carrier_and_staff_can_choose_one(sendcloud):
    order = OrderFactory()
    OrderLineFactory(order=order, quantity=2)
    ShippingMappingFactory(
        channel=order.channel,
        carrier_account=sendcloud.account,
        service="Royal Mail Tracked 48",
        tracking_company="Royal Mail",
    )

    first = book_shipment(order=order, lines=[(order.lines.get(), 1)])
    second = book_shipment(order=order, tracking_company="Parcelforce")

    assert (first.tracking_company, second.tracking_company) == ("Royal Mail", "Parcelforce")
    assert not order.events.filter(message__contains="the parcel is carried by").exists()


def test_how_it_ships_never_promises_a_service_that_does_not_reach_the_destination(staff_client, sendcloud):
    channel = ChannelFactory()
    ShippingMappingFactory(
        channel=channel, carrier_account=sendcloud.account, service="Royal Mail Tracked 48"
    )
    us = OrderFactory(
        channel=channel, ship_country="US", ship_state="NY", ship_city="New York", ship_postal_code="10001"
    )
    gb = OrderFactory(channel=channel)
    for order in (us, gb):
        OrderLineFactory(order=order)

    us_page = staff_client.get(reverse("admin:orders_order_change", args=[us.pk])).content.decode()
    gb_page = staff_client.get(reverse("admin:orders_order_change", args=[gb.pk])).content.decode()

    assert "No carrier serves this order as the rules stand" in us_page
    assert f"{sendcloud.account.name} has no “Royal Mail Tracked 48” to US for 400 g" in us_page
    assert "UPS Standard 0-70kg" in us_page  # what it offers instead
    assert f"Will ship with {sendcloud.account.name} · Royal Mail Tracked 48" not in us_page
    assert f"Will ship with {sendcloud.account.name} · Royal Mail Tracked 48" in gb_page
    assert "No carrier serves" not in gb_page
    book_page = staff_client.get(reverse("admin:shipping_shipment_book", args=[us.pk])).content.decode()
    assert "No carrier serves this order as the rules stand" in book_page


def test_the_note_is_prefilled_from_the_channel_and_the_fee_shows_on_the_order(staff_client, sendcloud):
    order = OrderFactory(channel=ChannelFactory(default_note="Thanks for shopping with us"))
    OrderLineFactory(order=order)
    url = reverse("admin:shipping_shipment_book", args=[order.pk])
    assert "Thanks for shopping with us" in staff_client.get(url).content.decode()

    staff_client.post(url, book_post(order, note="Gift wrapped, as asked", service="Royal Mail Tracked 48"))

    shipment = order.shipments.get()
    assert shipment.note == "Gift wrapped, as asked" and shipment.fulfilment.note == "Gift wrapped, as asked"
    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "3.85 EUR" in page and "Gift wrapped, as asked" in page
    # Booked without a note, a parcel carries the channel's default note.
    other = OrderFactory(channel=order.channel)
    OrderLineFactory(order=other)
    assert (
        book_shipment(order=other, service="Royal Mail Tracked 48").fulfilment.note
        == "Thanks for shopping with us"
    )


def test_the_order_page_shows_where_each_line_is_and_what_each_parcel_holds(staff_client, selfprint):
    order, candle, necklace = mixed_order()
    book_shipment(order=order, lines=[(candle, 2)])

    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert "Atelier Nord: 0 of 1 shipped" in page
    assert "2 × CANDLE-CEDAR" in page  # the shipment's lines
    assert "Left for us to ship: 1 × CANDLE-CEDAR" in page


def test_a_relabel_books_the_same_lines_and_replaces_the_sent_fulfilment(selfprint):
    order = OrderFactory()
    mug = OrderLineFactory(order=order, sku="MUG", quantity=2)
    OrderLineFactory(order=order, sku="TEE")
    old = book_shipment(order=order, lines=[(mug, 2)])
    Fulfilment.objects.filter(pk=old.fulfilment_id).update(state=Fulfilment.State.SENT)  # the channel heard

    _, new = relabel_shipment(old)

    assert held(new) == [("MUG", 2)]
    assert new.fulfilment.replaces_id == old.fulfilment_id
    old_f = Fulfilment.objects.get(pk=old.fulfilment_id)
    # Still on the channel, no longer covering the mug here: the new fulfilment replaces it there.
    assert old_f.state == Fulfilment.State.SENT and old_f.retract_requested_at is not None
    order.refresh_from_db()
    assert order.status == Order.Status.PARTLY_SHIPPED  # the tee is still open


def test_a_relabel_of_unsent_tracking_withdraws_it_and_the_channel_hears_only_the_new_one(selfprint):
    order = OrderFactory()
    OrderLineFactory(order=order, sku="MUG")
    old = book_shipment(order=order)
    old_fulfilment = old.fulfilment_id

    _, new = relabel_shipment(old)

    assert not Fulfilment.objects.filter(pk=old_fulfilment).exists()
    assert new.fulfilment.replaces_id is None and held(new) == [("MUG", 1)]
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED


def test_cancelling_a_label_retracts_its_unsent_fulfilment_and_opens_its_lines(selfprint):
    order = OrderFactory()
    mug = OrderLineFactory(order=order, sku="MUG")
    shipment = book_shipment(order=order)
    fulfilment = shipment.fulfilment_id

    cancel_shipment(shipment)

    assert not Fulfilment.objects.filter(pk=fulfilment).exists()  # the channel never hears of it
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_SHIPMENT and order.shipped_at is None
    assert default_lines(order) == [(mug, 1)]


def test_the_book_shipments_command_books_the_default_lines_with_a_note_and_says_why_not(selfprint):
    import io

    from django.core.management import call_command

    mixed, candle, necklace = mixed_order(order_number="1058")
    supplier_only = OrderFactory(order_number="1059")
    OrderLineFactory(order=supplier_only, sku="NECK-45")
    route_orders(Order.objects.filter(pk=supplier_only.pk))
    out, err = io.StringIO(), io.StringIO()

    call_command("book_shipments", "1058", "1059", "--note", "Enjoy", stdout=out, stderr=err)

    shipment = mixed.shipments.get()
    assert held(shipment) == [("CANDLE-CEDAR", 3)] and shipment.fulfilment.note == "Enjoy"
    assert (
        f"{supplier_only}: {supplier_only}: all remaining lines are shipped by supplier Atelier Nord"
        in err.getvalue()
    )
    assert "Booked 1, failed 1." in out.getvalue()
    # A partly shipped order is bookable again: nothing of ours is left, so it says so.
    call_command("book_shipments", "1058", stdout=out, stderr=err)
    assert "all remaining lines are shipped by supplier Atelier Nord" in err.getvalue().splitlines()[-1]


def test_a_blocked_fulfilment_shows_needs_attention_and_the_order_is_not_shipped(staff_client, selfprint):
    from orders.services import refresh_status

    order = OrderFactory()
    OrderLineFactory(order=order, sku="MUG")
    shipment = book_shipment(order=order)
    Fulfilment.objects.filter(pk=shipment.fulfilment_id).update(
        state=Fulfilment.State.BLOCKED, last_error="Etsy requires a tracking number for this order"
    )
    refresh_status(order, reason="the channel refused the tracking")  # what the outbox calls after a push

    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_SHIPMENT
    assert "Needs attention:" in page and "Etsy requires a tracking number for this order" in page
    assert "every line is already in a parcel" in page  # not booked twice meanwhile


def test_etsy_receives_ups_for_a_ups_parcel_booked_through_sendcloud(sendcloud, etsy_sandbox):
    """End to end over HTTP: the Etsy sandbox is told `ups` (Etsy's code for the carrier carrying
    the parcel), never the mapping's Royal Mail, with the Sendcloud parcel's tracking number."""

    from orders.tasks import run_sync
    from sandbox.generators.etsy import generate
    from sandbox.models import SandboxRequest

    channel, store = etsy_sandbox
    generate(store, 1, mix=False, seed=7)
    run_sync(channel)
    order = channel.orders.get()
    order.ship_country, order.ship_state, order.ship_city, order.ship_postal_code = (
        "US",
        "NY",
        "New York",
        "10001",
    )
    order.save()
    ShippingMappingFactory(
        channel=channel,
        carrier_account=sendcloud.account,
        service="UPS Standard 0-70kg",
        tracking_company="Royal Mail",
    )
    catalogue()  # the sandbox shop's SKUs, with customs data: the parcel goes to the US

    shipment = book_shipment(order=order)
    run_sync(channel)  # the outbox sends what is due

    [told] = SandboxRequest.objects.filter(store=store, method="POST", path__endswith="/tracking")
    assert told.parsed["carrier_name"] == "ups" and told.parsed["tracking_code"] == shipment.tracking_number
