"""ZPL labels: a bulk booking keeps its merged file PDF, leaves ZPL labels out of it (and says
so), and offers them as one .zpl file; one ZPL label downloads as .zpl."""

from django.urls import reverse

from shipping.bulk import start_bulk_booking
from shipping.models import BulkJob, Shipment
from tests.shipping.karrio_setup import an_order


def test_a_bulk_booking_with_a_zpl_account_offers_one_zpl_file_and_keeps_the_pdf_for_the_others(
    ups, staff_client, settings
):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    ups.account.label_format = "zpl"
    ups.account.save()
    orders = [an_order(to="GB") for _ in range(3)]

    job = start_bulk_booking(order_ids=[o.pk for o in orders], actor=None)

    job = BulkJob.objects.get(pk=job.pk)
    assert job.status == BulkJob.Status.DONE, job.message
    assert "3 ZPL label(s) for thermal printers are not in the PDF" in job.message
    assert not job.output_file  # nothing to merge: every label is ZPL
    page = staff_client.get(reverse("admin:shipping_bulkjob_progress", args=[job.pk]))
    assert "ZPL labels (thermal printer, one .zpl file)" in page.content.decode()
    response = staff_client.get(reverse("admin:shipping_bulkjob_file", args=[job.pk, "zpl"]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zpl"
    assert response["Content-Disposition"].endswith('.zpl"')
    body = response.content
    assert body.count(b"^XA") == 3
    for shipment in Shipment.objects.all():
        assert shipment.tracking_number.encode() in body


def test_one_zpl_label_downloads_as_a_zpl_file(ups, staff_client):
    from shipping.booking import book_shipment

    ups.account.label_format = "zpl"
    ups.account.save()
    shipment = book_shipment(order=an_order(to="GB"))

    response = staff_client.get(reverse("admin:shipping_shipment_label", args=[shipment.pk]))

    assert response["Content-Type"] == "application/zpl"
    assert f"label-{shipment.tracking_number}.zpl" in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"^XA")


def test_the_shipments_action_downloads_the_selected_zpl_labels_as_one_file(ups, staff_client):
    from shipping.booking import book_shipment

    pdf = book_shipment(order=an_order(to="GB"))
    ups.account.label_format = "zpl"
    ups.account.save()
    zpl = [book_shipment(order=an_order(to="GB")) for _ in range(2)]

    response = staff_client.post(
        reverse("admin:shipping_shipment_changelist"),
        {"action": "download_zpl", "_selected_action": [pdf.pk, *(s.pk for s in zpl)]},
        follow=True,
    )

    assert response["Content-Type"] == "application/zpl"
    assert response.content.count(b"^XA") == 2
    assert all(s.tracking_number.encode() in response.content for s in zpl)
    assert pdf.tracking_number.encode() not in response.content
