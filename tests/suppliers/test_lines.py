"""A line routed to a supplier is the supplier's to ship, whatever its order's state, until that
supplier order is cancelled while the store order is still open."""

from decimal import Decimal

from orders.models import Order, OrderEvent
from orders.services import default_lines, nothing_to_ship_reason
from suppliers import services
from suppliers.cancelling import cancel_supplier_orders
from suppliers.models import SupplierOrder
from suppliers.routing import route_orders
from tests.factories import OrderFactory, OrderLineFactory
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory


def routed_order(**kw):
    supplier = SupplierFactory(name="Atelier Nord")
    SupplierProductFactory(supplier=supplier, sku="NECK-45", cost_price=Decimal("12"))
    order = OrderFactory(**kw)
    mug = OrderLineFactory(order=order, sku="MUG")
    neck = OrderLineFactory(order=order, sku="NECK-45", quantity=2)
    route_orders(Order.objects.filter(pk=order.pk))
    return order, mug, neck, SupplierOrder.objects.get(order=order)


def test_routing_marks_the_suppliers_lines_and_the_default_parcel_leaves_them_out(db):
    order, mug, neck, _ = routed_order()
    neck.refresh_from_db()
    mug.refresh_from_db()
    assert (neck.dropshipped_by, mug.dropshipped_by) == ("Atelier Nord", "")
    assert default_lines(order) == [(mug, 1)]


def test_a_cancelled_supplier_order_gives_its_lines_back_while_the_store_order_is_open(db):
    order, mug, neck, supplier_order = routed_order()

    services.cancel(supplier_order, reason="out of stock")

    neck.refresh_from_db()
    assert neck.dropshipped_by == ""
    assert [(ln.sku, q) for ln, q in default_lines(order)] == [("MUG", 1), ("NECK-45", 2)]
    assert order.events.filter(
        kind=OrderEvent.Kind.SUPPLIER, message__contains="2 × NECK-45 no longer shipped by Atelier Nord"
    ).exists()


def test_a_cancelled_store_order_keeps_its_lines_with_the_supplier(db, django_capture_on_commit_callbacks):
    order, mug, neck, supplier_order = routed_order()
    from orders.services import cancel_order

    cancel_order(order, reason="customer asked")
    cancel_supplier_orders([order.pk])  # the ORDER_CANCELLED_HANDLERS hook

    supplier_order.refresh_from_db()
    neck.refresh_from_db()
    assert supplier_order.status == SupplierOrder.Status.CANCELLED and neck.dropshipped_by == "Atelier Nord"


def test_an_order_only_the_supplier_ships_says_so(db):
    supplier = SupplierFactory(name="Atelier Nord")
    SupplierProductFactory(supplier=supplier, sku="NECK-45")
    order = OrderFactory()
    OrderLineFactory(order=order, sku="NECK-45")
    route_orders(Order.objects.filter(pk=order.pk))

    assert default_lines(order) == []
    assert (
        nothing_to_ship_reason(order) == f"{order}: all remaining lines are shipped by supplier Atelier Nord"
    )
