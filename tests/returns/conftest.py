from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import caches
from django.utils import timezone, translation

from orders.models import Order
from tests.factories import BrandFactory, CarrierAccountFactory, OrderFactory, OrderLineFactory
from tests.returns.factories import ReturnPolicyFactory, ShipmentFactory

# Ten seconds into a minute, an hour and a day: a test's attempts all fall in one window.
FROZEN_CLOCK = 86400 * 12_000 + 10.0


@pytest.fixture(autouse=True)
def _fresh_rate_limits(monkeypatch):
    """Rate-limit counters live in the cache, which outlives a test; their windows follow
    the clock, which is held still so that no test straddles two windows."""
    from returns import ratelimit

    monkeypatch.setattr(ratelimit, "clock", lambda: FROZEN_CLOCK)
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture(autouse=True)
def _english_afterwards():
    """A request in French leaves French active in this thread (LocaleMiddleware activates,
    nothing deactivates): put English back so no later test inherits it."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def brand(db):
    return BrandFactory(
        name="Northern Goods",
        slug="northern",
        is_default=True,
        return_address__name="Northern Goods Returns",
        return_address__email="returns@northern.test",
    )


@pytest.fixture
def carrier(db):
    return CarrierAccountFactory(name="Own account", prefix="RT")


@pytest.fixture
def policy(brand, carrier):
    return ReturnPolicyFactory(brand=brand, return_carrier=carrier)


@pytest.fixture
def make_order(brand, carrier):
    """An order delivered 3 days ago, shipped with Shipdesk under `brand`, with two lines."""

    def make(
        number="1042",
        postal="LS1 4AB",
        *,
        shipped=True,
        delivered_days_ago=3,
        lines=(("MUG-1", 2), ("TEE-M", 1)),
        **kw,
    ):
        now = timezone.now()
        order = OrderFactory(
            order_number=number,
            external_id=f"ext-{number}-{postal}",
            ship_postal_code=postal,
            status=Order.Status.DELIVERED if shipped else Order.Status.SHIPPED,
            ordered_at=now - timedelta(days=delivered_days_ago + 4),
            delivered_at=now - timedelta(days=delivered_days_ago) if shipped else None,
            **{"email": "ann@example.test", "ship_name": "Ann Example", **kw},
        )
        for sku, quantity in lines:
            OrderLineFactory(order=order, sku=sku, quantity=quantity, title=f"Item {sku}")
        if shipped:
            ShipmentFactory(order=order, carrier_account=carrier, brand=brand)
        return order

    return make


@pytest.fixture
def looked_up(client, policy, make_order):
    """A customer who has found order #1042 in the portal."""
    order = make_order("1042", "LS1 4AB")
    response = client.post("/returns/northern/", {"order_number": "1042", "postal_code": "LS1 4AB"})
    assert response.status_code == 303, response.content
    return order


@pytest.fixture
def sendcloud_returns(live_server, policy):
    """The brand's returns booked through the Sendcloud sandbox (over HTTP, faults injectable)."""
    import shipping.carriers.sendcloud  # noqa: F401 - registered even when the registry was filled first
    from sandbox.sendcloud import store_for_account
    from shipping.carriers.sendcloud import clear_cache
    from tests.shipping.factories import SendcloudAccountFactory

    clear_cache()
    account = SendcloudAccountFactory(api_base_url=f"{live_server.url}/sandbox/sendcloud/api/v2")
    store_for_account(account, post_per_minute=0, burst_per_second=0, get_per_minute=0)
    policy.return_carrier = account
    policy.save()
    yield account
    clear_cache()


def sendcloud_down(account, *, times: int = 50) -> None:
    """The Sendcloud sandbox answers 503 to creating returns, `times` times."""
    from sandbox.sendcloud import store_for_account

    store = store_for_account(account)
    store.faults = [{"path": "/api/v3/returns", "status": 503, "times": times}]
    store.save(update_fields=["faults"])


def sendcloud_up(account) -> None:
    from sandbox.sendcloud import store_for_account

    store = store_for_account(account)
    store.faults = []
    store.save(update_fields=["faults"])
