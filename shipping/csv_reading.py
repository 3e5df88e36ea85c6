"""Reading an uploaded spreadsheet from media storage, row by row, whatever Excel saved.

CSV in UTF-8 (with or without the BOM Excel writes), Windows-1252 (Excel's "CSV" on Western
Windows) or UTF-16 with a BOM ("Unicode text"); comma, semicolon (French Excel), tab or pipe
between cells; quoted cells with line breaks inside. XLSX through openpyxl's streaming reader.
Nothing is loaded whole: a 100,000-row file is read a row at a time.

Every problem with the file itself is a `FileProblem` whose message staff can act on."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.storage import default_storage

BLOCK = 1 << 20
DELIMITERS = (",", ";", "\t", "|")
CELL_LIMIT = csv.field_size_limit()  # the csv module's own limit (131,072 characters); left as it is
HEADER_CELL_LIMIT = 200  # a column name longer than this is not a column name

SAVE_AS = "In Excel use File › Save as › “CSV UTF-8 (comma delimited)” or “Excel workbook (.xlsx)”."


class FileProblem(Exception):
    """The file cannot be read as a table: nothing in it was imported."""


@dataclass
class FileFacts:
    """What a first pass over the bytes found: the format, encoding, delimiter and checksum."""

    format: str  # "csv" | "xlsx"
    size: int
    sha256: str
    encoding: str = ""
    delimiter: str = ","
    notes: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        if self.format == "xlsx":
            return "Excel workbook"
        names = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}
        encodings = {
            "utf-8-sig": "UTF-8 with BOM",
            "utf-8": "UTF-8",
            "cp1252": "Windows-1252",
            "utf-16": "UTF-16",
        }
        return (
            f"CSV, {encodings.get(self.encoding, self.encoding)}, cells separated by {names[self.delimiter]}"
        )


def _line_of(storage_name: str, offset: int) -> int:
    with default_storage.open(storage_name, "rb") as f:
        return f.read(offset).count(b"\n") + 1


def inspect(storage_name: str, original_name: str) -> FileFacts:
    """One streaming pass over the stored bytes: checksum, format and encoding."""
    digest = hashlib.sha256()
    size = 0
    utf8 = codecs.getincrementaldecoder("utf-8")()
    utf8_error = None
    nul_at = None
    with default_storage.open(storage_name, "rb") as f:
        head = f.read(8)
        f.seek(0)
        while block := f.read(BLOCK):
            digest.update(block)
            if nul_at is None and b"\0" in block:
                nul_at = size + block.index(b"\0")
            if utf8_error is None:
                try:
                    utf8.decode(block)
                except UnicodeDecodeError as exc:
                    utf8_error = size + exc.start
            size += len(block)
    if utf8_error is None:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_error = size - 1
    facts = FileFacts(format="csv", size=size, sha256=digest.hexdigest())
    name = original_name.lower()
    if size == 0:
        raise FileProblem("The file is empty (0 bytes). " + SAVE_AS)
    if head.startswith(b"PK\x03\x04"):
        facts.format = "xlsx"
        return facts
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem("This is an old Excel 97–2003 workbook (.xls), which cannot be read. " + SAVE_AS)
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        raise FileProblem(
            f"“{original_name}” is named like an Excel workbook but is not one (an Excel file "
            "starts with a ZIP signature; this one does not: it may be a CSV or another file "
            "renamed). " + SAVE_AS
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        facts.encoding = "utf-16"
    elif nul_at is not None:
        raise FileProblem(
            f"This is not a text file: it contains binary data (a NUL byte on line "
            f"{_line_of(storage_name, nul_at)}). It may be a file of another kind renamed to "
            f".csv, or text saved as UTF-16 without its marker. " + SAVE_AS
        )
    elif utf8_error is None:
        facts.encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    else:
        facts.encoding = "cp1252"
        bad = _first_undecodable(storage_name, "cp1252")
        if bad is not None:
            offset, byte = bad
            raise FileProblem(
                f"The file is neither UTF-8 nor Windows-1252 text: byte 0x{byte:02X} on line "
                f"{_line_of(storage_name, offset)} means nothing in either. " + SAVE_AS
            )
        facts.notes.append("The file is not UTF-8; it was read as Windows-1252 (Excel's “CSV” on Windows).")
    facts.delimiter = _sniff_delimiter(storage_name, facts.encoding)
    return facts


def _first_undecodable(storage_name: str, encoding: str) -> tuple[int, int] | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with default_storage.open(storage_name, "rb") as f:
        while block := f.read(BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return offset + exc.start, block[exc.start]
            offset += len(block)
    return None


def _text(storage_name: str, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(default_storage.open(storage_name, "rb"), encoding=encoding, newline="")


def _sniff_delimiter(storage_name: str, encoding: str) -> str:
    """The header decides: the delimiter that splits it into the most cells. (csv.Sniffer
    guesses from letter frequencies and picks `e` on some headers.)"""
    with _text(storage_name, encoding) as f:
        first = f.readline(64 * 1024)
    if first.lstrip("\ufeff").lower().startswith("sep=") and len(first.strip()) >= 5:
        return first.strip()[4]  # Excel's "sep=;" hint line
    counts = {}
    for d in DELIMITERS:
        try:
            counts[d] = len(next(csv.reader([first], delimiter=d), []))
        except csv.Error:  # a header cell over the csv module's limit: count plainly
            counts[d] = first.count(d) + 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 1 else ","


@dataclass
class Table:
    """The header and, lazily, the rows: (row number as Excel shows it, cells)."""

    headers: list[str]
    rows: Iterator[tuple[int, list]]
    close: Callable[[], None]
    fraction: Callable[[], float | None]  # how much of the file was read, when known


def open_table(storage_name: str, facts: FileFacts) -> Table:
    if facts.format == "xlsx":
        return _open_xlsx(storage_name)
    return _open_csv(storage_name, facts)


def _check_header(cells: list) -> list[str]:
    limit = settings.CSV_MAX_COLUMNS
    if len(cells) > limit:
        raise FileProblem(
            f"The first row has {len(cells):,} columns; a file may have at most {limit}. "
            "Is the first row the header (order_number, channel, …)?"
        )
    longest = max((len(str(c)) for c in cells if c is not None), default=0)
    if longest > HEADER_CELL_LIMIT:
        raise FileProblem(
            f"The first row has a cell of {longest:,} characters; column names are short "
            "(order_number, channel, …). Is the first row the header?"
        )
    headers = ["" if c is None else str(c).strip().lstrip("\ufeff") for c in cells]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise FileProblem(
            "The first row is empty: it should name the columns (download a template to see them)."
        )
    return headers


def _open_csv(storage_name: str, facts: FileFacts) -> Table:
    f = _text(storage_name, facts.encoding)
    reader = csv.reader(f, delimiter=facts.delimiter)
    try:
        first = next(reader, None)
        if (
            first
            and first[0].lower().lstrip("\ufeff").startswith("sep=")
            and not any(c.strip() for c in first[1:])
        ):
            first = next(reader, None)
    except csv.Error as exc:
        f.close()
        raise FileProblem(f"The first row cannot be read as CSV: {exc}.") from exc
    if first is None:
        f.close()
        raise FileProblem("The file has no rows.")
    headers = _check_header(first)

    def rows():
        number = 1
        try:
            for cells in reader:
                number += 1
                yield number, cells
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise FileProblem(
                    f"Row {number + 1} has a cell longer than {CELL_LIMIT:,} characters, usually "
                    'a quote (") opened and never closed: every row after it became one cell.'
                ) from exc
            raise FileProblem(f"Row {number + 1} cannot be read as CSV: {exc}.") from exc
        except UnicodeDecodeError as exc:  # read as UTF-16 and the bytes disagree
            raise FileProblem(
                f"Row {number + 1}: the text cannot be read ({exc.reason}). " + SAVE_AS
            ) from exc

    size = facts.size

    def fraction():
        try:
            return min(1.0, f.buffer.tell() / size)
        except (OSError, ValueError):
            return None

    return Table(headers=headers, rows=rows(), close=f.close, fraction=fraction)


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB" if n < 10_000_000 else f"{n / 1_000_000:,.0f} MB"


def check_workbook_archive(f) -> None:
    """An .xlsx is a ZIP of XML files, and a ZIP can unpack to a thousand times its size (a
    300 KB file holding one 300 MB cell). Its directory says how big each member unpacks to,
    and Python's zipfile never inflates a member past that size, so checking the directory
    before openpyxl reads anything bounds what reading can cost."""
    import zipfile

    try:
        with zipfile.ZipFile(f) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileProblem(
            "The file is a ZIP archive but not a readable Excel workbook (.xlsx). " + SAVE_AS
        ) from exc
    finally:
        f.seek(0)
    if len(members) > settings.XLSX_MAX_ENTRIES:
        raise FileProblem(
            f"This workbook holds {len(members):,} files; an Excel workbook has a few dozen "
            f"(the limit is {settings.XLSX_MAX_ENTRIES:,}). " + SAVE_AS
        )
    unpacked = sum(m.file_size for m in members)
    limit = settings.XLSX_MAX_UNPACKED_MB * 1_000_000
    if unpacked > limit:
        raise FileProblem(
            f"This workbook unpacks to {_mb(unpacked)}; the limit is {_mb(limit)}. "
            "Split it into several files, or save it as CSV."
        )
    for member in members:
        if member.file_size > 1_000_000 and member.file_size > settings.XLSX_MAX_RATIO * max(
            member.compress_size, 1
        ):
            raise FileProblem(
                f"This workbook's part {member.filename[:60]} unpacks to {_mb(member.file_size)} from "
                f"{_mb(member.compress_size)} ({member.file_size // max(member.compress_size, 1):,} times smaller). "
                "A spreadsheet never compresses that well; the file was made to exhaust memory, and was not read."
            )


def _xml_problem(exc: Exception) -> FileProblem:
    name = exc.__class__.__name__
    if "Forbidden" in name:  # defusedxml: entity or DTD declarations (the "billion laughs")
        return FileProblem(
            "This workbook declares XML entities, which Excel never writes and which can make a small "
            "file expand without limit; it was not read. " + SAVE_AS
        )
    return FileProblem(
        "This workbook's XML is broken (the file is damaged or was not written by a spreadsheet "
        "program); it was not read. " + SAVE_AS
    )


def _open_xlsx(storage_name: str) -> Table:
    import zipfile
    from xml.etree.ElementTree import ParseError

    import openpyxl
    from defusedxml import DefusedXmlException

    f = default_storage.open(storage_name, "rb")
    try:
        check_workbook_archive(f)
        # data_only=False: a formula cell arrives as its formula ("=A1*2") and is refused, rather
        # than as a cached result the file may not even hold. openpyxl parses with defusedxml
        # when it is installed (a dependency): no entity is ever expanded.
        book = openpyxl.load_workbook(f, read_only=True, data_only=False)
        sheet = book.worksheets[0]
        it = sheet.iter_rows(values_only=True)
        first = next(it, None)
    except FileProblem:
        f.close()
        raise
    except (DefusedXmlException, ParseError, SyntaxError) as exc:
        f.close()
        raise _xml_problem(exc) from exc
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, IndexError) as exc:
        f.close()
        cause = exc.__cause__ or exc.__context__  # openpyxl wraps a parser's error in a ValueError
        if isinstance(cause, DefusedXmlException | ParseError | SyntaxError):
            raise _xml_problem(cause) from exc
        raise FileProblem(
            "The file is a ZIP archive but not a readable Excel workbook (.xlsx). " + SAVE_AS
        ) from exc
    if first is None:
        book.close()
        f.close()
        raise FileProblem("The workbook's first sheet is empty.")
    headers = _check_header(list(first))
    last = {"row": 1}
    expected = sheet.max_row  # from the sheet's <dimension>, when Excel wrote one

    def rows():
        try:
            for number, cells in enumerate(it, start=2):
                last["row"] = number
                yield number, list(cells)
        except (DefusedXmlException, ParseError, SyntaxError) as exc:
            raise _xml_problem(exc) from exc

    def close():
        book.close()
        f.close()

    def fraction():
        return min(1.0, last["row"] / expected) if expected else None

    return Table(headers=headers, rows=rows(), close=close, fraction=fraction)
