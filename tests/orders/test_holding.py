"""Staff put an order on hold and release it, with a reason on the timeline: the list action
(with its reason page), the button on the order page, the release action, and the service."""

import pytest
from django.urls import reverse

from orders import holding, services
from orders.models import Order, OrderEvent
from tests.factories import OrderFactory, OrderLineFactory


def post_action(client, action, orders, **data):
    return client.post(
        reverse("admin:orders_order_changelist"),
        {"action": action, "_selected_action": [o.pk for o in orders], **data},
    )


def test_the_list_action_asks_why_then_holds_each_order_with_the_reason_on_its_timeline(staff_client, staff):
    orders = OrderFactory.create_batch(2)
    shipped = OrderFactory(status=Order.Status.SHIPPED)

    asked = post_action(staff_client, "hold", [*orders, shipped])
    done = post_action(
        staff_client, "hold", [*orders, shipped], post="yes", reason="Customer changes the address"
    )

    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    assert Order.objects.filter(status=Order.Status.ON_HOLD).count() == 2  # not before the reason
    assert done.status_code == 302
    for order in orders:
        order.refresh_from_db()
        assert (order.status, order.hold_reason) == (Order.Status.ON_HOLD, "Customer changes the address")
        event = order.events.get(kind=OrderEvent.Kind.STATUS)
        assert "held by staff: Customer changes the address" in event.message and event.actor == staff
    shipped.refresh_from_db()
    assert shipped.status == Order.Status.SHIPPED
    messages = [str(m) for m in staff_client.get(done.url).context["messages"]]
    assert "2 order(s) put on hold." in messages
    assert any(f"{shipped} is shipped: it cannot be put on hold" in m for m in messages)


def test_holding_without_a_reason_is_refused_and_nothing_changes(staff_client):
    order = OrderFactory()

    response = post_action(staff_client, "hold", [order], post="yes", reason="  ")

    assert response.status_code == 200 and "This field is required." in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_SHIPMENT
    with pytest.raises(holding.HoldRefused):
        holding.hold_order(order, reason="")


def test_the_order_page_button_asks_for_the_reason_and_release_puts_it_back(staff_client):
    order = OrderFactory()
    page = reverse("admin:orders_order_change", args=[order.pk])
    hold_url = reverse("admin:orders_order_hold", args=[order.pk])

    assert hold_url in staff_client.get(page).content.decode()
    form = staff_client.get(hold_url)
    held = staff_client.post(hold_url, {"reason": "Fraud check"})
    order.refresh_from_db()
    held_page = staff_client.get(page).content.decode()
    released = staff_client.post(reverse("admin:orders_order_release", args=[order.pk]))

    assert form.status_code == 200 and "Why is it held?" in form.content.decode()
    assert held.status_code == 302 and (order.status, order.hold_reason) == ("on_hold", "Fraud check")
    assert "Fraud check" in held_page and reverse("admin:orders_order_release", args=[order.pk]) in held_page
    assert hold_url not in held_page
    assert released.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.hold_reason) == (Order.Status.AWAITING_SHIPMENT, "")
    messages = [e.message for e in order.events.filter(kind=OrderEvent.Kind.STATUS)]
    assert any("released from hold (Fraud check)" in m for m in messages)


def test_release_action_returns_a_partly_shipped_order_to_partly_shipped(staff_client):
    order = OrderFactory()
    first = OrderLineFactory(order=order, quantity=1)
    OrderLineFactory(order=order, quantity=1)
    services.record_fulfilment(
        order=order, lines=[(first, 1)], tracking_number="T1", carrier_name="Royal Mail"
    )
    order.refresh_from_db()
    assert order.status == Order.Status.PARTLY_SHIPPED
    holding.hold_order(order, reason="Waiting for stock")
    not_held = OrderFactory()

    response = post_action(staff_client, "release", [order, not_held])

    order.refresh_from_db()
    assert response.status_code == 302
    assert order.status == Order.Status.PARTLY_SHIPPED
    messages = [str(m) for m in staff_client.get(response.url).context["messages"]]
    assert "1 order(s) released from hold." in messages and f"{not_held} is not on hold" in messages


def test_release_needs_a_post_and_the_change_permission(client, staff_client):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    order = OrderFactory()
    holding.hold_order(order, reason="Check")
    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)

    got = staff_client.get(reverse("admin:orders_order_release", args=[order.pk]))
    refused = client.post(reverse("admin:orders_order_release", args=[order.pk]))

    assert got.status_code == 302 and refused.status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.ON_HOLD
