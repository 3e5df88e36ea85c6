"""The OpenAPI schema: generated without a warning, and it describes exactly the API's routes."""

import re

import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from api import urls as api_urls


def api_paths() -> set[str]:
    """Every route under /api/v1/ except the schema and its page, in OpenAPI's spelling."""
    found = set()
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        if route.startswith(("schema", "docs")):
            continue
        # drf-spectacular names a `pk` path parameter `id` (SCHEMA_COERCE_PATH_PK).
        found.add("/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).replace("{pk}", "{id}"))
    return found


def test_the_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    # --fail-on-warn raises on any warning (an unresolved serializer, field or authenticator).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert yaml.safe_load(target.read_text())["openapi"].startswith("3.")


def test_the_served_schema_lists_every_route_and_nothing_else(staff_client):
    response = staff_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert set(schema["paths"]) == api_paths()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert get_resolver().resolve("/api/v1/orders/1/shipments")  # the routes are really mounted
    assert isinstance(get_resolver().url_patterns[0], URLPattern | URLResolver)


def test_the_schema_and_its_page_are_for_staff(staff_client, api):
    from django.contrib.auth.models import User
    from django.test import Client

    anonymous = Client()
    assert anonymous.get("/api/v1/schema/").status_code == 401
    assert anonymous.get("/api/v1/docs/").status_code == 401
    not_staff = Client()
    not_staff.force_login(User.objects.create_user("customer", password="x"))
    assert not_staff.get("/api/v1/docs/").status_code == 403
    page = staff_client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()  # its own files, served here
    assert api.get("/api/v1/schema/").status_code == 200
