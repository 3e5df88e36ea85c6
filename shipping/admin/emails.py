"""Customer email templates, editable, with a preview on a real order."""

from django import forms
from django.contrib import admin
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from orders.models import Order
from shipping import emails
from shipping.models import Brand, EmailTemplate, Shipment


def sample_shipment(order: Order) -> Shipment:
    """The order's latest shipment, or (for an order not booked yet) an unsaved one that looks real."""
    shipment = order.shipments.select_related("brand", "order__channel").order_by("-created_at").first()
    if shipment:
        return shipment
    return Shipment(
        order=order,
        brand=Brand.objects.filter(is_default=True).first(),
        tracking_number="JD000000000GB",
        tracking_company="Royal Mail",
        service="Tracked 48",
        public_token="preview",
    )


def preview_order(kind: str, channel=None, number: str = "") -> Order | None:
    orders = Order.objects.select_related("channel").order_by("-ordered_at", "-id")
    if number:
        from orders.normalise import order_number

        return orders.filter(order_number_norm=order_number(number)).first()
    wanted = orders.filter(channel=channel) if channel else orders
    status = Order.Status.DELIVERED if kind == EmailTemplate.Kind.DELIVERED else Order.Status.SHIPPED
    return wanted.filter(status=status).first() or wanted.first()


def render_preview(template: EmailTemplate, order: Order) -> dict:
    try:
        subject, text, html = emails.render(template, sample_shipment(order))
    except ValueError as exc:
        return {"error": str(exc)}
    ok, why = emails.wanted(order.channel, template.kind, template)
    return {"subject": subject, "text": text, "html": html, "order": order, "would_send": ok, "why_not": why}


class EmailTemplateForm(forms.ModelForm):
    preview_order = forms.CharField(
        required=False,
        label="Preview on order",
        help_text="An order number; empty: the channel's latest shipped order.",
    )

    class Meta:
        model = EmailTemplate
        fields = ["kind", "channel", "mode", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 16, "cols": 90, "style": "font-family:monospace"})}


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    form = EmailTemplateForm
    list_display = ["kind", "channel_name", "mode", "subject"]
    list_filter = ["kind", "mode", "channel"]
    list_select_related = ["channel"]
    readonly_fields = ["preview"]
    fields = ["kind", "channel", "mode", "subject", "body", "preview_order", "preview"]

    @admin.display(description="Channel", ordering="channel__name")
    def channel_name(self, obj):
        return obj.channel or "All channels"

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        kind = initial.get("kind") or EmailTemplate.Kind.SHIPPED
        default = emails.default_template(kind)
        return {"kind": kind, "subject": default.subject, "body": default.body, **initial}

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="shipping_emailtemplate_preview"),
            path("<int:pk>/preview/", view(self.preview_view), name="shipping_emailtemplate_preview"),
        ] + super().get_urls()

    @admin.display(description="Preview")
    def preview(self, obj):
        if not obj.pk:
            return "Write the template, then press “Preview on a real order”."
        order = preview_order(obj.kind, obj.channel)
        if order is None:
            return "No orders to preview on yet."
        result = render_preview(obj, order)
        if "error" in result:
            return format_html('<p class="errornote">{}</p>', result["error"])
        note = "" if result["would_send"] else f" (not sent to this order's buyer: {result['why_not']})"
        return format_html(
            "<p>On order {}{}: <strong>{}</strong></p><pre style='white-space:pre-wrap'>{}</pre>",
            order,
            note,
            result["subject"],
            result["text"],
        )

    def preview_view(self, request, pk=None):
        """The unsaved template from the form, rendered on a real order, as text and as HTML."""
        obj = get_object_or_404(EmailTemplate, pk=pk) if pk else None
        if not self.has_view_permission(request, obj):
            raise Http404
        form = EmailTemplateForm(request.POST or None, instance=obj)
        context = {
            **self.admin_site.each_context(request),
            "opts": EmailTemplate._meta,
            "title": "Email preview",
        }
        if request.method == "POST":
            form.is_valid()  # the preview works on what was typed, valid or not
            data = form.cleaned_data
            template = EmailTemplate(
                kind=data.get("kind") or request.POST.get("kind") or "shipped",
                channel=data.get("channel"),
                mode=data.get("mode") or "auto",
                subject=data.get("subject") or request.POST.get("subject", ""),
                body=data.get("body") or request.POST.get("body", ""),
            )
            order = preview_order(template.kind, template.channel, data.get("preview_order", ""))
            context.update(
                render_preview(template, order)
                if order
                else {"error": "No such order." if data.get("preview_order") else "No orders yet."}
            )
        return TemplateResponse(request, "admin/shipping/email_preview.html", context)
