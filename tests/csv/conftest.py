import pytest

from tests.factories import ChannelFactory
from tests.shipping.conftest import sendcloud  # noqa: F401 - the Sendcloud sandbox, for "book" rows
from tests.shipping.factories import ShippableOrderFactory


@pytest.fixture
def shop(db):
    """The Etsy-Main channel with orders 1001-1005 awaiting shipment."""
    channel = ChannelFactory(name="Etsy-Main")
    orders = [
        ShippableOrderFactory(channel=channel, external_id=str(n), order_number=str(n))
        for n in range(1001, 1006)
    ]
    return channel, orders
