from django import template

register = template.Library()


@register.simple_tag
def widget(field, **attrs):
    """The field's input with its hint and error linked by aria-describedby, and aria-invalid
    when it has an error (what a screen reader announces on focus)."""
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}-hint")
    if field.errors:
        described.append(f"{field.auto_id}-error")
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return field.as_widget(attrs=attrs)
