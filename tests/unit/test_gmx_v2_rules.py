"""GMX v2 math: worked examples computed by hand from gmx-synthetics' contracts/position/PositionUtils.sol
(getPositionPnlUsd, isPositionLiquidatable: remaining collateral vs MIN_COLLATERAL_USD, 0 and
applyFactor(sizeInUsd, minCollateralFactor)), contracts/utils/Precision.sol (applyFactor, 1e30) and
contracts/oracle/ChainlinkPriceFeedUtils.sol (answer × multiplier / 1e30), and the adapter's figures on them.

Units: USD 1e30; a token price is USD × 1e30 per smallest unit (ETH at 2500 USD = 2500e12, USDC at 1 = 1e24)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from indexer.oracles.reading import FeedReading
from indexer.protocols.base import MarketRef
from indexer.protocols.gmx_v2 import rules
from indexer.protocols.gmx_v2.adapter import _FEED_TOKENS, GmxV2Adapter
from indexer.types import UINT256_MAX, BlockRef, Health, Leg, MarginMode, PositionSnapshot, Role

USD = 10**30
WETH = "0x00000000000000000000000000000000000000B2"
USDC = "0x00000000000000000000000000000000000000A1"
WETH_FEED = "0x00000000000000000000000000000000000000F2"
WALLET = "0x00000000000000000000000000000000000000D4"
ETH = 10**12  # one USD of ETH price (18 decimals): 1e30 / 1e18
MICRO_USDC_PRICE = 10**24  # USDC at 1 USD (6 decimals)
PCT = USD // 100

ADAPTER = GmxV2Adapter(MarketRef(key="gmx", chain="devnet", address="0x" + "11" * 20,
                                 options={"data_store": "0x" + "22" * 20, "referral_storage": "0x" + "33" * 20}))


def snapshot(*, is_long: bool, size_usd: int, tokens: int, index_price: int, collateral: str, amount: int,
             collateral_price: int, factor: int = PCT, min_usd: int = USD, position_fee_usd: int = 0,
             borrowing_fee_usd: int = 0, other_cost: int = 0, impact: int = 0) -> PositionSnapshot:
    """A position as the adapter assembles it from a Reader answer (the Reader's PnL at the read price)."""
    decimals = 18 if collateral == WETH else 6
    detail: dict[str, Any] = {
        "position_key": "0x" + "ab" * 32, "is_long": is_long, "size_in_usd": str(size_usd),
        "size_in_tokens": str(tokens), "collateral_amount": str(amount), "collateral_token": collateral,
        "fees": {"position_fee_usd": str(position_fee_usd), "borrowing_fee_usd": str(borrowing_fee_usd),
                 "other_cost_amount": str(other_cost)},
        "price_impact_usd": str(impact), "min_collateral_factor_for_liquidation": str(factor),
        "min_collateral_usd": str(min_usd), "read_index_price": str(index_price),
        "pnl_read": str(rules.position_pnl_usd(is_long, size_usd, tokens, index_price)),
    }
    legs = [Leg(asset=WETH, symbol="ETH", decimals=18, role=Role.LONG if is_long else Role.SHORT, amount=tokens,
                price=index_price, price_decimals=12, price_key=WETH, value=tokens * index_price, feed=WETH_FEED),
            Leg(asset=collateral, symbol="C", decimals=decimals, role=Role.COLLATERAL, amount=amount,
                price=collateral_price, price_decimals=30 - decimals, price_key=collateral,
                value=amount * collateral_price)]
    s = PositionSnapshot(chain="devnet", protocol="gmx_v2", market="gmx", market_address="0x" + "11" * 20,
                         account=f"{WALLET}:0x{'ab' * 32}", block=BlockRef(1, "0x", 0), legs=legs,
                         health=Health(raw=UINT256_MAX, decimals=18, health=None, equity=0, requirement=0,
                                       collateral=0, debt=0, quote="USD", quote_unit=USD),
                         margin_mode=MarginMode.ISOLATED, detail=detail)
    return ADAPTER.reprice(s, {})


def test_feed_price_and_multiplier():
    # ETH/USD feed, 8 decimals, WETH 18 decimals: multiplier 10**(60-8-18) = 1e34; 2500e8 × 1e34 / 1e30 = 2500e12
    assert rules.price_multiplier(8, 18) == 10**34
    assert rules.feed_price(2500 * 10**8, 10**34) == 2500 * ETH
    assert rules.feed_price(10**8, rules.price_multiplier(8, 6)) == MICRO_USDC_PRICE
    assert rules.feed_price(0, 10**34) is None and rules.feed_price(-1, 10**34) is None
    _FEED_TOKENS[("devnet", "gmx", WETH_FEED)] = (WETH, 10**34)
    assert ADAPTER.price_from_feed(FeedReading(address=WETH_FEED, kind="chainlink", answer=2100 * 10**8)) == (
        WETH, 2100 * ETH)


def test_keys_follow_keys_sol():
    # keccak256(abi.encode(keccak256(abi.encode("MIN_COLLATERAL_FACTOR")), market)), as the DataStore is keyed
    assert rules.min_collateral_factor_key(WETH) == rules.keyed("MIN_COLLATERAL_FACTOR", WETH)
    assert rules.key_name("MIN_COLLATERAL_USD") == rules.MIN_COLLATERAL_USD_KEY
    assert rules.price_feed_key(WETH) != rules.price_feed_key(USDC)


def test_long_in_profit():
    """Long 10,000 USD from 2000 (5 ETH), ETH at 2500: PnL +2,500; 1,000 USDC collateral: remaining 3,500 USD;
    requirement max(1 % of 10,000 = 100, MIN_COLLATERAL_USD 1) = 100: health 35."""
    s = snapshot(is_long=True, size_usd=10_000 * USD, tokens=5 * 10**18, index_price=2500 * ETH, collateral=USDC,
                 amount=1_000 * 10**6, collateral_price=MICRO_USDC_PRICE)
    assert rules.position_pnl_usd(True, 10_000 * USD, 5 * 10**18, 2500 * ETH) == 2_500 * USD
    assert (s.health.equity, s.health.requirement) == (3_500 * USD, 100 * USD)
    assert s.health.raw == 35 * 10**18 and s.health.health == Decimal(35) and not s.health.liquidatable
    assert s.legs[0].terms["unrealized_pnl"] == 2_500 * USD and s.legs[0].terms["leverage"] == 100_000  # 10x


def test_short_in_loss():
    """Short 10,000 USD from 2000 (5 ETH), ETH at 2100: PnL 10,000 − 10,500 = −500; 1,000 USDC: remaining 500."""
    s = snapshot(is_long=False, size_usd=10_000 * USD, tokens=5 * 10**18, index_price=2100 * ETH, collateral=USDC,
                 amount=1_000 * 10**6, collateral_price=MICRO_USDC_PRICE)
    assert s.health.equity == 500 * USD and s.health.raw == 5 * 10**18
    assert s.legs[0].role is Role.SHORT and s.legs[0].terms["unrealized_pnl"] == -500 * USD


def test_fees_and_price_impact_come_off_the_collateral():
    """Position fee applyFactor(10,000, 0.05 %) = 5 USD and borrowing 10 USD, in USDC units at 1e24: 5e6 + 10e6;
    a close impact of −40 USD capped at −applyFactor(10,000, 0.1 %) = −10."""
    impact = rules.capped_price_impact(-40 * USD, 10_000 * USD, USD // 1000)
    assert impact == -10 * USD and rules.capped_price_impact(7 * USD, 10_000 * USD, USD // 1000) == 0
    s = snapshot(is_long=True, size_usd=10_000 * USD, tokens=5 * 10**18, index_price=2000 * ETH, collateral=USDC,
                 amount=1_000 * 10**6, collateral_price=MICRO_USDC_PRICE,
                 position_fee_usd=rules.apply_factor(10_000 * USD, USD // 2000), borrowing_fee_usd=10 * USD,
                 other_cost=2 * 10**6, impact=impact)
    # 1,000 + 0 PnL − 10 impact − (5 + 10 + 2) fees
    assert s.health.equity == 973 * USD


def test_exactly_at_the_factor_boundary_one_unit_each_side():
    """Long 5 ETH from 2000, ETH at 1900: PnL −500; requirement 100 USD. 600 USDC leaves exactly 100: not
    liquidatable (the test is remaining < requirement), health exactly 1; one micro-USDC less is."""
    common = dict(is_long=True, size_usd=10_000 * USD, tokens=5 * 10**18, index_price=1900 * ETH, collateral=USDC,
                  collateral_price=MICRO_USDC_PRICE)
    at = snapshot(amount=600 * 10**6, **common)
    below = snapshot(amount=600 * 10**6 - 1, **common)
    above = snapshot(amount=600 * 10**6 + 1, **common)
    assert at.health.equity == at.health.requirement == 100 * USD
    assert at.health.raw == 10**18 and not at.health.liquidatable and at.detail["reason"] == ""
    assert below.health.equity == 100 * USD - MICRO_USDC_PRICE and below.health.liquidatable
    assert below.detail["reason"] == "min collateral for leverage" and below.health.raw == 10**18 - 10**10
    assert not above.health.liquidatable


def test_min_collateral_usd_binds_on_a_small_position():
    """1,000 USD long at 1 % needs 10 USD by the factor, but MIN_COLLATERAL_USD is 50: 40 USD left liquidates
    ("min collateral", checked first); on 100,000 USD the factor's 1,000 binds instead."""
    small = snapshot(is_long=True, size_usd=1_000 * USD, tokens=10**18 // 2, index_price=2000 * ETH,
                     collateral=USDC, amount=40 * 10**6, collateral_price=MICRO_USDC_PRICE, min_usd=50 * USD)
    assert small.health.requirement == 50 * USD and small.health.liquidatable
    assert small.detail["reason"] == "min collateral"
    assert small.detail["min_collateral_usd_for_leverage"] == str(10 * USD)
    big = snapshot(is_long=True, size_usd=100_000 * USD, tokens=50 * 10**18, index_price=2000 * ETH,
                   collateral=USDC, amount=999 * 10**6, collateral_price=MICRO_USDC_PRICE, min_usd=50 * USD)
    assert big.health.requirement == 1_000 * USD and big.health.liquidatable
    assert big.detail["reason"] == "min collateral for leverage"
    # remaining exactly 0 with no minimum at all: not below MIN_COLLATERAL_USD (0), but "≤ 0" liquidates
    assert rules.verdict(rules.Position(True, 1, 1, 0, 0, 0, 0, 0, 0, 0), 1, 1).reason == "< 0"


def _check_point(s: PositionSnapshot, key: str, expected: int, falling: bool) -> None:
    point = ADAPTER.liquidation_points(s)[key]
    assert (point.price, point.falling) == (expected, falling)
    healthy = ADAPTER.healthy_at(s, key)
    past = expected - 1 if falling else expected + 1
    assert healthy(expected) and not healthy(past)
    assert not ADAPTER.health_at(s, {key: expected}).liquidatable
    assert ADAPTER.health_at(s, {key: past}).liquidatable


def test_long_liquidation_price_falls():
    """Long 5 ETH / 10,000 USD, 1,000 USDC: 1,000 + 5p − 10,000 ≥ 100 ⇔ p ≥ 1,820 USD = 1820e12, exactly."""
    s = snapshot(is_long=True, size_usd=10_000 * USD, tokens=5 * 10**18, index_price=2500 * ETH, collateral=USDC,
                 amount=1_000 * 10**6, collateral_price=MICRO_USDC_PRICE)
    _check_point(s, WETH, 1820 * ETH, falling=True)
    assert s.legs[0].terms["liquidation_px"] == 1820 * ETH
    # the USDC collateral liquidates it falling too: 2,500 PnL + c × 1,000 ≥ 100 never fails above 0 → no point
    assert USDC not in ADAPTER.liquidation_points(s)


def test_short_liquidation_price_rises():
    """Short 5 ETH / 10,000 USD, 1,000 USDC: 1,000 + 10,000 − 5p ≥ 100 ⇔ p ≤ 2,180 USD."""
    s = snapshot(is_long=False, size_usd=10_000 * USD, tokens=5 * 10**18, index_price=2100 * ETH, collateral=USDC,
                 amount=1_000 * 10**6, collateral_price=MICRO_USDC_PRICE)
    _check_point(s, WETH, 2180 * ETH, falling=False)


def test_same_token_collateral_moves_with_the_index():
    """Long 5 ETH / 10,000 USD on 1 WETH collateral: one price key for both legs; 1·p + 5·p − 10,000 ≥ 100 ⇔
    p ≥ 10,100 / 6 USD: the first price unit at or above it is ceil(1.01e34 / 6e18) = 1683333333333334."""
    s = snapshot(is_long=True, size_usd=10_000 * USD, tokens=5 * 10**18, index_price=2500 * ETH, collateral=WETH,
                 amount=10**18, collateral_price=2500 * ETH)
    assert ADAPTER.price_dependencies(s) == {WETH}
    assert s.health.equity == 6 * 2500 * USD - 10_000 * USD
    _check_point(s, WETH, -(-(10_100 * USD) // (6 * 10**18)), falling=True)
    moved = ADAPTER.reprice(s, {WETH: 2000 * ETH})
    assert [leg.price for leg in moved.legs] == [2000 * ETH, 2000 * ETH]
    assert moved.health.equity == 6 * 2000 * USD - 10_000 * USD
