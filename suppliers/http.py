"""HTTP for the gateway and supplier adapters.

Unlike a channel connector, these adapters need the body of a 4xx answer (a card decline is a
402 with the gateway's message), so `send` returns every definitive answer and raises
`NoAnswer` only when there is none: a timeout, a refused connection, or 429/5xx after the
retries. Every request they send is idempotent (an idempotency key or a reference), so
retrying a POST is safe."""

from __future__ import annotations

import contextlib
import logging
import random
import time

import requests
from django.conf import settings

log = logging.getLogger(__name__)

RETRYABLE = {429, 500, 502, 503, 504}


class NoAnswer(Exception):
    """The remote side may or may not have acted on the request."""


def _delay(attempt: int, response: requests.Response | None) -> float:
    delay = settings.CONNECTOR_BACKOFF_BASE * (2**attempt) * (0.5 + random.random())
    if response is not None and response.headers.get("Retry-After"):
        with contextlib.suppress(ValueError):
            delay = max(delay, float(response.headers["Retry-After"]))
    return min(delay, settings.CONNECTOR_MAX_SLEEP)


def send(method: str, url: str, *, session: requests.Session | None = None, **kwargs) -> requests.Response:
    kwargs.setdefault("timeout", settings.CONNECTOR_TIMEOUT)
    session = session or requests.Session()
    retries = settings.CONNECTOR_MAX_RETRIES
    problem = ""
    for attempt in range(retries + 1):
        response = None
        try:
            response = session.request(method, url, **kwargs)
        except requests.Timeout:
            problem = f"no answer within {kwargs['timeout']}s"
        except requests.ConnectionError as exc:
            problem = f"connection failed ({exc.__class__.__name__})"
        else:
            if response.status_code not in RETRYABLE:
                return response
            problem = f"HTTP {response.status_code} {response.text[:200].strip()}"
        if attempt < retries:
            delay = _delay(attempt, response)
            log.info("retrying %s %s in %.2fs: %s", method, url, delay, problem)
            time.sleep(delay)
    raise NoAnswer(f"{method} {url}: {problem} (gave up after {retries + 1} attempts)")


def json_body(response: requests.Response) -> dict:
    """The JSON object in an answer; NoAnswer when it is not one (a truncated or garbled reply
    says nothing about whether the remote side acted)."""
    try:
        data = response.json()
    except ValueError as exc:
        raise NoAnswer(
            f"HTTP {response.status_code} with an unreadable body: {response.text[:80]!r}"
        ) from exc
    if not isinstance(data, dict):
        raise NoAnswer(f"HTTP {response.status_code} without a JSON object")
    return data
