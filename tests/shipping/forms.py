"""What the booking form posts when staff leave its preselection alone (every line Shipdesk
ships itself ticked, with its open quantity), plus any field given."""

from orders.services import line_positions


def book_post(order, *, lines=None, **fields) -> dict:
    """`lines`: {OrderLine: quantity} to tick instead of the preselection (0 or missing: unticked)."""
    data = {"service": "", "weight_g": "", "carrier_account": "", "note": "", "tracking_company": ""}
    for p in line_positions(order):
        if not p.open:
            continue
        if lines is None:
            if p.to_ship:
                data[f"take_{p.line.pk}"] = "on"
            data[f"qty_{p.line.pk}"] = str(p.to_ship or p.open)
        else:
            quantity = next((q for ln, q in lines.items() if ln.pk == p.line.pk), 0)
            if quantity:
                data[f"take_{p.line.pk}"] = "on"
            data[f"qty_{p.line.pk}"] = str(quantity or p.open)
    data.update({k: "" if v is None else v for k, v in fields.items()})
    return data
