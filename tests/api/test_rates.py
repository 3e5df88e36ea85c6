"""Rates through the API, and booking with one (issue 17 item 4: "book a shipment for chosen lines,
with a rate choice where rates exist"): the same rate shop as the admin's booking form."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from orders.models import OrderEvent
from shipping.models import Shipment
from tests.api.conftest import order_body
from tests.factories import BrandFactory, CarrierAccountFactory


@pytest.fixture
def accounts(db):
    BrandFactory(name="Northern Goods", slug="northern", is_default=True)
    royal_mail = CarrierAccountFactory(
        name="Royal Mail (own)", flat_rate=Decimal("3.20"), flat_rate_currency="GBP", transit_days=3
    )
    parcelforce = CarrierAccountFactory(
        name="Parcelforce (own)",
        prefix="PF",
        is_default=False,
        default_service="Express 24",
        flat_rate=Decimal("5.90"),
        flat_rate_currency="GBP",
        transit_days=1,
    )
    return royal_mail, parcelforce


def test_rates_side_by_side_then_book_the_one_chosen_with_its_price(api, accounts):
    royal_mail, parcelforce = accounts
    order_id = api.post("/api/v1/orders", order_body(), format="json").json()["id"]

    answer = api.post(
        f"/api/v1/orders/{order_id}/rates", {"lines": [{"line": "L1", "quantity": 1}]}, format="json"
    )

    assert answer.status_code == 200, answer.content
    body = answer.json()
    priced = [(r["carrier_account"], r["price"], r["transit_days"]) for r in body["rates"] if r["available"]]
    assert priced == [(royal_mail.pk, "3.20", 3), (parcelforce.pk, "5.90", 1)]  # cheapest first
    assert body["errors"] == [] and body["customs_declaration"] is False
    fastest = next(r for r in body["rates"] if r["carrier_account"] == parcelforce.pk)

    booked = api.post(
        f"/api/v1/orders/{order_id}/shipments",
        {"lines": [{"line": "L1", "quantity": 1}], "rate": fastest["id"]},
        format="json",
    )

    assert booked.status_code == 201, booked.content
    shipment = Shipment.objects.get(pk=booked.json()["id"])
    assert shipment.carrier_account == parcelforce and shipment.service == "Express 24"
    assert (shipment.fee, shipment.currency) == (Decimal("5.90"), "GBP")
    event = OrderEvent.objects.get(order_id=order_id, kind="booked")
    assert "rate quoted" in event.message and "5.90" in event.message
    assert "via API key" in event.message


def test_a_rate_the_carrier_no_longer_offers_is_refused_and_nothing_is_bought(api, accounts):
    royal_mail, _ = accounts
    order_id = api.post("/api/v1/orders", order_body(), format="json").json()["id"]

    answer = api.post(
        f"/api/v1/orders/{order_id}/shipments", {"rate": f"{royal_mail.pk}|Next day by pigeon"}, format="json"
    )

    assert answer.status_code == 422
    assert "did not quote that rate again" in answer.json()["detail"]
    assert not Shipment.objects.exists()
    unknown = api.post(f"/api/v1/orders/{order_id}/shipments", {"rate": "999|x"}, format="json")
    assert unknown.status_code == 400 and "rate" in unknown.json()


def test_rates_need_the_shipments_read_scope(make_key, accounts, api):
    order_id = api.post("/api/v1/orders", order_body(), format="json").json()["id"]
    _, text = make_key(name="orders only", scopes=["orders:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
    assert client.post(f"/api/v1/orders/{order_id}/rates", {}, format="json").status_code == 403
