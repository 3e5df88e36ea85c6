from django import forms

from suppliers.models import PaymentGateway, Supplier

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


class TrackingCsvForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: reference (PO-…) or store_order, tracking_number, carrier, tracking_url",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 2 MB; split it.")
        return upload


class StaffTrackingCsvForm(TrackingCsvForm):
    supplier = forms.ModelChoiceField(
        queryset=Supplier.objects.all(),
        required=False,
        help_text="Only match this supplier's orders (optional).",
    )


class CheckoutForm(forms.Form):
    gateway = forms.ModelChoiceField(
        queryset=PaymentGateway.objects.none(), widget=forms.RadioSelect, empty_label=None, label="Pay with"
    )

    def __init__(self, *args, gateways, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gateway"].queryset = gateways
        if len(gateways) == 1:
            self.fields["gateway"].initial = gateways[0].pk
