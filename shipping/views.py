"""Public pages of the shipping desk: the tracking page customers get a link to, and the
endpoint carriers post their webhooks to. Thin: services do the work."""

from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from shipping import tracking
from shipping.carriers.base import BadSignature, CarrierError, NotSupported
from shipping.models import CarrierAccount, Shipment

STEPS = [("booked", "Label created"), ("in_transit", "On its way"), ("delivered", "Delivered")]


@never_cache
def track(request, token: str):
    shipment = get_object_or_404(Shipment.objects.select_related("brand", "order"), public_token=token)
    reached = {"booked": 0, "cancel_requested": 0, "exception": 1, "in_transit": 1, "delivered": 2}.get(
        shipment.status, -1
    )
    response = TemplateResponse(
        request,
        "shipping/track.html",
        {
            "shipment": shipment,
            "brand": shipment.brand,
            "events": shipment.tracking_events.all()[:100],
            "steps": [(label, i <= reached) for i, (_, label) in enumerate(STEPS)],
            "destination": ", ".join(x for x in (shipment.order.ship_city, shipment.order.ship_country) if x),
        },
    )
    # The link is the only key to this page: keep it out of referrers and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@csrf_exempt
def carrier_webhook(request, account_id: int):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    account = get_object_or_404(CarrierAccount, pk=account_id, is_active=True)
    try:
        count = tracking.handle_webhook(account, request.body, request.headers)
    except BadSignature as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except NotSupported as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    except CarrierError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"ok": True, "shipments": count})
