"""/healthz and the task cluster's heartbeat (the admin index banner), through the real pieces:
the dispatcher task, the database, a local-memory or Redis cache and broker."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.conf import Conf

from config.models import Heartbeat
from orders.tasks import dispatch_due_syncs

REDIS = "redis://127.0.0.1:6379/5"
CLOSED_PORT = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused at once


def get_health(client, query=""):
    response = client.get("/healthz" + query)
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_healthy_parts_answer_200_and_a_cluster_that_never_ran_is_reported(client, db):
    status, body = get_health(client)
    assert status == 200
    assert body["status"] == "ok" and body["failed"] == []
    assert {k: v["ok"] for k, v in body["checks"].items()} == {
        "database": True,
        "cache": True,
        "broker": True,
        "cluster": False,
    }
    assert body["checks"]["cluster"]["last_run"] is None and body["checks"]["cluster"]["stale"] is True
    # A monitor asks for the cluster too: now it counts.
    status, body = get_health(client, "?cluster=1")
    assert status == 503 and body["failed"] == ["cluster"]


def test_the_dispatcher_run_is_the_heartbeat(client, db):
    dispatch_due_syncs()
    status, body = get_health(client, "?cluster=1")
    assert status == 200, body
    cluster = body["checks"]["cluster"]
    assert cluster["ok"] and not cluster["stale"] and cluster["age_seconds"] < 5
    assert " pid " in cluster["where"]

    Heartbeat.objects.filter(name="dispatcher").update(at=timezone.now() - timedelta(minutes=4))
    status, body = get_health(client, "?cluster=1")
    assert status == 503 and body["failed"] == ["cluster"]
    assert 230 < body["checks"]["cluster"]["age_seconds"] < 250
    assert get_health(client)[0] == 200  # a load balancer keeps the web servers


def test_a_cache_that_does_not_answer_is_503_naming_it(client, db, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLOSED_PORT}
    }
    status, body = get_health(client)
    assert status == 503
    assert body["failed"] == ["cache"]
    assert body["checks"]["cache"] == {
        "ok": False,
        "error": "ConnectionError",
        "ms": body["checks"]["cache"]["ms"],
    }
    assert "127.0.0.1" not in str(body)  # details go to the log, not the public answer


def test_a_broker_that_does_not_answer_is_503_naming_it(client, db, monkeypatch):
    monkeypatch.setattr(Conf, "ORM", None)  # Q_BROKER=redis
    monkeypatch.setattr(Conf, "REDIS", CLOSED_PORT)
    status, body = get_health(client)
    assert status == 503 and body["failed"] == ["broker"]


def test_redis_cache_and_broker_as_deployed(client, db, settings, monkeypatch):
    import redis

    try:
        redis.from_url(REDIS).ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (CI starts it)", pytrace=False)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS}
    }
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", REDIS)
    status, body = get_health(client)
    assert status == 200, body
    assert body["checks"]["cache"]["backend"] == "RedisCache"
    assert body["checks"]["broker"]["broker"] == "Redis"


def test_healthz_is_not_redirected_to_https_and_is_never_cached(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert client.get("/admin/login/").status_code == 301  # everything else still is
    assert client.post("/healthz").status_code == 405


def test_admin_index_shows_a_banner_when_the_dispatcher_is_stale(staff_client):
    banner = 'id="cluster-heartbeat"'
    page = staff_client.get("/admin/").content.decode()
    assert banner in page and "has never run its every-minute dispatcher" in page

    dispatch_due_syncs()
    assert banner not in staff_client.get("/admin/").content.decode()

    Heartbeat.objects.filter(name="dispatcher").update(at=timezone.now() - timedelta(minutes=7))
    page = staff_client.get("/admin/").content.decode()
    assert banner in page and "last ran 7\xa0minutes ago" in page
