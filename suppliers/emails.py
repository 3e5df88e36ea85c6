"""The purchase order a supplier without an API receives: an email with a CSV attachment."""

from __future__ import annotations

import csv
import io

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from suppliers.models import SupplierOrder

PO_COLUMNS = [
    "reference",
    "store_order",
    "sku",
    "supplier_sku",
    "title",
    "quantity",
    "unit_cost",
    "currency",
    "ship_name",
    "ship_company",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_state",
    "ship_postal_code",
    "ship_country",
    "ship_phone",
    "ship_email",
]


def upload_url(supplier) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("suppliers:upload", args=[supplier.upload_token])


def purchase_order_csv(supplier_order: SupplierOrder) -> str:
    order = supplier_order.order
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PO_COLUMNS)
    for line in supplier_order.lines.all():
        writer.writerow(
            [
                supplier_order.reference,
                str(order),
                line.sku,
                line.supplier_sku,
                line.title,
                line.quantity,
                line.unit_cost,
                supplier_order.currency,
                order.ship_name,
                order.ship_company,
                order.ship_line1,
                order.ship_line2,
                order.ship_city,
                order.ship_state,
                order.ship_postal_code,
                order.ship_country,
                order.ship_phone or order.phone,
                order.email,
            ]
        )
    return out.getvalue()


def send_purchase_order(supplier_order: SupplierOrder) -> str:
    """Email the purchase order; returns the address it went to."""
    supplier = supplier_order.supplier
    context = {
        "supplier": supplier,
        "supplier_order": supplier_order,
        "order": supplier_order.order,
        "lines": list(supplier_order.lines.all()),
        "upload_url": upload_url(supplier)
        if supplier.tracking_method == supplier.TrackingMethod.PAGE
        else "",
    }
    message = EmailMessage(
        subject=f"Purchase order {supplier_order.reference}",
        body=render_to_string("suppliers/email/purchase_order.txt", context),
        to=[supplier.email],
    )
    message.attach(f"{supplier_order.reference}.csv", purchase_order_csv(supplier_order), "text/csv")
    message.send()
    return supplier.email
