"""Workbooks made to hurt: each is refused with a short message that says what is wrong, in the
web request (small files are checked inline) and in the task cluster alike, before openpyxl
inflates anything, and nothing is written."""

import io
import resource
import zipfile

import pytest
from django.urls import reverse

from shipping.models import BulkJob
from tests.csv.helpers import last_job, page_text, upload, written, xlsx

HEADER = ["order_number", "channel", "carrier", "tracking_number", "ship_date"]


def rebuilt(replace: dict[str, bytes | tuple[int, bytes]]) -> bytes:
    """A real workbook whose named parts are replaced: by bytes, or by (repeat, chunk) streamed in."""
    source = zipfile.ZipFile(io.BytesIO(xlsx([HEADER, [1001, "Etsy-Main", "Royal Mail", "RM1", None]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            body = replace.get(item.filename, source.read(item.filename))
            if isinstance(body, tuple):
                repeat, chunk = body
                with target.open(item.filename, "w", force_zip64=True) as w:
                    w.write(
                        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
                    )
                    for _ in range(repeat):
                        w.write(chunk)
                    w.write(b"</t></is></c></row></sheetData></worksheet>")
            else:
                target.writestr(item.filename, body)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
)


@pytest.fixture(params=["inline", "task"])
def path(request, settings):
    """Small files are checked in the web request; bigger ones by the task cluster (inline in tests)."""
    if request.param == "task":
        settings.CSV_INLINE_MAX_BYTES = 0
    return request.param


@pytest.fixture
def refused(staff_client, django_capture_on_commit_callbacks):
    def check(content: bytes, name: str = "bomb.xlsx") -> str:
        """Upload; assert the job was rejected with a short message and nothing written; the job page's text."""
        before = written()
        with django_capture_on_commit_callbacks(execute=True):
            assert upload(staff_client, content, name=name).status_code == 200
        job = last_job()
        assert job.params["phase"] == "rejected", job.message
        assert len(job.message) < 400 and len(str(job.params)) < 5_000  # short, whatever the file held
        assert written() == before
        page = staff_client.get(reverse("shipping_csv:job", args=[job.pk]))
        assert page.status_code == 200
        return page_text(page)

    return check


def test_a_workbook_that_unpacks_past_the_limit_is_refused_unread(refused, shop, settings, path):
    settings.XLSX_MAX_UNPACKED_MB = 5
    text = refused(rebuilt({SHEET: (8, b"A" * 1_000_000)}))
    assert "This workbook unpacks to 8.0 MB; the limit is 5.0 MB." in text


def test_a_part_compressed_like_a_bomb_is_refused_unread(refused, shop, path):
    text = refused(rebuilt({SHEET: (20, b"A" * 1_000_000)}))
    assert "unpacks to 20 MB from" in text and "made to exhaust memory" in text


def test_billion_laughs_and_broken_xml_get_their_own_words(refused, shop, path):
    assert "declares XML entities" in refused(rebuilt({SHEET: LAUGHS}))
    broken = rebuilt(
        {
            SHEET: b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>order_number</t>'
        }
    )
    assert "XML is broken" in refused(broken)


def test_a_header_cell_of_100000_characters_is_named_not_stored(refused, shop, path):
    content = "order_number,channel," + "x" * 100_000 + "\n1001,Etsy-Main,RM1\n"
    assert "The first row has a cell of 100,000 characters" in refused(content.encode(), name="wide.csv")


def test_the_real_size_bomb_costs_the_worker_no_memory(refused, shop, settings):
    """The 307 KB workbook with one 300 MB cell that took a worker to 2.8 GB: refused from the
    ZIP directory alone; the process's peak resident set grows by less than 50 MB."""
    settings.CSV_INLINE_MAX_BYTES = 0  # the task path
    bomb = rebuilt({SHEET: (300, b"A" * 1_000_000)})
    assert len(bomb) < 1_000_000
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    text = refused(bomb)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert "unpacks to 300 MB" in text
    assert grown_mb < 50
    assert BulkJob.objects.count() == 1
