"""Labels not yet printed: the mark set when staff download a label (alone, a bulk job's merged
PDF, or a printed selection), and the desk queue it clears. A held order is not bulk-booked."""

import io

from django.urls import reverse
from pypdf import PdfReader

from orders import holding
from shipping.models import BulkJob, Shipment
from tests.shipping.test_bulk import make_orders, run_action


def labels_queue(client) -> int:
    return next(q for q in client.get(reverse("admin:queues")).json()["queues"] if q["key"] == "labels")[
        "count"
    ]


def test_a_bulk_jobs_merged_pdf_marks_its_labels_printed(
    staff_client, selfprint, django_capture_on_commit_callbacks
):
    orders = make_orders(3)
    run_action(staff_client, django_capture_on_commit_callbacks, "book_shipments", orders)
    job = BulkJob.objects.get()
    assert labels_queue(staff_client) == 3

    response = staff_client.get(reverse("admin:shipping_bulkjob_file", args=[job.pk, "labels"]))
    b"".join(response.streaming_content)
    slips = staff_client.get(reverse("admin:shipping_bulkjob_file", args=[job.pk, "slips"]))
    b"".join(slips.streaming_content)

    assert labels_queue(staff_client) == 0
    assert not Shipment.objects.filter(label_printed_at__isnull=True).exists()


def test_packing_slips_alone_do_not_mark_labels_printed(
    staff_client, selfprint, django_capture_on_commit_callbacks
):
    run_action(staff_client, django_capture_on_commit_callbacks, "book_shipments", make_orders(2))
    job = BulkJob.objects.get()

    b"".join(
        staff_client.get(reverse("admin:shipping_bulkjob_file", args=[job.pk, "slips"])).streaming_content
    )

    assert labels_queue(staff_client) == 2


def test_the_print_labels_action_gives_one_pdf_of_the_selection_and_marks_it(
    staff_client, selfprint, django_capture_on_commit_callbacks
):
    run_action(staff_client, django_capture_on_commit_callbacks, "book_shipments", make_orders(3))
    chosen = list(Shipment.objects.order_by("created_at", "pk")[:2])

    response = staff_client.post(
        reverse("admin:shipping_shipment_changelist") + "?printed=no",
        {"action": "print_labels", "_selected_action": [s.pk for s in chosen]},
    )
    pdf = PdfReader(io.BytesIO(b"".join(response.streaming_content)))

    assert response["Content-Type"] == "application/pdf"
    assert len(pdf.pages) == 2 and chosen[0].tracking_number in pdf.pages[0].extract_text()
    assert labels_queue(staff_client) == 1
    left = staff_client.get(reverse("admin:shipping_shipment_changelist") + "?printed=no").context["cl"]
    assert [s.pk for s in left.result_list] == [
        Shipment.objects.exclude(pk__in=[s.pk for s in chosen]).get().pk
    ]


def test_an_order_held_by_staff_is_not_bulk_booked(
    staff_client, selfprint, django_capture_on_commit_callbacks
):
    ready, held = make_orders(2)
    holding.hold_order(held, reason="Address check")

    run_action(staff_client, django_capture_on_commit_callbacks, "book_shipments", [ready, held])

    job = BulkJob.objects.get()
    assert (job.done, job.failed) == (1, 1)
    assert not Shipment.objects.filter(order=held).exists()
    page = staff_client.get(reverse("admin:shipping_bulkjob_progress", args=[job.pk])).content.decode()
    assert f"{held} is on hold" in page
