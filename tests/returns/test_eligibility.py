"""Each rule of a brand's return policy, and the quantities a customer may send back."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from returns import eligibility, services
from returns.models import Reason, ReturnRequest
from returns.services import Choice, ReturnError
from shipping.models import Shipment
from tests.factories import BrandFactory, OrderLineFactory
from tests.returns.factories import ShipmentFactory


def lines_by_sku(elig):
    return {x.line.sku: x for x in elig.lines}


def test_within_the_window_from_delivery_everything_physical_is_returnable(policy, make_order):
    order = make_order(delivered_days_ago=29)
    elig = eligibility.eligibility(order, brand=policy.brand)
    assert elig.eligible, elig.reasons
    assert elig.window_basis == "delivery"
    assert elig.window_ends == order.delivered_at + timedelta(days=30)
    assert {k: v.returnable for k, v in lines_by_sku(elig).items()} == {"MUG-1": 2, "TEE-M": 1}


def test_after_the_window_nothing_is_returnable(policy, make_order):
    order = make_order(delivered_days_ago=31)
    elig = eligibility.eligibility(order, brand=policy.brand)
    assert not elig.eligible
    assert "30-day return period ended" in elig.reasons[0]
    assert elig.returnable_lines == []


def test_the_window_counts_from_dispatch_when_no_delivery_was_recorded(policy, make_order):
    order = make_order(delivered_days_ago=10)
    Order.objects.filter(pk=order.pk).update(delivered_at=None, status=Order.Status.SHIPPED)
    Shipment.objects.filter(order=order).update(
        created_at=timezone.now() - timedelta(days=31), status=Shipment.Status.IN_TRANSIT
    )
    order.refresh_from_db()
    elig = eligibility.eligibility(order, brand=policy.brand)
    assert elig.window_basis == "dispatch"
    assert not elig.eligible


def test_the_window_length_is_the_brands(policy, make_order):
    policy.window_days = 60
    policy.save()
    assert eligibility.eligibility(make_order(delivered_days_ago=45), brand=policy.brand).eligible


def test_orders_not_shipped_with_shipdesk_are_refused_unless_the_policy_allows_them(policy, make_order):
    order = make_order(shipped=False)  # shipped on the channel: no Shipdesk shipment
    elig = eligibility.eligibility(order, brand=policy.brand)
    assert not elig.eligible
    assert not elig.shipped_with_shipdesk
    assert elig.reasons == ["This order cannot be returned online. Please contact us."]

    policy.allow_not_shipped_with_shipdesk = True
    policy.save()
    elig = eligibility.eligibility(order, brand=policy.brand)
    assert elig.eligible
    assert elig.window_basis == "order date"
    assert elig.window_ends == order.ordered_at + timedelta(days=30)


def test_a_parcel_recorded_from_outside_shipdesk_does_not_count_as_shipped_with_shipdesk(policy, make_order):
    order = make_order(shipped=False)
    ShipmentFactory(order=order, carrier_account=None, brand=None)
    assert not eligibility.eligibility(order, brand=policy.brand).eligible


def test_a_window_from_the_order_date_closes_too(policy, make_order):
    policy.allow_not_shipped_with_shipdesk = True
    policy.save()
    order = make_order(shipped=False)
    Order.objects.filter(pk=order.pk).update(ordered_at=timezone.now() - timedelta(days=40))
    order.refresh_from_db()
    assert not eligibility.eligibility(order, brand=policy.brand).eligible


def test_non_returnable_skus_are_listed_with_the_reason(policy, make_order):
    policy.non_returnable_skus = "tee-m\nOTHER-1, OTHER-2"
    policy.save()
    elig = eligibility.eligibility(make_order(), brand=policy.brand)
    items = lines_by_sku(elig)
    assert items["TEE-M"].returnable == 0
    assert items["TEE-M"].why_not == "This item cannot be returned."
    assert items["MUG-1"].returnable == 2
    assert [x.line.sku for x in elig.returnable_lines] == ["MUG-1"]


def test_digital_lines_are_not_returnable(policy, make_order):
    order = make_order(lines=[("MUG-1", 1)])
    OrderLineFactory(order=order, sku="PDF-1", is_physical=False)
    assert lines_by_sku(eligibility.eligibility(order, brand=policy.brand))["PDF-1"].returnable == 0


@pytest.mark.parametrize(
    "status,message",
    [
        (Order.Status.CANCELLED, "This order was cancelled."),
        (Order.Status.AWAITING_SHIPMENT, "This order has not been sent yet, so there is nothing to return."),
    ],
)
def test_cancelled_and_unsent_orders_cannot_be_returned(policy, make_order, status, message):
    order = make_order(shipped=False)
    Order.objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()
    assert eligibility.eligibility(order, brand=policy.brand).reasons[0] == message


def test_a_brand_can_turn_the_portal_off(policy, make_order):
    policy.portal_enabled = False
    policy.save()
    assert (
        "does not take returns online" in eligibility.eligibility(make_order(), brand=policy.brand).reasons[0]
    )


def test_a_brand_without_a_policy_row_gets_the_defaults(make_order, carrier):
    brand = BrandFactory(slug="plain", is_default=False)
    order = make_order()
    elig = eligibility.eligibility(order, brand=brand)
    assert elig.eligible
    assert elig.policy.pk is None and elig.policy.window_days == 30 and not elig.policy.requires_approval


def test_only_the_policys_reasons_are_accepted(policy, make_order):
    policy.reasons = [Reason.DAMAGED, Reason.WRONG_ITEM]
    policy.save()
    order = make_order()
    mug = order.lines.get(sku="MUG-1")
    with pytest.raises(ReturnError, match="Choose a reason"):
        services.create_return(
            order=order, brand=policy.brand, choices=[Choice(mug.pk, 1, Reason.CHANGED_MIND)]
        )
    ret = services.create_return(order=order, brand=policy.brand, choices=[Choice(mug.pk, 1, Reason.DAMAGED)])
    assert ret.lines.get().reason == Reason.DAMAGED


def test_quantities_never_exceed_what_was_ordered_minus_what_is_being_returned(policy, make_order):
    order = make_order()
    mug = order.lines.get(sku="MUG-1")
    with pytest.raises(ReturnError, match="at most 2"):
        services.create_return(order=order, brand=policy.brand, choices=[Choice(mug.pk, 3, Reason.DAMAGED)])
    services.create_return(order=order, brand=policy.brand, choices=[Choice(mug.pk, 1, Reason.DAMAGED)])
    items = lines_by_sku(eligibility.eligibility(order, brand=policy.brand))
    assert (items["MUG-1"].being_returned, items["MUG-1"].returnable) == (1, 1)
    with pytest.raises(ReturnError, match="at most 1"):
        services.create_return(order=order, brand=policy.brand, choices=[Choice(mug.pk, 2, Reason.DAMAGED)])
    services.create_return(order=order, brand=policy.brand, choices=[Choice(mug.pk, 1, Reason.FAULTY)])
    assert lines_by_sku(eligibility.eligibility(order, brand=policy.brand))["MUG-1"].returnable == 0


def test_a_second_return_of_the_same_items_is_refused(policy, make_order):
    order = make_order()
    choices = [Choice(line.pk, line.quantity, Reason.CHANGED_MIND) for line in order.lines.all()]
    services.create_return(order=order, brand=policy.brand, choices=choices)
    elig = eligibility.eligibility(order, brand=policy.brand)
    assert elig.reasons == ["Everything on this order that can be returned is already being returned."]
    with pytest.raises(ReturnError, match="already being returned"):
        services.create_return(order=order, brand=policy.brand, choices=choices)
    assert ReturnRequest.objects.count() == 1


def test_a_rejected_return_frees_its_quantities(policy, make_order, staff):
    order = make_order()
    mug = order.lines.get(sku="MUG-1")
    ret = services.create_return(order=order, brand=policy.brand, choices=[Choice(mug.pk, 2, Reason.DAMAGED)])
    services.reject(ret, reason="Photos show normal wear.", actor=staff)
    assert lines_by_sku(eligibility.eligibility(order, brand=policy.brand))["MUG-1"].returnable == 2


def test_lines_of_another_order_and_empty_choices_are_refused(policy, make_order):
    order, other = make_order("1"), make_order("2")
    with pytest.raises(ReturnError, match="not part of this order"):
        services.create_return(
            order=order, brand=policy.brand, choices=[Choice(other.lines.first().pk, 1, Reason.DAMAGED)]
        )
    with pytest.raises(ReturnError, match="at least one item"):
        services.create_return(
            order=order, brand=policy.brand, choices=[Choice(order.lines.first().pk, 0, Reason.DAMAGED)]
        )


def test_with_approval_the_return_waits_for_staff_and_without_it_is_approved(policy, make_order):
    order = make_order()
    mug = order.lines.get(sku="MUG-1")
    assert (
        services.create_return(
            order=order, brand=policy.brand, choices=[Choice(mug.pk, 1, Reason.DAMAGED)]
        ).status
        == "approved"
    )
    policy.requires_approval = True
    policy.save()
    assert (
        services.create_return(
            order=order, brand=policy.brand, choices=[Choice(mug.pk, 1, Reason.DAMAGED)]
        ).status
        == "awaiting_approval"
    )


def test_the_label_fee_is_kept_on_the_return_and_deducted_from_the_refund(policy, make_order, staff):
    policy.label_fee, policy.label_fee_currency = Decimal("3.50"), ""
    policy.save()
    order = make_order()
    mug = order.lines.get(sku="MUG-1")  # 10.00 each
    ret = services.create_return(order=order, brand=policy.brand, choices=[Choice(mug.pk, 2, Reason.DAMAGED)])
    assert (ret.label_fee, ret.currency) == (Decimal("3.50"), "GBP")
    services.book_return_label(ret)
    services.receive(ret, actor=staff)
    ret = services.refund(ret, actor=staff)
    assert ret.refund_amount == Decimal("16.50")
