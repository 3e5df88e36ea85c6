"""A corpus of bad uploads: each one gets a message staff can act on, and nothing is written
(no shipment, no fulfilment, no order event), even when someone tries to confirm it."""

import io
import zipfile

import pytest
from django.urls import reverse

from shipping.models import BulkJob
from tests.csv.helpers import confirm, last_job, page_text, upload, written, xlsx
from tests.factories import CarrierAccountFactory, FulfilmentFactory, OrderFactory

HEAD = "order_number,channel,carrier,tracking_number,ship_date\n"
BOOK = "order_number,channel,carrier_account,service,weight_g,package,length_cm,width_cm,height_cm\n"


def _zip_without_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


# (id, file name, content, mode, what the page must say)
CORPUS = [
    ("zero-bytes", "empty.csv", b"", "record", "The file is empty (0 bytes)"),
    ("header-only", "head.csv", HEAD, "record", "The file has a header but no rows"),
    (
        "binary-renamed",
        "photo.csv",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20,
        "record",
        "This is not a text file: it contains binary data",
    ),
    (
        "utf16-without-bom",
        "u16.csv",
        (HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n").encode("utf-16-le"),
        "record",
        "not a text file",
    ),
    (
        "wrong-encoding",
        "gbk.csv",
        HEAD.encode() + b"1001,Etsy-Main,Royal Mail,RM\x81\x8d\x90,\n",
        "record",
        "neither UTF-8 nor Windows-1252 text: byte 0x81 on line 2",
    ),
    (
        "old-xls",
        "old.xls",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
        "record",
        "old Excel 97–2003 workbook (.xls)",
    ),
    (
        "xlsx-that-is-csv",
        "shipments.xlsx",
        HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n",
        "record",
        "is named like an Excel workbook but is not one",
    ),
    (
        "xlsx-that-is-a-zip",
        "shipments.xlsx",
        _zip_without_workbook(),
        "record",
        "not a readable Excel workbook",
    ),
    (
        "missing-column",
        "m.csv",
        "order_number,channel,carrier\n1001,Etsy-Main,Royal Mail\n",
        "record",
        "The file has no column “tracking_number” (columns found: order_number, channel, carrier)",
    ),
    (
        "header-10000-columns",
        "wide.csv",
        ",".join(f"c{i}" for i in range(10_000)) + "\n1,2\n",
        "record",
        "The first row has 10,000 columns; a file may have at most",
    ),
    (
        "row-10000-columns",
        "wide-row.csv",
        HEAD + "1001,Etsy-Main,Royal Mail,RM1," + ",x" * 9_995 + "\n",
        "record",
        "row 2, cells: this row has 10,000 cells but the header has 5 columns",
    ),
    (
        "unknown-order",
        "u.csv",
        HEAD + "1042,Etsy-Main,Royal Mail,RM1,\n",
        "record",
        "row 2, order_number: no order #1042 on channel Etsy-Main",
    ),
    (
        "unknown-order-any-channel",
        "u.csv",
        HEAD + "1042,,Royal Mail,RM1,\n",
        "record",
        "row 2, order_number: no order #1042 on any channel",
    ),
    (
        "unknown-channel",
        "c.csv",
        HEAD + "1001,Etsy-Mian,Royal Mail,RM1,\n",
        "record",
        "row 2, channel: no channel named “Etsy-Mian”; did you mean Etsy-Main?",
    ),
    (
        "unknown-carrier",
        "k.csv",
        HEAD + "1001,Etsy-Main,Roal Mail,RM1,\n",
        "record",
        "row 2, carrier: “Roal Mail” is not a carrier Shipdesk knows; did you mean Royal Mail?",
    ),
    (
        "empty-tracking",
        "t.csv",
        HEAD + "1001,Etsy-Main,Royal Mail,,\n",
        "record",
        "row 2, tracking_number: empty; this column is required",
    ),
    (
        "bad-date",
        "d.csv",
        HEAD + "1001,Etsy-Main,Royal Mail,RM1,31/02/2026\n",
        "record",
        "row 2, ship_date: “31/02/2026” is not a date; write it as 2026-11-20 or 20/11/2026",
    ),
    (
        "future-date",
        "d.csv",
        HEAD + "1001,Etsy-Main,Royal Mail,RM1,2999-01-01\n",
        "record",
        "row 2, ship_date: 2999-01-01 is in the future",
    ),
    (
        "formula-cell",
        "f.csv",
        HEAD + '1001,Etsy-Main,Royal Mail,"=HYPERLINK(""http://x"",""y"")",\n',
        "record",
        'row 2, tracking_number: “=HYPERLINK("http://x…” starts with “=”, which a spreadsheet runs as a formula',
    ),
    (
        "formula-at",
        "f.csv",
        HEAD + "1001,Etsy-Main,@SUM(A1),RM1,\n",
        "record",
        "row 2, carrier: “@SUM(A1)” starts with “@”",
    ),
    (
        "scientific-tracking",
        "s.csv",
        HEAD + "1001,Etsy-Main,USPS,9.40011E+21,\n",
        "record",
        "is a number Excel shortened (scientific notation)",
    ),
    (
        "duplicate-rows",
        "dup.csv",
        HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n1001,Etsy-Main,Royal Mail,RM1,\n",
        "record",
        "row 3, order_number: order #1001 is already on row 2",
    ),
    (
        "same-order-twice",
        "dup.csv",
        HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n1001,Etsy-Main,Royal Mail,RM2,\n",
        "record",
        "row 3, order_number: order #1001 is already on row 2",
    ),
    (
        "same-tracking-two-orders",
        "dup.csv",
        HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n1002,Etsy-Main,Royal Mail,RM1,\n",
        "record",
        "row 3, tracking_number: RM1 is also on row 2 (order #1001)",
    ),
    (
        "unclosed-quote",
        "q.csv",
        HEAD + '1001,Etsy-Main,Royal Mail,"RM1,\n1002,Etsy-Main,Royal Mail,RM2,\n',
        "record",
        "has characters a tracking number never has",
    ),
    (
        "bad-url",
        "url.csv",
        "order_number,channel,carrier,tracking_number,tracking_url\n"
        "1001,Etsy-Main,Royal Mail,RM1,javascript:alert(1)\n",
        "record",
        "is not a web address",
    ),
    (
        "negative-weight",
        "w.csv",
        BOOK + "1001,Etsy-Main,,,-250,,,,\n",
        "book",
        "row 2, weight_g: -250 g: the weight must be more than 0 g",
    ),
    (
        "weight-not-a-number",
        "w.csv",
        BOOK + "1001,Etsy-Main,,,heavy,,,,\n",
        "book",
        "row 2, weight_g: “heavy” is not a number",
    ),
    (
        "unknown-carrier-account",
        "a.csv",
        BOOK + "1001,Etsy-Main,DHL Prime,,,,,,\n",
        "book",
        "row 2, carrier_account: no carrier account named “DHL Prime”",
    ),
    (
        "half-dimensions",
        "dims.csv",
        BOOK + "1001,Etsy-Main,,,500,,30,20,\n",
        "book",
        "give length_cm, width_cm and height_cm together",
    ),
    (
        "unknown-package",
        "p.csv",
        BOOK + "1001,Etsy-Main,,,500,Shoebox,,,\n",
        "book",
        "row 2, package: no package named “Shoebox”",
    ),
    (
        "book-same-order-twice",
        "b.csv",
        BOOK + "1001,Etsy-Main,,,,,,,\n1001,Etsy-Main,,,,,,,\n",
        "book",
        "row 3, order_number: order #1001 is already on row 2; one label per order per file",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "mode", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CORPUS]
)
def test_a_bad_file_gets_a_clear_message_and_writes_nothing(
    staff_client, shop, name, content, mode, expected
):
    CarrierAccountFactory(name="Royal Mail (own account)")
    before = written()

    page = upload(staff_client, content, name=name, mode=mode)

    assert page.status_code == 200
    assert expected in page_text(page)
    job = last_job()
    if job is not None:  # an empty file is refused by the form: no job
        assert job.params["phase"] in ("rejected", "preview")
        confirm(staff_client, job)  # refused: a file with errors imports nothing by default
    assert written() == before


def test_the_corpus_has_at_least_twenty_files():
    assert len(CORPUS) >= 20


def test_too_many_rows_is_refused_with_the_limit(staff_client, shop, settings):
    settings.CSV_MAX_ROWS = 3
    rows = "".join(f"{1001 + i},Etsy-Main,Royal Mail,RM{i},\n" for i in range(4))
    before = written()

    page = upload(staff_client, HEAD + rows)

    assert "The file has more than 3 rows; split it into files of 3 rows or fewer." in page_text(page)
    assert last_job().params["phase"] == "rejected"
    assert written() == before


def test_a_file_over_the_size_limit_is_refused_before_it_is_stored(staff_client, shop, settings):
    settings.CSV_MAX_UPLOAD_MB = 1
    big = HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n" + ("# padding\n" * 120_000)

    page = upload(staff_client, big)

    assert "MB; the limit is 1 MB. Split it into several files." in page_text(page)
    assert not BulkJob.objects.exists()
    assert written() == (0, 0, 0)


def test_xlsx_with_a_formula_cell_and_a_bad_date(staff_client, shop):
    content = xlsx(
        [
            ["order_number", "channel", "carrier", "tracking_number", "ship_date"],
            [1001, "Etsy-Main", "Royal Mail", '=A2&"X"', None],
            [1002, "Etsy-Main", "Royal Mail", "RM2", "2026-02-30"],
        ]
    )

    page = upload(staff_client, content, name="shipments.xlsx")

    text = page_text(page)
    assert 'row 2, tracking_number: “=A2&"X"” starts with “=”' in text
    assert "row 3, ship_date: “2026-02-30” is not a date" in text
    assert written() == (0, 0, 0)


def test_cancelled_order_and_tracking_recorded_on_another_order(staff_client, shop):
    channel, orders = shop
    cancelled = OrderFactory(channel=channel, order_number="1099", status="cancelled")
    FulfilmentFactory(order=orders[1], tracking_number="RM-TAKEN")
    before = written()

    page = upload(
        staff_client,
        HEAD + f"{cancelled.order_number},Etsy-Main,Royal Mail,RM9,\n1001,Etsy-Main,Royal Mail,RM-TAKEN,\n",
    )

    text = page_text(page)
    assert "row 2, order_number: order #1099 is cancelled; nothing is sent for it" in text
    assert "row 3, tracking_number: RM-TAKEN is already recorded on order #1002" in text
    assert written() == before


def test_a_staff_user_without_the_import_permission_gets_403(client, shop):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    boss = UserFactory(username="boss")
    client.force_login(boss)
    upload(client, HEAD + "1001,Etsy-Main,Royal Mail,RM1,\n")
    job = last_job()
    clerk = UserFactory(username="clerk", is_superuser=False)
    client.force_login(clerk)

    for url in [
        reverse("shipping_csv:upload"),
        reverse("shipping_csv:jobs"),
        reverse("shipping_csv:job", args=[job.pk]),
        reverse("shipping_csv:job_status", args=[job.pk]),
        reverse("shipping_csv:download", args=[job.pk, "source"]),
        reverse("shipping_csv:template", args=["record", "csv"]),
    ]:
        assert client.get(url).status_code == 403, url
    assert upload(client, HEAD + "1002,Etsy-Main,Royal Mail,RM2,\n", follow=False).status_code == 403
    assert client.post(reverse("shipping_csv:confirm", args=[job.pk])).status_code == 403
    assert BulkJob.objects.count() == 1
    assert written() == (0, 0, 0)

    clerk.user_permissions.add(Permission.objects.get(codename="import_shipments"))
    client.force_login(clerk)
    assert client.get(reverse("shipping_csv:upload")).status_code == 200
