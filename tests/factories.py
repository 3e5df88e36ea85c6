"""Factories for the core apps. Other apps keep theirs in tests/<app>/factories.py."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from channels.models import Channel
from orders.models import Fulfilment, Order, OrderEvent, OrderLine, Product
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
    # An entry a channel filled in part (Shopify gave an HS code but no origin) is completed.
    Product.objects.filter(sku__in=skus, hs_code="").update(hs_code="691200")
    Product.objects.filter(sku__in=skus, origin_country="").update(origin_country="GB")


def busy_order(*, lines: int, events: int, shipments: int, with_return: bool, with_supplier: bool, **fields):
    """An order as a busy one looks (the order page's tests and bench/admin.py): lines with
    images and options, parcels (a shipment with its line and fulfilment each), a return, a
    supplier order, and a timeline written by several staff members."""
    from returns.models import ReturnLine, ReturnRequest
    from shipping.models import ShipmentLine
    from suppliers.models import SupplierOrder, SupplierOrderLine
    from tests.shipping.factories import ShipmentFactory
    from tests.suppliers.factories import SupplierFactory

    brand = BrandFactory()
    carrier = CarrierAccountFactory(is_default=False)
    order = OrderFactory(status="partly_shipped", **fields)
    order_lines = [
        OrderLineFactory(
            order=order,
            quantity=2,
            options={"Colour": "Blue", "Personalisation": f"Line {i}"},
            image_url=f"https://img.example/{i}.jpg",
        )
        for i in range(lines)
    ]
    for i in range(shipments):
        line = order_lines[i % len(order_lines)]
        fulfilment = FulfilmentFactory(order=order, lines=[[line.external_id, 1]], state="sent")
        shipment = ShipmentFactory(
            order=order, carrier_account=carrier, brand=brand, fulfilment=fulfilment, status="in_transit"
        )
        ShipmentLine.objects.create(shipment=shipment, order_line=line, quantity=1)
    if with_return:
        ret = ReturnRequest.objects.create(order=order, brand=brand)
        ReturnLine.objects.create(
            return_request=ret, order_line=order_lines[0], quantity=1, reason="too_small"
        )
    if with_supplier:
        supplier = SupplierFactory()
        line = order_lines[-1]
        line.dropshipped_by = supplier.name
        line.save()
        supplier_order = SupplierOrder.objects.create(
            order=order,
            supplier=supplier,
            reference=f"SO-{order.pk}",
            currency="EUR",
            total_cost=Decimal("12"),
        )
        SupplierOrderLine.objects.create(
            supplier_order=supplier_order,
            order_line=line,
            sku=line.sku,
            title=line.title,
            quantity=2,
            unit_cost=Decimal("6"),
        )
    actors = [UserFactory(username=f"clerk{i}") for i in range(4)] + [None]
    OrderEvent.objects.bulk_create(
        OrderEvent(order=order, kind="note", message=f"Event {i}", actor=actors[i % len(actors)])
        for i in range(events)
    )
    return order
