"""Labels staff have printed: the mark the desk's "labels not yet printed" queue reads, set when
a label is downloaded (alone, in a bulk job's merged PDF, or as a printed selection)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils import timezone

from shipping import labels
from shipping.models import Shipment


def not_printed(queryset: QuerySet | None = None) -> QuerySet:
    """Booked labels of our own (not recorded from elsewhere) nobody has downloaded yet."""
    qs = Shipment.objects.all() if queryset is None else queryset
    return qs.filter(
        status=Shipment.Status.BOOKED, carrier_account__isnull=False, label_printed_at__isnull=True
    ).exclude(Q(label="") | Q(label__isnull=True))


def mark_printed(shipment_ids: Iterable[int]) -> int:
    """Mark these labels printed (once: the first download is the one that counts)."""
    ids = [i for i in shipment_ids if i]
    if not ids:
        return 0
    return Shipment.objects.filter(pk__in=ids, label_printed_at__isnull=True).update(
        label_printed_at=timezone.now()
    )


def print_labels(shipments: Iterable[Shipment]) -> tuple[bytes, list[Shipment]]:
    """One PDF of these shipments' labels (in the order given) and the shipments it holds; they
    are marked printed. Shipments without a label file, and ZPL labels (for a thermal printer:
    the "Download ZPL labels" action), are left out."""
    with_label = [s for s in shipments if s.label and s.label_format != "zpl"]
    documents = []
    for s in with_label:
        with s.label.open("rb") as f:
            documents.append(f.read())
    pdf = labels.merge_pdfs(documents) if documents else b""
    mark_printed(s.pk for s in with_label)
    return pdf, with_label
