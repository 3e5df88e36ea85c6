"""Return labels through Sendcloud (v3 returns), against the Sendcloud sandbox."""

import re

import pytest
from django.core import mail

from returns.models import ReturnRequest
from sandbox.models import SandboxRequest
from tests.shipping.factories import SendcloudAccountFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sendcloud_returns(live_server, policy):
    import shipping.carriers.sendcloud  # noqa: F401 - registered even when the registry was filled first
    from sandbox.sendcloud import store_for_account
    from shipping.carriers.sendcloud import clear_cache

    clear_cache()
    account = SendcloudAccountFactory(api_base_url=f"{live_server.url}/sandbox/sendcloud/api/v2")
    store_for_account(account, post_per_minute=0, burst_per_second=0, get_per_minute=0)
    policy.return_carrier = account
    policy.save()
    yield account
    clear_cache()


def returns_posted():
    return [r for r in SandboxRequest.objects.filter(method="POST") if r.path.endswith("/api/v3/returns")]


def test_confirming_twice_books_one_sendcloud_return(client, sendcloud_returns, make_order,
                                                     django_capture_on_commit_callbacks):
    order = make_order("1042", "LS1 4AB")
    client.post("/returns/northern/", {"order_number": "#1042", "postal_code": "ls1 4ab"})
    mug = order.lines.get(sku="MUG-1")
    client.post("/returns/northern/items/", {f"qty_{mug.pk}": 2, f"reason_{mug.pk}": "faulty"})
    key = re.search(r'name="key" value="(\w+)"', client.get("/returns/northern/confirm/").content.decode())[1]
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/returns/northern/confirm/", {"key": key})
        second = client.post("/returns/northern/confirm/", {"key": key})
    assert first["Location"] == second["Location"]

    [posted] = returns_posted()
    body = posted.parsed
    assert body["ship_with"]["shipping_option_code"] == "postnl:return"
    assert body["from_address"]["postal_code"] == "LS1 4AB" and body["from_address"]["name"] == "Ann Example"
    assert body["to_address"]["name"] == "Northern Goods Returns"
    assert [(i["quantity"], i.get("sku")) for i in body["parcel_items"]] == [(2, "MUG-1")]

    ret = ReturnRequest.objects.get()
    assert ret.status == "label_issued" and ret.external_id and ret.tracking_number
    assert ret.label.open("rb").read(5) == b"%PDF-"
    assert ret.carrier_account == sendcloud_returns
    [email] = mail.outbox
    assert ret.tracking_number in email.body
