from types import SimpleNamespace

import pytest
from django.urls import reverse

import shipping.carriers.sendcloud  # noqa: F401 - registered even when another test filled the registry first
from tests.factories import BrandFactory, CarrierAccountFactory
from tests.shipping.factories import SendcloudAccountFactory
from tests.shipping.karrio_setup import canadapost, dhl, dhl_from_france, ups, ups_from_france  # noqa: F401


@pytest.fixture
def sendcloud(live_server, transactional_db):
    """A default brand, a Sendcloud carrier account pointed at the sandbox served by live_server,
    its sandbox store (rate limits off unless a test turns them on; webhooks to our endpoint)."""
    from sandbox.sendcloud import store_for_account
    from shipping.carriers.sendcloud import clear_cache

    clear_cache()
    brand = BrandFactory(name="Northern Goods", slug="northern")
    account = SendcloudAccountFactory(
        api_base_url=f"{live_server.url}/sandbox/sendcloud/api/v2", is_default=True
    )
    webhook = live_server.url + reverse("shipping:carrier_webhook", args=[account.pk])
    store = store_for_account(
        account, post_per_minute=0, burst_per_second=0, get_per_minute=0, webhook_url=webhook
    )
    yield SimpleNamespace(account=account, store=store, brand=brand, url=live_server.url, webhook=webhook)
    clear_cache()


@pytest.fixture
def selfprint(db):
    """The built-in carrier as the default account, and a default brand."""
    return SimpleNamespace(
        brand=BrandFactory(name="Northern Goods", slug="northern"),
        account=CarrierAccountFactory(name="Royal Mail (own account)"),
    )


def advance(sendcloud, shipment, status: int, **extra):
    """The carrier's world moves the parcel on (sandbox control endpoint; fires the webhook)."""
    import requests

    creds = sendcloud.account.credentials
    response = requests.post(
        f"{sendcloud.url}/sandbox/sendcloud/_sandbox/parcels/{shipment.external_id}/status",
        json={"status": status, **extra},
        auth=(creds["public_key"], creds["secret_key"]),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def marketplace(live_server, transactional_db):
    """make(kind) -> (channel, store): a channel of that kind pointed at its sandbox API."""
    from sandbox.stores import store_for_channel
    from tests.channels.conftest_marketplaces import amazon_credentials, ebay_credentials
    from tests.factories import ChannelFactory

    base = live_server.url

    def make(kind: str):
        settings = {
            "etsy": dict(api_base_url=f"{base}/sandbox/etsy/v3/application", shop_id="10001"),
            "shopify": dict(
                api_base_url=f"{base}/sandbox/shopify/admin/api/2024-07",
                shop_id="northern-goods.myshopify.com",
                credentials={"access_token": "shpat_sandbox_token", "webhook_secret": "shpss_secret"},
            ),
            "ecwid": dict(
                api_base_url=f"{base}/sandbox/ecwid/api/v3",
                shop_id="4870020",
                credentials={"access_token": "secret_sandbox_token", "client_secret": "ecwid_secret"},
            ),
            "ebay": dict(
                api_base_url=f"{base}/sandbox/ebay/sell/fulfillment/v1",
                shop_id="",
                credentials=ebay_credentials(base),
            ),
            "amazon": dict(
                api_base_url=f"{base}/sandbox/amazon",
                shop_id="A1F83G8C2ARO7P",
                credentials=amazon_credentials(base),
            ),
        }[kind]
        channel = ChannelFactory(name=f"{kind}-main", kind=kind, **settings)
        return channel, store_for_channel(channel)

    return make
