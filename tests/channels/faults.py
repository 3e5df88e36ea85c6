"""What every marketplace connector's tests share: reading all pages, and the faults each connector
must survive against its sandbox over real HTTP.

The issue these serve: for each of 429, 500, timeout, malformed JSON and a truncated page, a sync
loses nothing and the following sync completes; a refused authorisation is an auth error and
marks the channel needs-reconnecting; a 429 then success reads the page. A connector's test module
describes its API in a `Marketplace` (how to make sandbox orders, the order-list path the sandbox
faults match, how to make its pages small, its cursor) and binds the shared test with

    test_a_failing_page_loses_nothing_and_the_next_sync_completes = failing_page_test(SHOPIFY)

which gives one case per fault, named `[shopify-429]`, `[shopify-timeout]`, ...
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from channels.connectors.base import ConnectorError
from orders.models import Order
from orders.tasks import run_sync


def all_pages(connector, cursor=None, *, now=None):
    """Every page of one pass, read as a sync does (window of 30 days), from `cursor`."""
    return list(connector.iter_pages(cursor or {}, now=now or datetime.now(tz=UTC), window_days=30))


@dataclass(frozen=True)
class Marketplace:
    """What the shared fault tests need to know about one connector's API and its sandbox."""

    name: str  # the prefix of the test ids: "shopify" -> [shopify-429]
    sandbox: str  # the fixture giving (channel, store)
    generate: Callable  # generate(store, count, mix=False, seed=...) -> the sandbox orders made
    orders_path: str  # the order list, as the sandbox's faults match it
    # For the failing-page test (a connector without them is not bound to it):
    page_size_at: tuple | None = None  # (object, attribute) holding the connector's page size
    page_size: int = 0  # the small page read: page one stored, page two fails
    orders: int = 0  # sandbox orders made: more than one page, fewer than two
    seed: int = 0
    resume_key: str = ""  # the cursor key that carries an unfinished pass to its next page
    resume_at: Any = None  # its value after page one; None: any non-empty value
    timeout: float = 0.0  # CONNECTOR_TIMEOUT for the test
    slow: float = 0.0  # a sandbox delay longer than `timeout`, on every attempt
    throttle: dict = field(default_factory=dict)  # more for the 429, e.g. {"retry_after": 0}

    def faults(self):
        """(id, sandbox fault) for each fault a page may meet; each outlasts the connector's retries."""
        return [
            ("429", {"status": 429, **self.throttle, "times": 20}),
            ("500", {"status": 500, "times": 20}),
            ("timeout", {"delay": self.slow, "times": 4}),
            # Each retried like a 5xx (a read is asked again): only one that persists fails the sync.
            ("malformed-json", {"malformed": True, "times": 20}),
            ("truncated-page", {"truncate": True, "times": 20}),
        ]


def failing_page_test(m: Marketplace):
    """The test, parametrised by fault, that a sync whose second page fails keeps page one, stops
    without advancing past it, and that the following sync reads the rest and completes."""
    assert m.page_size_at and m.page_size and m.orders > m.page_size and m.resume_key and m.timeout < m.slow

    # The sandbox fixture is named here, not only fetched in the body, so that it is in the test's
    # fixture closure: pytest-django then orders the test with the other live-server tests.
    @pytest.mark.usefixtures(m.sandbox)
    @pytest.mark.parametrize("fault", [pytest.param(f, id=f"{m.name}-{fid}") for fid, f in m.faults()])
    def test_a_failing_page_loses_nothing_and_the_next_sync_completes(request, monkeypatch, settings, fault):
        settings.CONNECTOR_TIMEOUT = m.timeout
        channel, store = request.getfixturevalue(m.sandbox)
        monkeypatch.setattr(*m.page_size_at, m.page_size)
        m.generate(store, m.orders, mix=False, seed=m.seed)
        store.faults = [
            {"path": m.orders_path, "delay": 0},
            {"path": m.orders_path, **fault},
        ]  # page two fails
        store.save()

        first = run_sync(channel)

        channel.refresh_from_db()
        assert first.errors and channel.last_sync_state == "error" and not channel.needs_reconnect
        assert Order.objects.count() == m.page_size
        resume = channel.cursor[m.resume_key]  # resumes after the stored page
        if m.resume_at is None:
            assert resume
        else:
            assert resume == m.resume_at

        store.refresh_from_db()
        store.faults = []
        store.save()
        second = run_sync(channel)

        channel.refresh_from_db()
        assert not second.errors and channel.last_sync_state == "ok"
        assert Order.objects.count() == m.orders
        assert list(channel.cursor) == ["since"]  # the pass finished: the next one reads what changed

    return test_a_failing_page_loses_nothing_and_the_next_sync_completes


def read_through_one_429(m: Marketplace, channel, store, **throttle):
    """One 429 on the order list, then success: the whole page is read and the 429 was served.
    Returns the connector and the seconds the read took."""
    m.generate(store, 3, mix=False)
    store.faults = [{"path": m.orders_path, "status": 429, **throttle}]
    store.save()
    connector = channel.connector()

    started = time.monotonic()
    [page] = all_pages(connector)
    elapsed = time.monotonic() - started

    assert len(page.orders) == 3
    store.refresh_from_db()
    assert store.faults == []  # the 429 was served
    return connector, elapsed


def refused(connector, status):
    """Reading with credentials the marketplace refuses is an auth error with that status."""
    with pytest.raises(ConnectorError) as err:
        all_pages(connector)
    assert err.value.auth and err.value.status == status
    return err.value


def assert_client_secret_refused(connector):
    """The token endpoint refused the client: said so, without the secret."""
    error = refused(connector, 401)
    assert "invalid_client" in str(error)
    assert "wrong" not in str(error)


def assert_refused_again_after_one_refresh(m: Marketplace, channel, store, token_requests):
    """A token refused even after the refresh is an auth error, and is refreshed only once."""
    store.faults = [{"path": m.orders_path, "status": 401, "times": 2}]
    store.save()

    refused(channel.connector(), 401)

    assert token_requests().count() == 1


def assert_needs_reconnecting(channel, summary, reason=""):
    """The sync failed for want of authorisation: nothing imported, the channel flagged."""
    channel.refresh_from_db()
    assert summary.errors and channel.needs_reconnect and channel.last_sync_state == "error"
    assert reason in channel.last_error
    assert not Order.objects.exists()


def sync_after_revoking(m: Marketplace, channel, store, revoke):
    """The seller revoked the app's authorisation: the sync imports nothing and asks to reconnect."""
    m.generate(store, 2, mix=False)
    revoke(store)

    summary = run_sync(channel)

    assert_needs_reconnecting(channel, summary, "invalid_grant")
    return summary


def assert_a_wrong_token_is_refused(m: Marketplace, channel, store, status, **credentials):
    """A token the marketplace does not know: reading is an auth error, and a sync imports nothing
    and marks the channel needs-reconnecting."""
    m.generate(store, 1, mix=False)
    channel.credentials = credentials
    channel.save()

    refused(channel.connector(), status)
    summary = run_sync(channel)

    assert_needs_reconnecting(channel, summary)
