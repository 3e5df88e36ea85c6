"""The returns queue, its bulk actions, one return's page, and the order page's returns panel."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import OrderEvent
from returns import portal_session, services
from returns.models import ReturnRequest
from returns.services import Choice

QUEUE = "/admin/returns/returnrequest/"


@pytest.fixture
def returns(policy, make_order):
    def make(n=1, *, approval=True, reason="damaged", number_from=5000):
        policy.requires_approval = approval
        policy.save()
        made = []
        for i in range(n):
            order = make_order(str(number_from + i))
            made.append(
                services.create_return(
                    order=order, brand=policy.brand, choices=[Choice(order.lines.first().pk, 1, reason)]
                )
            )
        return made

    return make


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_queue_runs_the_same_queries_for_one_row_and_fifty(staff_client, returns):
    returns(1)
    one = queries_for(staff_client, QUEUE)
    returns(49, number_from=6000)
    assert queries_for(staff_client, QUEUE) == one


def test_the_queue_shows_badges_reasons_and_age(staff_client, returns):
    [ret] = returns(1)
    ReturnRequest.objects.filter(pk=ret.pk).update(created_at=timezone.now() - timedelta(days=3))
    page = staff_client.get(QUEUE).content.decode()
    assert (
        ret.number in page and "Awaiting approval" in page and "Arrived damaged" in page and "3 days" in page
    )


@pytest.mark.parametrize(
    "query,expected",
    [
        ("status=awaiting_approval", {"R-a"}),
        ("status=rejected", set()),
        ("reason=faulty", {"R-b"}),
        ("reason=damaged", {"R-a"}),
        ("age=0-2", {"R-a"}),
        ("age=7-30", {"R-b"}),
    ],
)
def test_the_queue_filters(staff_client, returns, query, expected):
    [a] = returns(1, reason="damaged")
    [b] = returns(1, reason="faulty", approval=False, number_from=7000)
    ReturnRequest.objects.filter(pk=b.pk).update(created_at=timezone.now() - timedelta(days=10))
    names = {"R-a": a.number, "R-b": b.number}
    page = staff_client.get(f"{QUEUE}?{query}").content.decode()
    for key, number in names.items():
        assert (f">{number}<" in page) == (key in expected), (key, query)


def test_the_queue_filters_by_brand_and_finds_by_number(staff_client, returns):
    [ret] = returns(1)
    page = staff_client.get(f"{QUEUE}?brand__id__exact={ret.brand_id}").content.decode()
    assert ret.number in page
    assert ret.number in staff_client.get(f"{QUEUE}?q={ret.number}").content.decode()
    assert ret.number in staff_client.get(f"{QUEUE}?q=%235000").content.decode()


def test_bulk_approve_books_labels_and_reports_counts(
    staff_client, returns, staff, django_capture_on_commit_callbacks
):
    made = returns(3)
    services.reject(made[2], reason="No", actor=staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            QUEUE, {"action": "approve", "_selected_action": [r.pk for r in made]}, follow=True
        )
    text = response.content.decode()
    assert "2 return(s) approved." in text
    assert "1 not approved" in text and "is rejected; it cannot become approved" in text
    assert sorted(ReturnRequest.objects.values_list("status", flat=True)) == [
        "label_issued",
        "label_issued",
        "rejected",
    ]
    assert sum("Your return label" in m.subject for m in mail.outbox) == 2


def test_bulk_reject_asks_for_the_reason_then_emails_it(
    staff_client, returns, django_capture_on_commit_callbacks
):
    made = returns(2)
    ids = [r.pk for r in made]
    page = staff_client.post(QUEUE, {"action": "reject", "_selected_action": ids})
    assert page.status_code == 200 and b"reason" in page.content and made[0].number.encode() in page.content
    assert ReturnRequest.objects.filter(status="rejected").count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            QUEUE,
            {
                "action": "reject",
                "_selected_action": ids,
                "apply": "1",
                "reason": "Worn items cannot be returned.",
            },
            follow=True,
        )
    assert "2 return(s) rejected." in response.content.decode()
    assert [
        m.body.count("Worn items cannot be returned.") for m in mail.outbox if "About your" in m.subject
    ] == [1, 1]


def test_bulk_received_and_refunded(staff_client, returns):
    made = returns(2, approval=False)
    ids = [r.pk for r in made]
    assert (
        "2 return(s) marked received."
        in staff_client.post(
            QUEUE, {"action": "mark_received", "_selected_action": ids}, follow=True
        ).content.decode()
    )
    # The action first asks for the amounts, prefilled, and refunds nothing yet.
    page = staff_client.post(QUEUE, {"action": "mark_refunded", "_selected_action": ids})
    text = page.content.decode()
    assert "Confirm these refunds" in text
    for ret in made:
        assert f'name="r{ret.pk}-amount" value="{services.default_refund_amount(ret)}"' in text
    assert set(ReturnRequest.objects.values_list("status", flat=True)) == {"received"}
    # Confirmed with one amount changed by staff.
    data = {"action": "mark_refunded", "_selected_action": ids, "apply": "1"}
    data[f"r{made[0].pk}-amount"] = "5.00"
    data[f"r{made[1].pk}-amount"] = str(services.default_refund_amount(made[1]))
    assert "2 return(s) marked refunded." in staff_client.post(QUEUE, data, follow=True).content.decode()
    assert set(ReturnRequest.objects.values_list("status", flat=True)) == {"refunded"}
    assert ReturnRequest.objects.get(pk=made[0].pk).refund_amount == Decimal("5.00")
    assert OrderEvent.objects.filter(kind="return", message__contains="refunded").count() == 2


def test_a_refund_over_what_the_order_cost_or_negative_is_refused_and_nothing_changes(staff_client, returns):
    [ret] = returns(1, approval=False)
    services.receive(ret)
    url = f"{QUEUE}{ret.pk}/refund/"
    most = services.max_refund_amount(ret)
    for amount, error in [
        (most + 1, "more than the order cost"),
        (Decimal("-1"), "greater than or equal to 0"),
    ]:
        page = staff_client.post(url, {"apply": "1", f"r{ret.pk}-amount": str(amount)}, follow=True)
        assert error in page.content.decode()
        ret.refresh_from_db()
        assert ret.status == "received" and ret.refund_amount is None


@pytest.mark.django_db(transaction=True)
def test_book_again_after_a_carrier_error(staff_client, returns, policy, sendcloud_returns):
    from tests.returns.conftest import sendcloud_down, sendcloud_up

    sendcloud_down(sendcloud_returns)
    [ret] = returns(1, approval=False)
    services.book_return_label(ret)
    text = staff_client.post(
        QUEUE, {"action": "book_labels", "_selected_action": [ret.pk]}, follow=True
    ).content
    assert b"1 without a label" in text and b"503" in text
    sendcloud_up(sendcloud_returns)
    text = staff_client.post(
        QUEUE, {"action": "book_labels", "_selected_action": [ret.pk]}, follow=True
    ).content
    assert b"1 return(s) have a label." in text
    ret.refresh_from_db()
    assert ret.external_id and ret.tracking_number and ret.label


def test_one_returns_page_shows_lines_label_tracking_and_its_events(staff_client, returns, staff):
    [ret] = returns(1, approval=False)
    ret = services.book_return_label(ret)
    page = staff_client.get(f"{QUEUE}{ret.pk}/change/").content.decode()
    assert "Item MUG-1" in page and ret.tracking_number in page
    assert f"/admin/returns/returnrequest/{ret.pk}/label/" in page
    assert f"Return {ret.number}: label booked" in page
    label = staff_client.get(f"/admin/returns/returnrequest/{ret.pk}/label/")
    assert b"".join(label.streaming_content).startswith(b"%PDF")


def test_buttons_on_one_return_call_the_services(staff_client, returns, django_capture_on_commit_callbacks):
    [ret] = returns(1)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(f"/admin/returns/returnrequest/{ret.pk}/do/approve/")
    staff_client.post(f"/admin/returns/returnrequest/{ret.pk}/do/receive/")
    ret.refresh_from_db()
    assert ret.status == "received"
    assert (
        staff_client.post(f"/admin/returns/returnrequest/{ret.pk}/do/refund/").status_code == 404
    )  # no one-click refund: it asks for the amount
    page = staff_client.get(f"/admin/returns/returnrequest/{ret.pk}/refund/").content.decode()
    assert "Confirm the refund" in page and f'value="{services.default_refund_amount(ret)}"' in page
    ret.refresh_from_db()
    assert ret.status == "received"  # showing the page refunds nothing
    staff_client.post(
        f"/admin/returns/returnrequest/{ret.pk}/refund/", {"apply": "1", f"r{ret.pk}-amount": "3.50"}
    )
    ret.refresh_from_db()
    assert (ret.status, ret.refund_amount) == ("refunded", Decimal("3.50"))
    [ret] = returns(1)
    response = staff_client.post(
        f"/admin/returns/returnrequest/{ret.pk}/reject/", {"reason": "Damaged by wear"}
    )
    assert response.status_code == 302
    ret.refresh_from_db()
    assert (ret.status, ret.rejection_reason) == ("rejected", "Damaged by wear")


def test_status_cannot_be_edited_in_the_admin(staff_client, returns):
    from tests.admin_forms import change_form_data

    [ret] = returns(1)
    url = f"{QUEUE}{ret.pk}/change/"
    data = {**change_form_data(staff_client.get(url)), "status": "refunded"}

    response = staff_client.post(url, data)

    assert response.status_code == 302  # the page's own form, with its inlines, is accepted …
    ret.refresh_from_db()
    assert ret.status == "awaiting_approval"  # … and a forged status changes nothing


def test_the_order_page_shows_its_returns_and_why_the_customer_can_or_cannot_return(
    staff_client, returns, make_order
):
    [ret] = returns(1)
    page = staff_client.get(f"/admin/orders/order/{ret.order_id}/change/").content.decode()
    assert "Can the customer return it?" in page
    assert "Yes: the customer can start a return online" in page
    assert ret.number in page and "Awaiting approval" in page
    assert f"/admin/returns/returnrequest/view-as-customer/{ret.order_id}/" in page

    old = make_order("8000", delivered_days_ago=90)
    page = staff_client.get(f"/admin/orders/order/{old.pk}/change/").content.decode()
    assert "No: the customer cannot return it online" in page and "30-day return period ended" in page


def test_view_as_customer_opens_the_portal_on_the_order(
    staff_client, staff, policy, make_order, django_capture_on_commit_callbacks
):
    order = make_order("1042")
    response = staff_client.get(f"/admin/returns/returnrequest/view-as-customer/{order.pk}/")
    assert response["Location"] == "/returns/northern/items/"
    session = portal_session.PortalSession.loads(response.cookies[portal_session.COOKIE].value)
    assert (session.order_id, session.staff_user_id) == (order.pk, staff.pk)
    page = staff_client.get("/returns/northern/items/")
    assert "Order #1042" in page.content.decode()
    # a return started this way is recorded as started by staff
    mug = order.lines.get(sku="MUG-1")
    staff_client.post("/returns/northern/items/", {f"qty_{mug.pk}": 1, f"reason_{mug.pk}": "damaged"})
    import re

    key = re.search(
        r'name="key" value="(\w+)"', staff_client.get("/returns/northern/confirm/").content.decode()
    )[1]
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post("/returns/northern/confirm/", {"key": key})
    ret = ReturnRequest.objects.get()
    assert (ret.source, ret.created_by) == ("staff", staff)


def test_the_portal_is_not_open_to_anonymous_view_as_customer(client, policy, make_order):
    order = make_order()
    response = client.get(f"/admin/returns/returnrequest/view-as-customer/{order.pk}/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_brand_page_edits_its_return_policy(staff_client, policy):
    from tests.admin_forms import change_form_data

    url = f"/admin/shipping/brand/{policy.brand_id}/change/"
    page = staff_client.get(url)
    assert "allow returns for orders not shipped with shipdesk" in page.content.decode().lower()
    data = change_form_data(page)
    prefix = next(k[: -len("window_days")] for k in data if k.endswith("-window_days"))
    data.update({prefix + "window_days": "45", prefix + "allow_not_shipped_with_shipdesk": "on"})

    response = staff_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    policy.refresh_from_db()
    assert policy.window_days == 45 and policy.allow_not_shipped_with_shipdesk


def test_staff_set_a_policy_with_the_reasons_to_offer(staff_client, brand, carrier):
    from returns.models import ReturnPolicy

    response = staff_client.post(
        "/admin/returns/returnpolicy/add/",
        {
            "brand": brand.pk,
            "portal_enabled": "on",
            "window_days": 14,
            "non_returnable_skus": "GIFT-CARD",
            "reasons": ["damaged", "wrong_item"],
            "label_fee": "2.50",
            "label_fee_currency": "EUR",
            "return_carrier": carrier.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = ReturnPolicy.objects.get(brand=brand)
    assert policy.reasons == ["damaged", "wrong_item"] and policy.window_days == 14
    assert policy.non_returnable_sku_set == {"GIFT-CARD"} and not policy.requires_approval
