"""v3 returns on the Sendcloud stand-in: a return becomes a v2 return parcel (with a QR code for
the label-free options), and its label."""

from __future__ import annotations

import json
from decimal import Decimal

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from orders.addresses import address_lines
from sandbox.faults import mangle, record
from sandbox.sendcloud.directory import _method
from sandbox.sendcloud.documents import label_printer
from sandbox.sendcloud.parcels import _new_parcel, _save
from sandbox.sendcloud.plumbing import _guard

# v3 return shipping option code -> the v2 method its parcel gets.
RETURN_OPTIONS = {
    "postnl:return": 2001,
    "dpd:return/return": 1002,
    "ups:standard/return": 1004,
    "postnl:return/qr": 2002,
    "royal_mail:tracked/return-qr": 2003,
}
# Options whose carrier takes the parcel on a QR code shown on a phone and prints the label at the
# counter (PostNL printerless returns, Royal Mail label-free returns); the others need a printed label.
QR_RETURN_OPTIONS = {"postnl:return/qr", "royal_mail:tracked/return-qr"}


def _v3_errors(errors: list[dict], status: int = 400) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=status)


@csrf_exempt
def returns(request):
    store, early, fault = _guard(request)
    if early:
        return early
    if request.method != "POST":
        return _v3_errors(
            [{"field": "", "message": "Method not allowed.", "code": "method_not_allowed"}], 405
        )
    record(store, request)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _v3_errors([{"field": "", "message": "Invalid JSON.", "code": "parse_error"}])
    errors = []
    for side in ("from_address", "to_address"):
        address = body.get(side) or {}
        for required in ("name", "address_line_1", "postal_code", "city", "country_code"):
            if not address.get(required):
                errors.append(
                    {"field": f"{side}.{required}", "message": "This field is required.", "code": "required"}
                )
    ship_with = body.get("ship_with") or {}
    option = ship_with.get("shipping_option_code") or (ship_with.get("properties") or {}).get(
        "shipping_option_code"
    )
    option = option if isinstance(option, str) else ""
    if ship_with.get("type") != "shipping_option_code" or option not in RETURN_OPTIONS:
        errors.append(
            {
                "field": "ship_with.shipping_option_code",
                "message": f"Unknown shipping option “{option}”.",
                "code": "invalid",
            }
        )
    weight = body.get("weight") or {}
    if not weight.get("value"):
        errors.append({"field": "weight.value", "message": "This field is required.", "code": "required"})
    from_country = (body.get("from_address") or {}).get("country_code", "").upper()
    if (
        from_country
        and from_country not in {"NL", "BE", "DE", "FR", "IE", "ES", "IT", "AT", "DK", "SE", "PL", "LU", "PT"}
        and not body.get("parcel_items")
    ):
        errors.append(
            {
                "field": "parcel_items",
                "message": "Parcel items are required for returns from outside the EU.",
                "code": "required",
            }
        )
    for i, item in enumerate(body.get("parcel_items") or []):
        for required in ("description", "quantity", "weight", "value"):
            if not item.get(required):
                errors.append(
                    {
                        "field": f"parcel_items[{i}].{required}",
                        "message": "This field is required.",
                        "code": "required",
                    }
                )
    if errors:
        return _v3_errors(errors)
    src, dst = body["from_address"], body["to_address"]
    method = _method(RETURN_OPTIONS[option])
    item = {
        "name": src["name"],
        "address": src["address_line_1"],
        "house_number": src.get("house_number", ""),
        "city": src["city"],
        "postal_code": src["postal_code"],
        "country": src["country_code"],
        "email": src.get("email", ""),
        "order_number": body.get("order_number", ""),
        "request_label": True,
        "is_return": True,
        "from_name": dst["name"],
        "from_address_1": dst["address_line_1"],
        "from_postal_code": dst["postal_code"],
        "from_city": dst["city"],
        "from_country": dst["country_code"],
    }
    parcel = _new_parcel(request, store, item, method, Decimal(str(weight["value"])))
    # The label goes to the merchant's address: show the customer as sender, the merchant as recipient.
    parcel.data.update(
        {
            "name": dst["name"],
            "address": dst["address_line_1"],
            "house_number": dst.get("house_number", ""),
            "city": dst["city"],
            "postal_code": dst["postal_code"],
            "country": {"iso_2": dst["country_code"], "iso_3": "", "name": dst["country_code"]},
            "to_state": dst.get("state_province_code") or None,
            "_sender": address_lines(
                name=src["name"],
                line1=f"{src['address_line_1']} {src.get('house_number', '')}".strip(),
                line2=src.get("address_line_2", ""),
                city=src["city"],
                state=src.get("state_province_code", ""),
                postal_code=src["postal_code"],
                country=src["country_code"],
            ),
            "_brand_id": body.get("brand_id"),
            "_return_id": parcel.data["id"] + 100_000,
        }
    )
    if option in QR_RETURN_OPTIONS:
        # What the drop-off point scans: the parcel's own tracking number, so the counter finds the
        # announced parcel and prints its label.
        parcel.data["_qr_payload"] = parcel.data["tracking_number"]
    _save(parcel)
    return mangle(
        JsonResponse(
            {"return_id": parcel.data["_return_id"], "parcel_id": parcel.data["id"], "multi_collo_ids": []},
            status=201,
        ),
        fault,
    )


def v3_label(request, parcel_id):
    return label_printer(request, parcel_id)
