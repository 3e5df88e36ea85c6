"""HTTP for connectors: timeouts on every call, retries with exponential backoff and jitter
for 429 and 5xx, honouring Retry-After. Errors come out as ConnectorError.

At most once toward the channel: a request that changes something (POST, PUT, PATCH, DELETE)
is repeated here only when the channel certainly did not act on it (a 429, or a connection that
never opened). After a timeout, a dropped connection or a 5xx it may have been carried out, so
the error says so (`ConnectorError.maybe_sent`) and the caller (the outbox) asks the channel
before sending it again.

Before every attempt the client waits for a slot of the channel account's shared rate budget
(`budget`, set by the connector from its documented limits: channels/ratebudget.py), so the
workers together stay inside the channel's limits and a 429 is the exception, not the pacing."""

from __future__ import annotations

import json
import logging
import random
import time

import requests
from django.conf import settings

from channels.connectors.base import ConnectorError

log = logging.getLogger(__name__)

RETRYABLE = {429, 500, 502, 503, 504}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _never_sent(exc: requests.ConnectionError) -> bool:
    """The connection was refused or never opened: the request did not leave."""
    import urllib3

    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


class HttpClient:
    def __init__(self, *, timeout=None, max_retries=None, backoff_base=None, max_sleep=None, session=None):
        self.timeout = timeout if timeout is not None else settings.CONNECTOR_TIMEOUT
        self.max_retries = max_retries if max_retries is not None else settings.CONNECTOR_MAX_RETRIES
        self.backoff_base = backoff_base if backoff_base is not None else settings.CONNECTOR_BACKOFF_BASE
        self.max_sleep = max_sleep if max_sleep is not None else settings.CONNECTOR_MAX_SLEEP
        self.session = session or requests.Session()
        self.calls = 0
        self.budget = None  # a channels.ratebudget.Budget: the connector sets it

    def _take_slot(self, method: str, url: str) -> None:
        if self.budget is None:
            return
        from channels.ratebudget import BudgetExhausted

        try:
            self.budget.wait(method, url)
        except BudgetExhausted as exc:
            # Every worker's calls are queued that far ahead: give up this run (the sync keeps
            # its cursor, a push is retried) rather than sleep past the task's timeout.
            raise ConnectorError(
                f"{method} {url}: the channel's shared rate budget is spent for the next {exc.wait:.0f}s; "
                "trying again later",
            ) from None

    def _sleep_for(self, attempt: int, response: requests.Response | None) -> float:
        delay = (
            self.backoff_base * (2**attempt) * (0.5 + random.random())
        )  # full jitter around the exponential
        if response is not None:
            retry_after = response.headers.get("Retry-After")
            if retry_after and retry_after.replace(".", "", 1).isdigit():
                delay = max(delay, float(retry_after))
        return min(delay, self.max_sleep)

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        last_error = ""
        response = None
        for attempt in range(self.max_retries + 1):
            self._take_slot(method, url)
            self.calls += 1
            maybe_sent = False
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.ConnectionError as exc:  # ConnectTimeout included: never sent
                last_error, response = f"{method} {url}: connection failed ({exc.__class__.__name__})", None
                maybe_sent = not _never_sent(exc)
            except requests.Timeout:
                last_error, response = f"{method} {url}: timed out after {kwargs['timeout']}s", None
                maybe_sent = True
            else:
                if response.status_code not in RETRYABLE:
                    break
                last_error = f"{method} {url}: HTTP {response.status_code} {_excerpt(response)}"
                maybe_sent = response.status_code != 429
            if maybe_sent and method.upper() not in SAFE_METHODS:
                error = ConnectorError(
                    f"{last_error}; not repeated: the channel may have carried it out",
                    status=response.status_code if response is not None else None,
                )
                error.maybe_sent = True
                raise error
            if attempt < self.max_retries:
                delay = self._sleep_for(attempt, response)
                log.info("retrying %s in %.2fs: %s", url, delay, last_error)
                time.sleep(delay)
        else:
            status = response.status_code if response is not None else None
            raise ConnectorError(
                f"{last_error} (gave up after {self.max_retries + 1} attempts)", status=status
            )

        if response.status_code in (401, 403):
            raise ConnectorError(
                f"{method} {url}: credentials refused (HTTP {response.status_code}) {_excerpt(response)}",
                status=response.status_code,
                retryable=False,
                auth=True,
            )
        if response.status_code >= 400:
            raise ConnectorError(
                f"{method} {url}: HTTP {response.status_code} {_excerpt(response)}",
                status=response.status_code,
                retryable=False,
            )
        return response

    def json(self, method: str, url: str, **kwargs):
        """The answer's JSON. A read whose answer is cut off or garbled is asked again, as a 5xx
        would be (a proxy or the channel dropped the connection mid-page)."""
        tries = self.max_retries + 1 if method.upper() in SAFE_METHODS else 1
        for attempt in range(tries):
            response = self.request(method, url, **kwargs)
            if response.status_code == 204 or not response.content:
                return {}
            try:
                return response.json()
            except (ValueError, json.JSONDecodeError) as exc:
                error = ConnectorError(
                    f"{method} {url}: malformed JSON in the answer ({exc}); body starts {response.text[:80]!r}"
                    + (f" (gave up after {tries} attempts)" if tries > 1 else ""),
                    status=response.status_code,
                )
                if attempt + 1 >= tries:
                    raise error from exc
                delay = self._sleep_for(attempt, None)
                log.info("retrying %s in %.2fs: %s", url, delay, error)
                time.sleep(delay)
        raise AssertionError("unreachable")


def _excerpt(response: requests.Response) -> str:
    text = (response.text or "").strip().replace("\n", " ")
    return text[:200]
