"""One shared rate budget per channel account (channels/ratebudget.py) against the sandbox's
token buckets (sandbox/ratelimit.py), which answer each API's own 429."""

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
import redis
import requests
from django.db import connection, connections

from channels.connectors import ConnectorError, connector_class
from channels.connectors.http import HttpClient
from channels.ratebudget import Budget, BudgetExhausted, Limit, reserve
from sandbox.generators import shopify as shopify_orders
from sandbox.models import SandboxRequest
from tests.channels.conftest_marketplaces import *  # noqa: F403 - the sandbox fixtures

REDIS_URL = "redis://127.0.0.1:6379/6"


def redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["database", "redis"])
def budget_store(request, settings, db):
    """Where the budgets live: the database (locmem cache: per process) or Redis (shared)."""
    settings.RATE_LIMIT_TIME_SCALE = 1
    if request.param == "redis":
        if not redis_answers():
            pytest.skip("no Redis on 127.0.0.1:6379 (the database backend ran)")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
                "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
            }
        }
    return request.param


# -- the budget itself


def test_a_bucket_lets_its_burst_through_then_queues_each_call_one_interval_later(budget_store):
    limit = Limit(rate=2, burst=5)  # client burst 4: one call kept in hand for network jitter
    key = f"ratebudget:test:{uuid.uuid4().hex}:api"
    started = time.time()
    slots = []
    for _ in range(7):
        asked = time.time()
        slots.append(asked + reserve(key, limit) - started)  # when this call may go

    assert all(slot < 0.4 for slot in slots[:4])  # the burst: at once (however long the asking took)
    # then the queue: each further slot half a second after the one before
    assert slots[4:] == [
        pytest.approx(0.5, abs=0.1),
        pytest.approx(1.0, abs=0.1),
        pytest.approx(1.5, abs=0.1),
    ]


def test_a_slot_further_away_than_the_max_wait_is_not_taken(budget_store, settings):
    settings.RATE_LIMIT_MAX_WAIT = 3
    limit = Limit(rate=0.5, burst=2)  # client burst 1, a slot every 2 s
    key, other = (f"ratebudget:test:{uuid.uuid4().hex}:op" for _ in range(2))
    started = time.time()
    assert reserve(key, limit) == 0
    assert time.time() - started + reserve(key, limit) == pytest.approx(2, abs=0.1)
    with pytest.raises(BudgetExhausted) as refused:
        reserve(key, limit)  # 4 s away
    assert time.time() - started + refused.value.wait == pytest.approx(4, abs=0.1)
    # nothing was reserved by the refusal: the next caller meets the same queue, not a longer one
    with pytest.raises(BudgetExhausted) as again:
        reserve(key, limit)
    assert time.time() - started + again.value.wait == pytest.approx(4, abs=0.1)
    # another account's budget is its own
    assert reserve(other, limit) == 0


def test_an_exhausted_budget_is_a_retryable_connector_error_naming_the_wait(db, settings):
    settings.RATE_LIMIT_TIME_SCALE, settings.RATE_LIMIT_MAX_WAIT = 1, 5
    http = HttpClient(max_retries=0)
    http.budget = Budget(
        kind="amazon",
        account="seller",
        limits={"searchOrders": Limit(0.0056, 2)},
        classify=lambda method, url: "searchOrders",
    )
    http.budget.wait("GET", "x")  # the one call of the client burst
    with pytest.raises(ConnectorError) as err:
        http.request("GET", "http://127.0.0.1:9/never-called")
    assert "shared rate budget is spent for the next 179s" in str(err.value)
    assert err.value.retryable and http.calls == 0


def test_each_connector_declares_its_documented_limits_and_the_operation_of_each_call(db):
    amazon = connector_class("amazon")(
        base_url="https://sellingpartnerapi-eu.amazon.com",
        shop_id="A1F83G8C2ARO7P",
        credentials={"refresh_token": "Atzr|x"},
    )
    assert amazon.rate_limits["searchOrders"] == Limit(0.0056, 20)
    assert amazon.rate_limits["v0.getOrders"] == Limit(0.0167, 20)
    assert amazon.rate_limits["v0.confirmShipment"] == Limit(2.0, 10)
    base = "https://sellingpartnerapi-eu.amazon.com"
    assert [
        amazon.rate_operation("GET", base + p)
        for p in (
            "/orders/2026-01-01/orders",
            "/orders/2026-01-01/orders/203-1234567-1234567",
            "/orders/v0/orders",
            "/orders/v0/orders/203-1234567-1234567/orderItems",
            "/orders/v0/orders/203-1234567-1234567/shipmentConfirmation",
            "/catalog/2022-04-01/items/B000TEST01",
            "/auth/o2/token",
        )
    ] == [
        "searchOrders",
        "getOrder",
        "v0.getOrders",
        "v0.getOrderItems",
        "v0.confirmShipment",
        "getCatalogItem",
        None,
    ]

    shopify = connector_class("shopify")(
        base_url="https://northern.myshopify.com/admin/api/2024-07",
        shop_id="northern.myshopify.com",
        credentials={},
    )
    assert shopify.rate_limits == {"api": Limit(2.0, 40)}
    assert shopify.http.budget.key("api") == "ratebudget:shopify:northern.myshopify.com:api"
    etsy = connector_class("etsy")(
        base_url="https://openapi.etsy.com/v3/application", shop_id="1", credentials={"keystring": "appkey"}
    )
    assert etsy.rate_account() == "appkey"  # Etsy meters the app, across all its shops
    assert etsy.rate_operation("POST", "https://openapi.etsy.com/v3/public/oauth/token") is None


# -- the sandbox enforces the documented limits, with each API's own 429


def test_amazon_sandbox_meters_each_operation_at_its_documented_rate_and_burst(amazon_sandbox, settings):
    channel, store = amazon_sandbox
    settings.SANDBOX_TIME_SCALE = 1  # real time: getOrders is 0.0167/s with a burst of 20
    url = f"{channel.api_base_url}/orders/v0/orders"
    params = {"MarketplaceIds": channel.shop_id, "CreatedAfter": "2026-01-01T00:00:00Z"}
    headers = {"x-amz-access-token": channel.credentials["access_token"]}

    answers = [requests.get(url, params=params, headers=headers, timeout=5) for _ in range(21)]

    assert [a.status_code for a in answers] == [200] * 20 + [429]
    assert answers[0].headers["x-amzn-RateLimit-Limit"] == "0.0167"
    throttled = answers[20]
    assert throttled.json() == {
        "errors": [
            {
                "code": "QuotaExceeded",
                "details": "",
                "message": "You exceeded your quota for the requested resource.",
            }
        ]
    }
    assert "x-amzn-RequestId" in throttled.headers and "x-amzn-RateLimit-Limit" not in throttled.headers
    assert "Retry-After" not in throttled.headers
    # another operation has its own bucket
    other = requests.get(
        f"{channel.api_base_url}/orders/2026-01-01/orders",
        headers=headers,
        timeout=5,
        params={"marketplaceIds": channel.shop_id, "createdAfter": "2026-01-01T00:00:00Z"},
    )
    assert other.status_code == 200
    assert SandboxRequest.objects.filter(parsed__status=429).count() == 1

    settings.SANDBOX_TIME_SCALE = 1000  # the same bucket, 1000 times faster: refilled in 0.06 s
    time.sleep(0.1)
    assert requests.get(url, params=params, headers=headers, timeout=5).status_code == 200


def test_ebay_sandbox_answers_its_2001_error_over_the_quota(ebay_sandbox):
    channel, store = ebay_sandbox
    store.settings = {"rate_limits": {"api": [0.001, 2]}}
    store.save()
    url = f"{channel.api_base_url}/order"
    headers = {"Authorization": f"Bearer {channel.credentials['access_token']}"}
    answers = [requests.get(url, headers=headers, timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["errors"][0]["errorId"] == 2001


def test_etsy_sandbox_meters_calls_per_second_and_per_day(etsy_sandbox):
    channel, store = etsy_sandbox
    store.settings = {"rate_limits": {"day": [0.001, 2]}}
    store.save()
    connector = channel.connector(http=HttpClient(max_retries=0))
    receipts = connector.url(f"/shops/{channel.shop_id}/receipts")
    for _ in range(2):
        connector.api_json("GET", receipts)
    with pytest.raises(ConnectorError) as err:
        connector.api_json("GET", receipts)
    assert err.value.status == 429 and "rate limit" in str(err.value)
    connector.http.session.close()


def test_ecwid_sandbox_answers_429_with_retry_after(ecwid_sandbox):
    channel, store = ecwid_sandbox
    store.settings = {"rate_limit_per_minute": 2}
    store.save()
    url = f"{channel.api_base_url}/{channel.shop_id}/orders"
    headers = {"Authorization": f"Bearer {channel.credentials['access_token']}"}
    answers = [requests.get(url, headers=headers, timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert (
        answers[2].json()["errorCode"] == "TOO_MANY_REQUESTS" and float(answers[2].headers["Retry-After"]) > 0
    )


# -- four workers, one Shopify shop


ORDERS = 20


def _workers_read(shopify_sandbox, monkeypatch, settings, run_four):
    """Four workers, each with its own connector and HTTP client, read every order of one shop a
    page of one at a time: 80 calls against a bucket of 40 leaking 2 a second, 5 times faster
    here (both sides alike). Unpaced, the 80 calls come faster than 10 a second and the bucket
    overflows; sharing one budget they keep within it. Returns the sandbox store after."""
    channel, store = shopify_sandbox
    settings.SANDBOX_TIME_SCALE = settings.RATE_LIMIT_TIME_SCALE = 5
    shopify_orders.generate(store, ORDERS, mix=False, seed=3)
    store.settings = {"log_calls": True}
    store.save()
    monkeypatch.setattr(connector_class("shopify"), "page_size", 1)
    connectors = [channel.connector() for _ in range(4)]
    try:
        read = run_four(connectors)
    finally:
        for c in connectors:  # a kept-alive socket keeps a live-server thread and its database session
            c.http.session.close()
    assert all(len(r) == ORDERS for r in read)
    assert all(c.http.budget is not None for c in connectors)
    store.refresh_from_db()
    return store


def _assert_no_429_and_within_the_bucket(store, settings):
    calls = sorted(store.settings["_calls"])
    assert len(calls) == 4 * ORDERS
    assert store.settings.get("_throttled", 0) == 0
    assert not SandboxRequest.objects.filter(store=store, parsed__status=429).exists()
    rate = 2.0 * settings.SANDBOX_TIME_SCALE
    # past the bucket's 40, the calls come no faster than the leak
    sustained = (len(calls) - 40) / (calls[-1] - calls[0])
    assert sustained <= rate * 1.05, sustained


def test_four_workers_taking_turns_share_one_budget_and_meet_no_429(shopify_sandbox, monkeypatch, settings):
    def interleaved(connectors):
        pages = [c.iter_pages({}, now=datetime.now(tz=UTC), window_days=30) for c in connectors]
        read = [[] for _ in connectors]
        live = set(range(len(pages)))
        while live:
            for n in sorted(live):
                page = next(pages[n], None)
                if page is None:
                    live.discard(n)
                else:
                    read[n] += page.orders
        return read

    store = _workers_read(shopify_sandbox, monkeypatch, settings, interleaved)
    _assert_no_429_and_within_the_bucket(store, settings)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="four threads need concurrent connections: runs in the PostgreSQL pass of .ci/run",
)
@pytest.mark.parametrize("where", ["database", "redis"])
def test_four_worker_threads_at_once_meet_no_429(shopify_sandbox, monkeypatch, settings, where):
    if where == "redis":
        if not redis_answers():
            pytest.skip("no Redis on 127.0.0.1:6379")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
                "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
            }
        }

    def threads(connectors):
        barrier = threading.Barrier(len(connectors))
        read = [[] for _ in connectors]

        def work(n):
            try:
                barrier.wait()
                for page in connectors[n].iter_pages({}, now=datetime.now(tz=UTC), window_days=30):
                    read[n] += page.orders
            finally:
                connections.close_all()

        started = [threading.Thread(target=work, args=(n,)) for n in range(len(connectors))]
        for t in started:
            t.start()
        for t in started:
            t.join(60)
        return read

    store = _workers_read(shopify_sandbox, monkeypatch, settings, threads)
    _assert_no_429_and_within_the_bucket(store, settings)
