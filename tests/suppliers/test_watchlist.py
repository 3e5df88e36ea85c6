"""The watchlist: placed supplier orders without tracking after the supplier's N days."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from orders.models import AlertSubscription, StaffAlert
from suppliers.models import SupplierOrder
from suppliers.tasks import check_watchlist
from tests.factories import UserFactory
from tests.suppliers.conftest import supplier_orders_for
from tests.suppliers.factories import SupplierFactory


def placed_days_ago(supplier_order, days: int):
    placed_at = timezone.now() - timedelta(days=days)
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(
        status="placed",
        placed_at=placed_at,
        tracking_due_at=placed_at + timedelta(days=supplier_order.supplier.watchlist_days),
    )


def test_overdue_orders_are_listed_per_supplier_days_and_alerted_once(db, staff_client):
    slow = SupplierFactory(name="Slow Co", watchlist_days=5, email="ops@slow.example")
    patient = SupplierFactory(name="Patient Co", watchlist_days=20)
    late, fresh = supplier_orders_for(slow, 2)
    [not_yet] = supplier_orders_for(patient, 1)
    placed_days_ago(late, 6)
    placed_days_ago(fresh, 2)
    placed_days_ago(not_yet, 6)  # 6 days is fine for a 20-day supplier
    watcher = UserFactory(username="ops", email="ops@shop.example")
    AlertSubscription.objects.create(user=watcher, all_channels=True)

    listing = staff_client.get(reverse("admin:suppliers_supplierorder_changelist") + "?tracking=overdue")
    assert [so.pk for so in listing.context["cl"].result_list] == [late.pk]
    assert "Overdue (watchlist)" in listing.content.decode()

    assert check_watchlist() == 1
    alert = StaffAlert.objects.get(user=watcher)
    assert alert.subject == "1 order(s) from Slow Co without tracking after 5 days"
    assert late.reference in alert.body and "ops@slow.example" in alert.body
    assert late.order.events.filter(message__contains="no tracking 5 days after placing").exists()

    assert check_watchlist() == 0  # once per order
    assert StaffAlert.objects.count() == 1


def test_the_supplier_list_counts_overdue_orders(db, staff_client):
    slow = SupplierFactory(name="Slow Co", watchlist_days=3)
    [late] = supplier_orders_for(slow, 1)
    placed_days_ago(late, 4)
    page = staff_client.get(reverse("admin:suppliers_supplier_changelist"))
    assert page.context["cl"].result_list[0].n_overdue == 1
