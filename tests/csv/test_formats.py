"""What Excel and others save is read as staff meant it: encodings, delimiters, quoted line
breaks, XLSX cells (numbers, dates)."""

import codecs
from datetime import date, datetime

import pytest

from orders.models import Order
from shipping.models import Shipment
from tests.csv.helpers import confirm, last_job, page_text, upload, xlsx
from tests.factories import ChannelFactory
from tests.shipping.factories import ShippableOrderFactory


def _record(client, content, name="shipments.csv"):
    page = upload(client, content, name=name)
    job = last_job()
    assert job.params["phase"] == "preview", page_text(page)
    assert job.params["counts"].get("error", 0) == 0, [job.message]
    confirm(client, job)
    job.refresh_from_db()
    assert job.params["phase"] == "done", job.message
    return job


@pytest.fixture
def boutique(db):
    """A French shop whose name only survives a correct decoding."""
    channel = ChannelFactory(name="Boutique Été")
    return [ShippableOrderFactory(channel=channel, order_number=f"FR-{n}") for n in (1, 2)]


def test_french_excel_semicolons_bom_and_day_first_dates(staff_client, boutique):
    text = (
        "order_number;channel;carrier;tracking_number;ship_date;service\n"
        "FR-1;Boutique Été;Colissimo;6A12345678901;20/11/2025;Suivi à domicile\n"
        "FR-2;Boutique Été;La Poste;6A12345678902;21.11.2025;\n"
    )
    job = _record(staff_client, codecs.BOM_UTF8 + text.encode("utf-8"))

    assert "UTF-8 with BOM, cells separated by semicolons" in job.params["format"]
    first = Shipment.objects.get(tracking_number="6A12345678901")
    assert first.tracking_company == "Colissimo" and first.service == "Suivi à domicile"
    assert first.created_at.date() == date(2025, 11, 20)
    assert Shipment.objects.get(tracking_number="6A12345678902").created_at.date() == date(2025, 11, 21)


def test_french_excel_windows_1252_variant(staff_client, boutique):
    text = (
        "order_number;channel;carrier;tracking_number;ship_date;service\r\n"
        "FR-1;Boutique Été;Colissimo;6A12345678901;20/11/2025;Remise en main propre\r\n"
    )
    job = _record(staff_client, text.encode("cp1252"))

    assert "Windows-1252" in job.params["format"]
    assert "read as Windows-1252" in job.params["notes"][0]
    assert Order.objects.get(order_number="FR-1").status == "shipped"


def test_utf8_without_bom_commas_and_a_quoted_cell_with_line_breaks(staff_client, boutique):
    text = (
        "order_number,channel,carrier,tracking_number,service\n"
        'FR-1,Boutique Été,DPD,15501234567890,"Predict\nsigned for, 2 parcels"\n'
    )
    job = _record(staff_client, text.encode("utf-8"))

    assert job.params["format"] == "CSV, UTF-8, cells separated by commas"
    assert Shipment.objects.get().service == "Predict\nsigned for, 2 parcels"


def test_excel_sep_hint_line_tabs_and_utf16(staff_client, boutique):
    unicode_text = "order_number\tchannel\tcarrier\ttracking_number\nFR-1\tBoutique Été\tGLS\tGLS123\n"
    _record(staff_client, codecs.BOM_UTF16_LE + unicode_text.encode("utf-16-le"), name="unicode.txt")
    sep = "sep=|\norder_number|channel|carrier|tracking_number\nFR-2|Boutique Été|GLS|GLS456\n"
    _record(staff_client, sep.encode("utf-8"))

    assert set(Shipment.objects.values_list("tracking_number", flat=True)) == {"GLS123", "GLS456"}


def test_xlsx_with_numbers_and_date_cells(staff_client, db):
    channel = ChannelFactory(name="Etsy-Main")
    ShippableOrderFactory(channel=channel, order_number="1001")
    ShippableOrderFactory(channel=channel, order_number="1002")
    content = xlsx(
        [
            [
                "Order Number",
                "Channel",
                "Carrier",
                "Tracking Number",
                "Ship Date",
            ],  # headers as people type them
            [1001, "Etsy-Main", "usps", 9400111899223100001234, datetime(2025, 11, 20, 15, 30)],
            [1002.0, "etsy-main", "USPS", "9400111899223100005678", date(2025, 11, 21)],
        ]
    )
    page = upload(staff_client, content, name="shipments.xlsx")
    job = last_job()

    # 9400111899223100001234 as a number has lost its digits in Excel: refused, with the fix
    assert "format the column as Text" in page_text(page)
    assert job.params["counts"] == {"error": 1, "new": 1}
    confirm(staff_client, job, valid_rows_only="1")

    shipment = Shipment.objects.get()
    assert shipment.tracking_number == "9400111899223100005678" and shipment.tracking_company == "USPS"
    assert shipment.created_at.date() == date(2025, 11, 21)


def test_blank_lines_and_trailing_empty_cells_are_ignored(staff_client, boutique):
    text = "order_number;channel;carrier;tracking_number;;;\n;;;;;;\nFR-1;Boutique Été;DPD;DPD1;;;\n\n"
    job = _record(staff_client, text.encode("utf-8"))

    assert job.total == 1
    assert page_text(upload(staff_client, text.encode("utf-8"))).count("already recorded") == 1
