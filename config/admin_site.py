"""Shipdesk's admin: its own name, and navigation ordered by the work (orders, shipments,
returns, dropshipping, channels, then settings), not alphabetically by app. Installed as the
default site (config.apps.ShipdeskAdminConfig), so `admin.site` and every `@admin.register` keep
working. The index page's work queues poll `queues.json` (config/queues.py)."""

from django.contrib import admin
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

# The sections of the navigation, in the order of the work: (key, name, models as
# "app_label.model_name"). A registered model not named here stays with its own app, after it.
WORK = [
    ("orders", _("Orders"), ["orders.order", "orders.fulfilment", "orders.skippedorder"]),
    ("shipping", _("Shipments"), ["shipping.shipment", "shipping.bulkjob"]),
    ("returns", _("Returns"), ["returns.returnrequest"]),
    ("suppliers", _("Dropshipping"), ["suppliers.supplierorder", "suppliers.paymentbatch"]),
    ("channels", _("Channels"), ["channels.channel", "channels.webhookevent"]),
    (
        "settings",
        _("Settings"),
        [
            "shipping.shippingrule",
            "shipping.shippingmapping",
            "shipping.carrieraccount",
            "shipping.package",
            "shipping.brand",
            "shipping.address",
            "shipping.emailtemplate",
            "returns.returnpolicy",
            "suppliers.supplier",
            "suppliers.supplierproduct",
            "suppliers.paymentgateway",
            "orders.alertsubscription",
        ],
    ),
]


class ShipdeskAdminSite(admin.AdminSite):
    site_header = _("Shipdesk")
    site_title = _("Shipdesk")
    index_title = _("The desk")

    def get_urls(self):
        from config import queues

        return [
            path("queues.json", self.admin_view(queues.queues_view), name="queues"),
        ] + super().get_urls()

    def get_app_list(self, request, app_label=None):
        apps = self._build_app_dict(request, app_label)
        if app_label is not None:  # one app's page: its own models, in the order of the work
            for app in apps.values():
                app["models"].sort(key=lambda m: _position(app["app_label"], m["object_name"]))
            return list(apps.values())
        return arrange(apps)


def _key(app_label: str, object_name: str) -> str:
    return f"{app_label}.{object_name.lower()}"


def _position(app_label: str, object_name: str) -> tuple[int, int, str]:
    key = _key(app_label, object_name)
    for s, (_k, _n, models) in enumerate(WORK):
        if key in models:
            return (s, models.index(key), "")
    return (len(WORK), 0, object_name)


def arrange(apps: dict) -> list[dict]:
    """The app dicts Django builds, regrouped into the WORK sections, then the other apps
    (users, the task cluster, sign-in attempts…) as Django orders them."""
    placed: dict[str, dict] = {}
    sections = []
    for key, name, models in WORK:
        source = apps.get(key)
        section = {
            "name": name,
            "app_label": key,
            "app_url": source["app_url"] if source else reverse("admin:index") + f"#{key}",
            "has_module_perms": True,
            "models": [],
        }
        sections.append(section)
        for model_key in models:
            app_label, model_name = model_key.split(".")
            app = apps.get(app_label)
            match = next(
                (m for m in (app or {}).get("models", []) if m["object_name"].lower() == model_name), None
            )
            if match:
                section["models"].append(match)
                placed[model_key] = match
    by_key = {key: section for section, (key, _n, _m) in zip(sections, WORK, strict=True)}
    rest = []
    for label, app in sorted(apps.items(), key=lambda kv: kv[1]["name"].lower()):
        leftovers = [m for m in app["models"] if _key(label, m["object_name"]) not in placed]
        if not leftovers:
            continue
        if label in by_key:  # a model added later to a work app stays in its section
            by_key[label]["models"] += sorted(leftovers, key=lambda m: m["name"])
        else:
            rest.append({**app, "models": leftovers})
    return [s for s in sections if s["models"]] + rest
