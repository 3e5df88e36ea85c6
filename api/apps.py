from django.apps import AppConfig


class ApiConfig(AppConfig):
    """Shipdesk's own REST API (/api/v1/), its keys, and outgoing webhooks. Nothing imports `api`:
    the earlier apps tell it what happened through the hooks in settings."""

    name = "api"
    verbose_name = "API and webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from api.schedule import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
