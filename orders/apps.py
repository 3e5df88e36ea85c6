from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self):
        from django.db.models.signals import post_migrate

        from orders.schedule import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
