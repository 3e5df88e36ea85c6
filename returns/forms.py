"""The portal's forms. Templates render the fields by hand (labels, hints, errors and their
aria links), so these only say what is valid."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from orders import normalise
from returns.eligibility import Eligibility
from returns.services import Choice


class LinkForm(forms.Form):
    """Order number only: the link goes to the email address on the order."""

    link_order_number = forms.CharField(
        label=_("Order number for the link"),
        max_length=100,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
        ),
        error_messages={
            "required": _("Enter your order number."),
            "max_length": _("That order number is too long."),
        },
    )


class LookupForm(forms.Form):
    order_number = forms.CharField(
        label=_("Order number"),
        max_length=100,
        help_text=_("As shown on your order confirmation, for example #1042."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
        ),
        error_messages={
            "required": _("Enter your order number."),
            "max_length": _("That order number is too long."),
        },
    )
    postal_code = forms.CharField(
        label=_("Postal code"),
        max_length=20,
        help_text=_("The postal code of the address the order was sent to."),
        widget=forms.TextInput(
            attrs={"autocomplete": "postal-code", "spellcheck": "false", "autocapitalize": "characters"}
        ),
        error_messages={
            "required": _("Enter the postal code the order was sent to."),
            "max_length": _("That postal code is too long."),
        },
    )

    def clean_order_number(self):
        value = self.cleaned_data["order_number"]
        if not normalise.order_number(value):
            raise forms.ValidationError(_("Enter your order number."))
        return value

    def clean_postal_code(self):
        value = self.cleaned_data["postal_code"]
        if not normalise.postal_code(value):
            raise forms.ValidationError(_("Enter the postal code the order was sent to."))
        return value


class ItemsForm(forms.Form):
    """One quantity and one reason per returnable line, and an optional note."""

    note = forms.CharField(
        label=_("Anything else we should know? (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, eligibility: Eligibility, **kwargs):
        super().__init__(*args, **kwargs)
        self.eligibility = eligibility
        reasons = [("", _("Choose a reason"))] + eligibility.policy.reason_choices
        self.rows = []
        for item in eligibility.returnable_lines:
            pk = item.line.pk
            quantity = forms.TypedChoiceField(
                label=_("Quantity to return"),
                coerce=int,
                initial=0,
                required=False,
                empty_value=0,
                choices=[(0, pgettext_lazy("quantity to return", "None"))]
                + [(n, str(n)) for n in range(1, item.returnable + 1)],
            )
            reason = forms.ChoiceField(label=_("Reason"), choices=reasons, required=False)
            self.fields[f"qty_{pk}"], self.fields[f"reason_{pk}"] = quantity, reason
            self.rows.append((item, self[f"qty_{pk}"], self[f"reason_{pk}"]))

    def clean(self):
        data = super().clean()
        chosen = 0
        for item, qty, reason in self.rows:
            if data.get(qty.name):
                chosen += 1
                if not data.get(reason.name):
                    self.add_error(
                        reason.name, _("Choose why you are returning “%(item)s”.") % {"item": item.line.title}
                    )
        if not chosen and self.rows:
            self.add_error(None, _("Choose at least one item to return."))
        return data

    def choices(self) -> list[Choice]:
        return [
            Choice(item.line.pk, self.cleaned_data[qty.name], self.cleaned_data[reason.name])
            for item, qty, reason in self.rows
            if self.cleaned_data.get(qty.name)
        ]

    @staticmethod
    def initial_from(selection: list[list]) -> dict:
        initial = {}
        for line_id, quantity, reason in selection:
            initial[f"qty_{line_id}"], initial[f"reason_{line_id}"] = quantity, reason
        return initial


class RejectForm(forms.Form):
    """Staff reject returns (admin); the reason is emailed to the customer."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        max_length=2000,
        help_text="Emailed to the customer, as written.",
    )


class RefundForm(forms.Form):
    """Staff confirm what a return refunds (admin): prefilled with the returned lines' value less
    the label fee; one form per return, prefixed with its id."""

    amount = forms.DecimalField(
        label=_("Refund amount"), min_value=Decimal("0"), max_digits=12, decimal_places=2
    )
