"""Posting an admin change form the way a browser does: every field of the form and of each
inline formset (with its management form) as the page rendered them, so a test that changes one
value sees what the admin really does with it, not Django refusing an incomplete form."""

from __future__ import annotations


def _value(bound):
    value = bound.value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value)


def change_form_data(response) -> dict:
    """The data a browser would submit for the change page in `response` (a GET of it)."""
    assert response.status_code == 200, response.status_code
    data: dict = {}

    def add(form):
        for name in form.fields:
            value = _value(form[name])
            if value is not None:
                data[form.add_prefix(name)] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form)
        for form in formset.forms:
            add(form)
    return data
