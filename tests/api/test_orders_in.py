"""POST /api/v1/orders and /orders/bulk: orders in through the importer's rules, idempotent."""

from datetime import timedelta

from django.utils import timezone

from channels.models import Channel
from orders.models import Order, OrderEvent, SkippedOrder
from tests.api.conftest import order_body
from tests.factories import ChannelFactory


def test_an_order_is_created_on_the_manual_channel_and_the_timeline_names_the_key(api):
    response = api.post("/api/v1/orders", order_body(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get()
    assert body["id"] == order.pk and body["status"] == "awaiting_shipment"
    assert order.channel.kind == Channel.Kind.MANUAL and order.channel.sync_mode == "manual"
    assert (
        order.ship_country == "GB"
        and order.ship_postal_code == "LS1 4AB"
        and order.email == "ann@example.test"
    )
    assert [(ln.external_id, ln.sku, ln.quantity) for ln in order.lines.order_by("external_id")] == [
        ("L1", "MUG-1", 2),
        ("L2", "TEE-M", 1),
    ]
    assert [line["sku"] for line in body["lines"]] == ["MUG-1", "TEE-M"]
    [event] = OrderEvent.objects.filter(order=order)
    assert event.kind == "imported"
    assert event.message.endswith("(via API key “ERP”)")
    assert event.data["api_key"] == "ERP" and event.data["api_key_id"] == api.key.pk


def test_the_same_idempotency_key_twice_makes_one_order_and_answers_the_first_result(api):
    first = api.post(
        "/api/v1/orders", order_body(external_id=None), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = api.post(
        "/api/v1/orders", order_body(external_id=None), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_refused(api):
    api.post("/api/v1/orders", order_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    response = api.post(
        "/api/v1/orders", order_body(total="31.00"), format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    assert Order.objects.count() == 1


def test_the_same_external_id_again_is_a_retry_and_other_data_under_it_a_conflict(api):
    body = order_body()
    del body["order_number"]
    assert api.post("/api/v1/orders", body, format="json").status_code == 201
    retry = api.post("/api/v1/orders", body, format="json")  # no date given: "now" differs, still a retry
    assert retry.status_code == 200 and retry.json()["external_id"] == "POS-1001"
    other = api.post("/api/v1/orders", {**body, "total": "99.00"}, format="json")
    assert other.status_code == 409 and other.json()["outcome"] == "conflict"
    assert Order.objects.get().total == 30


def test_validation_errors_come_field_by_field(api):
    body = order_body(currency="pounds", address={"line1": "", "city": "Leeds", "country": "G1"})
    body["lines"][0]["quantity"] = 0
    response = api.post("/api/v1/orders", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"currency", "address", "lines"}
    assert set(errors["address"]) == {"line1", "country"}
    # Lines by their position in the request; only the wrong ones.
    assert errors["lines"] == {"0": {"quantity": ["Ensure this value is greater than or equal to 1."]}}
    assert Order.objects.count() == 0


def test_the_importers_rules_decide_and_the_skip_is_listed_like_a_channels(api):
    body = order_body(lines=[{"title": "E-book", "quantity": 1, "is_physical": False}])
    response = api.post("/api/v1/orders", body, format="json")
    assert response.status_code == 422
    assert response.json()["reason"] == "digital_only"
    unpaid = api.post("/api/v1/orders", order_body(external_id="POS-2", paid=False), format="json")
    assert unpaid.json()["reason"] == "unpaid"
    old = order_body(external_id="POS-3", ordered_at=(timezone.now() - timedelta(days=90)).isoformat())
    assert api.post("/api/v1/orders", old, format="json").json()["reason"] == "outside_window"
    no_address = api.post("/api/v1/orders", order_body(external_id="POS-4", address=None), format="json")
    assert no_address.json()["reason"] == "no_address", no_address.json()
    assert sorted(SkippedOrder.objects.values_list("external_id", "reason")) == [
        ("POS-1001", "digital_only"),
        ("POS-2", "unpaid"),
        ("POS-3", "outside_window"),
        ("POS-4", "no_address"),
    ]
    assert Order.objects.count() == 0


def test_a_named_channel_must_be_a_manual_one(api):
    ChannelFactory(name="Etsy-Main")
    response = api.post("/api/v1/orders", order_body(channel="Etsy-Main"), format="json")
    assert response.status_code == 400 and "channel" in response.json()
    pos = ChannelFactory(name="Shop counter", kind="manual", api_base_url="")
    response = api.post("/api/v1/orders", order_body(channel="Shop counter"), format="json")
    assert response.status_code == 201 and response.json()["channel"] == "Shop counter"
    assert Order.objects.get().channel == pos


def test_bulk_gives_one_result_per_order(api):
    orders = [
        order_body(external_id="B-1"),
        order_body(external_id="B-2", currency="x"),
        order_body(external_id="B-3", paid=False),
        order_body(external_id="B-1"),
        order_body(external_id="B-4"),
    ]
    response = api.post("/api/v1/orders/bulk", {"orders": orders}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["created"] == 2
    assert [(r["index"], r["external_id"], r["outcome"]) for r in body["results"]] == [
        (0, "B-1", "created"),
        (1, "B-2", "invalid"),
        (2, "B-3", "skipped"),
        (3, "B-1", "invalid"),
        (4, "B-4", "created"),
    ]
    assert body["results"][1]["errors"] == {"currency": ["This value does not match the required pattern."]}
    assert body["results"][2]["reason"] == "unpaid"
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["B-1", "B-4"]
    again = api.post("/api/v1/orders/bulk", {"orders": orders[:1]}, format="json").json()
    assert again["created"] == 0 and again["results"][0]["outcome"] == "exists"


def test_bulk_refuses_more_than_the_limit(api, settings):
    settings.API_BULK_MAX_ORDERS = 2
    orders = [order_body(external_id=f"B-{n}") for n in range(3)]
    response = api.post("/api/v1/orders/bulk", {"orders": orders}, format="json")
    assert response.status_code == 400 and "At most 2 orders" in response.json()["orders"][0]
    assert Order.objects.count() == 0


def test_imported_handlers_run_for_api_orders(api, settings, django_capture_on_commit_callbacks):
    settings.ORDER_IMPORTED_HANDLERS = ["tests.api.test_orders_in.remember"]
    REMEMBERED.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/orders", order_body(), format="json")
    assert [[response.json()["id"]]] == REMEMBERED


REMEMBERED: list = []


def remember(order_ids):
    REMEMBERED.append(list(order_ids))


def test_a_supplier_sku_on_an_api_order_is_routed_to_its_supplier(api, django_capture_on_commit_callbacks):
    from suppliers.models import SupplierOrder
    from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

    SupplierProductFactory(supplier=SupplierFactory(name="Atelier Nord"), sku="TEE-M")
    with django_capture_on_commit_callbacks(execute=True):
        order_id = api.post("/api/v1/orders", order_body(), format="json").json()["id"]
    supplier_order = SupplierOrder.objects.get()
    assert supplier_order.supplier.name == "Atelier Nord"
    assert [ln.order_line.sku for ln in supplier_order.lines.all()] == ["TEE-M"]
    assert Order.objects.get(pk=order_id).lines.get(sku="TEE-M").dropshipped_by == "Atelier Nord"
