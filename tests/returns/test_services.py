"""Staff actions on a return (each with its event and email), and booking the label once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.models import OrderEvent
from returns import services
from returns.models import ReturnRequest
from returns.services import Choice, ReturnError


@pytest.fixture
def new_return(policy, make_order):
    def make(*, approval=False, language="en"):
        policy.requires_approval = approval
        policy.save()
        order = make_order()
        mug = order.lines.get(sku="MUG-1")
        return services.create_return(
            order=order, brand=policy.brand, choices=[Choice(mug.pk, 2, "damaged")], language=language
        )

    return make


def events(ret):
    return list(
        OrderEvent.objects.filter(order=ret.order, data__return_id=ret.pk)
        .order_by("id")
        .values_list("kind", "message")
    )


def test_approving_books_and_emails_the_label(new_return, staff, django_capture_on_commit_callbacks):
    ret = new_return(approval=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(ret, actor=staff)
    ret.refresh_from_db()
    assert ret.status == "label_issued" and ret.label and ret.tracking_number
    [requested, label] = mail.outbox if len(mail.outbox) == 2 else (None, *mail.outbox)
    assert "Your return label" in label.subject and label.attachments
    kinds = [m for _, m in events(ret)]
    assert kinds[0].startswith(f"Return {ret.number} requested in the portal")
    assert f"Return {ret.number} approved" in kinds
    approved = OrderEvent.objects.get(order=ret.order, message=f"Return {ret.number} approved")
    assert approved.actor == staff


def test_rejecting_emails_the_reason_in_the_customers_language(
    new_return, staff, django_capture_on_commit_callbacks
):
    ret = new_return(approval=True, language="fr")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.reject(ret, reason="Les articles personnalisés ne sont pas repris.", actor=staff)
    ret.refresh_from_db()
    assert ret.status == "rejected"
    [email] = mail.outbox
    assert email.subject == "À propos de votre retour pour la commande #1042"
    assert "Les articles personnalisés ne sont pas repris." in email.body
    assert "Nous sommes désolés" in email.body
    assert (
        "return",
        f"Return {ret.number} rejected: Les articles personnalisés ne sont pas repris.",
    ) in events(ret)
    assert ("email", f"Return {ret.number}: rejected email sent to ann@example.test") in events(ret)


def test_a_rejection_needs_a_reason(new_return, staff):
    with pytest.raises(ReturnError, match="reason"):
        services.reject(new_return(), reason="  ", actor=staff)


def test_receive_then_refund_with_events(new_return, staff):
    ret = services.book_return_label(new_return())
    services.receive(ret, actor=staff)
    ret = services.refund(ret, actor=staff)
    ret.refresh_from_db()
    assert ret.status == "refunded" and ret.received_at and ret.refunded_at
    assert str(ret.refund_amount) == "20.00"
    messages = [m for _, m in events(ret)]
    assert f"Return {ret.number} received at the warehouse" in messages
    assert f"Return {ret.number} refunded: 20.00 GBP" in messages


@pytest.mark.parametrize("action", ["approve", "receive", "refund"])
def test_steps_out_of_order_are_refused(new_return, staff, action):
    ret = new_return(approval=False)
    services.reject(ret, reason="No", actor=staff)
    with pytest.raises(ReturnError, match="rejected; it cannot become"):
        getattr(services, action)(ret, actor=staff)


def test_refund_only_after_receipt(new_return, staff):
    with pytest.raises(ReturnError, match="cannot become refunded"):
        services.refund(new_return(), actor=staff)


def test_booking_twice_books_once(new_return, django_capture_on_commit_callbacks):
    ret = new_return()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.book_return_label(ret)
        second = services.book_return_label(ReturnRequest.objects.get(pk=ret.pk))
    assert first.tracking_number == second.tracking_number
    assert first.label.name == second.label.name
    assert sum("label booked" in m for _, m in events(ret)) == 1
    assert len(mail.outbox) == 1


def test_a_booking_claimed_by_another_worker_is_left_to_it(new_return):
    ret = new_return()
    ReturnRequest.objects.filter(pk=ret.pk).update(label_claimed_at=timezone.now())
    ret = services.book_return_label(ret)
    assert ret.status == "approved" and not ret.label
    # a claim left by a worker that died is taken over after a few minutes
    ReturnRequest.objects.filter(pk=ret.pk).update(label_claimed_at=timezone.now() - timedelta(minutes=6))
    assert services.book_return_label(ret).status == "label_issued"


def test_a_return_awaiting_approval_gets_no_label(new_return):
    ret = services.book_return_label(new_return(approval=True))
    assert ret.status == "awaiting_approval" and not ret.label


def test_the_label_goes_from_the_customer_to_the_brands_return_address(new_return):
    from pypdf import PdfReader

    ret = services.book_return_label(new_return())
    with ret.label.open("rb") as f:
        text = PdfReader(f).pages[0].extract_text()
    assert "Ann Example" in text and "Northern Goods Returns" in text
    assert text.index("Ann Example") < text.index("Northern Goods Returns")  # FROM the customer, TO the brand


def test_without_an_email_address_nothing_is_sent_and_the_timeline_says_so(
    policy, make_order, django_capture_on_commit_callbacks
):
    order = make_order(email="")
    ret = services.create_return(
        order=order, brand=policy.brand, choices=[Choice(order.lines.first().pk, 1, "damaged")]
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.book_return_label(ret)
    assert not mail.outbox
    assert ("email", f"Return {ret.number}: no label email sent (no email address)") in events(ret)


def test_the_same_idempotency_key_gives_the_first_return(policy, make_order):
    order = make_order()
    choices = [Choice(order.lines.first().pk, 1, "damaged")]
    a = services.create_return(order=order, brand=policy.brand, choices=choices, idempotency_key="k1")
    b = services.create_return(order=order, brand=policy.brand, choices=choices, idempotency_key="k1")
    assert a.pk == b.pk and ReturnRequest.objects.count() == 1
