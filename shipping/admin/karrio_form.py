"""The part of the carrier account form for direct carriers (kind "karrio"): the carrier chosen
from the installed Karrio extensions, and that carrier's own credential fields, write-only
(secrets are password inputs never filled back; nothing stored is ever shown, only which keys
are set). A small script shows the fields of the chosen carrier only; without it every
carrier's fields show, each under its carrier's name."""

from __future__ import annotations

import functools

import attr
from django import forms
from django.utils.translation import gettext_lazy as _

from shipping.carriers import karrio


def _field_name(carrier: str, field: str) -> str:
    return f"karrio__{carrier}__{field}"


def _required(carrier: str) -> list[str]:
    settings_cls = karrio.providers()[carrier].Settings
    names = set(karrio.credential_fields(carrier))
    return [a.name for a in attr.fields(settings_cls) if a.name in names and a.default is attr.NOTHING]


def karrio_fieldsets() -> list[tuple]:
    sets = [
        (
            _("Direct carrier (Karrio)"),
            {
                "fields": ["karrio_carrier", "test_mode", "label_format"],
                "classes": ["karrio-account"],
                "description": _(
                    "For the kind “Direct carrier account”: the carrier (one of the Karrio extensions "
                    "installed here), its test or live host, and PDF or ZPL labels."
                ),
            },
        )
    ]
    for carrier, label in karrio.carrier_choices():
        sets.append(
            (
                _("%(carrier)s credentials (write-only)") % {"carrier": label},
                {
                    "fields": [_field_name(carrier, f) for f in karrio.credential_fields(carrier)],
                    "classes": ["karrio-credentials", f"karrio-credentials-{carrier}"],
                    "description": _("Leave a field empty to keep what is stored."),
                },
            )
        )
    return sets


def _credential_form_fields() -> dict:
    """One form field per credential of each installed extension (declared on the class, so the
    admin's fieldsets can name them)."""
    fields = {}
    for carrier, _label in karrio.carrier_choices():
        required = set(_required(carrier))
        for name in karrio.credential_fields(carrier):
            widget = (
                forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
                if karrio.is_secret(name)
                else forms.TextInput(attrs={"autocomplete": "off"})
            )
            fields[_field_name(carrier, name)] = forms.CharField(
                label=name.replace("_", " ").capitalize(),
                required=False,
                widget=widget,
                help_text=_("required") if name in required else "",
            )
    return fields


class _KarrioCredentialsBase(forms.ModelForm):
    karrio_carrier = forms.ChoiceField(label=_("Carrier"), required=False, choices=())

    class Media:
        js = ["shipping/karrio_account.js"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["karrio_carrier"].choices = [("", "—"), *karrio.carrier_choices()]
        self.fields["karrio_carrier"].help_text = _(
            "Installed Karrio extensions. Another carrier: pip install karrio-<carrier>, then restart."
        )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") != "karrio":
            return cleaned
        carrier = cleaned.get("karrio_carrier") or ""
        if not carrier:
            self.add_error("karrio_carrier", _("Choose the carrier of this direct account."))
            return cleaned
        typed = {
            name: (cleaned.get(_field_name(carrier, name)) or "").strip()
            for name in karrio.credential_fields(carrier)
        }
        typed = {k: v for k, v in typed.items() if v}
        kept = dict(self.instance.credentials or {}) if self.instance.karrio_carrier == carrier else {}
        merged = {**kept, **typed}
        for name in _required(carrier):
            if not merged.get(name):
                self.add_error(_field_name(carrier, name), _("This carrier needs it."))
        self._karrio_credentials = merged
        return cleaned

    def save(self, commit=True):
        credentials = getattr(self, "_karrio_credentials", None)
        if credentials is not None and self.cleaned_data.get("new_credentials") is None:
            self.instance.credentials = credentials
        return super().save(commit)


KarrioCredentialsMixin = _KarrioCredentialsBase


@functools.cache
def with_credential_fields(form_class: type[forms.ModelForm]) -> type[forms.ModelForm]:
    """`form_class` with one declared field per credential of each installed extension, made on
    first use (the admin's get_form), not when the admin loads: reading the extensions imports the
    Karrio SDK and lxml, about 40 MB that every web process and task worker would carry."""
    return type(
        form_class.__name__, (form_class,), {"__module__": form_class.__module__, **_credential_form_fields()}
    )
