"""Shipping mappings and rules: each condition, the precedence between them, and the
explanation staff see on the order page."""

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from shipping import rules
from shipping.booking import book_shipment
from shipping.models import ShippingMappingLine, ShippingRule
from tests.factories import (
    AddressFactory,
    CarrierAccountFactory,
    ChannelFactory,
    OrderFactory,
    OrderLineFactory,
)
from tests.shipping.factories import (
    MappingLineFactory,
    PackageFactory,
    ShippingMappingFactory,
    ShippingRuleFactory,
)


@pytest.fixture
def dpd(db):
    return CarrierAccountFactory(
        name="DPD account",
        kind="selfprint",
        tracking_company="DPD",
        default_service="Next Day",
        is_default=False,
        prefix="DP",
    )


@pytest.fixture
def evri(db):
    return CarrierAccountFactory(
        name="Evri account",
        kind="selfprint",
        tracking_company="Evri",
        default_service="Standard",
        is_default=False,
        prefix="EV",
    )


def an_order(channel=None, *, weight=400, sku="MUG-RED", **kw):
    order = OrderFactory(**({"channel": channel} if channel else {}), **kw)
    OrderLineFactory(order=order, sku=sku, weight_g=weight, quantity=1)
    return order


def test_with_nothing_set_up_the_defaults_ship_and_say_so(selfprint):
    decision = rules.resolve(an_order())

    assert decision.carrier_account == selfprint.account and decision.service == "Tracked 48"
    assert (
        decision.sender_address == selfprint.brand.sender_address
        and decision.tracking_company == "Royal Mail"
    )
    assert "carrier Royal Mail (own account): the default carrier account" in decision.reasons
    assert any("the sender address of brand Northern Goods" in r for r in decision.reasons)


def test_if_the_shop_is_x_ship_from_address_y_out_of_the_box(selfprint):
    york = AddressFactory(
        label="York shop", name="York Goods", line1="2 Stonegate", city="York", postal_code="YO1 8AS"
    )
    shop_x, shop_y = ChannelFactory(name="Etsy-York"), ChannelFactory(name="Etsy-Leeds")
    ShippingRuleFactory(name="York orders from York", channel=shop_x, sender_address=york)

    from_york = book_shipment(order=an_order(shop_x))
    from_leeds = book_shipment(order=an_order(shop_y))

    assert from_york.sender_address == york and from_leeds.sender_address == selfprint.brand.sender_address
    assert "2 Stonegate" in PdfReader(io.BytesIO(from_york.label.read())).pages[0].extract_text()
    assert "ship from York shop: rule “York orders from York”" in from_york.decision["reasons"]


@pytest.mark.parametrize(
    "condition,order_kw,matches,why",
    [
        ({"countries": "GB, IE"}, {"ship_country": "IE"}, True, "ships to IE"),
        ({"countries": "GB, IE"}, {"ship_country": "FR"}, False, "ships to FR, not GB, IE"),
        ({"min_weight_g": 1000}, {"weight": 400}, False, "weighs 400 g, under 1000 g"),
        ({"min_weight_g": 300, "max_weight_g": 500}, {"weight": 400}, True, "weighs 400 g"),
        ({"max_weight_g": 300}, {"weight": 400}, False, "weighs 400 g, over 300 g"),
        ({"requested_service": "express"}, {"requested_service": "UK Express 24"}, True, "requested service"),
        ({"requested_service": "express"}, {"requested_service": "Standard"}, False, "does not contain"),
        ({"sku": "MUG-*"}, {"sku": "MUG-RED"}, True, "has SKU MUG-RED"),
        ({"sku": "TEE-*"}, {"sku": "MUG-RED"}, False, "no line with SKU TEE-*"),
        ({"min_total": Decimal("50")}, {"total": Decimal("26.49")}, False, "under 50"),
        (
            {"min_total": Decimal("20"), "max_total": Decimal("30")},
            {"total": Decimal("26.49")},
            True,
            "total 26.49",
        ),
    ],
)
def test_each_condition_matches_or_says_why_not(selfprint, dpd, condition, order_kw, matches, why):
    weight, sku = order_kw.pop("weight", 400), order_kw.pop("sku", "MUG-RED")
    order = an_order(weight=weight, sku=sku, **order_kw)
    rule = ShippingRuleFactory(carrier_account=dpd, **condition)

    matched, seen = rules.rule_matches(rule, order, weight_g=rules.order_weight(order))
    decision = rules.resolve(order)

    assert matched is matches and any(why in s for s in seen), seen
    assert (decision.carrier_account == dpd) is matches


def test_the_channel_condition(selfprint, dpd):
    mine, other = ChannelFactory(name="Etsy-A"), ChannelFactory(name="Etsy-B")
    ShippingRuleFactory(channel=mine, carrier_account=dpd)

    assert rules.resolve(an_order(mine)).carrier_account == dpd
    assert rules.resolve(an_order(other)).carrier_account == selfprint.account


def test_rules_run_in_order_and_the_first_to_set_each_action_wins(selfprint, dpd, evri):
    box = PackageFactory(name="Mug box", tare_g=150)
    ShippingRuleFactory(name="GB to Evri", position=20, countries="GB", carrier_account=evri, package=box)
    ShippingRuleFactory(name="Mugs to DPD", position=10, sku="MUG-*", carrier_account=dpd)
    ShippingRuleFactory(name="Off", position=1, carrier_account=evri, is_active=False)

    order = an_order()
    decision = rules.resolve(order)
    shipment = book_shipment(order=order)

    assert decision.carrier_account == dpd and decision.package == box
    assert [r.name for r in decision.rules] == ["Mugs to DPD", "GB to Evri"]
    assert "rule “GB to Evri” (ships to GB) set package" in decision.reasons
    assert shipment.weight_g == 400 + 150 and shipment.package == box


def test_precedence_staff_then_rule_then_mapping_line_then_mapping_then_default(selfprint, dpd, evri):
    channel = ChannelFactory()
    mapping = ShippingMappingFactory(
        channel=channel,
        carrier_account=evri,
        service="Standard",
        tracking_company="Evri",
        shipping_name="Economy",
    )
    MappingLineFactory(
        mapping=mapping,
        requested_service="Express",
        match=ShippingMappingLine.Match.CONTAINS,
        carrier_account=dpd,
        service="Next Day",
        tracking_company="DPD",
        shipping_name="Express",
    )
    plain = an_order(channel, requested_service="Standard delivery")
    express = an_order(channel, requested_service="UK Express")

    assert rules.resolve(plain).carrier_account == evri  # the channel's default mapping
    assert rules.resolve(plain).shipping_name == "Economy"
    line_decision = rules.resolve(express)
    assert (
        line_decision.carrier_account,
        line_decision.service,
        line_decision.tracking_company,
        line_decision.shipping_name,
    ) == (dpd, "Next Day", "DPD", "Express")
    assert (
        "mapping line “contains “Express”” matched the requested service “UK Express”"
        in line_decision.reasons
    )

    ShippingRuleFactory(name="Everything own account", carrier_account=selfprint.account)
    ruled = rules.resolve(express)
    assert ruled.carrier_account == selfprint.account and ruled.service == "Tracked 48"
    # The mapping's tracking company was for DPD; the parcel now goes with the own account.
    assert ruled.tracking_company == "Royal Mail" and ruled.shipping_name == "Express"

    staff = rules.resolve(express, carrier_account=evri, service="Tracked")
    assert (staff.carrier_account, staff.service) == (evri, "Tracked")
    assert "carrier Evri account: chosen by staff" in staff.reasons


def test_mapping_lines_exact_and_contains_first_by_position(selfprint, dpd, evri):
    channel = ChannelFactory()
    mapping = ShippingMappingFactory(channel=channel)
    MappingLineFactory(
        mapping=mapping, position=2, requested_service="dom", match="contains", carrier_account=evri
    )
    MappingLineFactory(mapping=mapping, position=1, requested_service="Std CA D2D Dom", carrier_account=dpd)

    assert rules.resolve(an_order(channel, requested_service="std ca  d2d dom")).carrier_account == dpd
    assert rules.resolve(an_order(channel, requested_service="Exp CA D2D Dom")).carrier_account == evri
    assert (
        rules.resolve(an_order(channel, requested_service="International")).carrier_account
        == selfprint.account
    )


def test_the_order_page_explains_which_rule_and_mapping_line_decided(staff_client, selfprint, dpd):
    channel = ChannelFactory(name="Etsy-Main")
    mapping = ShippingMappingFactory(channel=channel, tracking_company="Royal Mail")
    MappingLineFactory(mapping=mapping, requested_service="Royal Mail Tracked 48", shipping_name="Tracked")
    ShippingRuleFactory(name="Heavy to DPD", min_weight_g=300, carrier_account=dpd)
    order = an_order(channel, requested_service="Royal Mail Tracked 48")
    url = reverse("admin:orders_order_change", args=[order.pk])

    before = staff_client.get(url).content.decode()
    book_shipment(order=order)
    after = staff_client.get(url).content.decode()

    for page in (before, after):
        assert "rule “Heavy to DPD” (weighs 400 g) set carrier account" in page
        assert "mapping line “is “Royal Mail Tracked 48”” matched the requested service" in page
        assert "shipping name “Tracked”: the mapping line" in page
    assert "Will ship with DPD account" in before and "Shipped with DPD account" in after


def test_services_seen_per_channel_with_counts_and_unmapped_flagged(staff_client, selfprint):
    channel = ChannelFactory()
    mapping = ShippingMappingFactory(channel=channel)
    MappingLineFactory(mapping=mapping, requested_service="Express")
    for service in ["Express", "Express", "Std CA D2D Dom"]:
        an_order(channel, requested_service=service)

    rows = rules.services_seen(channel)
    page = staff_client.get(
        reverse("admin:shipping_shippingmapping_change", args=[mapping.pk])
    ).content.decode()
    listing = staff_client.get(reverse("admin:shipping_shippingmapping_changelist")).content.decode()

    assert [(r["service"], r["orders"], r["line"] is not None) for r in rows] == [
        ("Express", 2, True),
        ("Std CA D2D Dom", 1, False),
    ]
    assert "Std CA D2D Dom" in page and "unmapped" in page and "mapped by line" in page
    assert "1 (1 orders)" in listing


def test_simulate_runs_the_unsaved_rule_over_recent_orders(staff_client, selfprint, dpd):
    for country in ["GB", "GB", "FR"]:
        an_order(ship_country=country)
    rule = ShippingRuleFactory(name="France by DPD", countries="FR", carrier_account=dpd)

    response = staff_client.post(
        reverse("admin:shipping_shippingrule_simulate", args=[rule.pk]),
        {
            "name": "France and GB by DPD",
            "position": 0,
            "is_active": "on",
            "countries": "FR, GB",
            "carrier_account": dpd.pk,
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "would decide something for <strong>3</strong> and change how <strong>2</strong> ship" in page
    rule.refresh_from_db()
    assert rule.countries == "FR" and ShippingRule.objects.count() == 1  # nothing saved


def test_simulate_shows_why_an_invalid_rule_was_not_run(staff_client, selfprint):
    response = staff_client.post(
        reverse("admin:shipping_shippingrule_simulate"),
        {"name": "Nothing to do", "position": 0, "countries": "Britain"},
    )

    page = response.content.decode()
    assert "was not simulated" in page and "Choose at least one action" in page
    assert not ShippingRule.objects.exists()


def test_rule_and_mapping_admin_pages_render(staff_client, selfprint, dpd):
    rule = ShippingRuleFactory(channel=ChannelFactory(), countries="GB", min_weight_g=1, carrier_account=dpd)
    assert staff_client.get(reverse("admin:shipping_shippingrule_changelist")).status_code == 200
    page = staff_client.get(reverse("admin:shipping_shippingrule_change", args=[rule.pk])).content.decode()
    assert "Simulate on the last 100 orders" in page
    assert staff_client.get(reverse("admin:shipping_shippingmapping_add")).status_code == 200
