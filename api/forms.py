from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from api.models import ApiKey, Scope
from orders import manual


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes"]


class ManualOrderForm(forms.Form):
    """An order staff enter by hand: a sale at the counter, a replacement parcel, a B2B order."""

    channel = forms.ModelChoiceField(
        queryset=None, required=False, empty_label=_("Manual / API (default)"), label=_("channel")
    )
    order_number = forms.CharField(label=_("order number"), max_length=100)
    customer_name = forms.CharField(label=_("customer"), max_length=200)
    email = forms.EmailField(label=_("email"), required=False)
    phone = forms.CharField(label=_("phone"), max_length=50, required=False)
    ship_company = forms.CharField(label=_("company"), max_length=200, required=False)
    ship_line1 = forms.CharField(label=_("address line 1"), max_length=200)
    ship_line2 = forms.CharField(label=_("address line 2"), max_length=200, required=False)
    ship_city = forms.CharField(label=_("city"), max_length=100)
    ship_state = forms.CharField(label=_("state / region"), max_length=100, required=False)
    ship_postal_code = forms.CharField(label=_("postal code"), max_length=20, required=False)
    ship_country = forms.CharField(
        label=_("country"), min_length=2, max_length=2, help_text="ISO 3166-1, e.g. GB"
    )
    currency = forms.CharField(label=_("currency"), min_length=3, max_length=3, initial="GBP")
    requested_service = forms.CharField(label=_("requested service"), max_length=200, required=False)
    internal_note = forms.CharField(
        label=_("internal note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    # One per form shown: pressing Save twice adds the order once.
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = manual.manual_channels()

    def as_order(self, lines: list[dict]) -> dict:
        d = self.cleaned_data
        return {
            "external_id": f"admin-{d['token']}"[:100],
            "order_number": d["order_number"],
            "channel": d["channel"].name if d["channel"] else None,
            "customer_name": d["customer_name"],
            "email": d["email"],
            "phone": d["phone"],
            "address": {
                "name": d["customer_name"],
                "company": d["ship_company"],
                "line1": d["ship_line1"],
                "line2": d["ship_line2"],
                "city": d["ship_city"],
                "state": d["ship_state"],
                "postal_code": d["ship_postal_code"],
                "country": d["ship_country"],
                "phone": d["phone"],
            },
            "currency": d["currency"],
            "total": str(sum((ln["unit_price"] * ln["quantity"] for ln in lines), 0)),
            "requested_service": d["requested_service"],
            "internal_note": d["internal_note"],
            "lines": [{**ln, "unit_price": str(ln["unit_price"])} for ln in lines],
        }


class ManualLineForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=100, required=False)
    title = forms.CharField(label=_("title"), max_length=300)
    quantity = forms.IntegerField(label=_("quantity"), min_value=1, initial=1)
    unit_price = forms.DecimalField(
        label=_("unit price"), max_digits=12, decimal_places=2, min_value=0, initial=0
    )
    weight_g = forms.IntegerField(label=_("weight (g)"), min_value=0, required=False)


ManualLineFormSet = formset_factory(ManualLineForm, extra=3, min_num=1, validate_min=True)


class OrderSheetForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("One row per line; UTF-8."))
