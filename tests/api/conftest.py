import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from api.models import ApiKey, Scope

ALL_SCOPES = [s.value for s in Scope]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Rate-limit counters live in the cache, which outlives a test."""
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def make_key(db):
    def make(name="ERP", scopes=ALL_SCOPES):
        key, text = ApiKey.new(name=name, scopes=scopes)
        return key, text

    return make


@pytest.fixture
def api(make_key):
    """An APIClient sending a key with every scope."""
    key, text = make_key()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
    client.key = key
    return client


def order_body(**overrides) -> dict:
    body = {
        "external_id": "POS-1001",
        "order_number": "1001",
        "customer_name": "Ann Example",
        "email": "ann@example.test",
        "address": {
            "name": "Ann Example",
            "line1": "1 High Street",
            "city": "Leeds",
            "postal_code": "LS1 4AB",
            "country": "gb",
        },
        "currency": "GBP",
        "total": "30.00",
        "lines": [
            {
                "id": "L1",
                "sku": "MUG-1",
                "title": "Mug",
                "quantity": 2,
                "unit_price": "10.00",
                "weight_g": 400,
            },
            {
                "id": "L2",
                "sku": "TEE-M",
                "title": "Tee",
                "quantity": 1,
                "unit_price": "10.00",
                "weight_g": 200,
            },
        ],
    }
    body.update(overrides)
    return body
