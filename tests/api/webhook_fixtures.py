"""Fixtures for the outgoing webhook tests: endpoints pointed at sandbox receivers on live_server."""

from types import SimpleNamespace

import pytest

from tests.factories import BrandFactory, CarrierAccountFactory, WebhookEndpointFactory


@pytest.fixture
def receivers(live_server, transactional_db):
    """make(name, types) -> (endpoint, receiver store): a webhook endpoint subscribed to `types`
    whose URL is the sandbox receiver `name`, which verifies with the endpoint's secret."""
    from sandbox.webhooks import receiver

    def make(name: str, types=("shipment.booked",)):
        endpoint = WebhookEndpointFactory(
            url=f"{live_server.url}/sandbox/webhooks/{name}/", event_types=list(types), description=name
        )
        return endpoint, receiver(name, endpoint.secret)

    return make


@pytest.fixture
def desk(transactional_db):
    """A default brand and the built-in self-print carrier, so orders can be booked."""
    return SimpleNamespace(
        brand=BrandFactory(), account=CarrierAccountFactory(name="Royal Mail (own account)")
    )
