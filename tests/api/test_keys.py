"""API keys: scopes, revocation, unknown keys, rate limits, and the key kept out of logs."""

import logging

import pytest
from rest_framework.test import APIClient

from api.models import ApiKey
from tests.factories import OrderFactory


def client_with(text: str, scheme: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {text}")
    return client


def test_a_key_without_the_scope_gets_403(make_key):
    OrderFactory()
    _, text = make_key(scopes=["orders:read"])
    client = client_with(text)
    assert client.get("/api/v1/orders").status_code == 200
    response = client.post("/api/v1/orders", {}, format="json")
    assert response.status_code == 403
    assert "orders:write" in response.json()["detail"]
    assert client.get("/api/v1/returns").status_code == 403


def test_a_revoked_key_gets_401(make_key):
    key, text = make_key()
    client = client_with(text)
    assert client.get("/api/v1/orders").status_code == 200
    assert key.revoke()
    response = client.get("/api/v1/orders")
    assert response.status_code == 401
    assert response.json()["detail"] == "This API key was revoked."
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [None, "Bearer sdk_000000000000_wrong", "Bearer nonsense", "Token sdk_x", "Bearer"],
)
def test_no_key_or_an_unknown_one_gets_401(make_key, header):
    key, text = make_key()
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/orders").status_code == 401


def test_the_right_prefix_with_a_wrong_secret_gets_401(make_key):
    key, text = make_key()
    assert client_with(text[:-2] + "xx").get("/api/v1/orders").status_code == 401
    assert client_with(text, scheme="Token").get("/api/v1/orders").status_code == 200


def test_the_key_is_stored_hashed(make_key):
    key, text = make_key()
    secret = text.split("_", 2)[2]
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert secret not in str(stored) and key.prefix in text


def test_each_key_has_its_own_rate_limit(make_key, monkeypatch):
    from api.auth import ApiKeyThrottle

    monkeypatch.setattr(ApiKeyThrottle, "THROTTLE_RATES", {"api_key": "3/minute"})
    _, first = make_key("first")
    _, second = make_key("second")
    a, b = client_with(first), client_with(second)
    assert [a.get("/api/v1/orders").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = a.get("/api/v1/orders")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert b.get("/api/v1/orders").status_code == 200


def test_the_key_never_reaches_the_logs(make_key, caplog):
    _, text = make_key(scopes=["orders:read"])
    caplog.set_level(logging.DEBUG)
    client = client_with(text)
    client.get("/api/v1/orders")
    client.post("/api/v1/orders", {}, format="json")  # 403, logged as a warning
    client_with(text + "x").get("/api/v1/orders")  # 401
    assert caplog.records
    assert text.split("_", 2)[2][:20] not in caplog.text


def test_no_cors_headers_are_sent(api):
    response = api.get("/api/v1/orders", HTTP_ORIGIN="https://elsewhere.example")
    assert response.status_code == 200
    assert not any(h.lower().startswith("access-control-") for h in response.headers)


def test_a_method_an_endpoint_does_not_take_is_405_not_a_scope_question(make_key):
    _, text = make_key(scopes=["orders:read"])
    response = client_with(text).delete("/api/v1/orders")
    assert response.status_code == 405
