"""Routing: lines whose SKU belongs to a supplier become one supplier order per supplier."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from channels.connectors.base import Page, RemoteAddress, RemoteLine, RemoteOrder
from orders.importing import SyncSummary, import_page
from orders.models import Order, OrderEvent
from suppliers.models import SupplierOrder
from suppliers.routing import route_orders
from tests.factories import ChannelFactory
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

NOW = datetime.now(tz=UTC)


def remote(ext: str, lines: list[tuple[str, int]]) -> RemoteOrder:
    return RemoteOrder(
        external_id=ext,
        order_number=ext,
        remote_status="Paid",
        is_paid=True,
        is_shipped=False,
        is_cancelled=False,
        created_at=NOW - timedelta(hours=2),
        updated_at=NOW,
        currency="GBP",
        total=Decimal("80.00"),
        lines=[
            RemoteLine(
                external_id=f"{ext}-{i}", sku=sku, title=sku.title(), quantity=qty, unit_price=Decimal("20")
            )
            for i, (sku, qty) in enumerate(lines)
        ],
        address=RemoteAddress(
            name="Ann Smith", line1="1 High St", city="Leeds", postal_code="LS1 4AB", country="GB"
        ),
    )


def import_(channel, *orders):
    import_page(channel, Page(orders=list(orders), cursor={"since": 1}), summary=SyncSummary())


def test_a_mixed_order_is_split_own_line_stays_and_supplier_lines_get_a_supplier_order(
    db, django_capture_on_commit_callbacks
):
    nord = SupplierFactory(name="Atelier Nord", auto_order=True, currency="EUR")
    SupplierProductFactory(supplier=nord, sku="TEE-ORG", cost_price=Decimal("7.50"))
    SupplierProductFactory(supplier=nord, sku="CANDLE-SOY", cost_price=Decimal("4.25"))
    channel = ChannelFactory()

    # The import hook (settings.ORDER_IMPORTED_HANDLERS) routes once the import has committed.
    with django_capture_on_commit_callbacks(execute=True):
        import_(channel, remote("501", [("MUG-RED-L", 1), ("TEE-ORG", 2), ("CANDLE-SOY", 1)]))

    order = Order.objects.get(external_id="501")
    supplier_order = SupplierOrder.objects.get()
    assert (supplier_order.order, supplier_order.supplier, supplier_order.status) == (
        order,
        nord,
        "awaiting_payment",
    )
    assert supplier_order.total_cost == Decimal("19.25") and supplier_order.currency == "EUR"
    assert sorted(supplier_order.lines.values_list("sku", "quantity", "unit_cost")) == [
        ("CANDLE-SOY", 1, Decimal("4.25")),
        ("TEE-ORG", 2, Decimal("7.50")),
    ]
    # The own line stays with the shipping desk: the order is still awaiting shipment, MUG not routed.
    assert order.status == "awaiting_shipment"
    assert list(order.lines.filter(supplier_line__isnull=True).values_list("sku", flat=True)) == ["MUG-RED-L"]
    messages = list(order.events.filter(kind=OrderEvent.Kind.SUPPLIER).values_list("message", flat=True))
    assert any(
        "supplier order created for 2 × TEE-ORG, 1 × CANDLE-SOY; cost 19.25 EUR" in m for m in messages
    )
    # Etsy cannot mark an order in progress: the timeline says so instead of failing.
    assert any("was not told the order is in progress" in m for m in messages)


def test_one_supplier_order_per_supplier_and_routing_twice_creates_nothing(db):
    nord, fabrika = SupplierFactory(name="Atelier Nord"), SupplierFactory(name="Fabrika", currency="PLN")
    SupplierProductFactory(supplier=nord, sku="TEE-ORG", cost_price=Decimal("7.50"))
    SupplierProductFactory(supplier=nord, sku="APRON", cost_price=Decimal("9.00"))
    SupplierProductFactory(supplier=fabrika, sku="BOWL", cost_price=Decimal("31.00"))
    channel = ChannelFactory()
    import_(
        channel,
        remote("1", [("TEE-ORG", 1), ("BOWL", 2), ("APRON", 1), ("MUG", 1)]),
        remote("2", [("BOWL", 1)]),
        remote("3", [("MUG", 3)]),
    )

    result = route_orders(Order.objects.all())

    rows = sorted(
        SupplierOrder.objects.values_list("order__external_id", "supplier__name", "total_cost", "currency")
    )
    assert rows == [
        ("1", "Atelier Nord", Decimal("16.50"), "EUR"),
        ("1", "Fabrika", Decimal("62.00"), "PLN"),
        ("2", "Fabrika", Decimal("31.00"), "PLN"),
    ]
    assert len(result.created) == 3 and len(result.orders) == 2

    again = route_orders(Order.objects.all())
    assert again.created == [] and SupplierOrder.objects.count() == 3
    assert Order.objects.get(external_id="1").events.filter(kind="supplier").count() == 2


def test_inactive_products_cancelled_orders_and_digital_lines_are_not_routed(db):
    nord = SupplierFactory()
    SupplierProductFactory(supplier=nord, sku="TEE-ORG")
    SupplierProductFactory(supplier=nord, sku="OLD", is_active=False)
    SupplierProductFactory(supplier=nord, sku="PDF")
    channel = ChannelFactory()
    import_(channel, remote("1", [("OLD", 1)]), remote("2", [("TEE-ORG", 1)]), remote("3", [("TEE-ORG", 1)]))
    Order.objects.filter(external_id="2").update(status="cancelled")
    Order.objects.get(external_id="3").lines.update(is_physical=False)

    assert route_orders(Order.objects.all()).created == []


def test_a_mixed_shopify_order_asks_the_suppliers_fulfillment_service_for_its_lines_only(shopify):
    from orders.tasks import run_sync
    from sandbox.generators.shopify import add_order, make_order
    from sandbox.models import SandboxOrder, SandboxRequest
    from sandbox.shopify import fulfillment as sandbox_shopify

    channel, store = shopify
    nord = SupplierFactory(name="Atelier Nord")
    SupplierProductFactory(supplier=nord, sku="CANDLE-FIG", cost_price=Decimal("5.00"))
    SupplierProductFactory(supplier=nord, sku="NECK-45", cost_price=Decimal("21.00"))
    remote_order = add_order(
        store, make_order(store, items=[("MUG-RED", 1), ("CANDLE-FIG", 2), ("NECK-45", 1)])
    )

    summary = run_sync(channel)  # import, then the import hook routes and tells Shopify

    assert not summary.errors and summary.imported == 1
    order = Order.objects.get(channel=channel)
    supplier_order = SupplierOrder.objects.get(order=order)
    assert sorted(supplier_order.lines.values_list("sku", "quantity")) == [("CANDLE-FIG", 2), ("NECK-45", 1)]
    # Shopify received one fulfillment request, for the supplier's lines only…
    [request] = SandboxRequest.objects.filter(store=store, path__endswith="/fulfillment_request.json")
    lines = {li["sku"]: li["id"] for li in remote_order.data["line_items"]}
    sent = request.parsed["fulfillment_request"]
    assert sorted(
        (i["id"] - 2 * sandbox_shopify.FO_OFFSET, i["quantity"]) for i in sent["fulfillment_order_line_items"]
    ) == sorted([(lines["CANDLE-FIG"], 2), (lines["NECK-45"], 1)])
    assert supplier_order.reference in sent["message"]
    # …and now shows that fulfillment order in progress, accepted by Atelier Nord; the own line stays open.
    own, dropshipped = sandbox_shopify.fulfillment_orders(
        store, SandboxOrder.objects.get(pk=remote_order.pk).data
    )
    assert (own["status"], own["request_status"], own["assigned_location"]["name"]) == (
        "open",
        "unsubmitted",
        "Leeds warehouse",
    )
    assert [li["line_item_id"] for li in own["line_items"]] == [lines["MUG-RED"]]
    assert (
        dropshipped["status"],
        dropshipped["request_status"],
        dropshipped["assigned_location"]["name"],
    ) == ("in_progress", "accepted", "Atelier Nord")
    assert request.path.endswith(f"/fulfillment_orders/{dropshipped['id']}/fulfillment_request.json")
    assert order.events.filter(
        kind=OrderEvent.Kind.SUPPLIER,
        message__startswith="Fulfilment of 2 × CANDLE-FIG, 1 × NECK-45 requested on Shopify-Main from Atelier Nord",
    ).exists()


def test_supplier_lines_shopify_keeps_at_the_merchants_own_location_are_flagged_not_requested(shopify):
    from orders.tasks import run_sync
    from sandbox.generators.shopify import add_order, make_order
    from sandbox.models import SandboxRequest

    channel, store = shopify
    SupplierProductFactory(
        supplier=SupplierFactory(name="Fabrika"), sku="MUG-SAGE"
    )  # stocked as own on Shopify
    add_order(store, make_order(store, items=[("MUG-SAGE", 1)]))

    run_sync(channel)

    order = Order.objects.get(channel=channel)
    assert SupplierOrder.objects.filter(order=order).exists()
    assert not SandboxRequest.objects.filter(store=store, path__endswith="/fulfillment_request.json").exists()
    event = order.events.get(kind=OrderEvent.Kind.ERROR)
    assert "Could not mark the order in progress on Shopify-Main" in event.message
    assert "Shopify assigns these lines to Leeds warehouse, a location the merchant fulfils" in event.message


def test_staff_tell_shopify_again_after_a_failed_fulfillment_request(shopify, staff_client):
    from orders.tasks import run_sync
    from sandbox.generators.shopify import add_order, make_order
    from sandbox.models import SandboxOrder
    from sandbox.shopify import fulfillment as sandbox_shopify

    channel, store = shopify
    SupplierProductFactory(supplier=SupplierFactory(name="Atelier Nord"), sku="CANDLE-FIG")
    remote_order = add_order(store, make_order(store, items=[("MUG-RED", 1), ("CANDLE-FIG", 1)]))
    store.faults = [{"path": "/fulfillment_request.json", "status": 503, "times": 10}]  # Shopify is down
    store.save()
    assert not run_sync(channel).errors  # the import itself is fine
    order = Order.objects.get(channel=channel)
    assert order.events.filter(
        kind=OrderEvent.Kind.ERROR, message__contains="Could not mark the order in progress"
    )
    store.refresh_from_db()
    store.faults = []
    store.save()

    response = staff_client.post(
        "/admin/suppliers/supplierorder/",
        {
            "action": "request_fulfilment_again",
            "_selected_action": [SupplierOrder.objects.get(order=order).pk],
        },
        follow=True,
    )

    assert "1 store order(s): the channel was told again" in response.content.decode()
    dropshipped = sandbox_shopify.fulfillment_orders(
        store, SandboxOrder.objects.get(pk=remote_order.pk).data
    )[-1]
    assert (dropshipped["status"], dropshipped["request_status"]) == ("in_progress", "accepted")
    assert order.events.filter(
        kind=OrderEvent.Kind.SUPPLIER, message__contains="requested on Shopify-Main"
    ).exists()
