"""Compound v3 (Comet) math: worked examples computed by hand from compound-finance/comet's sources
(CometWithExtendedAssetList.sol, CometCore.sol), at the truncation boundaries, and the adapter's figures on them."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from indexer.chain.abi import load
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import MarketRef
from indexer.protocols.compound_v3 import rules
from indexer.protocols.compound_v3.adapter import Asset, CompoundV3Adapter, Layout, _Indices
from indexer.types import BlockRef, Role

USDC = "0x00000000000000000000000000000000000000A1"
WETH = "0x00000000000000000000000000000000000000B2"
WBTC = "0x00000000000000000000000000000000000000C3"
USDC_FEED = "0x00000000000000000000000000000000000000F1"
WETH_FEED = "0x00000000000000000000000000000000000000F2"
WBTC_FEED = "0x00000000000000000000000000000000000000F3"
ACCOUNT = "0x00000000000000000000000000000000000000D4"
E15, E18 = 10**15, 10**18


def test_signed_price_multiplication_truncates_toward_zero():
    # -3 micro-USDC at 0.9999 USD: -3 * 99_990_000 / 1e6 = -299.97 -> Solidity gives -299 (a floor would give -300)
    assert rules.signed_mul_price(-3, 99_990_000, 10**6) == -299
    assert rules.signed_mul_price(3, 99_990_000, 10**6) == 299
    assert rules.borrowed_value(-3, 99_990_000, 10**6) == 299
    weighted = [rules.Holding(balance=299, price=10**8, scale=10**8, factor=E18)]  # adds exactly 299
    assert not rules.is_liquidatable(-3, 99_990_000, 10**6, weighted)
    short = [rules.Holding(balance=298, price=10**8, scale=10**8, factor=E18)]
    assert rules.is_liquidatable(-3, 99_990_000, 10**6, short)


def test_liquidation_line_a_unit_below_at_and_above():
    """1 WETH at 2000 USD, liquidateCF 0.90: liquidity weight 1800 USD; a borrow of 1800 USDC sits exactly on the
    line (liquidity 0: not liquidatable, health 1e18), one micro-USDC more is liquidatable."""
    weth = rules.Holding(balance=E18, price=2000 * 10**8, scale=E18, factor=9 * 10**17)
    assert rules.weighted_value(weth) == 1800 * 10**8
    for owed, liquidatable, raw in ((1800 * 10**6 - 1, False, 1000000000555555555),
                                    (1800 * 10**6, False, E18),
                                    (1800 * 10**6 + 1, True, 999999999444444444)):
        assert rules.is_liquidatable(-owed, 10**8, 10**6, [weth]) is liquidatable
        borrowed = rules.borrowed_value(-owed, 10**8, 10**6)
        assert rules.health_factor(rules.weighted_value(weth), borrowed) == raw
        assert (raw < E18) is liquidatable


def test_no_borrow_is_never_liquidatable_and_collateralized():
    assert not rules.is_liquidatable(0, 10**8, 10**6, [])
    assert not rules.is_liquidatable(5, 10**8, 10**6, [])
    assert rules.is_borrow_collateralized(5, 10**8, 10**6, [])
    assert rules.health_factor(100, 0) is None
    # a borrow with no collateral at all is liquidatable at once
    assert rules.is_liquidatable(-1, 10**8, 10**6, [])


def test_borrow_and_liquidate_factors_differ():
    """isBorrowCollateralized uses borrowCollateralFactor and >= 0; isLiquidatable liquidateCollateralFactor and < 0."""
    price, scale = 2000 * 10**8, E18
    borrow_cf = rules.Holding(E18, price, scale, 83 * 10**16)  # 1660 USD
    liquidate_cf = borrow_cf._replace(factor=9 * 10**17)  # 1800 USD
    owed = 1700 * 10**6
    assert not rules.is_borrow_collateralized(-owed, 10**8, 10**6, [borrow_cf])
    assert not rules.is_liquidatable(-owed, 10**8, 10**6, [liquidate_cf])


def test_principal_and_present_value_round_as_comet_does():
    index = 105 * 10**13  # 1.05
    principal = rules.principal_value_borrow(index, 1000 * 10**6)
    assert principal == 952_380_953  # ceil(1e9 / 1.05 = 952380952.38)
    assert rules.present_value_borrow(index, principal) == 1_000_000_000  # floor(1000000000.65)
    assert rules.present_value(-principal, E15, index) == -1_000_000_000
    assert rules.present_value(principal, 102 * 10**13, index) == 971_428_572  # floor(952380953 * 1.02)


def test_interest_accrues_on_the_stored_index():
    rate = 1_585_489_599  # 5 % a year per second: 0.05e18 / 31,536,000, floored
    # mulFactor(1e15, rate * 86400) = 1e15 * 136_986_301_353_600 / 1e18 = 136_986_301_353.6 -> floor
    assert rules.accrued_borrow_index(E15, rate, 86_400) == 1_000_136_986_301_353
    assert rules.accrued_borrow_index(E15, rate, 0) == E15


def test_stored_and_accrued_index_can_disagree():
    """1000 USDC owed at the stored index 1.0; a day of 5 % interest adds 0.136986 USDC. Collateral weighted at
    1000 USD + 5 units is safe for the isLiquidatable view and liquidatable for absorb, which accrues first."""
    holding = rules.Holding(balance=100_000_000_005, price=10**8, scale=10**8, factor=E18)
    principal = -10**9
    stored = rules.present_value(principal, E15, E15)
    accrued_index = rules.accrued_borrow_index(E15, 1_585_489_599, 86_400)
    accrued = rules.present_value(principal, E15, accrued_index)
    assert (stored, accrued) == (-1_000_000_000, -1_000_136_986)
    assert not rules.is_liquidatable(stored, 10**8, 10**6, [holding])
    assert rules.is_liquidatable(accrued, 10**8, 10**6, [holding])


def test_assets_in_bitmap_and_its_extension():
    assert rules.assets_held(0b101, 0, 3) == [0, 2]
    assert rules.is_in_asset(0, 16, 0b1) and rules.is_in_asset(0, 23, 0x80)
    assert not rules.is_in_asset(0xFFFF, 24, 0xFF)
    assert rules.assets_held(1 << 15, 0b10, 20) == [15, 17]


def test_absorb_credit_and_bad_debt():
    # 2000 USD of collateral, liquidationFactor 0.95: 1900 USD credited = 1900 USDC at 1.00
    credited = rules.liquidation_incentive_value([(2000 * 10**8, 95 * 10**16)])
    assert credited == 1900 * 10**8
    assert rules.div_price(credited, 10**8, 10**6) == 1900 * 10**6


# --- the adapter's figures


def _adapter() -> CompoundV3Adapter:
    return CompoundV3Adapter(MarketRef(key="cusdc", chain="devnet", address=USDC, options={"quote": "USD"}))


LAYOUT = Layout(USDC, "USDC", USDC_FEED, 10**6, (
    Asset(0, WETH, WETH_FEED, E18, 83 * 10**16, 90 * 10**16, 95 * 10**16, 10**30, "WETH"),
    Asset(1, WBTC, WBTC_FEED, 10**8, 70 * 10**16, 77 * 10**16, 95 * 10**16, 10**30, "WBTC"),
))


def _reading(feed: str, answer: int) -> FeedReading:
    return FeedReading(address=feed, kind="chainlink", decimals=8, description="", round_id=7, answer=answer,
                       started_at=1, updated_at=1)


def _position(principal: int, weth: int, wbtc: int, *, accrued: int = 1_000_136_986_301_353, usdc: int = 10**8):
    readings = {USDC_FEED: _reading(USDC_FEED, usdc), WETH_FEED: _reading(WETH_FEED, 2000 * 10**8),
                WBTC_FEED: _reading(WBTC_FEED, 60_000 * 10**8)}
    held = [(LAYOUT.assets[0], weth), (LAYOUT.assets[1], wbtc)]
    indices = _Indices(stored=E15, accrued=accrued, supply=E15, last_accrual=0, rate=0)
    return _adapter()._snapshot(ACCOUNT, BlockRef(number=1, hash="0x", timestamp=86_400), LAYOUT, indices,
                                readings, principal, 0b11, 0, [h for h in held if h[1]])


def test_position_health_is_the_accrued_one_and_keeps_the_views():
    snap = _position(-10**9, 0, 0)
    assert snap is not None and snap.health.liquidatable  # no collateral
    # 1 WETH (1800 weighted) against 1000 USDC: 1.8 at the stored index, a little less accrued
    snap = _position(-10**9, E18, 0)
    debt = next(leg for leg in snap.legs if leg.role is Role.DEBT)
    assert debt.amount == 1_000_136_986 and debt.value == 100_013_698_600
    assert snap.health.raw == 1800 * 10**8 * E18 // 100_013_698_600
    assert snap.detail["stored"] == {"borrow_balance": "1000000000", "health_raw": str(18 * 10**17),
                                     "liquidatable": False}
    assert snap.health.quote == "USD" and snap.health.quote_unit == 10**8


def test_unpriced_when_a_feed_answers_zero_or_less():
    assert _position(-10**9, E18, 0, usdc=0) is None
    assert _position(-10**9, E18, 0, usdc=-1) is None


def test_liquidation_points_are_exact_both_directions():
    adapter = _adapter()
    snap = _position(-15 * 10**8, E18 // 2, 10**6)  # 0.5 WETH + 0.01 BTC against 1500 USDC
    points = adapter.liquidation_points(snap)
    assert set(points) == {WETH_FEED, WBTC_FEED, USDC_FEED}
    for key, point in points.items():
        healthy = adapter.healthy_at(snap, key)
        assert healthy(point.price)
        assert not healthy(point.price - 1 if point.falling else point.price + 1)
        assert adapter.health_at(snap, {key: point.price}).liquidatable is False
        worse = point.price - 1 if point.falling else point.price + 1
        assert adapter.reprice(snap, {key: worse}).health.liquidatable is True
    assert points[USDC_FEED].falling is False and points[WETH_FEED].falling is True
    # the base price: weighted collateral 900 + 462 USD against floor(1.5e9 * 1.000136986301353) = 1500205479
    # micro-USDC owed; the largest p with floor(1500205479 * p / 1e6) <= 1362e8
    assert points[USDC_FEED].price == ((1362 * 10**8 + 1) * 10**6 - 1) // 1_500_205_479 == 90_787_563


def test_absorb_detail_below_the_line():
    snap = _position(-2 * 10**9, E18, 0)  # 1800 weighted vs ~2000.27 owed
    assert snap.health.liquidatable
    absorb = snap.detail["absorb"]
    assert absorb["credited_value"] == str(1900 * 10**8) and absorb["credited_base"] == str(1900 * 10**6)
    assert int(absorb["bad_debt"]) == 2_000_273_972 - 1900 * 10**6
    assert Decimal(snap.health.health) < 1


@pytest.mark.parametrize("answer", [None, 0, -5])
def test_price_from_feed_refuses_what_get_price_refuses(answer):
    assert CompoundV3Adapter.price_from_feed(dataclasses.replace(_reading(WETH_FEED, 1), answer=answer)) is None
    assert CompoundV3Adapter.price_from_feed(_reading(WETH_FEED, 2001 * 10**8)) == (WETH_FEED, 2001 * 10**8)


# --- the ABI: selectors and topics as Comet's deployments know them (../shared/reference/protocols.md §3)

COMET_SELECTORS = {"getAssetInfo": "c8c7fe6b", "numAssets": "a46fe83b", "isLiquidatable": "042e02cf",
                   "userBasic": "dc4abafd", "userCollateral": "2b92a07d", "baseTokenPriceFeed": "e7dad6bd",
                   "baseScale": "44c1e5eb"}
COMET_TOPICS = {
    "SupplyCollateral": "0xfa56f7b24f17183d81894d3ac2ee654e3c26388d17a28dbd9549b8114304e1f4",
    "WithdrawCollateral": "0xd6d480d5b3068db003533b170d67561494d72e3bf9fa40a266471351ebba9e16",
    "AbsorbDebt": "0x1547a878dc89ad3c367b6338b4be6a65a5dd74fb77ae044da1e8747ef1f4f62f",
}


@pytest.mark.parametrize("name", sorted(COMET_SELECTORS))
def test_comet_selectors(name):
    function = load("compound_v3", "Comet").function(name)
    args = {"getAssetInfo": [3], "isLiquidatable": [ACCOUNT], "userBasic": [ACCOUNT],
            "userCollateral": [ACCOUNT, WETH]}.get(name, [])
    assert function.call(USDC, *args).data[:4].hex() == COMET_SELECTORS[name]


def test_comet_topics_and_flat_structs():
    comet = load("compound_v3", "Comet")
    for event, topic in COMET_TOPICS.items():
        assert comet.topic(event) == topic
    assert len(comet.function("getAssetInfo").outputs) == 8 and len(comet.function("totalsBasic").outputs) == 8
    assert comet.function("userBasic").outputs[0] == "int104"
