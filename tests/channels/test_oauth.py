"""The shared OAuth refresh: expiry tracking, both client-authentication styles against the
sandbox token endpoints, rotation, and how refusals and outages come out."""

import time

import pytest

from channels.connectors.base import ConnectorError
from channels.connectors.http import HttpClient
from channels.connectors.oauth import REFRESH_MARGIN, expiring, refresh_credentials
from orders.models import Order
from orders.tasks import run_sync
from sandbox.generators.amazon import generate
from sandbox.models import SandboxRequest
from tests.channels.conftest_marketplaces import *  # noqa: F403 - the sandbox fixtures

NOW = 1_800_000_000


@pytest.mark.parametrize(
    "credentials,expected",
    [
        ({}, True),  # nothing to use yet
        ({"access_token": "t"}, False),  # unknown expiry: use it, a refusal triggers the refresh
        ({"access_token": "t", "expires_at": NOW + REFRESH_MARGIN - 1}, True),
        ({"access_token": "t", "expires_at": NOW + REFRESH_MARGIN + 60}, False),
        ({"access_token": "t", "expires_at": NOW - 10}, True),
        ({"access_token": "t", "expires_at": "garbage"}, True),
    ],
)
def test_a_token_is_refreshed_when_it_expires_within_the_margin(credentials, expected):
    assert expiring(credentials, now=NOW) is expected


def test_ebay_refresh_sends_basic_client_auth_and_keeps_the_refresh_token(ebay_sandbox):
    channel, store = ebay_sandbox

    fresh = refresh_credentials(
        HttpClient(),
        channel.credentials,
        token_url=channel.credentials["token_url"],
        client_auth="basic",
        extra_form={"scope": "https://api.ebay.com/oauth/api_scope"},
    )

    assert fresh["access_token"] != channel.credentials["access_token"]
    assert fresh["refresh_token"] == channel.credentials["refresh_token"]  # eBay does not rotate it
    assert abs(fresh["expires_at"] - (time.time() + 7200)) < 60
    assert fresh["client_secret"] == channel.credentials["client_secret"]  # the rest is kept


def test_amazon_lwa_refresh_sends_the_client_in_the_form(amazon_sandbox):
    channel, store = amazon_sandbox

    fresh = refresh_credentials(HttpClient(), channel.credentials, token_url=channel.credentials["token_url"])

    assert fresh["access_token"].startswith("Atza|") and abs(fresh["expires_at"] - (time.time() + 3600)) < 60
    # LWA wants the client in the form: sent as Basic auth instead, the request is refused.
    with pytest.raises(ConnectorError):
        refresh_credentials(
            HttpClient(), channel.credentials, token_url=channel.credentials["token_url"], client_auth="basic"
        )


def test_a_rotated_refresh_token_is_stored_and_the_next_sync_uses_it(amazon_sandbox):
    channel, store = amazon_sandbox
    generate(store, 1, mix=False)
    store.settings = {"rotate_refresh_token": True}
    store.save()
    channel.credentials = {**channel.credentials, "expires_at": int(time.time()) - 1}
    channel.save()
    first_refresh = channel.credentials["refresh_token"]

    assert not run_sync(channel).errors
    channel.refresh_from_db()
    rotated = channel.credentials["refresh_token"]
    assert rotated != first_refresh

    channel.credentials = {**channel.credentials, "expires_at": int(time.time()) - 1}
    channel.save()
    assert not run_sync(channel).errors  # refreshed again with the rotated token
    channel.refresh_from_db()
    assert channel.credentials["refresh_token"] != rotated and not channel.needs_reconnect
    assert Order.objects.count() == 1


def test_an_outage_of_the_token_endpoint_is_retryable_not_a_reconnect(ebay_sandbox):
    channel, store = ebay_sandbox
    store.faults = [{"path": "/oauth2/token", "status": 503, "times": 10}]
    store.save()

    with pytest.raises(ConnectorError) as err:
        refresh_credentials(
            HttpClient(), channel.credentials, token_url=channel.credentials["token_url"], client_auth="basic"
        )

    assert not err.value.auth and err.value.retryable and err.value.status == 503


def test_a_refused_grant_is_an_auth_error_that_names_it_but_no_secret(ebay_sandbox):
    channel, store = ebay_sandbox
    credentials = {**channel.credentials, "refresh_token": "v^1.1#someone-elses"}

    with pytest.raises(ConnectorError) as err:
        refresh_credentials(
            HttpClient(), credentials, token_url=credentials["token_url"], client_auth="basic"
        )

    assert err.value.auth and not err.value.retryable and err.value.status == 400
    assert "invalid_grant" in str(err.value)
    assert credentials["client_secret"] not in str(err.value) and "someone-elses" not in str(err.value)


def test_without_a_refresh_token_the_channel_must_be_reconnected():
    with pytest.raises(ConnectorError) as err:
        refresh_credentials(HttpClient(), {"access_token": "t"}, token_url="http://127.0.0.1:9/token")
    assert err.value.auth


def test_the_token_endpoint_log_keeps_no_secret(amazon_sandbox):
    channel, _ = amazon_sandbox
    refresh_credentials(HttpClient(), channel.credentials, token_url=channel.credentials["token_url"])
    logged = SandboxRequest.objects.get()
    assert logged.body == "" and channel.credentials["client_secret"] not in str(logged.parsed)
