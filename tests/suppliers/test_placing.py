"""Placing paid supplier orders (supplier API or email) and the address lock that follows."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import OrderEvent
from sandbox.models import SandboxOrder, SandboxRequest
from suppliers import checkout, placing
from suppliers.models import PaymentBatch, SupplierOrder
from tests.suppliers.conftest import SUPPLIER_ACCOUNT, supplier_orders_for
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory


def pay(supplier_orders, gateway, actor=None):
    batch, _ = checkout.create_batch(
        SupplierOrder.objects.filter(pk__in=[so.pk for so in supplier_orders]), actor=actor
    )
    return checkout.pay_batch(batch, gateway=gateway, actor=actor)


@pytest.fixture
def placed(stripe, atelier_nord):
    """Two supplier orders of Atelier Nord, paid by card and placed through its API."""
    atelier_nord.allowed_gateways.set([stripe[0]])
    supplier_orders = supplier_orders_for(atelier_nord, 2, quantity=3)
    pay(supplier_orders, stripe[0])
    return [SupplierOrder.objects.get(pk=so.pk) for so in supplier_orders]


def test_paid_orders_of_an_automatic_supplier_reach_its_api_at_once(placed, supplier_store):
    first = placed[0]
    assert {so.status for so in placed} == {"placed"}
    assert first.remote_id.startswith("SUP-") and first.tracking_due_at and first.placed_at
    received = SandboxRequest.objects.filter(store=supplier_store, path__endswith="/v1/orders").order_by("id")
    assert received.count() == 2
    body = next(r.parsed for r in received if r.parsed["reference"] == first.reference)
    order = first.order
    assert body["reference"] == first.reference and body["currency"] == "EUR"
    assert body["items"] == [{"sku": "AN-CANDLE", "quantity": 3}]  # supplier SKU, not ours
    assert body["ship_to"]["line1"] == order.ship_line1 and body["ship_to"]["country"] == "GB"
    assert (
        SandboxOrder.objects.get(store=supplier_store, external_id=first.remote_id).data["status"]
        == "received"
    )


def test_placing_again_sends_nothing_new(placed, supplier_store):
    SupplierOrder.objects.filter(pk=placed[0].pk).update(status="paid")  # as if the answer had been lost
    placing.place(placed[0])
    assert SandboxOrder.objects.filter(store=supplier_store, external_id__startswith="SUP-").count() == 2
    assert SupplierOrder.objects.get(pk=placed[0].pk).remote_id == placed[0].remote_id


def test_placed_means_the_address_is_locked_and_an_edit_is_refused(placed, staff_client):
    order = placed[0].order
    order.refresh_from_db()
    assert order.address_locked
    assert order.events.filter(
        kind=OrderEvent.Kind.SUPPLIER, message__startswith="Shipping address locked"
    ).exists()
    url = reverse("admin:orders_order_change", args=[order.pk])

    page = staff_client.get(url).content.decode()
    assert "The shipping address is locked." in page and "Atelier Nord has this order" in page
    assert "to change it, contact the supplier" in page

    # A page opened before the lock still posts the address fields: refused, with the contact.
    old_line1 = order.ship_line1
    response = staff_client.post(
        url,
        {
            **management_forms(staff_client, url),
            "ship_line1": "99 Other Street",
            "internal_note": "called the buyer",
        },
        follow=True,
    )
    text = response.content.decode()
    assert f"The address of {order} was not changed" in text
    assert "contact the supplier: Atelier Nord (orders@ateliernord.example)" in text
    order.refresh_from_db()
    assert order.ship_line1 == old_line1 and order.internal_note == "called the buyer"


def management_forms(client, url) -> dict:
    """What the order page posts back untouched: its editable fields and the inline formsets'
    management data (the inlines are read-only, so each row is just its id)."""
    context = client.get(url).context
    data = {
        name: value
        for name, value in context["adminform"].form.initial.items()
        if isinstance(value, str | int)
    }
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        for i, form in enumerate(formset.forms):
            data[f"{formset.prefix}-{i}-id"] = form.instance.pk
            data[f"{formset.prefix}-{i}-{formset.fk.name}"] = getattr(form.instance, formset.fk.attname)
    return data


def test_a_supplier_without_an_api_gets_the_purchase_order_by_email_with_a_csv(stripe, mailoutbox):
    supplier = SupplierFactory(
        name="Fabrika", email="zamowienia@fabrika.example", auto_order=True, gateways=[stripe[0]]
    )
    SupplierProductFactory(
        supplier=supplier,
        sku="BOWL",
        supplier_sku="FB-BOWL-2",
        title="Stoneware bowl",
        cost_price=Decimal("31.00"),
    )
    [supplier_order] = supplier_orders_for(supplier, 1, quantity=2)

    pay([supplier_order], stripe[0])

    supplier_order.refresh_from_db()
    assert (
        supplier_order.status == "placed"
        and supplier_order.order.__class__.objects.get(pk=supplier_order.order_id).address_locked
    )
    [mail] = mailoutbox
    assert mail.to == ["zamowienia@fabrika.example"] and supplier_order.reference in mail.subject
    assert "/supplier/" in mail.body  # the private link for tracking
    name, content, mimetype = mail.attachments[0]
    rows = list(csv.DictReader(io.StringIO(content)))
    assert name == f"{supplier_order.reference}.csv" and mimetype == "text/csv"
    assert (
        rows[0]["supplier_sku"] == "FB-BOWL-2"
        and rows[0]["quantity"] == "2"
        and rows[0]["unit_cost"] == "31.00"
    )
    assert rows[0]["ship_postal_code"] == "LS1 4AB"


def test_a_manual_supplier_waits_for_send_to_supplier(stripe, staff_client, mailoutbox):
    supplier = SupplierFactory(name="Fabrika", auto_order=False, gateways=[stripe[0]])
    [supplier_order] = supplier_orders_for(supplier, 1)
    pay([supplier_order], stripe[0])
    supplier_order.refresh_from_db()
    assert supplier_order.status == "paid" and not mailoutbox

    staff_client.post(
        reverse("admin:suppliers_supplierorder_changelist"),
        {"action": "send_to_supplier", "_selected_action": [supplier_order.pk]},
    )

    supplier_order.refresh_from_db()
    assert supplier_order.status == "placed" and len(mailoutbox) == 1


def test_a_supplier_api_that_refuses_keeps_the_order_paid_and_says_why(stripe, atelier_nord, supplier_store):
    supplier_store.credentials = {"api_key": "rotated"}
    supplier_store.save()
    atelier_nord.allowed_gateways.set([stripe[0]])
    [supplier_order] = supplier_orders_for(atelier_nord, 1)

    pay([supplier_order], stripe[0])

    supplier_order.refresh_from_db()
    assert supplier_order.status == "paid" and "invalid or missing API key" in supplier_order.last_error
    assert supplier_order.order.events.filter(kind="error", message__contains="could not be placed").exists()
    assert PaymentBatch.objects.get().status == "paid"
    assert SUPPLIER_ACCOUNT in supplier_order.supplier.api_base_url


def test_an_order_that_failed_to_place_is_placed_by_the_next_poll(stripe, atelier_nord, supplier_store):
    from suppliers.tasks import poll_suppliers

    supplier_store.credentials = {"api_key": "rotated"}
    supplier_store.save()
    atelier_nord.allowed_gateways.set([stripe[0]])
    [supplier_order] = supplier_orders_for(atelier_nord, 1)
    pay([supplier_order], stripe[0])
    supplier_store.credentials = {"api_key": atelier_nord.credentials["api_key"]}  # the supplier fixed it
    supplier_store.save()

    assert poll_suppliers()["placed"] == 1

    supplier_order.refresh_from_db()
    assert supplier_order.status == "placed" and supplier_order.remote_id and not supplier_order.last_error
