"""What the account offers on the Sendcloud stand-in: shipping methods, sender addresses and
brands, with their endpoints."""

from __future__ import annotations

from django.http import JsonResponse

from sandbox.faults import mangle
from sandbox.sendcloud.plumbing import _error, _guard

EUROPE = ["NL", "BE", "DE", "FR", "GB", "IE", "ES", "IT", "AT", "DK", "SE", "PL", "LU", "PT"]
WORLD = EUROPE + ["US", "CA", "AU", "JP", "CH", "NO", "IN"]
# id, name, carrier, min kg, max kg, countries, price, return?
METHODS = [
    (8, "Unstamped letter", "sendcloud", "0.001", "2.001", WORLD, 0.0, False),
    (1001, "PostNL Standard 0-23kg", "postnl", "0.001", "23.001", EUROPE, 6.95, False),
    (1002, "DPD Home 0-31.5kg", "dpd", "0.001", "31.501", EUROPE, 7.40, False),
    (1003, "Royal Mail Tracked 48", "royal_mail", "0.001", "20.001", ["GB"], 3.85, False),
    (1004, "UPS Standard 0-70kg", "ups", "0.001", "70.001", WORLD, 12.90, False),
    (2001, "PostNL Return 0-23kg", "postnl", "0.001", "23.001", EUROPE, 5.95, True),
    (2002, "PostNL Return label-free (QR) 0-23kg", "postnl", "0.001", "23.001", ["NL", "BE"], 6.10, True),
    (
        2003,
        "Royal Mail Tracked Returns 48 label-free (QR)",
        "royal_mail",
        "0.001",
        "20.001",
        ["GB"],
        3.45,
        True,
    ),
]
# Lead time per method (`countries[].lead_time_hours`), for the transit days rates show.
LEAD_HOURS = {8: 72, 1001: 48, 1002: 24, 1003: 48, 1004: 24}
DEFAULT_SENDERS = [
    {
        "id": 4411,
        "company_name": "Shop BV",
        "contact_name": "Ops",
        "email": "ops@shop.example",
        "telephone": "+31 20 000",
        "street": "Dock",
        "house_number": "3",
        "postal_box": "",
        "postal_code": "1011 AA",
        "city": "Amsterdam",
        "country": "NL",
        "country_state": None,
        "vat_number": None,
        "eori_number": None,
        "label": "Main",
        "brand_id": 7,
        "signature_full_name": "",
        "signature_initials": "",
    }
]
DEFAULT_BRANDS = [
    {
        "id": 7,
        "name": "Shop",
        "domain": "shop",
        "color": "#112857",
        "secondary_color": "#112855",
        "website": "https://shop.example",
        "hide_powered_by": False,
    }
]


def _method(method_id) -> tuple | None:
    return next((m for m in METHODS if str(m[0]) == str(method_id)), None)


def _senders(store) -> list[dict]:
    return (store.settings or {}).get("sender_addresses") or DEFAULT_SENDERS


def shipping_methods(request):
    store, early, fault = _guard(request)
    if early:
        return early
    q = request.GET
    sender = q.get("sender_address", "all")
    if sender not in ("all", "") and not any(str(a["id"]) == sender for a in _senders(store)):
        return _error(404, "Sender address not found.", request)
    to_country = (q.get("to_country") or "").upper()
    is_return = (q.get("is_return") or "").lower() == "true"
    methods = []
    for mid, name, carrier, lo, hi, countries, price, returning in METHODS:
        if returning != is_return or (to_country and to_country not in countries):
            continue
        methods.append(
            {
                "id": mid,
                "name": name,
                "carrier": carrier,
                "min_weight": lo,
                "max_weight": hi,
                "service_point_input": "none",
                "price": 0,
                "countries": [
                    {
                        "id": i + 1,
                        "name": c,
                        "iso_2": c,
                        "iso_3": "",
                        "price": price,
                        "lead_time_hours": LEAD_HOURS.get(mid, 24),
                    }
                    for i, c in enumerate(countries)
                    if not to_country or c == to_country
                ],
            }
        )
    return mangle(JsonResponse({"shipping_methods": methods}), fault)


def sender_addresses(request):
    store, early, fault = _guard(request)
    if early:
        return early
    return mangle(JsonResponse({"sender_addresses": _senders(store)}), fault)


def brands(request):
    store, early, fault = _guard(request)
    if early:
        return early
    items = (store.settings or {}).get("brands") or DEFAULT_BRANDS
    return mangle(JsonResponse({"next": None, "previous": None, "brands": items}), fault)
