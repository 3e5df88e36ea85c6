"""A "book" upload buys one label per row through shipping.booking, and the batch's labels come
back as one PDF."""

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from orders.models import Order
from sandbox.models import SandboxRequest
from shipping.models import Package, Shipment
from tests.csv.helpers import confirm, last_job, page_text, upload, written
from tests.factories import (
    BrandFactory,
    CarrierAccountFactory,
    ChannelFactory,
    OrderFactory,
    OrderLineFactory,
)
from tests.shipping.factories import PackageFactory, ShippingRuleFactory

HEAD = "order_number,channel,carrier_account,service,weight_g,package,length_cm,width_cm,height_cm\n"


@pytest.fixture
def carriers(db):
    BrandFactory()
    return (
        CarrierAccountFactory(name="Royal Mail (own account)", tracking_company="Royal Mail"),
        CarrierAccountFactory(
            name="Parcelforce (own account)", tracking_company="Parcelforce", prefix="PF", is_default=False
        ),
    )


def test_book_rows_buy_labels_and_return_one_merged_pdf(
    staff_client, shop, carriers, settings, django_capture_on_commit_callbacks
):
    royal_mail, parcelforce = carriers
    Package.objects.create(name="Small box", length_cm=20, width_cm=15, height_cm=10, tare_g=80)
    content = HEAD + (
        "1001,Etsy-Main,,,450,,,,\n"
        '1002,Etsy-Main,Parcelforce (own account),Express 24,"1 200",Small box,,,\n'
        "1003,Etsy-Main,royal mail (own account),,300,,30,20,10\n"
    )

    page = upload(staff_client, content, mode="book")
    text = page_text(page)
    assert "3 rows checked: 3 new." in text
    assert "#1002: book Parcelforce (own account), Express 24, 1200 g, Small box" in text
    assert "#1003: book Royal Mail (own account), default service, 300 g, 30 × 20 × 10 cm" in text

    with django_capture_on_commit_callbacks(execute=True):  # a booking file is always run by the task cluster
        confirm(staff_client, last_job())
    done = page_text(staff_client.get(reverse("shipping_csv:job", args=[last_job().pk])))

    assert "Booked 3 labels. Download the labels as one PDF." in done
    job = last_job()
    pdf = staff_client.get(reverse("shipping_csv:download", args=[job.pk, "labels"]))
    assert pdf["Content-Disposition"].startswith("attachment")
    assert len(PdfReader(io.BytesIO(b"".join(pdf.streaming_content))).pages) == 3
    first, second, third = (Shipment.objects.get(order__order_number=n) for n in ("1001", "1002", "1003"))
    assert first.carrier_account == royal_mail and first.weight_g == 450
    assert second.carrier_account == parcelforce and second.service == "Express 24"
    assert second.package.name == "Small box" and second.weight_g == 1280  # the box's own weight is added
    assert second.decision["package"] == "Small box"
    assert "package Small box: chosen by staff" in second.decision["reasons"]
    assert third.package.name == "30 × 20 × 10 cm" and third.package.length_cm == 30
    assert set(
        Order.objects.filter(order_number__in=["1001", "1002", "1003"]).values_list("status", flat=True)
    ) == {"shipped"}
    assert [r["tracking"] for r in job.results] == [
        first.tracking_number,
        second.tracking_number,
        third.tracking_number,
    ]


def test_the_same_booking_file_uploaded_twice_books_once(
    staff_client, shop, carriers, django_capture_on_commit_callbacks
):
    content = HEAD + "1001,Etsy-Main,,,450,,,,\n1002,Etsy-Main,,,,,,,\n"
    upload(staff_client, content, mode="book")
    with django_capture_on_commit_callbacks(execute=True):
        confirm(staff_client, last_job())
    after_first = written()
    assert Shipment.objects.count() == 2

    page = upload(staff_client, content, mode="book")

    text = page_text(page)
    assert "2 rows checked: 2 skipped. There is nothing to import." in text
    tracking = Shipment.objects.get(order__order_number="1001").tracking_number
    assert f"#1001 already shipped (tracking {tracking})" in text
    with django_capture_on_commit_callbacks(execute=True):
        confirm(staff_client, last_job())
    assert written() == after_first and Shipment.objects.count() == 2


def test_orders_that_cannot_be_booked_are_errors_before_anything_is_bought(staff_client, shop, carriers):
    channel, orders = shop
    Order.objects.filter(pk=orders[0].pk).update(ship_line1="")
    Order.objects.filter(pk=orders[1].pk).update(status="on_hold", hold_reason="address check")
    CarrierAccountFactory(name="Old account", is_active=False, is_default=False)

    page = upload(
        staff_client,
        HEAD + "1001,Etsy-Main,,,,,,,\n1002,Etsy-Main,,,,,,,\n1003,Etsy-Main,Old account,,,,,,\n",
        mode="book",
    )

    text = page_text(page)
    assert "row 2, order_number: order #1001 has no complete shipping address" in text
    assert "row 3, order_number: order #1002 is on hold (address check); release it before booking" in text
    assert "row 4, carrier_account: carrier account Old account is not active" in text
    confirm(staff_client, last_job())
    assert not Shipment.objects.exists()


def test_a_rows_package_overrides_the_rules_and_its_size_and_own_weight_reach_the_carrier(
    client, sendcloud, staff
):
    # Given a rule that would pack every order in a big box, and two orders to Utrecht of 750 g
    ShippingRuleFactory(name="Everything in the big box", package=PackageFactory(name="Big box", tare_g=400))
    PackageFactory(
        name="Mailer",
        length_cm=Decimal("25.0"),
        width_cm=Decimal("18.5"),
        height_cm=Decimal("4.0"),
        tare_g=60,
    )
    channel = ChannelFactory(name="Etsy-Main")
    for number in ("2001", "2002"):
        order = OrderFactory(
            channel=channel,
            order_number=number,
            ship_line1="12 Kerkstraat",
            ship_city="Utrecht",
            ship_postal_code="3511 AB",
            ship_country="NL",
            currency="EUR",
            total=Decimal("12.50"),
        )
        OrderLineFactory(order=order, sku="MUG-1", weight_g=750)
    client.force_login(staff)

    # When a book file names the mailer for one and dimensions for the other
    upload(
        client,
        HEAD + f"2001,Etsy-Main,{sendcloud.account.name},,,mailer,,,\n"
        f"2002,Etsy-Main,{sendcloud.account.name},,,,40,30,20\n",
        mode="book",
    )
    confirm(client, last_job())

    # Then the carrier received each parcel in its own box, with the box's own weight added
    parcels = {
        r.parsed["parcel"]["order_number"]: r.parsed["parcel"]
        for r in SandboxRequest.objects.filter(method="POST", path__endswith="/api/v2/parcels")
    }
    assert {n: (p["length"], p["width"], p["height"], p["weight"]) for n, p in parcels.items()} == {
        "#2001": ("25.0", "18.5", "4.0", "0.810"),
        "#2002": ("40.0", "30.0", "20.0", "0.750"),
    }
    mailed = Shipment.objects.get(order__order_number="2001")
    assert (mailed.package.name, mailed.weight_g) == ("Mailer", 810)
    assert mailed.decision["package"] == "Mailer"
    assert "package Mailer: chosen by staff (instead of Big box)" in mailed.decision["reasons"]
    assert "Booked 2 labels." in page_text(client.get(reverse("shipping_csv:job", args=[last_job().pk])))


def test_book_rows_without_a_carrier_book_what_a_rate_rule_chooses(
    staff_client, shop, carriers, django_capture_on_commit_callbacks
):
    """A rule "cheapest" compares the accounts when the row names no carrier; a row that names
    one keeps it."""
    from shipping.models import RateChoice

    royal_mail, parcelforce = carriers
    royal_mail.flat_rate, royal_mail.flat_rate_currency = Decimal("4.10"), "GBP"
    royal_mail.save()
    parcelforce.flat_rate, parcelforce.flat_rate_currency = Decimal("3.60"), "GBP"
    parcelforce.save()
    ShippingRuleFactory(name="Cheapest", rate_choice=RateChoice.CHEAPEST)

    upload(
        staff_client,
        HEAD + "1001,Etsy-Main,,,450,,,,\n1002,Etsy-Main,Royal Mail (own account),,450,,,,\n",
        mode="book",
    )
    with django_capture_on_commit_callbacks(execute=True):
        confirm(staff_client, last_job())

    cheapest, named = (Shipment.objects.get(order__order_number=n) for n in ("1001", "1002"))
    assert cheapest.carrier_account == parcelforce and (cheapest.fee, cheapest.currency) == (
        Decimal("3.60"),
        "GBP",
    )
    assert any(r.startswith("rule “Cheapest” chose by rate (cheapest)") for r in cheapest.decision["reasons"])
    assert named.carrier_account == royal_mail
