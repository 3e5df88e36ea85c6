"""The admin is Shipdesk's: its name on every page, and navigation ordered by the work."""

from django.contrib import admin
from django.urls import reverse

from config.admin_site import ShipdeskAdminSite
from orders.models import Order


def test_admin_site_is_shipdesks_and_every_registration_still_lands_on_it():
    assert isinstance(admin.site, ShipdeskAdminSite)
    assert admin.site.is_registered(Order)


def test_every_page_is_headed_shipdesk_not_django_administration(staff_client):
    for url in (reverse("admin:index"), reverse("admin:orders_order_changelist")):
        page = staff_client.get(url).content.decode()
        assert '<div id="site-name"><a href="/admin/">Shipdesk</a></div>' in page, url
        assert (
            "| Shipdesk</title>" in page
            and "Django administration" not in page
            and "Django site admin" not in page
        )
    assert "<h1>The desk</h1>" in staff_client.get(reverse("admin:index")).content.decode()


def test_the_index_lists_the_work_first_then_settings_then_the_rest(staff_client):
    apps = staff_client.get(reverse("admin:index")).context["app_list"]
    names = [str(a["name"]) for a in apps]
    models = {str(a["name"]): [m["object_name"] for m in a["models"]] for a in apps}

    assert names[:6] == ["Orders", "Shipments", "Returns", "Dropshipping", "Channels", "Settings"]
    assert models["Orders"][:3] == ["Order", "Fulfilment", "SkippedOrder"]
    assert models["Shipments"][:2] == ["Shipment", "BulkJob"]
    assert models["Returns"] == ["ReturnRequest"]
    assert models["Dropshipping"][:2] == ["SupplierOrder", "PaymentBatch"]
    assert models["Settings"][:3] == ["ShippingRule", "ShippingMapping", "CarrierAccount"]
    assert "ReturnPolicy" in models["Settings"] and "Supplier" in models["Settings"]
    # every registered model is somewhere, once
    listed = [m for a in apps for m in models[str(a["name"])]]
    assert len(listed) == len(set(listed)) == len(admin.site._registry)


def test_the_sidebar_follows_the_same_order_and_an_app_page_still_works(staff_client):
    # (The order, shipment, return and supplier-order lists give the sidebar's width to their
    # columns: orders.admin.WideListMixin. Any other page has it.)
    page = staff_client.get(reverse("admin:orders_fulfilment_changelist")).content.decode()
    sidebar = page[page.index('id="nav-sidebar"') :]
    positions = [sidebar.index(f">{name}</a>") for name in ("Orders", "Shipments", "Returns", "Dropshipping")]
    app_page = staff_client.get(reverse("admin:app_list", args=["shipping"]))

    assert positions == sorted(positions)
    assert app_page.status_code == 200
    assert [m["object_name"] for m in app_page.context["app_list"][0]["models"]][:2] == [
        "Shipment",
        "BulkJob",
    ]
