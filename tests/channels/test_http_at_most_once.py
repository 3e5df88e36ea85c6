"""channels.connectors.http repeats a request that changes something only when the channel
certainly did not act on it: after a 429 or a connection that never opened. A timeout or a 5xx
may come after the channel acted, so a POST is not repeated there: the error says `maybe_sent`
and the outbox asks the channel first (tests/channels/test_outbox_*.py). Reads are retried."""

import pytest

from channels.connectors.base import ConnectorError
from channels.connectors.http import HttpClient


def faulted(store, path, **fault):
    store.faults = [{"path": path, "times": 5, **fault}]
    store.save()


def taken(store) -> int:
    store.refresh_from_db()
    return 5 - (store.faults[0]["times"] if store.faults else 0)


@pytest.fixture
def etsy(etsy_sandbox, live_server):
    channel, store = etsy_sandbox
    return f"{live_server.url}/sandbox/etsy/v3/application/shops/{channel.shop_id}/receipts/1/tracking", store


def auth(channel_credentials=("ks", "secret", "token")):
    keystring, secret, token = channel_credentials
    return {"x-api-key": f"{keystring}:{secret}", "Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "fault", [{"status": 503}, {"status": 500}, {"delay": 1.5}], ids=["503", "500", "timeout"]
)
def test_a_post_that_may_have_reached_the_channel_is_not_repeated(etsy, fault):
    url, store = etsy
    faulted(store, "/tracking", **fault)

    with pytest.raises(ConnectorError) as failed:
        HttpClient(timeout=0.5, max_retries=3, backoff_base=0.01).request(
            "POST", url, data={"tracking_code": "X"}, headers=auth()
        )

    assert failed.value.maybe_sent and failed.value.retryable
    assert "not repeated" in str(failed.value)
    assert taken(store) == 1


def test_a_post_refused_with_429_is_repeated_and_a_get_after_503_too(etsy):
    url, store = etsy
    faulted(store, "/tracking", status=429)
    with pytest.raises(ConnectorError) as failed:
        HttpClient(max_retries=2, backoff_base=0.01, max_sleep=0.01).request(
            "POST", url, data={"tracking_code": "X"}, headers=auth()
        )
    assert taken(store) == 3 and not failed.value.maybe_sent  # the channel refused each: safe to repeat

    faulted(store, "/receipts", status=503)
    with pytest.raises(ConnectorError):
        HttpClient(max_retries=2, backoff_base=0.01, max_sleep=0.01).request(
            "GET", url.rsplit("/", 1)[0], headers=auth()
        )
    assert taken(store) == 3


def test_a_post_whose_connection_never_opened_is_repeated():
    client = HttpClient(max_retries=2, backoff_base=0.01, max_sleep=0.01)
    with pytest.raises(ConnectorError) as failed:
        client.request("POST", "http://127.0.0.1:9/nothing-listens-here", data={})
    assert client.calls == 3 and not failed.value.maybe_sent
