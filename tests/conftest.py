import pytest

from tests.factories import BrandFactory, CarrierAccountFactory, ChannelFactory, UserFactory


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff(db):
    return UserFactory(username="staff")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def shipping_setup(db):
    """A default brand with a sender address and a default self-print carrier account."""
    return {"brand": BrandFactory(), "carrier": CarrierAccountFactory()}


@pytest.fixture
def etsy_sandbox(live_server, transactional_db):
    """An Etsy channel pointed at the sandbox Etsy API served by live_server, and its store."""
    from sandbox.stores import store_for_channel

    channel = ChannelFactory(name="Etsy-Main", api_base_url=f"{live_server.url}/sandbox/etsy/v3/application",
                             shop_id="10001")
    store = store_for_channel(channel)
    return channel, store
