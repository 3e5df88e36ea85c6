"""Fixtures for the eBay and Amazon connectors: a channel pointed at the sandbox API served by
live_server, with OAuth credentials whose token endpoint is the sandbox's too. Import the
fixtures into a test module to use them."""

import gc
import time

import pytest

from tests.factories import ChannelFactory

__all__ = ["ebay_sandbox", "amazon_sandbox"]


def ebay_credentials(base: str, **overrides) -> dict:
    return {
        "client_id": "Shipdesk-Shipdesk-PRD-a1b2c3d4e",
        "client_secret": "PRD-0123456789ab-cdef",
        "refresh_token": "v^1.1#i^1#r^1#f^0#p^3#t^Ul4xMF8yOkRFRkFVTFQ=",
        "access_token": "v^1.1#i^1#p^3#seed",
        "expires_at": int(time.time()) + 7200,
        "token_url": f"{base}/sandbox/ebay/identity/v1/oauth2/token",
        **overrides,
    }


def amazon_credentials(base: str, **overrides) -> dict:
    return {
        "client_id": "amzn1.application-oa2-client.0123456789abcdef",
        "client_secret": "amzn1.oa2-cs.v1.secret",
        "refresh_token": "Atzr|IwEBIA-refresh-seed",
        "access_token": "Atza|IwEBIA-access-seed",
        "expires_at": int(time.time()) + 3600,
        "token_url": f"{base}/sandbox/amazon/auth/o2/token",
        **overrides,
    }


def _close_client_sockets():
    """A connector kept alive by an exception's traceback cycle keeps its keep-alive socket, and
    the live server's thread for that socket keeps a database session open: on PostgreSQL the
    test database then cannot be dropped at the end of the run. Collect such cycles now."""
    gc.collect()


@pytest.fixture
def ebay_sandbox(live_server, transactional_db):
    """(channel, store): an eBay channel and its sandbox account."""
    from sandbox.stores import store_for_channel

    channel = ChannelFactory(
        name="eBay-Main",
        kind="ebay",
        shop_id="",
        api_base_url=f"{live_server.url}/sandbox/ebay/sell/fulfillment/v1",
        credentials=ebay_credentials(live_server.url),
    )
    yield channel, store_for_channel(channel)
    _close_client_sockets()


@pytest.fixture
def amazon_sandbox(live_server, transactional_db):
    """(channel, store): an Amazon channel (marketplace amazon.co.uk) and its sandbox account."""
    from sandbox.stores import store_for_channel

    channel = ChannelFactory(
        name="Amazon-UK",
        kind="amazon",
        shop_id="A1F83G8C2ARO7P",
        api_base_url=f"{live_server.url}/sandbox/amazon",
        credentials=amazon_credentials(live_server.url),
    )
    yield channel, store_for_channel(channel)
    _close_client_sockets()
