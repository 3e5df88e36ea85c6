"""Addresses, brands, packages and carrier accounts."""

from contextlib import closing

from django.conf import settings
from django.contrib import admin, messages
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from channels.forms import WriteOnlyCredentialsForm, credentials_summary
from shipping.admin.karrio_form import KarrioCredentialsMixin, karrio_fieldsets, with_credential_fields
from shipping.carriers.base import CarrierError
from shipping.models import Address, Brand, CarrierAccount, Package


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ["label", "name", "city", "postal_code", "country", "brand"]
    list_select_related = ["brand"]
    search_fields = ["label", "name", "city", "postal_code"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "colours", "sender_address", "return_address", "is_default"]
    list_select_related = ["sender_address", "return_address"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["sender_address", "return_address"]

    @admin.display(description="Colours")
    def colours(self, obj):
        return format_html(
            '<span style="display:inline-block;width:18px;height:18px;background:{}"></span> '
            '<span style="display:inline-block;width:18px;height:18px;background:{}"></span>',
            obj.primary_color,
            obj.accent_color,
        )


@admin.register(Package)
class PackageAdmin(admin.ModelAdmin):
    list_display = ["name", "length_cm", "width_cm", "height_cm", "tare_g"]
    search_fields = ["name"]


class CarrierAccountForm(KarrioCredentialsMixin, WriteOnlyCredentialsForm):
    class Meta:
        model = CarrierAccount
        exclude = ["credentials"]
        help_texts = {
            "api_base_url": "Sendcloud: https://panel.sendcloud.sc/api/v2. Direct carriers: empty for the "
            "carrier's own test or live host, or another base URL (e.g. http://localhost:8000/sandbox/ups)"
        }


@admin.register(CarrierAccount)
class CarrierAccountAdmin(admin.ModelAdmin):
    form = CarrierAccountForm
    list_display = ["name", "kind", "default_service", "tracking_company", "is_default", "is_active"]
    readonly_fields = ["credentials_set", "webhook_url", "available_services"]
    search_fields = ["name"]
    actions = ["import_sender_addresses"]

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = with_credential_fields(self.form)  # the Karrio credential fields, made now
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["name", "kind", "is_active", "is_default", "api_base_url"]}),
            *karrio_fieldsets(),
            (
                "Credentials (write-only)",
                {
                    "fields": ["credentials_set", "new_credentials"],
                    "description": 'Sendcloud: {"public_key": "…", "secret_key": "…"} and, if your integration signs '
                    'webhooks with its own key, "webhook_secret".',
                },
            ),
            (
                "Services",
                {
                    "fields": [
                        "default_service",
                        "return_service",
                        "tracking_company",
                        "tracking_url_template",
                        "prefix",
                        "available_services",
                    ]
                },
            ),
            ("Tracking webhooks", {"fields": ["webhook_url"]}),
        ]

    @admin.display(description="Credentials stored")
    def credentials_set(self, obj):
        return credentials_summary(obj)

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj):
        if not obj.pk:
            return "Save the account first."
        url = settings.SITE_URL.rstrip("/") + reverse("shipping:carrier_webhook", args=[obj.pk])
        return format_html(
            "<code>{}</code><div class='help'>Give this URL to the carrier (Sendcloud: the "
            "integration's webhook URL, with “parcel status changed” on).</div>",
            url,
        )

    @admin.display(description="Services the carrier offers")
    def available_services(self, obj):
        if not obj.pk or obj.kind == CarrierAccount.Kind.SELFPRINT:
            return obj.default_service or "—"
        # Asked only on demand: the change page must not wait for the carrier.
        url = reverse("admin:shipping_carrieraccount_services", args=[obj.pk])
        return format_html(
            '<a href="{}">Ask {} which services this account can book</a>', url, obj.get_kind_display()
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/services/",
                self.admin_site.admin_view(self.services_view),
                name="shipping_carrieraccount_services",
            )
        ] + super().get_urls()

    def services_view(self, request, pk):
        account = get_object_or_404(CarrierAccount, pk=pk)
        if not self.has_view_permission(request, account):
            raise Http404
        country = (request.GET.get("country") or "GB").upper()[:2]
        try:
            with closing(account.adapter()) as adapter:
                options, problem = adapter.services(to_country=country), ""
        except CarrierError as exc:
            options, problem = [], str(exc)
        return TemplateResponse(
            request,
            "admin/shipping/carrier_services.html",
            {
                **self.admin_site.each_context(request),
                "opts": CarrierAccount._meta,
                "account": account,
                "title": f"Services of {account}",
                "options": options,
                "problem": problem,
                "country": country,
            },
        )

    @admin.action(description="Import sender addresses from the carrier")
    def import_sender_addresses(self, request, queryset):
        created = 0
        for account in queryset:
            with closing(account.adapter()) as adapter:
                if not hasattr(adapter, "sender_addresses"):
                    self.message_user(
                        request, f"{account}: this carrier keeps no sender addresses", messages.WARNING
                    )
                    continue
                try:
                    addresses = adapter.sender_addresses()
                except CarrierError as exc:
                    self.message_user(request, f"{account}: {exc}", messages.ERROR)
                    continue
            for a in addresses:
                _, new = Address.objects.get_or_create(
                    label=f"{account.name}: {a.get('label') or a.get('id')}"[:100],
                    defaults={
                        "name": a.get("contact_name") or a.get("company_name") or "",
                        "company": a.get("company_name") or "",
                        "line1": " ".join(x for x in (a.get("street"), a.get("house_number")) if x),
                        "city": a.get("city") or "",
                        "postal_code": a.get("postal_code") or "",
                        "country": (a.get("country") or "")[:2],
                        "email": a.get("email") or "",
                        "phone": a.get("telephone") or "",
                    },
                )
                created += new
        self.message_user(request, f"{created} sender address(es) imported.", messages.SUCCESS)
