import pytest

from tests.factories import BrandFactory, CarrierAccountFactory, ChannelFactory, UserFactory


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _no_stale_webhook_subscriptions():
    """Which endpoints subscribe is cached (api.webhooks); a test's endpoints vanish with its
    database, not from the cache."""
    from django.core.cache import cache

    from api.webhooks import CACHE_KEY

    cache.delete(CACHE_KEY)


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

    channel = ChannelFactory(
        name="Etsy-Main", api_base_url=f"{live_server.url}/sandbox/etsy/v3/application", shop_id="10001"
    )
    store = store_for_channel(channel)
    return channel, store


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and before it is dropped on PostgreSQL, no connection left to
    it: live_server answers in daemon threads that close their connection after the response is
    sent (a race with the end of the session), and concurrency tests open their own. Without this
    the drop can fail with "database is being accessed by other users"."""
    yield
    from django.db import connection, connections

    with django_db_blocker.unblock():
        connections.close_all()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            connection.close()
