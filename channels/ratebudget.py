"""One shared rate budget per channel account, respected by every worker on every machine.

Each connector declares the channel's documented limits (`Connector.rate_limits`: a `Limit`
per operation where the API documents them per operation, as Amazon does, else one for the
whole API) and names the account they apply to (`Connector.rate_account()`). Before each call
the HTTP client asks `Budget.wait()` for a slot and sleeps until it comes, so N workers share
the channel's budget instead of each spending all of it, and a 429 stays the rare exception.

The algorithm is GCRA (the "generic cell rate algorithm": a token bucket kept as one number).
Per key it stores the theoretical arrival time `tat`; a call reserves the slot
`max(tat, now) + 1/rate` and may go when `tat - (burst - 1)/rate <= now`. One number per key
makes the reservation a single atomic statement wherever it is kept:

- Redis, when the default cache is Django's RedisCache (CACHE_URL=rediscache://…): a Lua script,
  atomic on the server, using the server's clock, so workers on several machines share it;
- otherwise the database (`channels.RateBudget`): one `UPDATE … RETURNING` per call (an
  `INSERT … ON CONFLICT DO NOTHING` opens a bucket on first use). A per-process cache (locmem)
  would give each worker its own budget, which is the bug this module exists to fix; the
  database is shared by every worker of a one-machine install. A caller inside a transaction on
  PostgreSQL gets a short-lived connection of its own for the statement, so its open
  transaction neither holds the row lock for long nor rolls the reservation back.

The client keeps a little below the documented burst (`MARGIN`): the channel's bucket sees our
calls a network hop later and a little unevenly, and a bucket run exactly to its brim answers
429 to the first late arrival.

`RATE_LIMIT_TIME_SCALE` multiplies every documented rate alike (1 = real time). Tests and
benchmarks set it equal to `SANDBOX_TIME_SCALE`, the sandbox's, so the ratios stay true and the
suite stays fast. A slot further away than `RATE_LIMIT_MAX_WAIT` seconds is not taken: the call
fails as retryable (the sync resumes from its cursor on the next run) rather than sleep past a
task's timeout."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

log = logging.getLogger(__name__)

TABLE = "channels_ratebudget"
MARGIN = 0.1  # of the burst kept in hand for network jitter (at least one call)


@dataclass(frozen=True)
class Limit:
    """A documented limit: `rate` calls per second sustained, `burst` calls at once."""

    rate: float
    burst: int

    def client_burst(self) -> int:
        return max(1, self.burst - max(1, math.ceil(self.burst * MARGIN))) if self.burst > 1 else 1


class BudgetExhausted(Exception):
    """The next slot is further away than the caller may wait."""

    def __init__(self, key: str, wait: float):
        super().__init__(key, wait)
        self.key, self.wait = key, wait


def time_scale() -> float:
    return float(getattr(settings, "RATE_LIMIT_TIME_SCALE", 1.0) or 1.0)


def max_wait() -> float:
    return float(getattr(settings, "RATE_LIMIT_MAX_WAIT", 300.0))


# -- where the numbers live


_redis_script = None

# KEYS[1] = the key; ARGV = interval, burst allowance (tau), max wait, all in microseconds.
# Returns the wait in microseconds, negative when the slot was NOT taken (too far away).
LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, tau, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tau - now
if wait > limit then return -wait end
local new = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.floor((new - now) / 1000) + 1000)
if wait < 0 then wait = 0 end
return wait
"""


def _redis_cache():
    """The default cache when it is Django's RedisCache (shared by every machine), else None."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches[getattr(settings, "RATE_LIMIT_CACHE", "default")]
    return cache if isinstance(cache, RedisCache) else None


def _reserve_redis(cache, key: str, interval: float, tau: float, limit: float) -> float:
    global _redis_script
    client = cache._cache.get_client(key, write=True)
    if _redis_script is None:
        _redis_script = client.register_script(LUA)
    wait_us = int(
        _redis_script(
            keys=[cache.make_and_validate_key(key)],
            args=[int(interval * 1e6), int(tau * 1e6), int(limit * 1e6)],
            client=client,
        )
    )
    if wait_us < 0:
        raise BudgetExhausted(key, -wait_us / 1e6)
    return wait_us / 1e6


def _db_connection():
    """(connection, private): the default connection, unless the caller is inside a transaction
    on PostgreSQL: then a short-lived connection of our own, in autocommit, so the reservation is
    seen by the other workers at once, is not rolled back with the caller's work, and holds the
    row lock only for its statement. (SQLite has one writer at a time anyway, and a test's
    in-memory database is reachable only through the default connection.)"""
    default = connections[DEFAULT_DB_ALIAS]
    if default.vendor == "sqlite" or not default.in_atomic_block:
        return default, False
    return connections.create_connection(DEFAULT_DB_ALIAS), True


def _reserve_db(key: str, interval: float, tau: float, limit: float) -> float:
    conn, private = _db_connection()
    greatest = "MAX" if conn.vendor == "sqlite" else "GREATEST"
    now = time.time()
    # Each statement is atomic on its own: the UPDATE takes the slot only if it is near enough,
    # the INSERT opens the bucket on first use, the SELECT says how far the queue reaches.
    update = (
        f"UPDATE {TABLE} SET tat = {greatest}(tat, %s) + %s "
        f"WHERE key = %s AND {greatest}(tat, %s) - %s - %s <= %s RETURNING tat"
    )
    insert = f"INSERT INTO {TABLE} (key, tat) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING RETURNING tat"
    try:
        with conn.cursor() as cursor:
            for _ in range(3):  # a concurrent first use can beat our INSERT: then UPDATE again
                cursor.execute(update, [now, interval, key, now, tau, now, limit])
                row = cursor.fetchone()
                if row:
                    return max(0.0, row[0] - interval - tau - now)
                cursor.execute(insert, [key, now + interval])
                if cursor.fetchone():
                    return 0.0
                cursor.execute(f"SELECT tat FROM {TABLE} WHERE key = %s", [key])
                row = cursor.fetchone()
                if row and row[0] - tau - now > limit:
                    raise BudgetExhausted(key, row[0] - tau - now)
        raise RuntimeError(f"rate budget {key}: no slot after three tries")
    finally:
        if private:
            conn.close()


def reserve(key: str, limit: Limit) -> float:
    """Take the next slot of `key`'s bucket; the seconds to wait before using it."""
    rate = limit.rate * time_scale()
    interval = 1.0 / rate
    tau = (limit.client_burst() - 1) * interval
    most = max_wait()
    cache = _redis_cache()
    if cache is not None:
        return _reserve_redis(cache, key, interval, tau, most)
    return _reserve_db(key, interval, tau, most)


# -- what a connector's HTTP client holds


class Budget:
    """The shared budget of one channel account. `classify(method, url)` names the operation a
    request spends (None: not one of the API's metered calls, e.g. the OAuth token endpoint)."""

    def __init__(
        self,
        *,
        kind: str,
        account: str,
        limits: dict[str, Limit | tuple[Limit, ...]],
        classify: Callable[[str, str], str | None],
    ):
        self.kind, self.account, self.limits, self.classify = kind, account, limits, classify
        self.waited = 0.0  # seconds this client slept for slots, for logs and benchmarks
        self.operations: list[str] = []  # the operations spent, in order (benchmarks replay them)

    def key(self, operation: str) -> str:
        return f"ratebudget:{self.kind}:{self.account}:{operation}"

    def wait(self, method: str, url: str) -> float:
        """Reserve this request's slot in every bucket it counts against (an operation may
        have a per-second and a per-day limit) and sleep until the latest of them."""
        operation = self.classify(method, url)
        limits = self.limits.get(operation) if operation else None
        if not limits:
            return 0.0
        if isinstance(limits, Limit):
            limits = (limits,)
        delay = max(
            reserve(self.key(operation) + (f":{n}" if n else ""), limit) for n, limit in enumerate(limits)
        )
        self.operations.append(operation)
        if delay > 0:
            log.debug("%s %s: waiting %.2fs for a slot of %s", method, url, delay, self.key(operation))
            time.sleep(delay)
            self.waited += delay
        return delay
