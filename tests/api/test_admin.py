"""The admin side: API keys shown once, an order added by hand, a spreadsheet of orders."""

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from api.models import ApiKey
from orders.models import Order, OrderEvent, SkippedOrder
from tests.factories import ChannelFactory


def test_a_key_created_in_the_admin_is_shown_once_and_works(staff_client):
    response = staff_client.post(
        "/admin/api/apikey/add/", {"name": "Warehouse", "scopes": ["orders:read", "shipments:write"]}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = re.search(r'id="api-key"[^>]*>(sdk_[^<]+)<', response.content.decode()).group(1)
    key = ApiKey.objects.get()
    assert key.scopes == ["orders:read", "shipments:write"] and key.created_by.username == "staff"

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
    assert client.get("/api/v1/orders").status_code == 200

    secret = text.split("_", 2)[2]
    for page in ("/admin/api/apikey/", f"/admin/api/apikey/{key.pk}/change/"):
        html = staff_client.get(page).content.decode()
        assert key.masked in html and secret not in html


def test_revoking_in_the_admin_locks_the_key_out(staff_client):
    key, text = ApiKey.new(name="Old ERP", scopes=["orders:read"])
    response = staff_client.post(
        "/admin/api/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True
    )
    assert "1 key(s) revoked" in response.content.decode()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
    assert client.get("/api/v1/orders").status_code == 401


def manual_form(**overrides):
    data = {
        "order_number": "B2B-7",
        "customer_name": "Acme Ltd",
        "email": "buyer@acme.test",
        "ship_line1": "2 Mill Lane",
        "ship_city": "York",
        "ship_postal_code": "YO1 7HH",
        "ship_country": "GB",
        "currency": "GBP",
        "token": "f00d",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-sku": "MUG-1",
        "lines-0-title": "Mug",
        "lines-0-quantity": "12",
        "lines-0-unit_price": "8.00",
        "lines-0-weight_g": "400",
    }
    data.update(overrides)
    return data


def test_staff_add_an_order_by_hand_with_its_lines(staff_client):
    page = staff_client.get("/admin/api/manualorder/add/")
    assert page.status_code == 200 and 'name="lines-0-title"' in page.content.decode()
    response = staff_client.post("/admin/api/manualorder/add/", manual_form())
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/orders/order/{order.pk}/change/"
    assert order.channel.kind == "manual" and order.total == 96 and order.ship_city == "York"
    assert [(ln.sku, ln.quantity) for ln in order.lines.all()] == [("MUG-1", 12)]
    event = OrderEvent.objects.get(order=order)
    assert event.actor.username == "staff" and "via" not in event.message
    # Save pressed twice: still one order.
    staff_client.post("/admin/api/manualorder/add/", manual_form())
    assert Order.objects.count() == 1
    assert "B2B-7" in staff_client.get("/admin/api/manualorder/").content.decode()


def test_an_order_by_hand_is_checked_by_the_same_rules(staff_client):
    response = staff_client.post(
        "/admin/api/manualorder/add/", manual_form(ship_country="G1", **{"lines-0-title": ""})
    )
    html = response.content.decode()
    assert response.status_code == 200 and Order.objects.count() == 0
    assert "This field is required" in html


SHEET = """external_id,order_number,customer_name,ship_name,ship_line1,ship_city,ship_postal_code,ship_country,currency,paid,sku,title,quantity,unit_price,weight_g
S-1,5001,Ann,Ann,1 High St,Leeds,LS1 4AB,GB,GBP,yes,MUG-1,Mug,2,10.00,400
S-1,5001,,,,,,,,,TEE-M,Tee,1,12.00,200
S-2,5002,Bob,Bob,2 Low St,York,YO1 7HH,GB,GBP,no,MUG-1,Mug,1,10.00,400
S-3,5003,Cy,Cy,3 Mid St,Hull,HU1 1AA,GB,GBP,yes,MUG-1,Mug,zero,10.00,400
"""


def test_a_spreadsheet_of_orders_is_imported_with_a_result_per_order(staff_client):
    assert (
        b"external_id,order_number" in staff_client.get("/admin/api/manualorder/import/template.csv").content
    )
    upload = SimpleUploadedFile("orders.csv", SHEET.encode(), content_type="text/csv")
    response = staff_client.post("/admin/api/manualorder/import/", {"file": upload})
    html = response.content.decode()
    assert "1 of 3 order(s) added" in html
    order = Order.objects.get()
    assert order.external_id == "S-1" and order.total == 32
    assert [(ln.sku, ln.quantity) for ln in order.lines.all()] == [("MUG-1", 2), ("TEE-M", 1)]
    assert SkippedOrder.objects.get().reason == "unpaid"
    rows = re.findall(r"<tr>\s*<td>([^<]*)</td>.*?<td>(\w+)</td><td>([^<]*)</td></tr>", html, re.S)
    assert [(r[0], r[1]) for r in rows] == [("2, 3", "created"), ("4", "skipped"), ("5", "invalid")]
    assert "quantity" in rows[2][2]


def test_a_spreadsheet_without_the_needed_columns_is_refused(staff_client):
    upload = SimpleUploadedFile("orders.csv", b"name,city\nAnn,Leeds\n", content_type="text/csv")
    response = staff_client.post("/admin/api/manualorder/import/", {"file": upload})
    assert "Missing columns: currency, order_number, quantity, title" in response.content.decode()
    assert Order.objects.count() == 0


def test_only_manual_orders_are_listed_there(staff_client):
    from tests.factories import OrderFactory

    OrderFactory(order_number="ETSY-1")
    OrderFactory(order_number="POS-9", channel=ChannelFactory(name="Counter", kind="manual"))
    html = staff_client.get("/admin/api/manualorder/").content.decode()
    assert "POS-9" in html and "ETSY-1" not in html
