"""Factories for dropshipping tests."""

from decimal import Decimal

import factory

from suppliers.models import PaymentGateway, Supplier, SupplierOrder, SupplierProduct


class PaymentGatewayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentGateway

    name = factory.Sequence(lambda n: f"Card (Stripe) {n}")
    kind = PaymentGateway.Kind.STRIPE
    api_base_url = "http://127.0.0.1:9/sandbox/stripe/v1"
    credentials = factory.LazyFunction(
        lambda: {"secret_key": "sk_test_shipdesk", "payment_method": "pm_card_visa"}
    )


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Supplier {n}")
    contact_name = "Ingrid"
    email = factory.LazyAttribute(lambda s: f"orders@{s.name.lower().replace(' ', '')}.example")
    currency = "EUR"
    order_method = Supplier.OrderMethod.EMAIL
    tracking_method = Supplier.TrackingMethod.PAGE

    @factory.post_generation
    def gateways(self, create, extracted, **kwargs):
        if create and extracted:
            self.allowed_gateways.set(extracted)


class SupplierProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupplierProduct

    supplier = factory.SubFactory(SupplierFactory)
    sku = factory.Sequence(lambda n: f"SUP-SKU-{n}")
    supplier_sku = factory.LazyAttribute(lambda p: f"AN-{p.sku}")
    title = "Linen apron"
    cost_price = Decimal("6.00")


class SupplierOrderFactory(factory.django.DjangoModelFactory):
    """A supplier order as routing leaves it (awaiting payment), without lines."""

    class Meta:
        model = SupplierOrder

    order = factory.SubFactory("tests.factories.OrderFactory")
    supplier = factory.SubFactory(SupplierFactory)
    currency = "EUR"
    total_cost = Decimal("6.00")
