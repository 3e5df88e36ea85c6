"""Order and shipment exports (CSV, XLSX): the list's filters and search, and no cell a
spreadsheet would run as a formula. Upload templates."""

import csv
import io

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse

from orders.resources import neutralise
from shipping.booking import record_external_shipment
from tests.csv.helpers import export_orders, rows_of
from tests.factories import ChannelFactory, OrderFactory, UserFactory

HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+2", "-3+4", "@SUM(A1)", "\tcmd", "\rcmd", "\0cmd"]


def test_neutralise_prefixes_every_trigger_and_nothing_else():
    assert [neutralise(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert [neutralise(v) for v in ["Ada", "'=already", "a=b", "", 12, -3, None]] == \
        ["Ada", "'=already", "a=b", "", 12, -3, None]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_order_export_neutralises_every_formula_trigger(staff_client, db, fmt):
    channel = ChannelFactory(name="Etsy-Main")
    hostile = HOSTILE if connection.vendor != "postgresql" else [h for h in HOSTILE if "\0" not in h]  # PG: no NUL
    for i, name in enumerate(hostile):
        OrderFactory(channel=channel, external_id=str(i), order_number=str(2000 + i), customer_name=name,
                     ship_city="=cmd|' /C calc'!A0")

    rows = rows_of(export_orders(staff_client, "?o=1", fmt), fmt)

    header, body = rows[0], rows[1:]
    names = [r[header.index("customer_name")] for r in body]
    # XLSX cannot hold NUL at all: the export replaces it (after the quote made the cell text);
    # and XML reads a carriage return back as a line feed.
    expected = ["'" + (h.replace("\0", "\ufffd").replace("\r", "\n") if fmt == "xlsx" else h) for h in hostile]
    assert sorted(names) == sorted(expected)
    assert {r[header.index("ship_city")] for r in body} == {"'=cmd|' /C calc'!A0"}
    assert header[-3:] == ["carrier", "tracking_number", "ship_date"]  # ready to fill and upload as "record"
    if fmt == "xlsx":
        cells = [c for row in openpyxl.load_workbook(io.BytesIO(export_orders(staff_client, fmt=fmt))).active.iter_rows()
                 for c in row]
        assert all(c.data_type != "f" for c in cells)  # no formula cell at all


def test_order_export_follows_the_lists_filters_and_search(staff_client, db):
    etsy, shop = ChannelFactory(name="Etsy-Main"), ChannelFactory(name="Shopify-UK")
    OrderFactory(channel=etsy, order_number="1001", customer_name="Ada Lovelace")
    OrderFactory(channel=etsy, order_number="1002", status="shipped")
    OrderFactory(channel=shop, order_number="1003")

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


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_shipment_export_filters_and_neutralises(staff_client, db, fmt):
    etsy, shop = ChannelFactory(name="Etsy-Main"), ChannelFactory(name="Shopify-UK")
    a = OrderFactory(channel=etsy, order_number="1001")
    b = OrderFactory(channel=shop, order_number="1002")
    record_external_shipment(order=a, tracking_number="RM1", carrier="Royal Mail", service="=2+3")
    record_external_shipment(order=b, tracking_number="DPD2", carrier="DPD")
    url = reverse("shipping_csv:export_shipments")

    def export(**params):
        response = staff_client.get(url, {"format": fmt, **params})
        assert response.status_code == 200
        assert response["Content-Disposition"].endswith(f'.{fmt}"')
        rows = rows_of(response.content, fmt)
        return rows[0], rows[1:]

    header, everything = export()
    assert header[:4] == ["order_number", "channel", "tracking_number", "carrier"]
    assert sorted(r[2] for r in everything) == ["DPD2", "RM1"]
    assert [r[header.index("service")] for r in everything if r[2] == "RM1"] == ["'=2+3"]
    assert [r[2] for r in export(channel="Shopify-UK")[1]] == ["DPD2"]
    assert [r[2] for r in export(carrier="royal mail")[1]] == ["RM1"]
    assert [r[2] for r in export(q="#1002")[1]] == ["DPD2"]
    assert [r[2] for r in export(status="booked", date_from="2000-01-01")[1]] != []
    assert export(date_to="2000-01-01")[1] == []


def test_templates_have_the_columns_and_an_example_row(staff_client, db):
    ChannelFactory(name="Etsy-Main")

    record = staff_client.get(reverse("shipping_csv:template", args=["record", "csv"]))
    rows = list(csv.reader(io.StringIO(record.content.decode("utf-8-sig"))))
    assert rows[0] == ["order_number", "channel", "carrier", "tracking_number", "ship_date", "service", "tracking_url"]
    assert rows[1][:4] == ["1042", "Etsy-Main", "Royal Mail", "RM123456785GB"]

    book = staff_client.get(reverse("shipping_csv:template", args=["book", "xlsx"]))
    sheet = openpyxl.load_workbook(io.BytesIO(book.content)).active
    assert [c.value for c in sheet[1]][:5] == ["order_number", "channel", "carrier_account", "service", "weight_g"]
    assert sheet["A2"].value == "1042" and sheet["A2"].number_format == "@"

    upload_page = staff_client.get(reverse("shipping_csv:upload")).content.decode()
    assert reverse("shipping_csv:template", args=["record", "xlsx"]) in upload_page
    order_list = staff_client.get(reverse("admin:orders_order_changelist") + "?status__exact=shipped").content.decode()
    assert "Import shipments (CSV)" in order_list
    assert reverse("admin:orders_order_export") + "?status__exact=shipped" in order_list
