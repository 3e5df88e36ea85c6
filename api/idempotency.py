"""`Idempotency-Key`: the first answer to a key is kept; a retry with the same key and body gets
it again (with `Idempotent-Replayed: true`), the same key with another body is refused with 422,
and a retry while the first is still running gets 409."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from api.models import IdempotencyRecord

HEADER = "Idempotency-Key"
# A first request that never recorded its answer (its process died) stops holding the key.
IN_PROGRESS_STALE = timedelta(minutes=5)


def request_hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _claim(key, idem: str, endpoint: str, digest: str) -> tuple[IdempotencyRecord, bool]:
    """(record, ours): ours is True when this request is the first with the key."""
    now = timezone.now()
    expired = now - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    for _attempt in (1, 2):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    api_key=key, key=idem, endpoint=endpoint, request_hash=digest
                )
            if record.pk % 100 == 0:  # now and then, forget answers nobody may replay any more
                IdempotencyRecord.objects.filter(created_at__lt=expired).delete()
            return record, True
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(api_key=key, key=idem).first()
            if record is None:
                continue  # deleted meanwhile: claim it again
            stale = record.status_code is None and record.created_at < now - IN_PROGRESS_STALE
            if record.created_at < expired or stale:
                IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
                continue
            return record, False
    raise RuntimeError("could not claim the idempotency key")


def run(request, endpoint: str, compute: Callable[[], Response]) -> Response:
    """Answer `request` with `compute()` once per Idempotency-Key (when the caller sends one)."""
    idem = request.headers.get(HEADER, "").strip()
    if not idem:
        return compute()
    if len(idem) > 255:
        return Response({HEADER: ["At most 255 characters."]}, status=status.HTTP_400_BAD_REQUEST)
    digest = request_hash(request.data)
    record, ours = _claim(request.auth, idem, endpoint, digest)
    if not ours:
        if record.request_hash != digest or record.endpoint != endpoint:
            return Response(
                {
                    "detail": f"This {HEADER} was used with a different request; use a new key for a new request."
                },
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        if record.status_code is None:
            return Response(
                {"detail": f"The first request with this {HEADER} is still running; retry in a moment."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(record.response, status=record.status_code, headers={"Idempotent-Replayed": "true"})
    try:
        response = compute()
    except BaseException:
        record.delete()  # nothing was answered: a retry runs again
        raise
    if response.status_code >= 500 or response.status_code == 429:
        record.delete()
    else:
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code, response=json.loads(json.dumps(response.data, default=str))
        )
    return response
