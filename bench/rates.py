"""`make bench NAME=rates`: rate shopping one order across four carrier accounts, against the
slowest of those carriers answering alone.

Setup (not timed): a database of its own, this project served on a loopback port (the Sendcloud
sandbox answers there), a default brand, one order of two lines inside Great Britain, and four
accounts: the self-print account (a configured price) and three Sendcloud accounts whose sandbox
stores answer every call after a steady latency (BENCH_RATES_LATENCY, default 0.15/0.25/0.35 s),
standing in for carriers of different speeds. The method cache is cleared before every ask, so
each ask makes its HTTP calls.
Timed, BENCH_RATES_ROUNDS times, alternating: each account asked alone (shipping.rating.shop with
one account), and all four asked together (what the booking form does). value = the median time
of the four together; baseline = the median time of the slowest account alone; goal: ratio <= 1.2
(the carriers are asked in parallel and Shipdesk adds little)."""

from __future__ import annotations

import os
import statistics
import time
from decimal import Decimal

from bench.common import database_url, report, serve_in_thread, setup_django

ROUNDS = int(os.environ.get("BENCH_RATES_ROUNDS", 15))
LATENCIES = [float(x) for x in os.environ.get("BENCH_RATES_LATENCY", "0.15,0.25,0.35").split(",")]


def run() -> dict:
    setup_django(database_url("rates"))
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.RATE_TIMEOUT_SECONDS = 10.0
    from sandbox.sendcloud import store_for_account
    from shipping import quoting, rating
    from shipping.booking import parcel_lines
    from shipping.carriers.sendcloud import clear_cache
    from shipping.models import CarrierAccount
    from tests.factories import BrandFactory, CarrierAccountFactory, OrderFactory, OrderLineFactory

    _, base = serve_in_thread()
    BrandFactory(name="Bench", slug="bench", is_default=True)
    accounts = [
        CarrierAccountFactory(
            name="Own labels", flat_rate=Decimal("3.20"), flat_rate_currency="GBP", transit_days=3
        )
    ]
    for i, latency in enumerate(LATENCIES):
        account = CarrierAccount.objects.create(
            name=f"Sendcloud {i + 1}",
            kind=CarrierAccount.Kind.SENDCLOUD,
            api_base_url=f"{base}/sandbox/sendcloud/api/v2",
            credentials={"public_key": f"bench_pk_{i}", "secret_key": f"bench_sk_{i}"},
        )
        store_for_account(account, post_per_minute=0, burst_per_second=0, get_per_minute=0, latency=latency)
        accounts.append(account)
    order = OrderFactory(ship_country="GB", ship_postal_code="M1 1AE", ship_city="Manchester")
    OrderLineFactory(order=order, sku="MUG-1", weight_g=900)
    OrderLineFactory(order=order, sku="TEE-2", weight_g=300)
    request, problem = quoting.parcel_for(order, parcel_lines(order, None))
    assert request is not None, problem

    def ask(which) -> float:
        clear_cache()
        started = time.perf_counter()
        result = rating.shop(request, which)
        seconds = time.perf_counter() - started
        assert not result.errors, [a.error for a in result.errors]
        assert {r.account_id for r in result.available} == {a.pk for a in which}
        return seconds

    ask(accounts)  # warm up: connections, imports, the sandbox's first queries
    alone: dict[str, list[float]] = {a.name: [] for a in accounts}
    together: list[float] = []
    for _ in range(ROUNDS):
        for account in accounts:
            alone[account.name].append(ask([account]))
        together.append(ask(accounts))
    medians = {name: statistics.median(times) for name, times in alone.items()}
    slowest_name = max(medians, key=medians.get)
    slowest = medians[slowest_name]
    value = statistics.median(together)
    ratio = value / slowest
    return report(
        "rates",
        value=value,
        unit="s",
        baseline=slowest,
        ratio=ratio,
        goal="ratio <= 1.2",
        goal_met=ratio <= 1.2,
        sentence=(
            f"Rate shopping across {len(accounts)} accounts took {value * 1000:.0f} ms (median of {ROUNDS}); "
            f"the slowest carrier alone ({slowest_name}) {slowest * 1000:.0f} ms: {ratio:.2f}x (goal <= 1.2)."
        ),
        accounts=len(accounts),
        rounds=ROUNDS,
        alone_ms={name: round(m * 1000, 1) for name, m in medians.items()},
    )


if __name__ == "__main__":
    run()
