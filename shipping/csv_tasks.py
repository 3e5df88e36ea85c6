"""django-q2 entry points for spreadsheet uploads: thin wrappers that look up ids and call services."""

from __future__ import annotations

from orders import pushing
from shipping import csv_import
from shipping.models import BulkJob


def validate_job(job_id: int) -> str:
    return csv_import.validate_job(BulkJob.objects.get(pk=job_id))


def run_job(job_id: int) -> str:
    return csv_import.run_job(BulkJob.objects.get(pk=job_id))


def push_fulfilments(fulfilment_ids: list[int]) -> dict:
    """Send a batch of fulfilments recorded in bulk to their channels (each is claimed, so one
    also picked up by the every-minute dispatcher is never sent twice)."""
    states: dict[str, int] = {}
    for pk in fulfilment_ids:
        state = pushing.push_fulfilment(pk)
        states[state] = states.get(state, 0) + 1
    return states
