"""Factories for returns tests: Shipdesk shipments and return policies."""

import factory
from django.utils import timezone

from returns.models import ReturnPolicy, ReturnRequest
from shipping.models import Shipment
from tests.factories import BrandFactory, CarrierAccountFactory, OrderFactory


class ShipmentFactory(factory.django.DjangoModelFactory):
    """A parcel booked through Shipdesk (it has a carrier account)."""

    class Meta:
        model = Shipment

    order = factory.SubFactory(OrderFactory)
    carrier_account = factory.SubFactory(CarrierAccountFactory)
    brand = factory.SubFactory(BrandFactory)
    tracking_number = factory.Sequence(lambda n: f"SD{n:08d}GB")
    idempotency_key = factory.Sequence(lambda n: f"test-shipment-{n}")
    status = Shipment.Status.DELIVERED
    created_at = factory.LazyFunction(timezone.now)


class ReturnPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReturnPolicy
        django_get_or_create = ["brand"]

    brand = factory.SubFactory(BrandFactory)
    window_days = 30


class ReturnRequestFactory(factory.django.DjangoModelFactory):
    """A return as the portal leaves it (awaiting approval), without lines."""

    class Meta:
        model = ReturnRequest

    order = factory.SubFactory(OrderFactory)
    brand = factory.SubFactory(BrandFactory)
    customer_email = "buyer@example.test"
