"""Shipping mappings per channel, with the service strings each channel sends, and shipping
rules in order, with a simulation over the last 100 orders before a change is saved."""

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from channels.connectors.carriers import TRACKING_COMPANIES
from orders.models import Order
from shipping import rules
from shipping.models import ShippingMapping, ShippingMappingLine, ShippingRule

SIMULATION_SIZE = 100


class TrackingCompanyInput(forms.TextInput):
    """Free text, suggesting the companies channels know (others go as the channel's “other”)."""

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, {**(attrs or {}), "list": "tracking-companies"}, renderer)
        options = format_html_join("", '<option value="{}">', ((c,) for c in TRACKING_COMPANIES))
        return format_html('{}<datalist id="tracking-companies">{}</datalist>', html, options)


class MappingLineInline(admin.TabularInline):
    model = ShippingMappingLine
    extra = 1
    fields = [
        "position",
        "match",
        "requested_service",
        "shipping_name",
        "carrier_account",
        "service",
        "tracking_company",
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "tracking_company":
            kwargs["widget"] = TrackingCompanyInput
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(ShippingMapping)
class ShippingMappingAdmin(admin.ModelAdmin):
    list_display = [
        "channel",
        "shipping_name",
        "carrier_account",
        "service",
        "tracking_company",
        "n_lines",
        "unmapped",
    ]
    list_select_related = ["channel", "carrier_account"]
    inlines = [MappingLineInline]
    readonly_fields = ["services_seen"]
    fieldsets = [
        (None, {"fields": ["channel"]}),
        (
            "By default",
            {
                "fields": ["shipping_name", "carrier_account", "service", "tracking_company"],
                "description": "How this channel's orders ship unless a line below matches their "
                "requested service (shipping rules may still choose another carrier).",
            },
        ),
        ("Requested services seen on this channel", {"fields": ["services_seen"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(lines_count=Count("lines"))

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "tracking_company":
            kwargs["widget"] = TrackingCompanyInput
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="Lines", ordering="lines_count")
    def n_lines(self, obj):
        return obj.lines_count

    @admin.display(description="Unmapped services")
    def unmapped(self, obj):
        rows = [r for r in rules.services_seen(obj.channel) if r["line"] is None and r["service"]]
        if not rows:
            return "—"
        return format_html(
            '<span style="color:#c62828">{} ({} orders)</span>', len(rows), sum(r["orders"] for r in rows)
        )

    @admin.display(description="Services")
    def services_seen(self, obj):
        if not obj.pk:
            return "Save the mapping to see the services this channel's orders ask for."
        rows = rules.services_seen(obj.channel)
        if not rows:
            return "No orders yet."
        changelist = reverse("admin:orders_order_changelist")

        def cells(r):
            link = f"{changelist}?" + urlencode(
                {"channel__id__exact": obj.channel_id, "requested_service": r["service"]}
            )
            mapped = (
                format_html("mapped by line <em>{}</em>", r["line"])
                if r["line"]
                else mark_safe('<strong style="color:#c62828">unmapped</strong> — the default above applies')
            )
            return (r["service"] or "(none)", link, r["orders"], mapped)

        return format_html(
            "<table><tr><th>Requested service</th><th>Orders</th><th></th></tr>{}</table>",
            format_html_join(
                "", '<tr><td>{}</td><td><a href="{}">{}</a></td><td>{}</td></tr>', map(cells, rows)
            ),
        )


def describe_conditions(rule: ShippingRule) -> str:
    parts = []
    if rule.channel_id:
        parts.append(f"shop {rule.channel}")
    if rule.country_list:
        parts.append("to " + ", ".join(rule.country_list))
    if rule.min_weight_g is not None or rule.max_weight_g is not None:
        parts.append(
            f"{rule.min_weight_g or 0}–{rule.max_weight_g if rule.max_weight_g is not None else '∞'} g"
        )
    if rule.requested_service:
        parts.append(f"service contains “{rule.requested_service}”")
    if rule.sku:
        parts.append(f"SKU {rule.sku}")
    if rule.min_total is not None or rule.max_total is not None:
        parts.append(f"total {rule.min_total or 0}–{rule.max_total if rule.max_total is not None else '∞'}")
    return "; ".join(parts) or "every order"


def describe_actions(rule: ShippingRule) -> str:
    parts = []
    if rule.sender_address_id:
        parts.append(f"ship from {rule.sender_address}")
    if rule.brand_id:
        parts.append(f"brand {rule.brand}")
    if rule.carrier_account_id:
        parts.append(f"carrier {rule.carrier_account}")
    if rule.service:
        parts.append(f"service {rule.service}")
    if rule.package_id:
        parts.append(f"package {rule.package}")
    if rule.rate_choice:
        days = f" ({rule.rate_within_days} days)" if rule.rate_choice == "cheapest_within" else ""
        parts.append(f"carrier by rate: {rule.get_rate_choice_display().lower()}{days}")
    return "; ".join(parts)


@admin.register(ShippingRule)
class ShippingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "is_active", "conditions", "actions_text"]
    list_editable = ["position", "is_active"]
    list_select_related = ["channel", "sender_address", "brand", "carrier_account", "package"]
    ordering = ["position", "id"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "position", "is_active"]}),
        (
            "When the order…",
            {
                "fields": [
                    "channel",
                    "countries",
                    ("min_weight_g", "max_weight_g"),
                    "requested_service",
                    "sku",
                    ("min_total", "max_total"),
                ],
                "description": "Empty conditions match every order.",
            },
        ),
        (
            "…then",
            {
                "fields": ["sender_address", "brand", "carrier_account", "service", "package"],
                "description": "Rules run in order of position; for each of these the first matching rule "
                "that sets it wins. Rules override the channel's shipping mapping; staff "
                "choosing a carrier when booking override both.",
            },
        ),
        (
            "…or choose the carrier by rate",
            {
                "fields": ["rate_choice", "rate_within_days", "rate_accounts"],
                "description": "When booking, ask these accounts (empty: every active one) for their "
                "rates and book the cheapest, the fastest, or the cheapest arriving within N days. "
                "This decides carrier and service instead of the fields above.",
            },
        ),
    ]
    filter_horizontal = ["rate_accounts"]

    @admin.display(description="When")
    def conditions(self, obj):
        return describe_conditions(obj)

    @admin.display(description="Then")
    def actions_text(self, obj):
        return describe_actions(obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("simulate/", view(self.simulate_view), name="shipping_shippingrule_simulate"),
            path("<int:pk>/simulate/", view(self.simulate_view), name="shipping_shippingrule_simulate"),
        ] + super().get_urls()

    def simulate_view(self, request, pk=None):
        """Run the rules, with the form's unsaved values in place of this rule, over the last 100
        orders, and show which would ship differently. Nothing is saved."""
        obj = get_object_or_404(ShippingRule, pk=pk) if pk else None
        if not (self.has_change_permission(request, obj) if obj else self.has_add_permission(request)):
            raise Http404
        form_class = self.get_form(request, obj, change=obj is not None)
        form = form_class(request.POST or None, instance=obj)
        context = {
            **self.admin_site.each_context(request),
            "opts": ShippingRule._meta,
            "form": form,
            "rule": obj,
            "title": "Simulate shipping rules",
        }
        if request.method == "POST" and form.is_valid():
            candidate = form.save(commit=False)
            context.update(simulate(candidate))
            context["candidate"] = candidate
            context["candidate_conditions"] = describe_conditions(candidate)
            context["candidate_actions"] = describe_actions(candidate)
        return TemplateResponse(request, "admin/shipping/rule_simulation.html", context)


def simulate(candidate: ShippingRule) -> dict:
    before_set, after_set = rules.RuleSet(), rules.RuleSet.with_rule(candidate)
    orders = list(
        Order.objects.select_related("channel")
        .prefetch_related("lines")
        .order_by("-ordered_at", "-id")[:SIMULATION_SIZE]
    )
    rows = []
    for order in orders:
        before, after = _try(order, before_set), _try(order, after_set)
        changed = (before.summary() if hasattr(before, "summary") else before) != (
            after.summary() if hasattr(after, "summary") else after
        )
        applies = hasattr(after, "rules") and any(r is candidate for r in after.rules)
        rows.append(
            {"order": order, "before": before, "after": after, "changed": changed, "applies": applies}
        )
    return {
        "rows": rows,
        "changed": sum(r["changed"] for r in rows),
        "applies": sum(r["applies"] for r in rows),
        "total": len(rows),
    }


def _try(order, ruleset):
    try:
        return rules.resolve(order, ruleset=ruleset)
    except rules.NoCarrier as exc:
        return f"cannot ship: {exc}"
