"""A spreadsheet (CSV) of orders for the manual channels: one row per line; the rows of one order
share its external id (or, without one, its order number) and the order's own columns are read
from its first row. Each order becomes the same dict the API takes, so the same checks apply."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

COLUMNS = [
    "external_id",
    "order_number",
    "channel",
    "paid",
    "ordered_at",
    "customer_name",
    "email",
    "phone",
    "ship_name",
    "ship_company",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_state",
    "ship_postal_code",
    "ship_country",
    "ship_phone",
    "currency",
    "total",
    "requested_service",
    "customer_note",
    "internal_note",
    "line_id",
    "sku",
    "title",
    "quantity",
    "unit_price",
    "weight_g",
]
REQUIRED = {"order_number", "currency", "title", "quantity"}
EXAMPLE = [
    "POS-1001,1001,,yes,,Ann Example,ann@example.test,,Ann Example,,1 High Street,,Leeds,,LS1 4AB,GB,,GBP,,,,"
    "Shop counter sale,1,MUG-1,Hand-thrown mug,2,10.00,400",
    "POS-1001,1001,,,,,,,,,,,,,,,,,,,,,2,TEE-M,Tee (M),1,12.00,200",
]


class SheetError(ValueError):
    pass


def template_csv() -> str:
    return ",".join(COLUMNS) + "\n" + "\n".join(EXAMPLE) + "\n"


def _blank_to_none(value: str):
    value = (value or "").strip()
    return value or None


def read_orders(raw: bytes, *, max_orders: int) -> list[tuple[list[int], dict]]:
    """[(row numbers, order dict as the API takes it)], in the file's order. Raises SheetError
    for a file that cannot be read at all (encoding, header)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetError("Save the file as CSV in UTF-8.") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = {(h or "").strip() for h in reader.fieldnames or []}
    missing = sorted(REQUIRED - header)
    if missing:
        raise SheetError("Missing columns: " + ", ".join(missing) + ". Download the template for the layout.")
    orders: dict[str, tuple[list[int], dict]] = {}
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
        key = row.get("external_id") or row.get("order_number")
        if not key:
            key = f"(row {number})"
        if key not in orders:
            if len(orders) >= max_orders:
                raise SheetError(f"At most {max_orders} orders per file; split it.")
            orders[key] = ([], _order(row))
        rows, order = orders[key]
        rows.append(number)
        order["lines"].append(_line(row))
    for _rows, order in orders.values():
        if order.get("total") is None:
            order["total"] = str(_sum(order["lines"]))
    return list(orders.values())


def _order(row: dict) -> dict:
    order = {
        "external_id": _blank_to_none(row.get("external_id", "")),
        "order_number": _blank_to_none(row.get("order_number", "")),
        "channel": _blank_to_none(row.get("channel", "")),
        "paid": (row.get("paid") or "yes").lower() not in ("no", "false", "0", "n"),
        "customer_name": row.get("customer_name", ""),
        "email": row.get("email", ""),
        "phone": row.get("phone", ""),
        "currency": row.get("currency", ""),
        "total": _blank_to_none(row.get("total", "")),
        "requested_service": row.get("requested_service", ""),
        "customer_note": row.get("customer_note", ""),
        "internal_note": row.get("internal_note", ""),
        "lines": [],
    }
    if row.get("ordered_at"):
        order["ordered_at"] = row["ordered_at"]
    if any(row.get(f"ship_{k}") for k in ("line1", "city", "country")):
        order["address"] = {
            k: row.get(f"ship_{k}", "")
            for k in ("name", "company", "line1", "line2", "city", "state", "postal_code", "country", "phone")
        }
    return order


def _line(row: dict) -> dict:
    line = {
        "sku": row.get("sku", ""),
        "title": row.get("title", ""),
        "quantity": row.get("quantity", ""),
        "unit_price": row.get("unit_price") or "0",
        "weight_g": _blank_to_none(row.get("weight_g", "")),
    }
    if row.get("line_id"):
        line["id"] = row["line_id"]
    return line


def _sum(lines: list[dict]) -> Decimal:
    total = Decimal("0")
    for line in lines:
        try:
            total += Decimal(str(line["unit_price"])) * int(line["quantity"])
        except (InvalidOperation, ValueError, TypeError):
            continue  # the line's own check names the bad cell
    return total
