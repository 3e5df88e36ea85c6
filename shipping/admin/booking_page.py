"""The rates side of the booking page (issue 16): every eligible service of every active
account for the selected lines, the staff's pick, and a refusal shown next to the field it
concerns. UI only: the rates come from shipping.quoting, the booking from shipping.booking."""

from __future__ import annotations

from shipping import quoting, rating
from shipping.booking import BookingError
from shipping.models import CarrierAccount

FIELD_WORDS = {
    "address": "Shipping address",
    "dimensions": "Package dimensions",
    "customs": "Customs",
}


def parse_rate(value: str) -> tuple[int, str] | None:
    """The rates table's radio value "<account id>|<service>"."""
    account_id, sep, service = (value or "").partition("|")
    if not sep or not account_id.isdigit():
        return None
    return int(account_id), service


def chosen_rate(order, form) -> tuple[CarrierAccount | None, str, rating.Rate | None]:
    """(account, service, quote) for book_shipment: the rate staff picked, asked again of its
    carrier for the chosen lines (the price booked is the price of now), else the carrier and
    service fields as typed (None, "" let the rules choose)."""
    picked = parse_rate(form.cleaned_data.get("rate", ""))
    if picked is None:
        return form.cleaned_data["carrier_account"], form.cleaned_data["service"], None
    account = CarrierAccount.objects.filter(pk=picked[0], is_active=True).first()
    if account is None:
        raise BookingError("The carrier account of that rate is no longer active.", field="rate")
    lines = form.chosen_lines()
    if not lines:
        raise BookingError("Choose at least one line for the parcel.")
    from orders import services as order_services

    try:
        checked = order_services.check_lines(order, lines, open_only=True)
    except order_services.InvalidLines as exc:
        raise BookingError(str(exc)) from exc
    rate = quoting.requote(
        order, checked, account=account, service=picked[1], weight_g=form.cleaned_data["weight_g"]
    )
    return account, picked[1], rate  # None: customs data is missing, book_shipment names it


def show_next_to_field(form, exc: BookingError) -> bool:
    """Put a refusal next to the form field it concerns. False when it concerns no field
    (the page shows it as a message instead)."""
    field = getattr(exc, "field", "")
    if field == "weight":
        form.add_error("weight_g", str(exc))
        return True
    if field == "rate":
        form.add_error(None, f"Rate: {exc}")
        return True
    if field == "customs" and exc.missing:
        by_sku = {p.line.sku: take.name for p, take, _ in form.line_rows}
        placed = False
        for missing in exc.missing:
            name = by_sku.get(missing.sku)
            if name:
                form.add_error(name, f"Customs: {missing}")
                placed = True
        form.add_error(None, str(exc))
        return placed or True
    if field in FIELD_WORDS:
        form.add_error(None, f"{FIELD_WORDS[field]}: {exc}")
        return True
    return False


def rates_context(order, form, default_lines) -> dict:
    """What the page shows about rates: for the lines ticked (the default lines on first view)."""
    lines = default_lines
    if form.is_bound and form.is_valid() and form.line_rows:
        lines = [(ln, qty) for ln, qty in form.chosen_lines() if qty]
    weight = form.cleaned_data.get("weight_g") if form.is_bound and form.is_valid() else None
    if not lines:
        return {"quote": None}
    result = quoting.quote(order, lines, weight_g=weight)
    chosen = form.data.get("rate", "") if form.is_bound else ""
    rows = []
    if result.shop is not None:
        names = {a.account.pk: a.account.name for a in result.shop.answers}
        for r in result.shop.rates:
            rows.append(
                {
                    "rate": r,
                    "account": names.get(r.account_id, ""),
                    "value": f"{r.account_id}|{r.service}",
                    "available": rating.is_available(r),
                    "checked": chosen == f"{r.account_id}|{r.service}",
                }
            )
    return {"quote": result, "rate_rows": rows}
