import pytest

from tests.factories import ChannelFactory

# The shared connector-test helpers assert; have pytest explain their failures as it does a test's.
pytest.register_assert_rewrite("tests.channels.faults")


@pytest.fixture
def shopify_sandbox(live_server, transactional_db):
    """A Shopify channel pointed at the sandbox Shopify Admin API served by live_server, and its store."""
    from sandbox.stores import store_for_channel

    channel = ChannelFactory(
        name="Shopify-Main",
        kind="shopify",
        api_base_url=f"{live_server.url}/sandbox/shopify/admin/api/2024-07",
        shop_id="northern-goods.myshopify.com",
        credentials={"access_token": "shpat_sandbox_token", "webhook_secret": "shpss_sandbox_secret"},
    )
    return channel, store_for_channel(channel)


@pytest.fixture
def ecwid_sandbox(live_server, transactional_db):
    """An Ecwid channel pointed at the sandbox Ecwid API served by live_server, and its store."""
    from sandbox.stores import store_for_channel

    channel = ChannelFactory(
        name="Ecwid-Main",
        kind="ecwid",
        api_base_url=f"{live_server.url}/sandbox/ecwid/api/v3",
        shop_id="4870020",
        credentials={"access_token": "secret_sandbox_token", "client_secret": "ecwid_client_secret"},
    )
    return channel, store_for_channel(channel)


# Channels that receive webhooks, with the secrets tests/channels/test_webhooks.py signs with.
@pytest.fixture
def shopify_channel(db):
    return ChannelFactory(
        kind="shopify",
        shop_id="shop.myshopify.com",
        credentials={"access_token": "shpat_x", "webhook_secret": "shpss_sandbox_secret"},
    )


@pytest.fixture
def ecwid_channel(db):
    return ChannelFactory(
        kind="ecwid",
        shop_id="4870020",
        credentials={"access_token": "secret_x", "client_secret": "ecwid_client_secret"},
    )
