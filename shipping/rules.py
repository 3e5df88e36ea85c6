"""Deciding how an order ships: brand, sender address, carrier account, service, package, the
shipping name and the tracking company the channel is told. Returns the decision with the
reasons behind it, so the order page can say which rule and which mapping line decided.

Precedence, highest first:
- carrier account and service: staff's choice when booking > the first matching shipping rule
  that sets them > the channel's mapping line for the requested service > the channel's
  default mapping > the default carrier account (and its default service);
- brand, sender address and package: the first matching rule that sets each > the default brand;
  a rule's sender address that carries a brand gives that brand, unless the same rule or an
  earlier one names a brand;
- shipping name and tracking company: the mapping line > the channel's default mapping > the
  carrier account. The mapping's tracking company only stands when the carrier it was written
  for is the one that ships (a rule that moves the parcel to another carrier brings that
  carrier's own tracking company)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from orders.models import Order
from shipping.models import (
    Address,
    Brand,
    CarrierAccount,
    Package,
    ShippingMapping,
    ShippingMappingLine,
    ShippingRule,
)

DEFAULT_WEIGHT_G = 500


class NoCarrier(Exception):
    pass


@dataclass
class Decision:
    carrier_account: CarrierAccount
    service: str
    tracking_company: str
    brand: Brand | None
    sender_address: Address | None
    reasons: list[str] = field(default_factory=list)
    shipping_name: str = ""
    package: Package | None = None
    rules: list[ShippingRule] = field(default_factory=list)  # the rules that decided something
    mapping_line: ShippingMappingLine | None = None
    mapping: ShippingMapping | None = None
    # Where the tracking company came from: "mapping" (a mapping line or the default mapping),
    # "account" (the carrier account) or "" (none: the booked parcel's carrier will say).
    tracking_company_source: str = ""

    def as_dict(self) -> dict:
        return {
            "carrier_account": self.carrier_account.name,
            "carrier_account_id": self.carrier_account.pk,
            "service": self.service,
            "tracking_company": self.tracking_company,
            "shipping_name": self.shipping_name,
            "brand": self.brand.name if self.brand else "",
            "sender_address": self.sender_address.label if self.sender_address else "",
            "package": self.package.name if self.package else "",
            "rules": [{"id": r.pk, "name": r.name} for r in self.rules],
            "mapping_line": {"id": self.mapping_line.pk, "match": str(self.mapping_line)}
            if self.mapping_line
            else None,
            "reasons": self.reasons,
        }

    def summary(self) -> tuple:
        """What a simulation compares: everything that changes the parcel or what the channel is told."""
        return (
            self.carrier_account.pk,
            self.service,
            self.tracking_company,
            self.shipping_name,
            self.brand.pk if self.brand else None,
            self.sender_address.pk if self.sender_address else None,
            self.package.pk if self.package else None,
        )

    def describe(self) -> str:
        parts = [f"{self.carrier_account.name}", self.service or "default service"]
        if self.sender_address:
            parts.append(f"from {self.sender_address.label}")
        if self.package:
            parts.append(f"in {self.package.name}")
        return " · ".join(parts)


class RuleSet:
    """Everything `resolve` reads, loaded once: a bulk booking or a simulation over many orders
    costs a handful of queries, not a handful per order. `rules` may be unsaved (a simulation)."""

    def __init__(self, *, rules=None, mappings=None, default_brand=None, default_account=None):
        self.rules = (
            rules
            if rules is not None
            else list(
                ShippingRule.objects.filter(is_active=True)
                .select_related(
                    "brand__sender_address", "sender_address", "carrier_account", "package", "channel"
                )
                .order_by("position", "id")
            )
        )
        if mappings is None:
            mappings = {
                m.channel_id: m
                for m in ShippingMapping.objects.select_related("carrier_account").prefetch_related(
                    "lines__carrier_account"
                )
            }
        self.mappings = mappings
        self.default_brand = (
            default_brand
            if default_brand is not None
            else (Brand.objects.filter(is_default=True).select_related("sender_address").first())
        )
        self.default_account = (
            default_account
            if default_account is not None
            else (CarrierAccount.objects.filter(is_active=True).order_by("-is_default", "name").first())
        )

    def adapter(self, account: CarrierAccount):
        """One carrier adapter per account for everything booked with this rule set, so a chunk
        of a bulk booking reuses its HTTP connection (and TLS handshake) from parcel to parcel."""
        adapters = self.__dict__.setdefault("_adapters", {})
        if account.pk not in adapters:
            adapters[account.pk] = account.adapter()
        return adapters[account.pk]

    def close(self) -> None:
        for adapter in self.__dict__.pop("_adapters", {}).values():
            adapter.close()

    @cached_property
    def email_templates(self) -> dict:
        """The customer email templates, for bookings made with this rule set (one query)."""
        from shipping.emails import all_templates

        return all_templates()

    @classmethod
    def with_rule(cls, candidate: ShippingRule) -> RuleSet:
        """The saved rules with `candidate` (unsaved or edited) in its place, for a simulation."""
        current = cls()
        rules = [r for r in current.rules if r.pk is None or r.pk != candidate.pk]
        if candidate.is_active:
            rules.append(candidate)
        rules.sort(key=lambda r: (r.position, r.pk if r.pk is not None else float("inf")))
        return cls(
            rules=rules,
            mappings=current.mappings,
            default_brand=current.default_brand,
            default_account=current.default_account,
        )


def order_weight(order: Order, lines: list[tuple] | None = None) -> int:
    """What a parcel of `order` weighs: holding `lines` ((OrderLine, quantity)), or every
    physical line when None. The order's own total weight stands for a parcel holding all of
    it; a parcel of some lines weighs what they weigh (the total shared by units where lines
    have no weight of their own)."""
    physical = [ln for ln in order.lines.all() if ln.is_physical]
    if lines is None:
        lines = [(ln, ln.quantity) for ln in physical]
    held = {ln.pk: qty for ln, qty in lines}
    whole = all(held.get(ln.pk, 0) >= ln.quantity for ln in physical)
    if order.total_weight_g and whole:
        return order.total_weight_g
    weights = sum(ln.weight_g * qty for ln, qty in lines if ln.weight_g)
    if weights:
        return weights
    if order.total_weight_g:
        units = sum(ln.quantity for ln in physical) or 1
        return max(1, round(order.total_weight_g * sum(qty for _, qty in lines) / units))
    return DEFAULT_WEIGHT_G


def rule_matches(rule: ShippingRule, order: Order, *, weight_g: int) -> tuple[bool, list[str]]:
    """Whether every condition set on the rule holds, with what each condition saw."""
    seen: list[str] = []
    if rule.channel_id:
        if order.channel_id != rule.channel_id:
            return False, [f"shop is {order.channel.name}, not {rule.channel.name}"]
        seen.append(f"shop is {rule.channel.name}")
    countries = rule.country_list
    if countries:
        if (order.ship_country or "").upper() not in countries:
            return False, [f"ships to {order.ship_country or '?'}, not {', '.join(countries)}"]
        seen.append(f"ships to {order.ship_country}")
    if rule.min_weight_g is not None and weight_g < rule.min_weight_g:
        return False, [f"weighs {weight_g} g, under {rule.min_weight_g} g"]
    if rule.max_weight_g is not None and weight_g > rule.max_weight_g:
        return False, [f"weighs {weight_g} g, over {rule.max_weight_g} g"]
    if rule.min_weight_g is not None or rule.max_weight_g is not None:
        seen.append(f"weighs {weight_g} g")
    if rule.requested_service:
        if rule.requested_service.lower() not in (order.requested_service or "").lower():
            return False, [
                f"requested service “{order.requested_service}” does not contain “{rule.requested_service}”"
            ]
        seen.append(f"requested service “{order.requested_service}”")
    if rule.sku:
        pattern = rule.sku.upper()
        skus = [ln.sku for ln in order.lines.all() if ln.sku]
        hit = next((s for s in skus if fnmatch.fnmatchcase(s.upper(), pattern)), None)
        if hit is None:
            return False, [f"no line with SKU {rule.sku}"]
        seen.append(f"has SKU {hit}")
    total = order.total or Decimal("0")
    if rule.min_total is not None and total < rule.min_total:
        return False, [f"total {total} {order.currency} under {rule.min_total}"]
    if rule.max_total is not None and total > rule.max_total:
        return False, [f"total {total} {order.currency} over {rule.max_total}"]
    if rule.min_total is not None or rule.max_total is not None:
        seen.append(f"total {total} {order.currency}")
    return True, seen or ["no conditions: applies to every order"]


def mapping_line_for(mapping: ShippingMapping | None, requested: str) -> ShippingMappingLine | None:
    if mapping is None:
        return None
    return next((line for line in mapping.lines.all() if line.matches(requested)), None)


def resolve(
    order: Order,
    *,
    carrier_account: CarrierAccount | None = None,
    service: str = "",
    ruleset: RuleSet | None = None,
    weight_g: int | None = None,
) -> Decision:
    """`weight_g`: the parcel's weight when it holds only some lines (default: the order's)."""
    ruleset = ruleset or RuleSet()
    reasons: list[str] = []
    weight = weight_g or order_weight(order)
    chosen: dict[str, tuple[object, ShippingRule]] = {}  # action -> (value, the rule that set it)
    deciding: list[ShippingRule] = []
    for rule in ruleset.rules:
        matched, seen = rule_matches(rule, order, weight_g=weight)
        if not matched:
            continue
        took = []
        for action, value in (
            ("carrier_account", rule.carrier_account),
            ("service", rule.service),
            ("brand", rule.brand),
            ("sender_address", rule.sender_address),
            ("package", rule.package),
        ):
            if value and action not in chosen:
                chosen[action] = (value, rule)
                took.append(action.replace("_", " "))
        if took:
            deciding.append(rule)
            reasons.append(f"rule “{rule.name}” ({'; '.join(seen)}) set {', '.join(took)}")
        else:
            reasons.append(f"rule “{rule.name}” matched but earlier rules had decided everything it sets")

    mapping = ruleset.mappings.get(order.channel_id)
    line = mapping_line_for(mapping, order.requested_service)
    if line:
        reasons.append(f"mapping line “{line}” matched the requested service “{order.requested_service}”")
    elif mapping and order.requested_service:
        reasons.append(
            f"no mapping line for “{order.requested_service}”: the channel's default mapping applies"
        )

    # Carrier account and service.
    mapping_account = (line.carrier_account if line and line.carrier_account else None) or (
        mapping.carrier_account if mapping else None
    )
    if carrier_account is not None:
        account, source = carrier_account, "chosen by staff"
    elif "carrier_account" in chosen:
        account, source = chosen["carrier_account"][0], f"rule “{chosen['carrier_account'][1].name}”"
    elif line and line.carrier_account:
        account, source = line.carrier_account, f"mapping line “{line}”"
    elif mapping and mapping.carrier_account:
        account, source = mapping.carrier_account, f"the default mapping of {order.channel.name}"
    elif ruleset.default_account:
        account, source = ruleset.default_account, "the default carrier account"
    else:
        raise NoCarrier("No active carrier account: add one under Shipping › Carrier accounts.")
    if not account.is_active:
        raise NoCarrier(f"Carrier account {account.name} ({source}) is not active.")
    reasons.append(f"carrier {account.name}: {source}")

    if service:
        chosen_service, service_source = service, "chosen by staff"
    elif "service" in chosen and (chosen["service"][1].carrier_account_id in (None, account.pk)):
        chosen_service, service_source = chosen["service"][0], f"rule “{chosen['service'][1].name}”"
    elif source.startswith("mapping line") and line.service:
        chosen_service, service_source = line.service, source
    elif source.startswith("the default mapping") and mapping.service:
        chosen_service, service_source = mapping.service, source
    elif "carrier_account" in chosen and source.startswith("rule") and chosen["carrier_account"][1].service:
        chosen_service, service_source = chosen["carrier_account"][1].service, source
    else:
        chosen_service, service_source = account.default_service, f"the default service of {account.name}"
    if chosen_service:
        reasons.append(f"service {chosen_service}: {service_source}")

    # What the channel is told.
    tracking_company, shipping_name, tracking_source = "", "", ""
    for where, source_obj in (("mapping line", line), ("default mapping", mapping)):
        if source_obj is None:
            continue
        own_account = source_obj.carrier_account or (
            mapping.carrier_account if where == "mapping line" and mapping else None
        )
        if not tracking_company and source_obj.tracking_company and own_account in (None, account):
            tracking_company, tracking_source = source_obj.tracking_company, "mapping"
            reasons.append(f"tracking company {tracking_company}: the {where}")
        if not shipping_name and source_obj.shipping_name:
            shipping_name = source_obj.shipping_name
            reasons.append(f"shipping name “{shipping_name}”: the {where}")
    if not tracking_company:
        tracking_company = account.tracking_company
        if tracking_company:
            tracking_source = "account"
            reasons.append(f"tracking company {tracking_company}: carrier account {account.name}")
        elif mapping_account not in (None, account):
            reasons.append(
                f"tracking company: from {account.name}'s booking (a rule moved the parcel away from "
                f"the mapping's carrier)"
            )

    # Brand, sender address, package. A rule's sender address brings the brand that address
    # carries ("if the shop is X, ship from address Y"), unless that rule, or an earlier one,
    # names a brand itself; else the default brand.
    address_brand = _address_brand(chosen["sender_address"][0]) if "sender_address" in chosen else None
    if address_brand is not None and "brand" in chosen:
        order_of = {id(r): i for i, r in enumerate(ruleset.rules)}
        if order_of.get(id(chosen["sender_address"][1]), 0) < order_of.get(id(chosen["brand"][1]), 0):
            # the address's rule came first: a later rule's brand does not stand
            reasons.append(
                f"brand {chosen['brand'][0].name} of rule “{chosen['brand'][1].name}” set aside: "
                f"rule “{chosen['sender_address'][1].name}” came first with an address of brand "
                f"{address_brand.name}"
            )
            del chosen["brand"]
    if "brand" in chosen:
        brand, brand_source = chosen["brand"][0], f"rule “{chosen['brand'][1].name}”"
    elif address_brand is not None:
        brand = address_brand
        brand_source = (
            f"the brand of address {chosen['sender_address'][0].label} "
            f"(rule “{chosen['sender_address'][1].name}”)"
        )
    else:
        brand, brand_source = ruleset.default_brand, "the default brand"
    if brand is not None:
        reasons.append(f"brand {brand.name}: {brand_source}")
    if "sender_address" in chosen:
        sender = chosen["sender_address"][0]
        reasons.append(f"ship from {sender.label}: rule “{chosen['sender_address'][1].name}”")
    elif brand is not None:
        sender = brand.sender_address
        reasons.append(f"ship from {sender.label}: the sender address of brand {brand.name}")
    else:
        sender = None
    package = chosen["package"][0] if "package" in chosen else None
    if package:
        reasons.append(f"package {package.name}: rule “{chosen['package'][1].name}”")

    return Decision(
        carrier_account=account,
        service=chosen_service,
        tracking_company=tracking_company,
        brand=brand,
        sender_address=sender,
        reasons=reasons,
        shipping_name=shipping_name,
        package=package,
        rules=deciding,
        mapping_line=line,
        mapping=mapping,
        tracking_company_source=tracking_source,
    )


def _address_brand(address: Address) -> Brand | None:
    """The brand an address carries. Read through the address object the rule set holds, so
    the brand is loaded once per rule set, not once per order."""
    return address.brand if address.brand_id else None


def service_problem(decision: Decision, order: Order, *, weight_g: int | None = None) -> str:
    """Why the decided carrier and service cannot carry this order (destination, weight), or ""
    when they can. Asks the carrier which services it offers to the destination (Sendcloud:
    its shipping methods, cached for an hour); a carrier that lists none is trusted."""
    from contextlib import closing

    from shipping.carriers.base import CarrierError
    from shipping.carriers.sendcloud_mapping import pick_method

    weight = weight_g or order_weight(order)
    country = (order.ship_country or "").upper()
    account = decision.carrier_account
    try:
        with closing(account.adapter()) as adapter:
            client = getattr(adapter, "client", None)
            if client is not None:  # a page is waiting: ask once, do not sit through the retries
                client.max_retries = 0
            options = adapter.services(
                sender_country=decision.sender_address.country if decision.sender_address else "",
                to_country=country,
            )
    except CarrierError as exc:
        return f"{account.name} could not say which services reach {country or 'the destination'}: {exc}"
    if account.kind == CarrierAccount.Kind.SELFPRINT or not options:
        return ""
    if pick_method(options, decision.service, weight) is not None:
        return ""
    wanted = f"“{decision.service}”" if decision.service else "any service"
    fitting = [o for o in options if pick_method([o], "", weight)]
    offer = ", ".join(o.name for o in fitting[:6])
    return f"{account.name} has no {wanted} to {country or 'this destination'} for {weight} g" + (
        f" (it offers {offer})" if offer else " (and no other service for this weight)"
    )


def services_seen(channel) -> list[dict]:
    """The requested service strings a channel's orders carry, with counts, and the mapping
    line that maps each (None: unmapped, the default mapping applies)."""
    from django.db.models import Count

    mapping = ShippingMapping.objects.filter(channel=channel).prefetch_related("lines").first()
    rows = (
        Order.objects.filter(channel=channel)
        .values("requested_service")
        .annotate(orders=Count("id"))
        .order_by("-orders", "requested_service")
    )
    return [
        {
            "service": r["requested_service"],
            "orders": r["orders"],
            "line": mapping_line_for(mapping, r["requested_service"]),
        }
        for r in rows
    ]


def unmapped_services(orders=None) -> list[dict]:
    """The requested services of orders still to ship that no mapping line of their channel
    maps (the channel's default mapping, or none, applies): [{channel_id, service, orders}].
    Two queries whatever the number of orders: the (channel, service) pairs of open orders, and
    the mapping lines (matching is the lines' own rule, in Python)."""
    from django.db.models import Count

    rows = (
        (Order.objects.to_ship() if orders is None else orders)
        .exclude(requested_service="")
        .order_by()
        .values("channel_id", "requested_service")
        .annotate(n=Count("id"))
    )
    rows = list(rows)
    # Every mapping line (configuration: a few dozen), always, so the query count stays fixed.
    lines: dict[int, list[ShippingMappingLine]] = {}
    for line in ShippingMappingLine.objects.select_related("mapping"):
        lines.setdefault(line.mapping.channel_id, []).append(line)
    return [
        {"channel_id": r["channel_id"], "service": r["requested_service"], "orders": r["n"]}
        for r in rows
        if not any(line.matches(r["requested_service"]) for line in lines.get(r["channel_id"], []))
    ]
