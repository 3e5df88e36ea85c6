"""The order page: work first (address, lines, booking panel), the rest below, the timeline
paged, and a fixed number of queries whatever the order's size."""

from django.urls import reverse

from tests.factories import busy_order


def page(client, order, query=""):
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]) + query)
    assert response.status_code == 200
    return response.content.decode()


# Session, user, the order and its lines; shipments, their lines; fulfilments; returns, their
# lines; supplier orders, their lines; positions; the booking panel (live shipments and their
# lines, rules, mappings, brand, carrier, fulfilments, the carrier list); one timeline page;
# the returns panel (seven).
ORDER_PAGE_QUERIES = 27


def test_the_order_page_runs_the_same_queries_for_a_small_and_a_large_order(
    staff_client, shipping_setup, django_assert_num_queries
):
    small = busy_order(lines=2, events=3, shipments=1, with_return=True, with_supplier=True)
    large = busy_order(lines=50, events=200, shipments=4, with_return=True, with_supplier=True)
    page(staff_client, small)  # the process's first page fills Django's ContentType cache

    with django_assert_num_queries(ORDER_PAGE_QUERIES):
        page(staff_client, small)
    with django_assert_num_queries(ORDER_PAGE_QUERIES):
        html = page(staff_client, large)

    assert html.count('<tr class="event">') == 50
    assert html.count("<tr data-sku=") == 50


def test_the_work_comes_first_and_the_timeline_last(staff_client, shipping_setup):
    order = busy_order(lines=3, events=5, shipments=1, with_return=True, with_supplier=True)

    html = page(staff_client, order)

    where = {
        name: html.index(marker)
        for name, marker in [
            ("address", 'id="ship-to"'),
            ("lines", 'id="order-lines"'),
            ("booking", 'id="booking-panel"'),
            ("fields", 'id="order_form"'),
            ("shipments", 'id="shipments-group"'),
            ("fulfilments", 'id="fulfilments-group"'),
            ("returns", 'id="returns-group"'),
            ("supplier orders", 'id="supplier_orders-group"'),
            ("timeline", 'id="timeline"'),
        ]
    }
    assert where["address"] < where["lines"] < where["booking"]
    assert where["booking"] < where["shipments"] < where["fulfilments"] < where["returns"]
    assert where["returns"] < where["supplier orders"] < where["timeline"]
    line = order.lines.first()
    assert f'src="{line.image_url}"' in html
    assert "Colour: Blue, Personalisation: Line 0" in html


def test_the_timeline_shows_fifty_events_newest_first_and_links_to_older_ones(staff_client, shipping_setup):
    order = busy_order(lines=1, events=120, shipments=0, with_return=False, with_supplier=False)

    first = page(staff_client, order)
    assert first.count('<tr class="event">') == 50
    assert first.index("Event 119<") < first.index("Event 118<")
    assert "Event 69<" not in first and "Event 70<" in first
    assert "?timeline=2#timeline" in first and "Newer events" not in first

    third = page(staff_client, order, "?timeline=3")
    assert third.count('<tr class="event">') == 20
    assert "Event 19<" in third and "Event 0<" in third and "Event 20<" not in third
    assert "Older events" not in third and "?timeline=2#timeline" in third
    assert "clerk1" in third  # who did it
