"""Sendcloud stand-in (API v2 parcels, labels, tracking, sender addresses, brands; v3 returns),
after shared/carrier-facts.md §1. Stateful: parcels live as SandboxOrder rows of the store whose
key is the public API key; statuses move on through a sandbox-only endpoint, which also fires
the signed `parcel_status_changed` webhook at the URL in the store's settings.

Store settings: {"webhook_url": "…", "post_per_minute": 100, "burst_per_second": 15,
"get_per_minute": 1000} (0 turns a limit off), plus optional "sender_addresses" and "brands",
and "latency" (seconds every call of the account waits before answering).

    POST /sandbox/sendcloud/_sandbox/parcels/<id>/status  {"status": 22}   pickup (fires the webhook)
    POST /sandbox/sendcloud/_sandbox/settings             {"webhook_url": "http://…/webhooks/…"}

Label-free returns: a return booked with a shipping option in QR_RETURN_OPTIONS has a `qr` parcel
document (`GET /api/v2/parcels/<id>/documents/qr`, a PNG or PDF by `Accept`) that encodes its
tracking number, kept in the parcel as `_qr_payload` for tests; the other parcels answer 404.
"""

from django.urls import path

from sandbox.sendcloud import controls, directory, documents, parcels, returns, tracking

# What the demo command, bench and tests reach for on the stand-in (the rest import from the modules).
from sandbox.sendcloud.plumbing import KIND, store_for_account

__all__ = ["KIND", "store_for_account", "urlpatterns"]

v2 = "api/v2/"
urlpatterns = [
    path(v2 + "parcels", parcels.parcels),
    path(v2 + "parcels/statuses", parcels.statuses),
    path(v2 + "parcels/<int:parcel_id>", parcels.parcel_detail),
    path(v2 + "parcels/<int:parcel_id>/cancel", parcels.cancel),
    path(v2 + "parcels/<int:parcel_id>/documents/<str:doc_type>", documents.document),
    path(v2 + "labels/<int:parcel_id>", documents.label_urls),
    path(v2 + "labels/label_printer/<int:parcel_id>", documents.label_printer),
    path(v2 + "labels/normal_printer/<int:parcel_id>", documents.normal_printer),
    path(v2 + "shipping_methods", directory.shipping_methods),
    path(v2 + "tracking/<str:tracking_number>", tracking.tracking),
    path(v2 + "user/addresses/sender", directory.sender_addresses),
    path(v2 + "brands", directory.brands),
    path("api/v3/returns", returns.returns),
    path("api/v3/parcels/<int:parcel_id>/documents/label", returns.v3_label),
    path("_sandbox/parcels/<int:parcel_id>/status", controls.control_status),
    path("_sandbox/settings", controls.control_settings),
]
