"""Factories for the core apps. Other apps keep theirs in tests/<app>/factories.py."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from channels.models import Channel
from orders.models import Fulfilment, Order, OrderLine, Product
from shipping.models import Address, Brand, CarrierAccount


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    is_superuser = True
    password = factory.django.Password("pw")


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"Etsy-{n}")
    kind = Channel.Kind.ETSY
    api_base_url = "http://127.0.0.1:9/sandbox/etsy/v3/application"
    shop_id = factory.Sequence(lambda n: str(20000 + n))
    credentials = factory.LazyFunction(
        lambda: {"keystring": "ks", "shared_secret": "secret", "access_token": "token"}
    )


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    channel = factory.SubFactory(ChannelFactory)
    external_id = factory.Sequence(lambda n: str(1000 + n))
    order_number = factory.LazyAttribute(lambda o: o.external_id)
    customer_name = factory.Faker("name")
    email = factory.Faker("email")
    ship_name = factory.LazyAttribute(lambda o: o.customer_name)
    ship_line1 = factory.Faker("street_address")
    ship_city = "Leeds"
    ship_postal_code = "LS1 4AB"
    ship_country = "GB"
    currency = "GBP"
    total = Decimal("26.49")
    ordered_at = factory.LazyFunction(timezone.now)
    requested_service = "Royal Mail Tracked 48"


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine
        skip_postgeneration_save = True  # the customs hook below writes a Product, not the line

    order = factory.SubFactory(OrderFactory)
    external_id = factory.Sequence(lambda n: str(4000 + n))
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    title = "Hand-thrown mug"
    quantity = 1
    unit_price = Decimal("10.00")
    weight_g = 400

    @factory.post_generation
    def customs(obj, create, extracted, **kwargs):
        """The line's SKU gets a catalogue entry with customs data (HS code, origin), so parcels
        crossing a customs border can be booked; `customs=False` leaves the SKU without one."""
        if create and extracted is not False and obj.sku:
            ProductFactory(sku=obj.sku, title=obj.title)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ["sku"]

    sku = factory.Sequence(lambda n: f"SKU-{n}")
    title = "Hand-thrown mug"
    hs_code = "691200"
    origin_country = "GB"
    customs_description = "Ceramic mug"


class FulfilmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fulfilment

    order = factory.SubFactory(OrderFactory)
    tracking_number = factory.Sequence(lambda n: f"TRK{n:08d}")
    carrier_name = "Royal Mail"


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    label = factory.Sequence(lambda n: f"Warehouse {n}")
    name = "Northern Goods Ltd"
    line1 = "Unit 4, Canal Wharf"
    city = "Leeds"
    postal_code = "LS11 5PS"
    country = "GB"


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")
    sender_address = factory.SubFactory(AddressFactory)
    return_address = factory.SubFactory(AddressFactory)
    is_default = True


class CarrierAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CarrierAccount

    name = factory.Sequence(lambda n: f"Own account {n}")
    kind = CarrierAccount.Kind.SELFPRINT
    default_service = "Tracked 48"
    tracking_company = "Royal Mail"
    is_default = True


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """An endpoint subscribed to shipment.booked; point `url` at a sandbox receiver."""

    class Meta:
        model = "api.WebhookEndpoint"

    url = "http://127.0.0.1:9/sandbox/webhooks/erp/"
    description = factory.Sequence(lambda n: f"ERP {n}")
    event_types = factory.LazyFunction(lambda: ["shipment.booked"])


def catalogue() -> None:
    """Every SKU on an order line gets a catalogue entry with customs data (orders imported from
    a sandbox channel carry SKUs no factory made), so cross-border parcels can be booked."""
    skus = set(OrderLine.objects.exclude(sku="").values_list("sku", flat=True))
    for sku in skus - set(Product.objects.values_list("sku", flat=True)):
        ProductFactory(sku=sku)
