"""Rate shopping (issue 16): ask every active carrier account at once what a parcel costs, each
with its own time limit, and choose among the answers for a shipping rule ("cheapest",
"fastest", "cheapest arriving within N days").

The carriers are asked in threads: a rate call is one or two HTTP requests that mostly wait, so
the answer takes as long as the slowest carrier (at most RATE_TIMEOUT_SECONDS), not their sum.
A carrier that fails or has not answered in time is reported with its error; the others stand."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections

from shipping.carriers.base import BookingRequest, CarrierError, NotSupported, Rate
from shipping.models import CarrierAccount, RateChoice, ShippingRule

log = logging.getLogger(__name__)


@dataclass
class CarrierAnswer:
    account: CarrierAccount
    rates: list[Rate] = field(default_factory=list)
    error: str = ""  # why this account gave no rates (its error, "no answer within 8s")
    seconds: float = 0.0


@dataclass
class RateShop:
    answers: list[CarrierAnswer]

    @property
    def rates(self) -> list[Rate]:
        """Every rate: the priced ones cheapest first, then the unavailable ones."""
        every = [r for a in self.answers for r in a.rates]
        return (
            sorted((r for r in every if is_available(r) and r.price is not None), key=_price_key)
            + [r for r in every if is_available(r) and r.price is None]
            + [r for r in every if not is_available(r)]
        )

    @property
    def available(self) -> list[Rate]:
        return [r for r in self.rates if is_available(r)]

    @property
    def errors(self) -> list[CarrierAnswer]:
        return [a for a in self.answers if a.error]

    def find(self, account_id: int, service: str) -> Rate | None:
        return next((r for r in self.available if r.account_id == account_id and r.service == service), None)


def is_available(rate: Rate) -> bool:
    """A service that can carry the parcel (priced or not: a self-print account may have no price)."""
    return not rate.unavailable


def _price_key(rate: Rate):
    return (rate.price, rate.transit_days if rate.transit_days is not None else 10**6)


def _ask(account: CarrierAccount, request: BookingRequest, timeout: float) -> CarrierAnswer:
    started = time.monotonic()
    answer = CarrierAnswer(account=account)
    try:
        adapter = account.adapter()
        client = getattr(adapter, "client", None)
        if client is not None:
            # A page (or a booking) is waiting: one try within the time limit, no retries.
            client.timeout = min(getattr(client, "timeout", timeout) or timeout, timeout)
            client.max_retries = 0
        try:
            answer.rates = adapter.rates(request)
        finally:
            adapter.close()
    except NotSupported:
        answer.error = f"{account.name} gives no rates"
    except CarrierError as exc:
        answer.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one carrier's bug must not hide the others' rates
        log.exception("Rates from %s failed", account.name)
        answer.error = f"{account.name} failed: {exc.__class__.__name__}"
    finally:
        connections.close_all()  # this thread's own database connections, if the adapter opened any
    answer.seconds = time.monotonic() - started
    return answer


def shop(
    request: BookingRequest, accounts: list[CarrierAccount] | None = None, *, timeout: float | None = None
) -> RateShop:
    """Rates for the parcel `request` describes from every account in `accounts` (default: every
    active one), asked concurrently. An account that has not answered within `timeout` seconds
    (RATE_TIMEOUT_SECONDS) is left behind with "no answer within …"; its thread ends on its own
    (its HTTP calls carry the same timeout)."""
    if accounts is None:
        accounts = list(CarrierAccount.objects.filter(is_active=True).order_by("name"))
    timeout = settings.RATE_TIMEOUT_SECONDS if timeout is None else timeout
    if not accounts:
        return RateShop(answers=[])
    pool = ThreadPoolExecutor(max_workers=len(accounts), thread_name_prefix="rates")
    try:
        futures = {pool.submit(_ask, account, request, timeout): account for account in accounts}
        done, _ = wait(futures, timeout=timeout)
        answers = []
        for future, account in futures.items():
            if future in done:
                answers.append(future.result())
            else:
                answers.append(
                    CarrierAnswer(
                        account=account,
                        error=f"{account.name}: no answer within {timeout:g}s",
                        seconds=timeout,
                    )
                )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return RateShop(answers=answers)


def rule_accounts(rule: ShippingRule) -> list[CarrierAccount]:
    """The accounts a rate rule compares: the ones it names (active only), else every active one."""
    named = [a for a in rule.rate_accounts.all() if a.is_active] if rule.pk else []
    return named or list(CarrierAccount.objects.filter(is_active=True).order_by("name"))


def describe(rate: Rate) -> str:
    days = f", {rate.transit_days} day{'s' if rate.transit_days != 1 else ''}" if rate.transit_days else ""
    price = f"{rate.price} {rate.currency}" if rate.price is not None else "no price"
    return f"{rate.carrier} {rate.service_name or rate.service} {price}{days}"


def choose(
    rates: list[Rate], choice: str, *, within_days: int | None = None, currency: str = ""
) -> tuple[Rate | None, str]:
    """The rate a rule's choice picks among the available, priced `rates`, and why none when none."""
    available = [r for r in rates if is_available(r) and r.price is not None]
    currencies = {r.currency for r in available}
    if len(currencies) > 1:
        # Prices in different currencies are not compared (Shipdesk keeps no exchange rates):
        # the parcel's own currency wins, else the one most rates are quoted in.
        keep = (
            currency
            if currency in currencies
            else max(currencies, key=lambda c: sum(r.currency == c for r in available))
        )
        available = [r for r in available if r.currency == keep]
    if choice == RateChoice.CHEAPEST_WITHIN:
        available = [
            r for r in available if r.transit_days is not None and r.transit_days <= (within_days or 0)
        ]
        if not available:
            return None, f"no service arrives within {within_days} days"
    if not available:
        return None, "no carrier quoted a price"
    if choice == RateChoice.FASTEST:
        known = [r for r in available if r.transit_days is not None] or available
        return min(known, key=lambda r: (r.transit_days or 0, r.price)), ""
    return min(available, key=_price_key), ""


def choose_for_rule(rule: ShippingRule, request: BookingRequest) -> tuple[Rate | None, list[str], RateShop]:
    """Ask the rule's accounts and pick by its choice. Returns (winner or None, the reasons for
    the timeline and the order page: which rate won and what the others cost, and the shop)."""
    result = shop(request, rule_accounts(rule))
    winner, why_not = choose(
        result.rates, rule.rate_choice, within_days=rule.rate_within_days, currency=request.currency
    )
    label = dict(RateChoice.choices).get(rule.rate_choice, rule.rate_choice)
    if rule.rate_choice == RateChoice.CHEAPEST_WITHIN:
        label = f"cheapest arriving within {rule.rate_within_days} days"
    reasons = []
    if winner is None:
        reasons.append(f"rule “{rule.name}” chooses by rate ({str(label).lower()}): {why_not}")
    else:
        reasons.append(f"rule “{rule.name}” chose by rate ({str(label).lower()}): {describe(winner)}")
    others = [describe(r) for r in result.available if r is not winner]
    if others:
        reasons.append("other rates: " + "; ".join(others))
    for answer in result.errors:
        reasons.append(f"no rates from {answer.account.name}: {answer.error}")
    return winner, reasons, result
