"""Import rules, skip reasons, idempotent replays, the cursor, and faults during a sync."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from channels.connectors.base import Page, RemoteAddress, RemoteLine, RemoteOrder
from channels.models import Channel
from orders.importing import SyncSummary, import_page
from orders.models import Order, OrderEvent, OrderLine, SkippedOrder
from orders.tasks import run_sync
from sandbox.generators.etsy import add_receipt, generate, make_receipt
from tests.factories import ChannelFactory

NOW = datetime.now(tz=UTC)


def remote(ext="1", **kw) -> RemoteOrder:
    values = dict(
        external_id=ext,
        order_number=ext,
        remote_status="Paid",
        is_paid=True,
        is_shipped=False,
        is_cancelled=False,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW,
        currency="GBP",
        total=Decimal("20.00"),
        lines=[
            RemoteLine(external_id=f"{ext}-1", sku="MUG", title="Mug", quantity=1, unit_price=Decimal("20"))
        ],
        address=RemoteAddress(
            name="Ann", line1="1 High St", city="Leeds", postal_code="LS1 4AB", country="GB"
        ),
    )
    values.update(kw)
    return RemoteOrder(**values)


def snapshot():
    return (
        sorted(Order.objects.values_list("external_id", "status", "payload_hash", "total")),
        sorted(OrderLine.objects.values_list("external_id", "quantity", "sku")),
        OrderEvent.objects.count(),
        sorted(SkippedOrder.objects.values_list("external_id", "reason")),
    )


@pytest.mark.parametrize(
    "order,reason",
    [
        (remote(is_paid=False, remote_status="Open"), "unpaid"),
        (remote(is_shipped=True, remote_status="Completed"), "shipped"),
        (remote(is_cancelled=True, remote_status="Canceled"), "cancelled"),
        (
            remote(
                lines=[RemoteLine(external_id="d", sku="PDF", title="Pattern", quantity=1, is_physical=False)]
            ),
            "digital_only",
        ),
        (remote(address=None), "no_address"),
        (remote(address=RemoteAddress(name="Ann")), "no_address"),
        (remote(created_at=NOW - timedelta(days=90)), "outside_window"),
    ],
)
def test_each_skip_reason_is_recorded_and_nothing_imported(db, order, reason):
    channel = ChannelFactory()
    import_page(channel, Page(orders=[order], cursor={"since": 1}), summary=SyncSummary())
    assert not Order.objects.exists()
    skipped = SkippedOrder.objects.get()
    assert (skipped.external_id, skipped.reason) == ("1", reason)
    assert skipped.detail


def test_a_malformed_order_is_skipped_and_the_rest_import(db):
    channel = ChannelFactory()
    page = Page(
        orders=[remote("2")], cursor={"since": 1}, skipped=[("1", "1", "malformed receipt: KeyError")]
    )
    import_page(channel, page, summary=SyncSummary())
    assert list(Order.objects.values_list("external_id", flat=True)) == ["2"]
    assert SkippedOrder.objects.get().reason == "malformed"


def test_an_order_that_later_qualifies_is_imported_and_leaves_the_skipped_list(db):
    channel = ChannelFactory()
    import_page(channel, Page(orders=[remote(is_paid=False)], cursor={}), summary=SyncSummary())
    import_page(channel, Page(orders=[remote()], cursor={}), summary=SyncSummary())
    assert Order.objects.count() == 1
    assert not SkippedOrder.objects.exists()


def test_replaying_the_same_pages_three_times_changes_nothing(db):
    channel = ChannelFactory()
    pages = [
        Page(
            orders=[remote(str(i)) for i in range(j * 10, j * 10 + 10)] + [remote(f"u{j}", is_paid=False)],
            cursor={"since": 1, "offset": j},
        )
        for j in range(3)
    ]
    for page in pages:
        import_page(channel, page, summary=SyncSummary())
    first = snapshot()
    for _ in range(3):
        summary = SyncSummary()
        for page in pages:
            import_page(channel, page, summary=summary)
        assert summary.imported == 0 and summary.updated == 0 and summary.unchanged == 30
    assert snapshot() == first
    assert first[2] == 30  # one "imported" event per order, none for replays


def test_a_change_on_the_channel_updates_the_order_with_one_event(db):
    channel = ChannelFactory()
    import_page(channel, Page(orders=[remote()], cursor={}), summary=SyncSummary())
    import_page(
        channel,
        Page(orders=[remote(gift_message="Happy birthday", is_gift=True)], cursor={}),
        summary=SyncSummary(),
    )
    order = Order.objects.get()
    assert order.is_gift and order.gift_message == "Happy birthday"
    assert list(order.events.values_list("kind", flat=True)) == ["updated", "imported"]


def test_the_cursor_moves_with_each_page(db):
    channel = ChannelFactory()
    import_page(channel, Page(orders=[remote()], cursor={"since": 5, "offset": 100}), summary=SyncSummary())
    channel.refresh_from_db()
    assert channel.cursor == {"since": 5, "offset": 100}


def test_shipped_and_cancelled_on_the_channel_are_pulled_back(db):
    channel = ChannelFactory()
    import_page(channel, Page(orders=[remote("a"), remote("b")], cursor={}), summary=SyncSummary())
    from channels.connectors.base import RemoteTracking

    summary = SyncSummary()
    import_page(
        channel,
        Page(
            orders=[
                remote(
                    "a",
                    is_shipped=True,
                    remote_status="Completed",
                    tracking=[RemoteTracking("RM1", "royal-mail")],
                ),
                remote("b", is_cancelled=True, remote_status="Canceled"),
            ],
            cursor={},
        ),
        summary=summary,
    )
    a, b = Order.objects.get(external_id="a"), Order.objects.get(external_id="b")
    assert a.status == "shipped" and a.fulfilments.get().tracking_number == "RM1"
    assert b.status == "cancelled"
    assert summary.shipped_on_channel == 1 and summary.cancelled_on_channel == 1
    assert "fulfilled on the channel" in a.events.first().message


# -- a whole sync against the sandbox over HTTP


def test_sync_imports_paid_unshipped_physical_orders_and_says_why_not_the_others(etsy_sandbox):
    channel, store = etsy_sandbox
    for kind in ["ok", "ok", "ok", "unpaid", "shipped", "digital", "no_address"]:
        add_receipt(store, make_receipt(store, kind=kind))

    summary = run_sync(channel)

    assert summary.imported == 3 and not summary.errors
    assert dict(summary.skipped) == {"unpaid": 1, "shipped": 1, "digital_only": 1, "no_address": 1}
    assert set(SkippedOrder.objects.values_list("reason", flat=True)) == {
        "unpaid",
        "shipped",
        "digital_only",
        "no_address",
    }
    channel.refresh_from_db()
    assert channel.last_sync_state == "ok" and channel.sync_started_at is None


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "retry_after": 0, "times": 20},
        {"status": 500, "times": 20},
        {"truncate": True, "times": 20},  # one cut-off page is read again; a persistent one fails the sync
        {"malformed": True, "times": 20},
    ],
)
def test_a_failing_page_records_an_error_keeps_the_cursor_and_the_next_sync_completes(etsy_sandbox, fault):
    channel, store = etsy_sandbox
    generate(store, 150, mix=False, seed=2)
    store.faults = [{"path": "/receipts", "delay": 0}, {"path": "/receipts", **fault}]  # page two fails
    store.save()

    first = run_sync(channel)

    channel.refresh_from_db()
    assert first.errors and channel.last_sync_state == "error" and channel.last_error
    assert Order.objects.count() == 100
    assert channel.cursor.get("offset") == 100  # resumes after the stored page, not from scratch

    store.refresh_from_db()
    store.faults = []  # the outage is over
    store.save()
    second = run_sync(channel)

    channel.refresh_from_db()
    assert not second.errors and channel.last_sync_state == "ok"
    assert Order.objects.count() == 150
    assert "offset" not in channel.cursor


def test_a_channel_never_syncs_twice_at_once(etsy_sandbox):
    channel, store = etsy_sandbox
    generate(store, 2, mix=False)
    assert Channel.objects.get(pk=channel.pk).claim_sync()
    summary = run_sync(channel)
    assert summary.errors and "already syncing" in summary.errors[0]
    assert not Order.objects.exists()


def test_sync_channel_command_prints_a_summary(etsy_sandbox, capsys):
    channel, store = etsy_sandbox
    for kind in ["ok", "ok", "unpaid"]:
        add_receipt(store, make_receipt(store, kind=kind))
    call_command("sync_channel", "Etsy-Main")
    out = capsys.readouterr().out
    assert "Etsy-Main: 2 imported" in out and "1 unpaid" in out


def released(plain: dict) -> dict:
    """`asdict` of an order as the release that stored the digests had it: lines without the
    customs fields added since (catalogue facts, kept out of the digest)."""
    for line in plain["lines"]:
        line.pop("hs_code")
        line.pop("origin_country")
    return plain


def test_the_payload_digest_is_what_asdict_would_give():
    """Stored digests were made with dataclasses.asdict: the faster walk must give the same ones,
    or every order would look changed on the next sync."""
    import hashlib
    import json
    from dataclasses import asdict
    from datetime import UTC, datetime
    from decimal import Decimal

    from channels.connectors.base import RemoteAddress, RemoteLine, RemoteOrder, RemoteTracking
    from orders.importing import payload_hash

    when = datetime(2026, 12, 5, 3, 30, tzinfo=UTC)
    samples = [
        RemoteOrder(
            external_id="1",
            order_number="#1",
            remote_status="paid",
            is_paid=True,
            is_shipped=False,
            is_cancelled=False,
            created_at=when,
            updated_at=when,
            currency="GBP",
            total=Decimal("12.50"),
            lines=[
                RemoteLine("a", "MUG", "Mug", 2, Decimal("5.25"), options={"Colour": "Blue"}, weight_g=None)
            ],
            address=RemoteAddress(name="Ann", line1="1 High St", city="Leeds", country="GB"),
            coupon_codes=["X", "Y"],
            tracking=[RemoteTracking("T1", "Royal Mail")],
            total_weight_g=300,
        ),
        RemoteOrder(
            external_id="2",
            order_number="2",
            remote_status="x",
            is_paid=False,
            is_shipped=True,
            is_cancelled=True,
            created_at=when,
            updated_at=when,
            currency="",
            total=Decimal("0"),
            lines=[],
            address=None,
        ),
    ]
    for remote in samples:
        expected = hashlib.sha256(
            json.dumps(released(asdict(remote)), sort_keys=True, default=str).encode()
        ).hexdigest()
        assert payload_hash(remote) == expected


def test_an_order_imported_before_keeps_its_payload_hash(db):
    """The digest an earlier release stored (sha256 of the order as `asdict` JSON) is the one a
    replay computes now: orders imported before are not seen as changed by the next sync."""
    import hashlib
    import json
    from dataclasses import asdict

    from channels.connectors.base import RemoteTracking

    channel = ChannelFactory()
    order = remote(
        "77",
        coupon_codes=["SPRING", "VIP"],
        total_weight_g=1250,
        discount_total=Decimal("2.50"),
        is_gift=True,
        gift_message="Happy birthday — from Ann",
        lines=[
            RemoteLine(
                external_id="77-1",
                sku="MUG",
                title="Mug “Leeds”",
                quantity=2,
                unit_price=Decimal("9.99"),
                options={"colour": "blue", "size": "L"},
                weight_g=400,
            ),
            RemoteLine(external_id="77-2", sku="CARD", title="Card", quantity=1, weight_g=None),
        ],
        tracking=[RemoteTracking("RM1GB", "Royal Mail")],
    )
    earlier = hashlib.sha256(
        json.dumps(released(asdict(order)), sort_keys=True, default=str).encode()
    ).hexdigest()

    import_page(channel, Page(orders=[order], cursor={}), summary=SyncSummary(), now=NOW)

    assert Order.objects.get(channel=channel, external_id="77").payload_hash == earlier


def test_customs_data_on_lines_fills_the_catalogue_in_two_queries_and_costs_nothing_without(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.models import Product
    from tests.factories import ProductFactory

    channel = ChannelFactory()
    ProductFactory(sku="MUG", hs_code="", origin_country="PT", customs_description="Mug")

    def catalogue_queries(page):
        with CaptureQueriesContext(connection) as queries:
            import_page(channel, page, summary=SyncSummary(), now=NOW)
        return [q["sql"] for q in queries if '"orders_product"' in q["sql"]]

    assert catalogue_queries(Page(orders=[remote("1")], cursor={})) == []  # no customs data: no query
    lines = [
        RemoteLine("2-1", "MUG", "Mug", 1, hs_code="6912.00", origin_country="gb"),
        RemoteLine("2-2", "TEE", "Tee", 1, hs_code="610910", origin_country="pt"),
        RemoteLine("2-3", "ODD", "Odd", 1, hs_code="12", origin_country="Britain"),  # neither is valid
    ]
    assert len(catalogue_queries(Page(orders=[remote("2", lines=lines)], cursor={}))) <= 2

    catalogue = {p.sku: (p.hs_code, p.origin_country) for p in Product.objects.all()}
    assert catalogue == {"MUG": ("691200", "PT"), "TEE": ("610910", "PT")}
