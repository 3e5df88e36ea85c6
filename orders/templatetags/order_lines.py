from django import template

from orders.display import options_html

register = template.Library()


@register.filter
def line_options(line_or_options):
    """`{{ line|line_options }}`: an OrderLine's (or a dict of) options, URL values as links."""
    options = getattr(line_or_options, "options", line_or_options)
    return options_html(options if isinstance(options, dict) else {})
