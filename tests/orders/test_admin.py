"""The order admin as staff use it."""

import pytest
from django.db import connection
from django.urls import reverse

from orders.models import Order
from tests.factories import ChannelFactory, FulfilmentFactory, OrderFactory, OrderLineFactory


def test_order_list_and_order_page_render_for_staff(staff_client):
    order = OrderFactory(customer_name="Ann Smith", is_gift=True, gift_message="Happy birthday!")
    OrderLineFactory(order=order, sku="MUG-RED-L", options={"Colour": "Red"})

    listing = staff_client.get(reverse("admin:orders_order_changelist"))
    page = staff_client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert (
        listing.status_code == 200
        and b"Ann Smith" in listing.content
        and b"Awaiting shipment" in listing.content
    )
    assert page.status_code == 200
    for text in [b"MUG-RED-L", b"Colour: Red", b"Happy birthday!", b"Timeline"]:
        assert text in page.content


@pytest.mark.parametrize("path", ["", "?status__exact=awaiting_shipment", "?q=ann%40example.com", "?q=1042"])
def test_order_list_runs_the_same_number_of_queries_for_1_and_50_orders(staff_client, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    channel = ChannelFactory()
    OrderFactory(channel=channel)
    url = reverse("admin:orders_order_changelist") + path
    with CaptureQueriesContext(connection) as one:
        assert staff_client.get(url).status_code == 200
    OrderFactory.create_batch(49, channel=channel)
    with CaptureQueriesContext(connection) as fifty:
        assert staff_client.get(url).status_code == 200
    assert len(one.captured_queries) == len(fifty.captured_queries)


@pytest.mark.parametrize(
    "term,expected",
    [
        ("#1042", True),
        ("1042", True),
        ("ann@example.com", True),
        ("ANN@example.com", True),
        ("ls1 4ab", True),
        ("MUG-RED-L", True),
        ("JD000123456GB", True),
        ("Ann", True),
        ("nobody", False),
    ],
)
def test_order_search(staff_client, term, expected):
    order = OrderFactory(
        order_number="1042", email="ann@example.com", customer_name="Ann Smith", ship_postal_code="LS1 4AB"
    )
    OrderLineFactory(order=order, sku="MUG-RED-L")
    FulfilmentFactory(order=order, tracking_number="JD000123456GB")
    OrderFactory(order_number="77", email="zed@example.com", customer_name="Zed", ship_postal_code="M1 1AA")

    response = staff_client.get(reverse("admin:orders_order_changelist"), {"q": term})

    if expected:  # exactly one hit: the search opens that order
        assert response.status_code == 302
        assert response.url == reverse("admin:orders_order_change", args=[order.pk])
    else:
        assert list(response.context["cl"].result_list) == []


def test_status_is_read_only_on_the_order_page(staff_client):
    from tests.admin_forms import change_form_data

    order = OrderFactory()
    OrderLineFactory(order=order)
    url = reverse("admin:orders_order_change", args=[order.pk])
    data = {**change_form_data(staff_client.get(url)), "status": "delivered", "internal_note": "call first"}

    response = staff_client.post(url, data)

    assert response.status_code == 302  # the whole form was accepted …
    order.refresh_from_db()
    assert order.internal_note == "call first"  # … the editable field saved …
    assert order.status == Order.Status.AWAITING_SHIPMENT  # … and the forged status ignored


def test_skipped_orders_list_says_why(staff_client):
    from orders.models import SkippedOrder

    channel = ChannelFactory(name="Etsy-Main")
    SkippedOrder.objects.create(
        channel=channel, external_id="9", order_number="9", reason="unpaid", detail="payment status “Open”"
    )
    response = staff_client.get(reverse("admin:orders_skippedorder_changelist"), {"q": "#9"})
    assert b"Not paid" in response.content and "payment status “Open”".encode() in response.content


def test_channel_admin_never_shows_credentials(staff_client):
    channel = ChannelFactory(
        credentials={"keystring": "ks-visible?", "shared_secret": "s3cr3t-value", "access_token": "tok-value"}
    )
    response = staff_client.get(reverse("admin:channels_channel_change", args=[channel.pk]))
    assert response.status_code == 200
    assert b"s3cr3t-value" not in response.content and b"tok-value" not in response.content
    assert b"access_token, keystring, shared_secret (values hidden)" in response.content


def test_channel_credentials_are_write_only_and_kept_when_left_empty(staff_client):
    channel = ChannelFactory(credentials={"access_token": "old"})
    url = reverse("admin:channels_channel_change", args=[channel.pk])
    form = {
        "name": channel.name,
        "kind": "etsy",
        "is_active": "on",
        "api_base_url": channel.api_base_url,
        "shop_id": channel.shop_id,
        "new_credentials": "",
        "sync_mode": "auto",
        "sync_interval_minutes": 5,
        "import_window_days": 30,
        "status_mappings-TOTAL_FORMS": 0,
        "status_mappings-INITIAL_FORMS": 0,
    }
    assert staff_client.post(url, form).status_code == 302
    channel.refresh_from_db()
    assert channel.credentials == {"access_token": "old"}

    form["new_credentials"] = '{"access_token": "new"}'
    staff_client.post(url, form)
    channel.refresh_from_db()
    assert channel.credentials == {"access_token": "new"}

    form["new_credentials"] = "not json"
    response = staff_client.post(url, form)
    assert response.status_code == 200 and b"Not valid JSON" in response.content


def test_sync_now_action_reports_what_it_did(etsy_sandbox, client):
    from sandbox.generators.etsy import generate
    from tests.factories import UserFactory

    channel, store = etsy_sandbox
    generate(store, 3, mix=False)
    client.force_login(UserFactory())
    response = client.post(
        reverse("admin:channels_channel_changelist"),
        {"action": "sync_now", "_selected_action": [channel.pk]},
        follow=True,
    )
    assert b"Sync of Etsy-Main queued" in response.content
    assert Order.objects.count() == 3  # tasks run inline in tests


def test_order_list_says_when_each_channel_last_synced(staff_client):
    from django.utils import timezone

    ChannelFactory(name="Etsy-Main", sync_mode="manual")
    ChannelFactory(name="Shop-Failing", last_synced_at=timezone.now(), last_sync_state="error")
    page = staff_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "<strong>Etsy-Main</strong> (manual only)" in page and "never synced" in page
    assert "<strong>Shop-Failing</strong>" in page and "last sync failed" in page


@pytest.mark.parametrize(
    "term,found",
    [
        ("SO4A", {"SO4A 1AA", "SO4A 2BB"}),  # a postcode's first part finds every order there
        ("so4a 1", {"SO4A 1AA"}),
        ("SO4A 1AA", {"SO4A 1AA"}),
        ("SO4", {"SO4A 1AA", "SO4A 2BB", "SO40 9ZZ"}),
        ("SO", set()),  # two characters: whole values only (no order has postcode or number "SO")
        ("#AB-10", {"number AB-1001", "number AB-1002"}),  # an order number's beginning, as typed
        ("AB1001", {"number AB-1001"}),
    ],
)
def test_postcode_and_order_number_search_match_prefixes(staff_client, term, found):
    for number, postcode in [
        ("AB-1001", "SO4A 1AA"),
        ("AB-1002", "SO4A 2BB"),
        ("CD-2001", "SO40 9ZZ"),
        ("CD-2002", "LS1 4AB"),
    ]:
        OrderFactory(
            order_number=number, ship_postal_code=postcode, customer_name="Kim Lee", email="k@example.com"
        )
    OrderFactory.create_batch(2, order_number="XY-1", ship_postal_code="S1 1AA", customer_name="Zed")

    response = staff_client.get(reverse("admin:orders_order_changelist"), {"q": term})

    if len(found) == 1:
        assert response.status_code == 302
        order = Order.objects.get(pk=int(response.url.rstrip("/").split("/")[-2]))
        hits = [order]
    else:
        hits = list(response.context["cl"].result_list)
    shown = {o.ship_postal_code for o in hits} | {f"number {o.order_number}" for o in hits}
    assert {x for x in shown if x in found} == found and len(hits) == len(found)


def test_a_search_with_two_hits_shows_the_list_and_one_hit_opens_the_order(staff_client):
    first = OrderFactory(order_number="5001", customer_name="Ann Smith")
    OrderFactory(order_number="5002", customer_name="Ann Jones")

    two = staff_client.get(reverse("admin:orders_order_changelist"), {"q": "Ann"})
    one = staff_client.get(reverse("admin:orders_order_changelist"), {"q": "Ann Smith"})
    none = staff_client.get(reverse("admin:orders_order_changelist"), {"q": "Nobody"})

    assert two.status_code == 200 and len(two.context["cl"].result_list) == 2
    assert one.status_code == 302 and one.url == reverse("admin:orders_order_change", args=[first.pk])
    assert none.status_code == 200 and len(none.context["cl"].result_list) == 0


# Session, user, the channel filter, the count, the page, the last-sync line; on PostgreSQL the
# paginator first asks the planner for an estimate (orders.pagination).
ORDER_LIST_QUERIES = 6


def test_the_order_list_runs_a_pinned_number_of_queries_at_1_and_50_rows(
    staff_client, django_assert_num_queries
):
    channel = ChannelFactory()
    OrderFactory(channel=channel)
    url = reverse("admin:orders_order_changelist")
    staff_client.get(url)  # the process's first page fills Django's ContentType cache

    expected = ORDER_LIST_QUERIES + (connection.vendor == "postgresql")
    with django_assert_num_queries(expected):
        assert len(staff_client.get(url).context["cl"].result_list) == 1
    OrderFactory.create_batch(49, channel=channel)
    with django_assert_num_queries(expected):
        assert len(staff_client.get(url).context["cl"].result_list) == 50
