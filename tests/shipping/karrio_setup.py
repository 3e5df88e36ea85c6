"""Fixtures for the direct carrier accounts (Karrio) against their sandbox stand-ins."""

from decimal import Decimal
from types import SimpleNamespace

import pytest

import shipping.carriers.karrio  # noqa: F401 - registered even when another test filled the registry first
from sandbox.models import SandboxRequest
from tests.factories import AddressFactory, BrandFactory, OrderFactory, OrderLineFactory
from tests.shipping.factories import CanadaPostAccountFactory, DHLExpressAccountFactory, KarrioAccountFactory

SENDERS = {
    "GB": dict(line1="Unit 4, Canal Wharf", city="Leeds", postal_code="LS11 5PS", country="GB"),
    "FR": dict(line1="12 rue de la Paix", city="Paris", postal_code="75002", country="FR"),
    "CA": dict(line1="5840 Oak St", city="Vancouver", postal_code="V6M2V9", country="CA", state="BC"),
}
RECIPIENTS = {
    "US": dict(
        ship_line1="1 Main St",
        ship_city="New York",
        ship_state="NY",
        ship_postal_code="10001",
        ship_country="US",
        currency="USD",
    ),
    "CH": dict(
        ship_line1="Bahnhofstrasse 1",
        ship_city="Zürich",
        ship_postal_code="8001",
        ship_country="CH",
        currency="EUR",
    ),
    "DE": dict(
        ship_line1="Kerkstraße 12",
        ship_city="Köln",
        ship_postal_code="50667",
        ship_country="DE",
        currency="EUR",
    ),
    "GB": dict(
        ship_line1="2 High St",
        ship_city="York",
        ship_postal_code="YO1 7HH",
        ship_country="GB",
        currency="GBP",
    ),
    "CA": dict(
        ship_line1="125 Church St",
        ship_city="Moncton",
        ship_state="NB",
        ship_postal_code="E1C4Z8",
        ship_country="CA",
        currency="CAD",
    ),
}


def _setup(live_server, factory, kind, sender="GB", **account):
    import importlib

    brand = BrandFactory(
        name="Northern Goods",
        slug="northern",
        sender_address=AddressFactory(phone="441130000000", **SENDERS[sender]),
    )
    acct = factory(api_base_url=f"{live_server.url}/sandbox/{kind}", is_default=True, **account)
    module = importlib.import_module(f"sandbox.{kind}")
    store = module.store_for_account(acct)
    return SimpleNamespace(account=acct, store=store, brand=brand, url=live_server.url)


@pytest.fixture
def ups(live_server, transactional_db):
    return _setup(live_server, KarrioAccountFactory, "ups")


@pytest.fixture
def ups_from_france(live_server, transactional_db):
    return _setup(live_server, KarrioAccountFactory, "ups", sender="FR")


@pytest.fixture
def dhl(live_server, transactional_db):
    return _setup(live_server, DHLExpressAccountFactory, "mydhl")


@pytest.fixture
def dhl_from_france(live_server, transactional_db):
    return _setup(live_server, DHLExpressAccountFactory, "mydhl", sender="FR")


@pytest.fixture
def canadapost(live_server, transactional_db):
    return _setup(live_server, CanadaPostAccountFactory, "canadapost", sender="CA")


def an_order(to="US", **kw):
    order = OrderFactory(**{**RECIPIENTS[to], "total": Decimal("25.00"), "ship_phone": "12125550100", **kw})
    OrderLineFactory(
        order=order, sku="MUG-1", title="Ceramic mug", quantity=2, unit_price=Decimal("12.50"), weight_g=350
    )
    return order


def received(path_part: str, method: str = "POST") -> list[SandboxRequest]:
    return [r for r in SandboxRequest.objects.filter(method=method) if path_part in r.path]
