import json

from django import forms


class WriteOnlyCredentialsForm(forms.ModelForm):
    """Credentials are write-only: the form never shows what is stored, only which keys are set.
    Subclasses set Meta.model and exclude the `credentials` field."""

    new_credentials = forms.CharField(
        label="Credentials",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 4, "autocomplete": "off", "placeholder": '{"access_token": "…"}'}
        ),
        help_text="JSON object of text values. Leave empty to keep what is stored.",
    )

    def clean_new_credentials(self):
        raw = self.cleaned_data["new_credentials"].strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
        if not isinstance(value, dict) or not all(
            isinstance(v, str | int | float | bool) for v in value.values()
        ):
            raise forms.ValidationError(
                'Give an object of text or number values, e.g. {"access_token": "abc"}.'
            )
        return value

    def save(self, commit=True):
        if self.cleaned_data.get("new_credentials") is not None:
            self.instance.credentials = self.cleaned_data["new_credentials"]
        return super().save(commit)


def credentials_summary(obj) -> str:
    keys = sorted((obj.credentials or {}).keys()) if obj.pk else []
    return ", ".join(keys) + " (values hidden)" if keys else "none"
