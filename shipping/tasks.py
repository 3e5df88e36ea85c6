"""django-q2 entry points: thin wrappers that look up ids and call services."""

from __future__ import annotations

from shipping import bulk, emails, tracking


def run_bulk_job(job_id: int) -> str:
    return bulk.run(job_id)


def book_chunk(job_id: int, order_ids: list[int]) -> dict:
    return bulk.book_chunk(job_id, order_ids)


def resume_bulk_jobs() -> int:
    """Every minute: nudge unfinished bulk bookings (work whose worker died is taken over) and
    tell staff once about a job that failed or stalled."""
    from shipping import csv_import

    nudged = bulk.resume_jobs() + csv_import.resume_stalled()
    bulk.alert_problem_jobs()
    return nudged


def poll_tracking() -> dict:
    return tracking.poll()


def send_customer_email(shipment_id: int, kind: str) -> str:
    return emails.send(shipment_id, kind)
