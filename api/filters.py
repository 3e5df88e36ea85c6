import django_filters

from orders.models import Order
from returns.models import ReturnRequest


class OrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Order.Status.choices)
    channel = django_filters.CharFilter(field_name="channel__name", help_text="The channel's name")
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Orders changed at or after this time (ISO 8601)",
    )
    order_number = django_filters.CharFilter(method="by_number")

    class Meta:
        model = Order
        fields = ["status", "channel", "updated_since", "order_number"]

    def by_number(self, queryset, name, value):
        from orders import normalise

        return queryset.filter(order_number_norm=normalise.order_number(value))


class ReturnFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ReturnRequest.Status.choices)
    order = django_filters.NumberFilter(field_name="order_id")

    class Meta:
        model = ReturnRequest
        fields = ["status", "order"]
