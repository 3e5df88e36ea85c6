"""Order and shipment exports (CSV, XLSX): the list's filters and search, and no cell a
spreadsheet would run as a formula. Upload templates."""

import csv
import io
from datetime import UTC, datetime

import openpyxl
import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders import resources as order_resources
from orders.resources import neutralise
from shipping.models import Shipment
from shipping.resources import ShipmentExportResource
from tests.csv.helpers import export, export_link, export_orders, rows_of
from tests.factories import CarrierAccountFactory, ChannelFactory, OrderFactory, UserFactory
from tests.shipping.factories import ShipmentFactory

HOSTILE = [
    '=HYPERLINK("http://evil","x")',
    "+1+2",
    "-3+4",
    "@SUM(A1)",
    "\tcmd",
    "\rcmd",
    "\0cmd",
    " =1+1",
    "\n=1+1",
    "  \r\n@SUM(A1)",
    "\u00a0=1+1",
    "\uff1d1+1",
    "\uff0b1",
    "\uff0d1",
    "\uff20SUM(A1)",
    " \uff1d1+1",
]


def test_neutralise_prefixes_every_trigger_and_nothing_else():
    assert [neutralise(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert [neutralise(v) for v in ["Ada", "'=already", "a=b", "", "   ", " Ada", 12, -3, None]] == [
        "Ada",
        "'=already",
        "a=b",
        "",
        "   ",
        " Ada",
        12,
        -3,
        None,
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_order_export_neutralises_every_formula_trigger(staff_client, db, fmt):
    channel = ChannelFactory(name="Etsy-Main")
    hostile = (
        HOSTILE if connection.vendor != "postgresql" else [h for h in HOSTILE if "\0" not in h]
    )  # PG: no NUL
    for i, name in enumerate(hostile):
        OrderFactory(
            channel=channel,
            external_id=str(i),
            order_number=str(2000 + i),
            customer_name=name,
            ship_city="=cmd|' /C calc'!A0",
        )

    rows = rows_of(export_orders(staff_client, "?o=1", fmt), fmt)

    header, body = rows[0], rows[1:]

    # XLSX cannot hold NUL at all: the export replaces it (after the quote made the cell text);
    # and an XML reader may give a carriage return back as a line feed (openpyxl does without
    # lxml, keeps it with lxml): line ends are compared as line ends.
    def same_line_ends(text):
        return text.replace("\r\n", "\n").replace("\r", "\n") if fmt == "xlsx" else text

    names = [same_line_ends(r[header.index("customer_name")]) for r in body]
    expected = ["'" + same_line_ends(h.replace("\0", "\ufffd") if fmt == "xlsx" else h) for h in hostile]
    assert sorted(names) == sorted(expected)
    assert {r[header.index("ship_city")] for r in body} == {"'=cmd|' /C calc'!A0"}
    assert header[-3:] == ["carrier", "tracking_number", "ship_date"]  # ready to fill and upload as "record"
    if fmt == "xlsx":
        cells = [
            c
            for row in openpyxl.load_workbook(
                io.BytesIO(export_orders(staff_client, fmt=fmt))
            ).active.iter_rows()
            for c in row
        ]
        assert all(c.data_type != "f" for c in cells)  # no formula cell at all


def test_order_export_follows_the_lists_filters_and_search(staff_client, db):
    etsy, shop = ChannelFactory(name="Etsy-Main"), ChannelFactory(name="Shopify-UK")
    OrderFactory(channel=etsy, order_number="1001", customer_name="Ada Lovelace")
    # Fixed names and emails: the search must not find "Ada" in a random Faker "Adams".
    OrderFactory(
        channel=etsy, order_number="1002", status="shipped", customer_name="Bo Lee", email="bo@example.com"
    )
    OrderFactory(channel=shop, order_number="1003", customer_name="Cy Park", email="cy@example.com")

    def numbers(query):
        rows = rows_of(export_orders(staff_client, query), "csv")
        return sorted(r[0] for r in rows[1:])

    assert numbers("") == ["1001", "1002", "1003"]
    assert numbers("?status__exact=awaiting_shipment") == ["1001", "1003"]
    assert numbers(f"?channel__id__exact={etsy.pk}&status__exact=awaiting_shipment") == ["1001"]
    assert numbers("?q=Ada") == ["1001"]
    assert numbers("?q=%231003") == ["1003"]


def test_order_export_needs_the_view_permission(client, db):
    clerk = UserFactory(username="clerk", is_superuser=False)
    clerk.user_permissions.add(Permission.objects.get(codename="change_fulfilment"))
    client.force_login(clerk)

    assert client.get(reverse("admin:orders_order_export")).status_code == 403


SHIPMENTS = reverse("admin:shipping_shipment_changelist")


def _shipment(number, channel, account, tracking, *, status="booked", on=(2026, 11, 20), **kw):
    shipment = ShipmentFactory(
        order=OrderFactory(channel=channel, order_number=number),
        carrier_account=account,
        tracking_number=tracking,
        status=status,
        **kw,
    )
    Shipment.objects.filter(pk=shipment.pk).update(created_at=datetime(*on, 12, tzinfo=UTC))
    return shipment


def _export_shipments(client, query: str, fmt: str) -> tuple[list, list]:
    link = export_link(client, SHIPMENTS + query)
    rows = rows_of(export(client, link, fmt, resource=ShipmentExportResource), fmt)
    return rows[0], rows[1:]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_shipment_export_is_every_page_of_the_list_as_filtered_dated_and_searched(
    staff_client, db, fmt, monkeypatch
):
    etsy, shop = ChannelFactory(name="Etsy-Main"), ChannelFactory(name="Shopify-UK")
    royal_mail = CarrierAccountFactory(name="Royal Mail (own account)", is_default=False)
    dpd = CarrierAccountFactory(name="DPD (own account)", tracking_company="DPD", is_default=False)
    _shipment("1001", etsy, royal_mail, "RM1", service="=2+3")
    _shipment("1002", etsy, royal_mail, "RM2", on=(2026, 11, 21))
    _shipment("1003", etsy, royal_mail, "RM3", on=(2025, 6, 1))
    _shipment("1004", shop, dpd, "DPD4")
    _shipment("1005", etsy, royal_mail, "RM5", status="cancelled")
    monkeypatch.setattr(admin.site._registry[Shipment], "list_per_page", 2)

    # the list filtered by carrier and status, seen on its second page: the export has all three pages' rows
    query = f"?carrier_account__id__exact={royal_mail.pk}&status__exact=booked&p=2"
    header, rows = _export_shipments(staff_client, query, fmt)
    assert header[:4] == ["order_number", "channel", "tracking_number", "carrier"]
    assert sorted(r[2] for r in rows) == ["RM1", "RM2", "RM3"]
    listed = staff_client.get(SHIPMENTS + query).context["cl"].queryset
    assert sorted(r[2] for r in rows) == sorted(listed.values_list("tracking_number", flat=True))
    assert [r[header.index("service")] for r in rows if r[2] == "RM1"] == ["'=2+3"]  # neutralised
    assert {r[header.index("carrier_account")] for r in rows} == {"Royal Mail (own account)"}

    # the date hierarchy, a channel, and the search box (order number as staff type it, or tracking)
    assert sorted(
        r[2]
        for r in _export_shipments(
            staff_client,
            f"?carrier_account__id__exact={royal_mail.pk}&created_at__year=2026&status__exact=booked",
            fmt,
        )[1]
    ) == ["RM1", "RM2"]
    assert [
        r[2] for r in _export_shipments(staff_client, f"?order__channel__id__exact={shop.pk}", fmt)[1]
    ] == ["DPD4"]
    assert [r[2] for r in _export_shipments(staff_client, "?q=%231002", fmt)[1]] == ["RM2"]
    assert [r[2] for r in _export_shipments(staff_client, "?q=RM5&status__exact=cancelled", fmt)[1]] == [
        "RM5"
    ]
    assert _export_shipments(staff_client, "?q=RM5&status__exact=booked", fmt)[1] == []
    if fmt == "xlsx":
        book = openpyxl.load_workbook(
            io.BytesIO(
                export(
                    staff_client, export_link(staff_client, SHIPMENTS), fmt, resource=ShipmentExportResource
                )
            )
        )
        assert all(c.data_type != "f" for row in book.active.iter_rows() for c in row)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_cost_the_same_queries_for_one_row_or_forty_read_in_chunks(
    staff_client, db, fmt, monkeypatch
):
    monkeypatch.setattr(order_resources, "EXPORT_CHUNK_ROWS", 7)  # several chunks
    channel, account = ChannelFactory(), CarrierAccountFactory(is_default=False)

    def queries(changelist: str, resource) -> tuple[int, int]:
        link = export_link(staff_client, changelist)
        with CaptureQueriesContext(connection) as captured:
            rows = rows_of(export(staff_client, link, fmt, resource=resource), fmt)
        return len(captured), len(rows) - 1

    _shipment("1", channel, account, "T1")
    one = (
        queries(SHIPMENTS, ShipmentExportResource),
        queries(reverse("admin:orders_order_changelist"), order_resources.OrderExportResource),
    )
    for n in range(2, 41):
        _shipment(str(n), channel, account, f"T{n}")
    forty = (
        queries(SHIPMENTS, ShipmentExportResource),
        queries(reverse("admin:orders_order_changelist"), order_resources.OrderExportResource),
    )

    assert [rows for _, rows in one] == [1, 1] and [rows for _, rows in forty] == [40, 40]
    assert [count for count, _ in forty] == [count for count, _ in one]


def test_shipment_export_needs_the_export_permission_orders_use(client, db):
    ShipmentFactory()
    clerk = UserFactory(username="clerk", is_superuser=False)
    clerk.user_permissions.add(
        Permission.objects.get(codename="change_shipment")
    )  # sees the list, no view perm
    client.force_login(clerk)
    url = reverse("admin:shipping_shipment_export") + "?status__exact=booked"

    assert export_link(client, SHIPMENTS) is None
    assert client.get(url).status_code == 403
    assert client.post(url, {"format": "0", "resource": "0"}).status_code == 403

    clerk.user_permissions.add(Permission.objects.get(codename="view_shipment"))
    assert export_link(client, SHIPMENTS + "?status__exact=booked") == url


def test_templates_have_the_columns_and_an_example_row(staff_client, db):
    ChannelFactory(name="Etsy-Main")

    record = staff_client.get(reverse("shipping_csv:template", args=["record", "csv"]))
    rows = list(csv.reader(io.StringIO(record.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "order_number",
        "channel",
        "carrier",
        "tracking_number",
        "ship_date",
        "service",
        "tracking_url",
    ]
    assert rows[1][:4] == ["1042", "Etsy-Main", "Royal Mail", "RM123456785GB"]

    book = staff_client.get(reverse("shipping_csv:template", args=["book", "xlsx"]))
    sheet = openpyxl.load_workbook(io.BytesIO(book.content)).active
    assert [c.value for c in sheet[1]][:5] == [
        "order_number",
        "channel",
        "carrier_account",
        "service",
        "weight_g",
    ]
    assert sheet["A2"].value == "1042" and sheet["A2"].number_format == "@"

    upload_page = staff_client.get(reverse("shipping_csv:upload")).content.decode()
    assert reverse("shipping_csv:template", args=["record", "xlsx"]) in upload_page
    order_list = staff_client.get(
        reverse("admin:orders_order_changelist") + "?status__exact=shipped"
    ).content.decode()
    assert "Import shipments (CSV)" in order_list
    assert reverse("admin:orders_order_export") + "?status__exact=shipped" in order_list


def test_shipments_recorded_elsewhere_are_filtered_and_exported_by_tracking_company(
    staff_client, db, settings
):
    # Recorded from a spreadsheet: no carrier account, only the company that carries the parcel.
    settings.CSV_EXTRA_CARRIERS = ["Evri"]
    etsy = ChannelFactory(name="Etsy-Main")
    _shipment("2001", etsy, None, "EV1", tracking_company="Evri")
    _shipment("2002", etsy, None, "YD2", tracking_company="Yodel")
    _shipment(
        "2003",
        etsy,
        CarrierAccountFactory(is_default=False, tracking_company="Royal Mail"),
        "RM3",
        tracking_company="Royal Mail",
    )

    page = staff_client.get(SHIPMENTS)
    assert '?tracking_company=Evri"' in page.content.decode()  # offered without reading every shipment
    listed = staff_client.get(SHIPMENTS + "?tracking_company=Evri").context["cl"].queryset
    assert list(listed.values_list("tracking_number", flat=True)) == ["EV1"]
    header, rows = _export_shipments(staff_client, "?tracking_company=Evri", "csv")
    assert [r[2] for r in rows] == ["EV1"]
