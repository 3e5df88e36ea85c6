from django.contrib.admin.apps import AdminConfig


class ShipdeskAdminConfig(AdminConfig):
    """django.contrib.admin with Shipdesk's site (config/admin_site.py) as `admin.site`. Kept
    out of config/apps.py so that module keeps a single AppConfig (the ops app)."""

    default_site = "config.admin_site.ShipdeskAdminSite"
