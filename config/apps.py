from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The project package as an app: what running Shipdesk needs (heartbeats, /healthz)."""

    name = "config"
    label = "ops"
    verbose_name = "Operations"
