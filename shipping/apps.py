from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "shipping"
    verbose_name = "Shipping"

    def ready(self):
        from django.db.models.signals import post_migrate

        from shipping.schedule import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
