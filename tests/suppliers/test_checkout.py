"""Batch payment through the admin, over real HTTP against the Stripe and PayPal sandboxes."""

from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import OrderEvent
from orders.tasks import run_sync
from sandbox.generators.etsy import generate
from sandbox.models import SandboxOrder, SandboxRequest
from suppliers.models import PaymentBatch, PaymentGateway, SupplierOrder
from tests.suppliers.conftest import supplier_orders_for
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

CHANGELIST = "admin:suppliers_supplierorder_changelist"


def checkout_url(batch) -> str:
    return reverse("admin:suppliers_paymentbatch_checkout", args=[batch.pk])


def pay_selected(client, supplier_orders):
    return client.post(
        reverse(CHANGELIST), {"action": "pay_selected", "_selected_action": [so.pk for so in supplier_orders]}
    )


def page_text(response) -> str:
    return response.content.decode()


def intents(store):
    return SandboxOrder.objects.filter(store=store, external_id__startswith="pi_")


def stripe_posts(store):
    return list(
        SandboxRequest.objects.filter(store=store, path__endswith="/v1/payment_intents").order_by("id")
    )


@pytest.fixture
def email_supplier(stripe, paypal):
    """A supplier that takes card or PayPal and gets purchase orders by email (no HTTP when placing)."""
    supplier = SupplierFactory(name="Atelier Nord", auto_order=True, gateways=[stripe[0], paypal[0]])
    SupplierProductFactory(supplier=supplier, sku="TEE-ORG", cost_price=Decimal("7.50"))
    return supplier


# -- Stripe


def test_stripe_pays_a_batch_once_and_the_orders_are_placed(stripe, email_supplier, staff_client, mailoutbox):
    gateway, store = stripe
    orders = supplier_orders_for(email_supplier, 3, quantity=2)

    response = pay_selected(staff_client, orders)
    batch = PaymentBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == checkout_url(batch)

    page = staff_client.get(checkout_url(batch))
    text = page_text(page)
    assert "45.00 EUR" in text and "Pay with" in text
    assert "Card (Stripe)" in text and "PayPal" in text
    assert "Not checked:" in text and "did not answer" in text  # the factory channel points nowhere: said

    done = staff_client.post(checkout_url(batch), {"gateway": gateway.pk}, follow=True)

    assert "Paid 45.00 EUR to Atelier Nord through Card (Stripe)" in page_text(done)
    batch.refresh_from_db()
    assert batch.status == "paid" and batch.remote_id.startswith("pi_")
    [post] = stripe_posts(store)
    assert post.parsed["idempotency_key"] == batch.idempotency_key
    assert post.parsed["params"]["amount"] == "4500" and post.parsed["params"]["currency"] == "eur"
    assert post.parsed["params"]["payment_method"] == "pm_card_visa"
    assert post.parsed["outcome"] == "created" and intents(store).get().status == "succeeded"
    assert post.content_type == "application/x-www-form-urlencoded"
    # Paid orders of an automatic supplier go out at once: here by email with the CSV purchase order.
    assert set(SupplierOrder.objects.values_list("status", flat=True)) == {"placed"}
    assert len(mailoutbox) == 3 and mailoutbox[0].attachments[0][2] == "text/csv"


def test_a_declined_card_leaves_the_batch_awaiting_payment_with_stripes_message(
    stripe, email_supplier, staff_client
):
    gateway, store = stripe
    gateway.credentials = {**gateway.credentials, "payment_method": "pm_card_chargeDeclined"}
    gateway.save()
    orders = supplier_orders_for(email_supplier, 2)
    pay_selected(staff_client, orders)
    batch = PaymentBatch.objects.get()

    response = staff_client.post(checkout_url(batch), {"gateway": gateway.pk}, follow=True)

    assert "Declined by Card (Stripe): Your card was declined." in page_text(response)
    batch.refresh_from_db()
    assert batch.status == "awaiting_payment" and "Your card was declined." in batch.last_error
    assert batch.attempt == 2 and not batch.in_doubt
    assert set(SupplierOrder.objects.values_list("status", flat=True)) == {"awaiting_payment"}
    order = orders[0].order
    assert order.events.filter(
        kind=OrderEvent.Kind.ERROR, message__contains="Your card was declined"
    ).exists()
    assert [p.parsed["outcome"] for p in stripe_posts(store)] == ["declined"]

    # Another card, a new attempt: a fresh key (the declined one would replay the decline).
    gateway.credentials = {**gateway.credentials, "payment_method": "pm_card_visa"}
    gateway.save()
    staff_client.post(checkout_url(batch), {"gateway": gateway.pk})
    batch.refresh_from_db()
    first, second = stripe_posts(store)
    assert batch.status == "paid" and second.parsed["outcome"] == "created"
    assert first.parsed["idempotency_key"] != second.parsed["idempotency_key"] == batch.idempotency_key


def test_a_429_from_stripe_is_retried_and_the_batch_paid_once(stripe, email_supplier, staff_client):
    gateway, store = stripe
    store.faults = [{"status": 429, "retry_after": 0, "path": "payment_intents"}]
    store.save()
    pay_selected(staff_client, supplier_orders_for(email_supplier, 2))
    batch = PaymentBatch.objects.get()

    staff_client.post(checkout_url(batch), {"gateway": gateway.pk})

    batch.refresh_from_db()
    assert batch.status == "paid"
    posts = stripe_posts(store)
    assert [p.parsed["outcome"] for p in posts] == ["fault 429", "created"]
    assert {p.parsed["idempotency_key"] for p in posts} == {batch.idempotency_key}
    assert intents(store).count() == 1


def test_the_same_batch_submitted_twice_pays_once_stripe_replays_the_key(
    stripe, email_supplier, staff_client
):
    gateway, store = stripe
    store.faults = [{"truncate": True, "path": "payment_intents"}]  # Stripe charged, but the answer got lost
    store.save()
    pay_selected(staff_client, supplier_orders_for(email_supplier, 2))
    batch = PaymentBatch.objects.get()

    first = staff_client.post(checkout_url(batch), {"gateway": gateway.pk}, follow=True)
    assert "No clear answer from Card (Stripe)" in page_text(first)
    batch.refresh_from_db()
    assert batch.status == "awaiting_payment" and batch.in_doubt and batch.attempt == 1

    staff_client.post(checkout_url(batch), {"gateway": gateway.pk})  # staff press "Pay" again
    again = staff_client.post(checkout_url(batch), {"gateway": gateway.pk}, follow=True)  # and once more

    batch.refresh_from_db()
    assert batch.status == "paid"
    posts = stripe_posts(store)
    assert [p.parsed["outcome"] for p in posts] == ["created", "replayed"]
    assert posts[0].parsed["idempotency_key"] == posts[1].parsed["idempotency_key"] == batch.idempotency_key
    assert intents(store).count() == 1 and batch.remote_id == intents(store).get().external_id
    assert "is paid; nothing was charged now" in page_text(again)  # the third press sends nothing


# -- PayPal


def paypal_posts(store):
    return list(
        SandboxRequest.objects.filter(store=store, path__contains="/v2/checkout/orders").order_by("id")
    )


def test_paypal_creates_and_captures_the_batch(paypal, email_supplier, staff_client):
    gateway, store = paypal
    pay_selected(staff_client, supplier_orders_for(email_supplier, 3))
    batch = PaymentBatch.objects.get()

    response = staff_client.post(checkout_url(batch), {"gateway": gateway.pk}, follow=True)

    assert "Paid 22.50 EUR to Atelier Nord through PayPal" in page_text(response)
    batch.refresh_from_db()
    create, capture = paypal_posts(store)
    assert create.parsed["outcome"] == "created" and capture.parsed["outcome"] == "captured"
    unit = create.parsed["body"]["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "EUR", "value": "22.50"}
    assert create.parsed["body"]["payment_source"] == {"paypal": {"vault_id": "8kk8451t"}}
    assert create.parsed["request_id"] == f"{batch.idempotency_key}-create"
    assert capture.parsed["request_id"] == f"{batch.idempotency_key}-capture"
    order = SandboxOrder.objects.get(store=store, external_id__startswith="order:")
    assert order.status == "COMPLETED"
    assert (
        batch.status == "paid"
        and batch.remote_id == order.data["purchase_units"][0]["payments"]["captures"][0]["id"]
    )
    assert set(SupplierOrder.objects.values_list("status", flat=True)) == {"placed"}


def test_a_paypal_decline_leaves_the_batch_awaiting_payment(paypal, email_supplier, staff_client):
    gateway, store = paypal
    store.settings = {"capture_issue": "INSTRUMENT_DECLINED"}
    store.save()
    pay_selected(staff_client, supplier_orders_for(email_supplier, 1))
    batch = PaymentBatch.objects.get()

    response = staff_client.post(checkout_url(batch), {"gateway": gateway.pk}, follow=True)

    assert "Declined by PayPal: PayPal: The instrument presented was either declined" in page_text(response)
    batch.refresh_from_db()
    assert (
        batch.status == "awaiting_payment"
        and "INSTRUMENT_DECLINED" in batch.last_error
        and batch.attempt == 2
    )
    assert SupplierOrder.objects.get().status == "awaiting_payment"


def test_a_429_from_paypal_is_retried_and_the_batch_paid_once(paypal, email_supplier, staff_client):
    gateway, store = paypal
    store.faults = [{"status": 429, "retry_after": 0, "path": "/v2/checkout/orders"}]
    store.save()
    pay_selected(staff_client, supplier_orders_for(email_supplier, 2))
    batch = PaymentBatch.objects.get()

    staff_client.post(checkout_url(batch), {"gateway": gateway.pk})

    batch.refresh_from_db()
    assert batch.status == "paid"
    assert [p.parsed["outcome"] for p in paypal_posts(store)] == ["fault 429", "created", "captured"]
    assert SandboxOrder.objects.filter(store=store, external_id__startswith="order:").count() == 1


def test_the_same_batch_submitted_twice_pays_once_paypal_replays_the_request_id(
    paypal, email_supplier, staff_client
):
    gateway, store = paypal
    store.faults = [{"truncate": True, "path": "/capture"}]  # captured, but the answer got lost
    store.save()
    pay_selected(staff_client, supplier_orders_for(email_supplier, 2))
    batch = PaymentBatch.objects.get()

    staff_client.post(checkout_url(batch), {"gateway": gateway.pk})
    batch.refresh_from_db()
    assert batch.status == "awaiting_payment" and batch.in_doubt
    staff_client.post(checkout_url(batch), {"gateway": gateway.pk})

    batch.refresh_from_db()
    assert batch.status == "paid"
    posts = paypal_posts(store)
    # The create is answered from the first request (the order is already COMPLETED): no second capture.
    assert [p.parsed["outcome"] for p in posts] == ["created", "captured", "replayed"]
    assert posts[0].parsed["request_id"] == posts[2].parsed["request_id"] == f"{batch.idempotency_key}-create"
    [order] = SandboxOrder.objects.filter(store=store, external_id__startswith="order:")
    assert len(order.data["purchase_units"][0]["payments"]["captures"]) == 1


# -- what the checkout allows


def test_a_mixed_supplier_selection_is_refused_with_a_clear_message(stripe, staff_client):
    nord = SupplierFactory(name="Atelier Nord", gateways=[stripe[0]])
    fabrika = SupplierFactory(name="Fabrika", gateways=[stripe[0]])
    selection = supplier_orders_for(nord, 2) + supplier_orders_for(fabrika, 1)

    response = staff_client.post(
        reverse(CHANGELIST),
        {"action": "pay_selected", "_selected_action": [so.pk for so in selection]},
        follow=True,
    )

    text = page_text(response)
    assert (
        "A payment goes to one supplier: the selection has orders of 2 suppliers (Atelier Nord (2), Fabrika (1))"
        in text
    )
    assert not PaymentBatch.objects.exists()
    assert not SandboxRequest.objects.exists()


def test_the_checkout_offers_only_the_gateways_the_supplier_allows(stripe, staff_client):
    gateway, _ = stripe
    PaymentGateway.objects.create(
        name="PayPal (not for this one)", kind="paypal", api_base_url="http://x.invalid"
    )
    nord = SupplierFactory(name="Atelier Nord", gateways=[gateway])
    pay_selected(staff_client, supplier_orders_for(nord, 1))

    page = staff_client.get(checkout_url(PaymentBatch.objects.get()))

    assert "Card (Stripe)" in page_text(page) and "PayPal (not for this one)" not in page_text(page)
    assert list(page.context["form"].fields["gateway"].queryset) == [gateway]


def test_pressing_pay_selected_twice_makes_one_batch(stripe, staff_client):
    nord = SupplierFactory(gateways=[stripe[0]])
    orders = supplier_orders_for(nord, 2)
    first = pay_selected(staff_client, orders)
    second = pay_selected(staff_client, orders)
    assert first["Location"] == second["Location"] and PaymentBatch.objects.count() == 1


def test_the_address_check_shows_a_buyers_change_on_the_channel(etsy_sandbox, stripe, staff_client):
    channel, etsy_store = etsy_sandbox
    [receipt] = generate(etsy_store, 1, mix=False, seed=5)
    sku = receipt.data["transactions"][0]["sku"]
    nord = SupplierFactory(name="Atelier Nord", gateways=[stripe[0]])
    SupplierProductFactory(supplier=nord, sku=sku)
    run_sync(channel)
    supplier_order = SupplierOrder.objects.get()
    receipt.data.update(first_line="99 New Road", zip="M1 1AA")  # the buyer changed it on Etsy since
    receipt.save()
    pay_selected(staff_client, [supplier_order])

    page = page_text(staff_client.get(checkout_url(PaymentBatch.objects.get())))

    assert "Differs on Etsy-Main (line1, postal_code): " in page and "99 New Road" in page
    assert "Sync the channel before paying" in page
