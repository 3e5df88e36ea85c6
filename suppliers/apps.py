from django.apps import AppConfig


class SuppliersConfig(AppConfig):
    name = "suppliers"
    verbose_name = "Dropshipping"

    def ready(self):
        from django.db.models.signals import post_migrate

        from suppliers.schedule import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
