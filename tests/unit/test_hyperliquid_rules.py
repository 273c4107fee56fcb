"""Hyperliquid's margin rules against the venue's own published figures.

The example is the ``clearinghouseState`` answer printed in the venue's info-endpoint docs: one isolated ETH
long (szi 0.0335, rawUsd -95.059824, max leverage 50, positionValue 100.02765, marginUsed 4.967826) whose
``liquidationPx`` the venue gives as 2866.26936529.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from indexer.protocols.base import MarketRef
from indexer.protocols.hyperliquid import rules
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter, universe
from indexer.protocols.hyperliquid.rules import PerpPosition, Tier, VenueDataError
from indexer.types import Role

ACCOUNT = "0x00000000000000000000000000000000000000A1"
DOC_STATE = {
    "assetPositions": [{"type": "oneWay", "position": {
        "coin": "ETH", "cumFunding": {"allTime": "514.085417", "sinceChange": "0.0", "sinceOpen": "0.0"},
        "entryPx": "2986.3", "leverage": {"rawUsd": "-95.059824", "type": "isolated", "value": 20},
        "liquidationPx": "2866.26936529", "marginUsed": "4.967826", "maxLeverage": 50,
        "positionValue": "100.02765", "returnOnEquity": "-0.0026789", "szi": "0.0335", "unrealizedPnl": "-0.0134"}}],
    "crossMaintenanceMarginUsed": "0.0",
    "crossMarginSummary": {"accountValue": "13104.514502", "totalMarginUsed": "0.0", "totalNtlPos": "0.0",
                           "totalRawUsd": "13104.514502"},
    "marginSummary": {"accountValue": "13109.482328", "totalMarginUsed": "4.967826", "totalNtlPos": "100.02765",
                      "totalRawUsd": "13009.454678"},
    "time": 1708622398623, "withdrawable": "13104.514502",
}  # fmt: skip
META = {"universe": [{"name": "ETH", "szDecimals": 4, "maxLeverage": 50, "marginTableId": 50},
                     {"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "marginTableId": 56}],
        "marginTables": [[50, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 50}]}],
                         [56, {"description": "tiered 40x",
                               "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 40},
                                               {"lowerBound": "150000000.0", "maxLeverage": 20}]}]]}  # fmt: skip


def adapter() -> HyperliquidAdapter:
    return HyperliquidAdapter(MarketRef(key="hl", chain="hyperliquid", address="", options={"dex": ""}))


def test_decimal_strings_become_exact_integers():
    assert rules.units("0.1", 6, what="x") == 100_000
    assert rules.units("-95.059824", 6, what="x") == -95_059_824
    assert rules.units("13104.514502", 6, what="x") == 13_104_514_502
    assert rules.units("1e-6", 6, what="x") == 1
    with pytest.raises(VenueDataError, match="more than 4 decimal places"):
        rules.units("0.00001", 4, what="szi")
    for bad in ("NaN", "inf", "abc", None):
        with pytest.raises(VenueDataError):
            rules.units(bad, 6, what="x")


def test_the_docs_isolated_position_equity_and_liquidation_price():
    cross, iso = adapter().snapshots(ACCOUNT, DOC_STATE, universe(META))
    # the cross account holds cash only; the isolated ETH long is an account of its own, owned by the wallet
    assert (cross.account, cross.legs, cross.health.health, cross.health.equity) == (ACCOUNT, [], None, 13_104_514_502)
    assert (iso.account, iso.owner, iso.margin_mode) == (f"{ACCOUNT}:ETH", ACCOUNT, "isolated")
    (leg,) = iso.legs
    # mark = positionValue / szi = 2985.9, at ETH's 2 price decimals; equity = rawUsd + szi * mark
    assert (leg.role, leg.amount, leg.price, leg.price_decimals) == (Role.LONG, 335, 298_590, 2)
    assert iso.health.equity == iso.detail["margin_used"] == 4_967_826  # the venue's marginUsed, to the micro-dollar
    assert iso.health.requirement == 1_000_277  # ceil(100.02765 USD / 100): 1/(2·50) of the notional
    # the venue's liquidationPx lies between the indexer's last safe mark and the next tick down
    point = adapter().liquidation_points(iso)[leg.price_key]
    venue = Fraction(Decimal("2866.26936529"))
    assert point.falling and point.price == 286_627
    assert Fraction(point.price - 1, 100) < venue <= Fraction(point.price, 100)
    position = PerpPosition("ETH", 335, 4, 298_590, (Tier(0, 50),), -95_059_824)
    assert rules.healthy(position.raw_usd, [position], {"ETH": 286_627})
    assert not rules.healthy(position.raw_usd, [position], {"ETH": 286_626})


def test_margin_tiers_are_continuous_and_use_the_deduction():
    tiers = (Tier(0, 40), Tier(150_000_000 * 10**6, 20))
    bound = 150_000_000 * 10**6
    # below the bound: 1/80 of the notional; at and above it: 1/40 minus the deduction, continuous at the bound
    assert rules.maintenance(bound - 1, tiers) == Fraction(bound - 1, 80)
    assert rules.maintenance(bound, tiers) == Fraction(bound, 80)
    assert rules.maintenance(2 * bound, tiers) == Fraction(2 * bound, 40) - bound * (Fraction(1, 40) - Fraction(1, 80))
    assert rules.tiers_of(10, {}) == (Tier(0, 10),)  # ids below 50: one tier at that leverage
    with pytest.raises(VenueDataError, match="margin table 57"):
        rules.tiers_of(57, {})


def test_cross_account_health_and_direction_aware_liquidation_points():
    state = {
        "assetPositions": [
            {"type": "oneWay", "position": {"coin": "ETH", "szi": "10.0", "entryPx": "3000.0",
                                            "leverage": {"type": "cross", "value": 10}, "positionValue": "30000.0",
                                            "unrealizedPnl": "0.0", "liquidationPx": None, "marginUsed": "3000.0",
                                            "cumFunding": {"sinceOpen": "0.0"}}},
            {"type": "oneWay", "position": {"coin": "BTC", "szi": "-0.5", "entryPx": "60000.0",
                                            "leverage": {"type": "cross", "value": 10}, "positionValue": "30000.0",
                                            "unrealizedPnl": "0.0", "liquidationPx": None, "marginUsed": "3000.0",
                                            "cumFunding": {"sinceOpen": "0.0"}}},
        ],
        # cash 1000 - 30000 (long bought) + 30000 (short sold) = 1000; value = 1000 + 30000 - 30000
        "crossMarginSummary": {"accountValue": "1000.0", "totalRawUsd": "1000.0", "totalNtlPos": "60000.0",
                               "totalMarginUsed": "6000.0"},
        "crossMaintenanceMarginUsed": "675.0",  # 30000/100 + 30000/80
        "time": 1_700_000_000_000,
    }  # fmt: skip
    a = adapter()
    (snapshot,) = a.snapshots(ACCOUNT, state, universe(META))
    eth, btc = snapshot.legs
    assert (eth.role, eth.amount, eth.price, btc.role, btc.amount, btc.price) == (
        Role.LONG, 100_000, 300_000, Role.SHORT, 50_000, 600_000)
    assert snapshot.health.raw == 1000 * 10**18 // 675  # accountValue / crossMaintenanceMarginUsed, WAD, floored
    recomputed = a.health_at(snapshot, {})
    assert (recomputed.equity, recomputed.requirement) == (snapshot.health.equity, snapshot.health.requirement)
    points = a.liquidation_points(snapshot)
    long_point, short_point = points[eth.price_key], points[btc.price_key]
    assert long_point.falling and not short_point.falling  # a long dies as its mark falls, a short as it rises
    for key, point, step in ((eth.price_key, long_point, -1), (btc.price_key, short_point, 1)):
        assert not a.health_at(snapshot, {key: point.price}).liquidatable
        assert a.health_at(snapshot, {key: point.price + step}).liquidatable
