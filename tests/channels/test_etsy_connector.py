"""The Etsy connector against the sandbox Etsy API over real HTTP."""

import gc
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests

from channels.connectors import etsy as etsy_connector
from channels.connectors.base import ConnectorError, RemoteFulfilment
from channels.connectors.http import HttpClient
from channels.connectors.oauth import refresh_credentials
from channels.models import Channel
from orders.models import Order
from orders.tasks import run_sync
from sandbox import etsy as sandbox_etsy
from sandbox.generators.etsy import add_receipt, ensure_listings, generate, make_receipt
from sandbox.models import SandboxRequest
from tests.channels.faults import (
    Marketplace,
    assert_refused_again_after_one_refresh,
    failing_page_test,
    read_through_one_429,
    refused,
    sync_after_revoking,
)
from tests.channels.faults import all_pages as read_all_pages
from tests.factories import ChannelFactory

NOW = datetime.now(tz=UTC)

ETSY = Marketplace(
    name="etsy",
    sandbox="etsy_sandbox",
    generate=generate,
    orders_path="/receipts",
    page_size_at=(etsy_connector, "PAGE_SIZE"),
    page_size=5,
    orders=8,
    seed=3,
    resume_key="offset",
    resume_at=5,
    timeout=1.0,  # generous: the 429 and 5xx cases must not time out on a busy CI machine
    slow=1.5,
    throttle={"retry_after": 0},
)
test_a_failing_page_loses_nothing_and_the_next_sync_completes = failing_page_test(ETSY)


def all_pages(connector, cursor=None):
    return read_all_pages(connector, cursor, now=NOW)


def test_reads_every_page_with_offset_pagination(etsy_sandbox):
    channel, store = etsy_sandbox
    generate(store, 230, mix=False, seed=1)

    pages = all_pages(channel.connector())

    assert [len(p.orders) for p in pages] == [100, 100, 30]
    assert len({o.external_id for p in pages for o in p.orders}) == 230
    assert pages[0].cursor["offset"] == 100 and pages[1].cursor["offset"] == 200
    assert "offset" not in pages[-1].cursor  # a finished pass resumes from its start time next time


def test_parses_money_with_divisor_title_case_status_and_variations(etsy_sandbox):
    channel, store = etsy_sandbox
    ensure_listings(store)
    receipt = make_receipt(store)
    receipt.update(
        status="Paid",
        is_gift=True,
        gift_message="Happy birthday!",
        message_from_buyer="No invoice",
        buyer_email="ann@example.com",
        payment_method="paypal",
        zip="LS1 4AB",
        country_iso="GB",
        grandtotal={"amount": 2649, "divisor": 100, "currency_code": "GBP"},
        discount_amt={"amount": 200, "divisor": 100, "currency_code": "GBP"},
    )
    receipt["transactions"] = receipt["transactions"][:1]
    t = receipt["transactions"][0]
    t.update(
        sku="MUG-RED-L",
        quantity=2,
        price={"amount": 1000, "divisor": 100, "currency_code": "GBP"},
        listing_id=5001,
        is_digital=False,
        shipping_method="Royal Mail Tracked 48",
        shipping_upgrade=None,
        variations=[
            {"property_id": 200, "value_id": 300, "formatted_name": "Colour", "formatted_value": "Red"}
        ],
    )
    add_receipt(store, receipt)

    connector = channel.connector()
    [page] = all_pages(connector)
    order = page.orders[0]
    cache = {}
    connector.enrich(page.orders, cache)

    assert order.total == Decimal("26.49") and order.currency == "GBP"
    assert order.discount_total == Decimal("2.00")
    assert order.is_paid and not order.is_shipped and order.remote_status == "Paid"
    assert order.is_gift and order.gift_message == "Happy birthday!"
    assert order.customer_note == "No invoice" and order.email == "ann@example.com"
    assert order.payment_method == "paypal"
    assert order.requested_service == "Royal Mail Tracked 48"
    assert order.address.postal_code == "LS1 4AB" and order.address.country == "GB"
    line = order.lines[0]
    assert (line.sku, line.quantity, line.unit_price) == ("MUG-RED-L", 2, Decimal("10.00"))
    assert line.options == {"Colour": "Red"}
    assert line.weight_g == 420  # from GET /listings/5001, not on the receipt
    assert line.image_url.endswith("il_170x135.svg")
    assert requests.get(line.image_url, timeout=5).headers["Content-Type"] == "image/svg+xml"
    assert order.total_weight_g == 840
    assert "listing:5001" in cache


def test_refuses_a_key_without_the_shared_secret(etsy_sandbox):
    channel, store = etsy_sandbox
    channel.credentials = {"keystring": "ks", "shared_secret": "", "access_token": "token"}
    connector = channel.connector()
    connector.credentials["shared_secret"] = "wrong"

    refused(connector, 403)


def test_tracking_push_is_form_encoded_with_etsy_carrier_name(etsy_sandbox):
    channel, store = etsy_sandbox
    [sandbox_order] = generate(store, 1, mix=False)

    result = channel.connector().push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id,
            tracking_number="JD000123456GB",
            carrier="Royal Mail",
            note="On its way",
        )
    )

    request = SandboxRequest.objects.get(path__endswith="/tracking")
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.parsed == {
        "tracking_code": "JD000123456GB",
        "carrier_name": "royal-mail",
        "send_bcc": "false",
        "note_to_buyer": "On its way",
    }
    sandbox_order.refresh_from_db()
    assert sandbox_order.data["shipments"][-1]["tracking_code"] == "JD000123456GB"
    assert sandbox_order.data["is_shipped"] is True
    assert result.remote_id


def test_unknown_carrier_goes_to_etsy_as_other(etsy_sandbox):
    channel, store = etsy_sandbox
    [sandbox_order] = generate(store, 1, mix=False)
    channel.connector().push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id, tracking_number="X1", carrier="Bob's Couriers"
        )
    )
    assert SandboxRequest.objects.get().parsed["carrier_name"] == "other"


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "times": 10},
        {"status": 429, "retry_after": 0, "times": 10},
        {"truncate": True, "times": 10},
        {"malformed": True, "times": 10},
    ],
)
def test_faults_surface_as_connector_errors(etsy_sandbox, fault):
    channel, store = etsy_sandbox
    generate(store, 3, mix=False)
    store.faults = [fault]
    store.save()
    with pytest.raises(ConnectorError):
        all_pages(channel.connector())


@pytest.mark.parametrize("fault", [{"truncate": True}, {"malformed": True}], ids=["truncated", "malformed"])
def test_one_cut_off_page_is_read_again_like_a_5xx(etsy_sandbox, fault):
    channel, store = etsy_sandbox
    generate(store, 3, mix=False)
    store.faults = [fault]
    store.save()

    pages = all_pages(channel.connector())

    assert sum(len(p.orders) for p in pages) == 3
    store.refresh_from_db()
    assert store.faults == []  # the fault was met once, and the page asked again


def test_a_single_429_is_retried_after_retry_after(etsy_sandbox):
    read_through_one_429(ETSY, *etsy_sandbox, retry_after=0)


def test_fetch_order_reads_one_receipt(etsy_sandbox):
    channel, store = etsy_sandbox
    [sandbox_order] = generate(store, 1, mix=False)
    order = channel.connector().fetch_order(sandbox_order.external_id)
    assert order.external_id == sandbox_order.external_id
    assert order.address.postal_code == sandbox_order.data["zip"]


# -- OAuth: refreshing the hour-long access token


ETSY_USER = "51234567"


@pytest.fixture
def etsy_oauth(live_server, transactional_db):
    """(channel, store): an Etsy channel holding a refresh token, whose token endpoint is the
    sandbox's, and its sandbox shop."""
    from sandbox.stores import store_for_channel

    channel = ChannelFactory(
        name="Etsy-OAuth",
        shop_id="10002",
        api_base_url=f"{live_server.url}/sandbox/etsy/v3/application",
        credentials={
            "keystring": "1aa2bb33cc44dd55ee66ff77",
            "shared_secret": "gg88hh99",
            "access_token": f"{ETSY_USER}.seed-access",
            "refresh_token": f"{ETSY_USER}.seed-refresh",
            "expires_at": int(time.time()) + 3600,
            "token_url": f"{live_server.url}/sandbox/etsy/v3/public/oauth/token",
        },
    )
    yield channel, store_for_channel(channel)
    gc.collect()  # see conftest_marketplaces._close_client_sockets


def token_requests():
    return SandboxRequest.objects.filter(path__endswith="/oauth/token")


def test_an_access_token_about_to_expire_is_refreshed_first_and_stored_on_the_channel(etsy_oauth):
    channel, store = etsy_oauth
    generate(store, 2, mix=False)
    channel.credentials = {**channel.credentials, "expires_at": int(time.time()) + 60}
    channel.save()

    summary = run_sync(channel)

    assert summary.imported == 2 and not summary.errors
    stored = Channel.objects.get(pk=channel.pk).credentials
    assert stored["access_token"] != f"{ETSY_USER}.seed-access" and stored["access_token"].startswith(
        f"{ETSY_USER}."
    )
    assert abs(stored["expires_at"] - (time.time() + 3600)) < 60
    store.refresh_from_db()
    # Etsy rotates the refresh token: the new one is what the channel now holds.
    assert stored["refresh_token"] == sandbox_etsy.current_refresh_token(store) != f"{ETSY_USER}.seed-refresh"
    assert stored["access_token"] in store.settings["tokens"]
    assert stored["shared_secret"] == "gg88hh99"  # the rest of the credentials is kept
    [grant] = token_requests()
    assert grant.content_type == "application/x-www-form-urlencoded"
    # A public PKCE client: the keystring is the client_id and no secret goes in the body.
    assert grant.parsed == {
        "grant_type": "refresh_token",
        "client_id": "1aa2bb33cc44dd55ee66ff77",
        "fields": ["client_id", "grant_type", "refresh_token"],
    }


def test_the_rotated_refresh_token_serves_the_next_refresh(etsy_oauth):
    channel, store = etsy_oauth
    generate(store, 1, mix=False)
    for _ in range(2):
        channel.credentials = {**channel.credentials, "expires_at": int(time.time()) - 1}
        channel.save()
        assert not run_sync(channel).errors
        channel.refresh_from_db()

    assert token_requests().count() == 2 and not channel.needs_reconnect
    # The first refresh token was used once and is dead now.
    with pytest.raises(ConnectorError) as err:
        refresh_credentials(
            HttpClient(),
            {**channel.credentials, "refresh_token": f"{ETSY_USER}.seed-refresh"},
            token_url=channel.credentials["token_url"],
            client_auth="none",
            extra_form={"client_id": "1aa2bb33cc44dd55ee66ff77"},
        )
    assert err.value.auth and err.value.status == 400 and "invalid_grant" in str(err.value)


def test_an_access_token_etsy_has_expired_is_refreshed_once_and_the_call_retried(etsy_oauth):
    channel, store = etsy_oauth
    generate(store, 3, mix=False)
    sandbox_etsy.expire_access_tokens(store)  # we still believe ours is good for an hour

    pages = all_pages(channel.connector())

    assert sum(len(p.orders) for p in pages) == 3
    assert token_requests().count() == 1
    assert Channel.objects.get(pk=channel.pk).credentials["access_token"] != f"{ETSY_USER}.seed-access"


def test_the_sandbox_refuses_an_expired_access_token_as_etsy_does(etsy_oauth):
    channel, store = etsy_oauth
    sandbox_etsy.expire_access_tokens(store)

    answer = requests.get(
        f"{channel.api_base_url}/shops/{channel.shop_id}/receipts",
        timeout=5,
        headers={
            "x-api-key": "1aa2bb33cc44dd55ee66ff77:gg88hh99",
            "Authorization": f"Bearer {ETSY_USER}.seed-access",
        },
    )

    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid_token", "error_description": "access token is expired"}


def test_a_token_refused_again_after_the_refresh_is_an_auth_error_without_a_loop(etsy_oauth):
    assert_refused_again_after_one_refresh(ETSY, *etsy_oauth, token_requests)


def test_a_static_access_token_without_a_refresh_token_is_used_as_it_is(etsy_sandbox):
    channel, store = etsy_sandbox  # credentials: keystring, shared secret and a bare access token
    generate(store, 2, mix=False)

    assert sum(len(p.orders) for p in all_pages(channel.connector())) == 2
    sandbox_etsy.expire_access_tokens(store)
    refused(channel.connector(), 401)

    assert not token_requests().exists()  # nothing to refresh with: no call to the token endpoint


def test_an_outage_of_the_token_endpoint_is_retryable_not_a_reconnect(etsy_oauth):
    channel, store = etsy_oauth
    generate(store, 1, mix=False)
    store.faults = [{"path": "/oauth/token", "status": 503, "times": 10}]
    store.save()
    channel.credentials = {**channel.credentials, "expires_at": int(time.time()) - 1}
    channel.save()

    summary = run_sync(channel)

    channel.refresh_from_db()
    assert summary.errors and "503" in channel.last_error and not channel.needs_reconnect
    assert channel.credentials["refresh_token"] == f"{ETSY_USER}.seed-refresh"  # nothing was rotated


def test_a_revoked_refresh_token_marks_the_channel_needs_reconnecting_and_the_admin_says_so(
    etsy_oauth, staff_client
):
    channel, store = etsy_oauth
    sync_after_revoking(ETSY, channel, store, sandbox_etsy.revoke)  # refreshes channel

    assert "seed-refresh" not in channel.last_error
    assert "Error · needs reconnecting" in staff_client.get("/admin/channels/channel/").content.decode()
    assert "needs reconnecting" in staff_client.get("/admin/orders/order/").content.decode()

    # The seller connects the app again: the next sync works and the flag goes.
    store.settings = {}
    store.save()
    Channel.objects.filter(pk=channel.pk).update(
        credentials={**channel.credentials, "access_token": f"{ETSY_USER}.seed-access"}
    )
    channel.refresh_from_db()
    assert not run_sync(channel).errors
    channel.refresh_from_db()
    assert not channel.needs_reconnect and Order.objects.count() == 2


def test_a_tracking_push_refused_for_an_expired_token_is_sent_once_after_the_refresh(etsy_oauth):
    channel, store = etsy_oauth
    [sandbox_order] = generate(store, 1, mix=False)
    sandbox_etsy.expire_access_tokens(store)

    channel.connector().push_fulfilment(
        RemoteFulfilment(
            order_external_id=sandbox_order.external_id, tracking_number="JD000123456GB", carrier="Royal Mail"
        )
    )

    assert token_requests().count() == 1
    assert SandboxRequest.objects.filter(path__endswith="/tracking").count() == 1
    sandbox_order.refresh_from_db()
    assert [s["tracking_code"] for s in sandbox_order.data["shipments"]] == ["JD000123456GB"]


def test_a_worker_with_stale_credentials_uses_the_token_another_worker_refreshed(etsy_oauth):
    # A sync and a tracking push of one channel run side by side, each with the credentials it
    # read when it started. Etsy rotates the refresh token, so the second refresh must not happen.
    channel, store = etsy_oauth
    [receipt] = generate(store, 1, mix=False)
    Channel.objects.filter(pk=channel.pk).update(credentials={**channel.credentials, "expires_at": 0})
    first, second = (Channel.objects.get(pk=channel.pk).connector() for _ in range(2))

    first.fetch_order(receipt.external_id)
    assert second.fetch_order(receipt.external_id).external_id == receipt.external_id

    assert token_requests().count() == 1
    assert (
        second.credentials["access_token"] == Channel.objects.get(pk=channel.pk).credentials["access_token"]
    )


def test_a_refresh_token_spent_by_another_worker_is_read_again_not_called_a_disconnect(etsy_oauth):
    # The other worker refreshed and its new token has since expired too: ours is refused as spent
    # (invalid_grant), the stored, rotated one is read and refreshes; the channel stays connected.
    channel, store = etsy_oauth
    generate(store, 2, mix=False)
    Channel.objects.filter(pk=channel.pk).update(credentials={**channel.credentials, "expires_at": 0})
    stale = Channel.objects.get(pk=channel.pk)
    other = Channel.objects.get(pk=channel.pk).connector()
    other.refresh_access_token()
    Channel.objects.filter(pk=channel.pk).update(credentials={**other.credentials, "expires_at": 0})

    summary = run_sync(stale)

    assert not summary.errors and summary.imported == 2
    stale.refresh_from_db()
    assert not stale.needs_reconnect
    # Tokens granted: the other worker's and ours from the stored refresh token (the spent one was refused).
    assert token_requests().count() == 2
    store.refresh_from_db()
    assert stale.credentials["refresh_token"] == sandbox_etsy.current_refresh_token(store)
