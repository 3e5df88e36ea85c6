"""Tracking on the Sendcloud stand-in: a parcel's status history by tracking number."""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import HttpResponse, JsonResponse

from sandbox.faults import mangle
from sandbox.models import SandboxOrder
from sandbox.sendcloud.parcels import MESSAGES, SLUGS
from sandbox.sendcloud.plumbing import _guard


def tracking(request, tracking_number):
    store, early, fault = _guard(request)
    if early:
        return early
    parcel = SandboxOrder.objects.filter(store=store, data__tracking_number=tracking_number).first()
    if parcel is None:
        # The real API answers an unknown number with S3's XML, not JSON.
        return HttpResponse(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The '
            f"specified key does not exist.</Message><Key>{tracking_number}</Key></Error>",
            status=404,
            content_type="application/xml",
        )
    d = parcel.data
    history = [
        {
            "carrier_update_timestamp": datetime.fromtimestamp(h["ts"], tz=UTC).strftime(
                "%Y-%m-%d %H:%M:%S+00:00"
            ),
            "parcel_status_history_id": str(i + 1),
            "parent_status": SLUGS.get(h["id"], "unknown"),
            "carrier_code": d["carrier"]["code"],
            "carrier_message": h.get("message") or MESSAGES.get(h["id"], ""),
        }
        for i, h in enumerate(d.get("_history") or [])
    ]
    created = datetime.fromtimestamp(parcel.created_ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")
    return mangle(
        JsonResponse(
            {
                "parcel_id": str(d["id"]),
                "carrier_code": d["carrier"]["code"],
                "created_at": created,
                "carrier_tracking_url": d.get("tracking_url"),
                "sendcloud_tracking_url": d.get("tracking_url"),
                "is_return": d.get("is_return", False),
                "is_to_service_point": False,
                "is_mail_box": False,
                "expected_delivery_date": None,
                "statuses": history,
            }
        ),
        fault,
    )
