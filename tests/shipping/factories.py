"""Factories for the shipping desk's own models (core ones live in tests/factories.py)."""

import factory

from shipping.models import (
    CarrierAccount,
    EmailTemplate,
    Package,
    Shipment,
    ShipmentLine,
    ShippingMapping,
    ShippingMappingLine,
    ShippingRule,
)
from tests.factories import CarrierAccountFactory, ChannelFactory, OrderFactory, OrderLineFactory


class PackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Package

    name = factory.Sequence(lambda n: f"Box {n}")
    length_cm = 30
    width_cm = 20
    height_cm = 10
    tare_g = 150


class ShippingMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingMapping

    channel = factory.SubFactory(ChannelFactory)


class MappingLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingMappingLine

    mapping = factory.SubFactory(ShippingMappingFactory)
    requested_service = "Express"


class ShippingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    position = factory.Sequence(lambda n: n * 10)


class SendcloudAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CarrierAccount

    name = factory.Sequence(lambda n: f"Sendcloud {n}")
    kind = CarrierAccount.Kind.SENDCLOUD
    api_base_url = "http://127.0.0.1:9/sandbox/sendcloud/api/v2"
    credentials = factory.Sequence(lambda n: {"public_key": f"pk_test_{n}", "secret_key": f"sk_test_{n}"})
    default_service = "PostNL Standard 0-23kg"
    tracking_company = ""
    return_service = "postnl:return"
    is_default = False


class ShipmentFactory(factory.django.DjangoModelFactory):
    """A shipment row as a booking leaves it, without buying a label (for lists and counts)."""

    class Meta:
        model = Shipment

    order = factory.SubFactory(OrderFactory)
    carrier_account = factory.SubFactory(CarrierAccountFactory, is_default=False)
    tracking_number = factory.Sequence(lambda n: f"SD{n:08d}5GB")
    idempotency_key = factory.Sequence(lambda n: f"test-{n}")
    service = "Tracked 48"


class EmailTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailTemplate

    kind = EmailTemplate.Kind.SHIPPED
    mode = EmailTemplate.Mode.ON
    subject = "Order {{ order.number }} shipped"
    body = "Hi {{ customer_name }}, {{ carrier }} has it: {{ tracking_number }} {{ tracking_page }}"


class ShipmentLineFactory(factory.django.DjangoModelFactory):
    """What a parcel holds: a line of the shipment's own order (made when none is given)."""

    class Meta:
        model = ShipmentLine

    shipment = factory.SubFactory(ShipmentFactory)
    order_line = factory.LazyAttribute(lambda sl: OrderLineFactory(order=sl.shipment.order))
    quantity = 1


class ShippableOrderFactory(OrderFactory):
    """An order with one physical line (400 g): what a booking needs, since a parcel holds lines."""

    class Meta:
        skip_postgeneration_save = True

    line = factory.RelatedFactory("tests.factories.OrderLineFactory", factory_related_name="order")


class KarrioAccountFactory(CarrierAccountFactory):
    """A direct carrier account driven by a Karrio extension (UPS by default)."""

    name = factory.Sequence(lambda n: f"UPS direct {n}")
    kind = CarrierAccount.Kind.KARRIO
    karrio_carrier = "ups"
    default_service = ""
    tracking_company = "UPS"
    test_mode = True
    credentials = factory.Sequence(
        lambda n: {"client_id": f"ups-client-{n}", "client_secret": "s3cret", "account_number": "A1B2C3"}
    )


class DHLExpressAccountFactory(KarrioAccountFactory):
    name = factory.Sequence(lambda n: f"DHL Express direct {n}")
    karrio_carrier = "mydhl"
    tracking_company = "DHL Express"
    credentials = factory.Sequence(
        lambda n: {"username": f"dhl-key-{n}", "password": "s3cret", "account_number": "123456789"}
    )


class CanadaPostAccountFactory(KarrioAccountFactory):
    name = factory.Sequence(lambda n: f"Canada Post direct {n}")
    karrio_carrier = "canadapost"
    tracking_company = "Canada Post"
    credentials = factory.Sequence(
        lambda n: {
            "username": f"cp-user-{n}",
            "password": "s3cret",
            "customer_number": f"{1234567 + n:010d}",
            "contract_id": "0040000000",
        }
    )
