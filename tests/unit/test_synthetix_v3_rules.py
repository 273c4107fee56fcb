"""Synthetix v3 perps margin rules, against worked examples computed by hand from @synthetixio/perps-market 3.13.0:
storage/PerpsMarketConfiguration.sol l.115-146 (required margins), storage/PerpsAccount.sol l.406-415 (available
margin), l.486-547 (liquidation reward), storage/GlobalPerpsMarketConfiguration.sol l.116-155 (keeper reward caps),
modules/PerpsAccountModule.sol l.217-219 (getRequiredMargins adds the reward), storage/Position.sol l.85-86 (pnl).

Markets as the devnet sets them: ETH skewScale 1,000,000, initial margin ratio 2, minimum initial margin ratio 0.02,
maintenance scalar 0.5, flag reward ratio 0.0003, minimum position margin 50; BTC skewScale 10,000, ratio 3, minimum
0.025. Guards: min reward 1 USD, min profit ratio 0.3, max reward 500 USD, max scaling 0.5; collateral reward ratio
0.0001; keeper costs 0.5 + 0.7 = 1.2 USD.
"""

from __future__ import annotations

from typing import Any

from indexer.protocols.base import MarketRef
from indexer.protocols.synthetix_v3 import rules
from indexer.protocols.synthetix_v3.adapter import ORACLE_DATA_REQUIRED, SynthetixV3Adapter, _health
from indexer.protocols.synthetix_v3.rules import Guards, MarketParams, RewardTerms
from indexer.types import BlockRef, Leg, MarginMode, PositionSnapshot, Role

W = 10**18
ETH = MarketParams(1_000_000 * W, 2 * W, W // 50, W // 2, 3 * W // 10_000, 50 * W, 21_000 * W)
BTC = MarketParams(10_000 * W, 3 * W, W // 40, W // 2, 3 * W // 10_000, 50 * W, 210 * W)
GUARDS = Guards(W, 3 * W // 10, 500 * W, W // 2)
COST = 12 * W // 10
ADAPTER = SynthetixV3Adapter(MarketRef(key="snx", chain="devnet", address="0x" + "11" * 20))


def terms(collateral: int) -> RewardTerms:
    return RewardTerms(GUARDS, W // 10_000, collateral, COST, 0)


def test_required_margins_long_eth_by_hand():
    # 10 ETH at 2,000: impact 10/1e6 = 1e-5; imr = 1e-5 * 2 + 0.02 = 0.02002; mmr = 0.01001
    # notional 20,000: initial 20,000 * 0.02002 + 50 = 450.4; maintenance 20,000 * 0.01001 + 50 = 250.2
    assert rules.required_margins(10 * W, 2_000 * W, ETH) == (4504 * W // 10, 2502 * W // 10)
    # a short needs the same
    assert rules.required_margins(-10 * W, 2_000 * W, ETH) == (4504 * W // 10, 2502 * W // 10)


def test_reward_is_flag_reward_plus_costs_between_the_caps():
    # flag 20,000 * 0.0003 = 6 > collateral reward 3,000 * 0.0001 = 0.3; + cost 1.2 = 7.2
    # minCap max(1.2 + 1, 1.2 * 1.3) = 2.2; maxCap min(3,000 * 0.5, 500) = 500
    assert rules.liquidation_reward([(10 * W, 2_000 * W, ETH)], terms(3_000 * W)) == 72 * W // 10


def test_reward_caps():
    # max cap: collateral 10 → min(10 * 0.5, 500) = 5 < 7.2
    assert rules.liquidation_reward([(10 * W, 2_000 * W, ETH)], terms(10 * W)) == 5 * W
    # min cap: 0.001 ETH → flag 0.0006; 0.0006 + 1.2 < 2.2
    assert rules.liquidation_reward([(W // 1000, 2_000 * W, ETH)], terms(3_000 * W)) == 22 * W // 10
    # without positions there is none
    assert rules.liquidation_reward([], terms(3_000 * W)) == 0


def test_required_maintenance_includes_the_reward():
    """3.13.0: getRequiredMargins returns maintenance + maxLiquidationReward (PerpsAccountModule.sol l.217-219)."""
    initial, maintenance, reward = rules.account_required([(10 * W, 2_000 * W, ETH)], terms(3_000 * W))
    assert reward == 72 * W // 10
    assert maintenance == 2502 * W // 10 + reward == 2574 * W // 10
    assert initial == 4504 * W // 10 + reward
    # liquidatable exactly when maintenance + reward > available: one unit each side
    assert not rules.liquidatable(maintenance, maintenance)
    assert rules.liquidatable(maintenance - 1, maintenance)
    assert rules.health_raw(maintenance, maintenance) == W
    assert rules.health_raw(maintenance - 1, maintenance) == W - 1
    assert rules.health_raw(-5 * W, maintenance) == 0


def test_pnl_truncates_toward_zero_and_entry_is_recovered():
    assert rules.price_pnl(10 * W, 2_000 * W, 1_800 * W) == 2_000 * W  # long profit
    assert rules.price_pnl(-W, 60_000 * W, 66_000 * W) == 6_000 * W  # short profit
    assert rules.price_pnl(-W // 2, 60_000 * W, 57_000 * W) == -1_500 * W  # short loss
    assert rules.price_pnl(3, W + 1, W) == 0 and rules.price_pnl(-3, W + 1, W) == 0  # truncated, not floored
    for size, price, entry in [(10 * W, 2_000 * W, 1_800 * W + 7), (-3 * W, 59_999 * W + 1, 61_000 * W)]:
        pnl = rules.price_pnl(size, price, entry)
        assert rules.entry_price(size, price, pnl) == entry


def _snapshot(collateral: int, positions: list[tuple[str, int, int, int, MarketParams]],
              funding: int = 0, interest: int = 0) -> PositionSnapshot:
    """What the adapter builds from a read: (symbol, size, price, entry, params) per position."""
    legs, pnls, listed = [], [], []
    for symbol, size, price, entry, params in positions:
        pnl = rules.price_pnl(size, price, entry) + funding - interest
        pnls.append(pnl)
        listed.append((size, price, params))
        legs.append(Leg(asset=symbol, symbol=symbol, decimals=18, role=Role.LONG if size > 0 else Role.SHORT,
                        amount=abs(size), price=price, price_decimals=18, price_key=f"synthetix_v3:devnet:{symbol}",
                        value=rules.mul_decimal(abs(size), price),
                        terms={"entry_px": entry, "accrued_funding": funding, "owed_interest": interest,
                               "skew_scale": params.skew_scale, "initial_margin_ratio": params.initial_margin_ratio,
                               "minimum_initial_margin_ratio": params.minimum_initial_margin_ratio,
                               "maintenance_margin_scalar": params.maintenance_margin_scalar,
                               "flag_reward_ratio": params.flag_reward_ratio,
                               "minimum_position_margin": params.minimum_position_margin,
                               "max_liquidation_in_window": params.max_liquidation_in_window}))
    available = collateral + sum(pnls)
    _, required, reward = rules.account_required(listed, terms(collateral))
    detail: dict[str, Any] = {
        "local": True, "collateral_discounted": collateral, "debt": 0, "available_margin": available,
        "required_maintenance_margin": required, "max_liquidation_reward": reward, "reward_model": "recomputed",
        "reward_terms": {"guards": list(GUARDS), "collateral_reward_ratio": W // 10_000, "collateral_value": collateral,
                         "cost": COST, "windows_cost": 0}}
    return PositionSnapshot(chain="devnet", protocol="synthetix_v3", market="snx", market_address="0x" + "11" * 20,
                            account="0x" + "22" * 20 + ":1", block=BlockRef(1, "", 0), legs=legs,
                            health=_health(available, required, collateral, 0), margin_mode=MarginMode.CROSS,
                            detail=detail)


def by_hand_long_eth(price: int) -> tuple[int, int]:
    """10 ETH long from 1,800 with 3,000 USD, at ``price``: (available, maintenance + reward), plain arithmetic."""
    available = 3_000 * W + 10 * (price - 1_800 * W)
    notional = 10 * price
    maintenance = notional * 10_010_000_000_000_000 // W + 50 * W
    reward = min(max(22 * W // 10, max(notional * 3 // 10_000, 3 * W // 10) + COST), 500 * W)
    return available, maintenance + reward


def test_long_health_and_liquidation_price():
    snap = _snapshot(3_000 * W, [("ETH", 10 * W, 2_000 * W, 1_800 * W, ETH)])
    available, required = by_hand_long_eth(2_000 * W)
    assert (snap.health.equity, snap.health.requirement) == (available, required) == (5_000 * W, 2574 * W // 10)
    assert snap.health.raw == 5_000 * W * W // (2574 * W // 10)
    key = "synthetix_v3:devnet:ETH"
    point = ADAPTER.liquidation_points(snap)[key]
    assert point.falling
    a, r = by_hand_long_eth(point.price)
    assert a >= r  # healthy at the point
    a, r = by_hand_long_eth(point.price - 1)
    assert a < r  # liquidatable one unit lower
    assert not ADAPTER.health_at(snap, {key: point.price}).liquidatable
    assert ADAPTER.health_at(snap, {key: point.price - 1}).liquidatable


def by_hand_short_btc(price: int) -> tuple[int, int]:
    """1 BTC short from 66,000 with 6,000 USD: mmr = (1/10,000 * 3 + 0.025) * 0.5 = 0.01265."""
    available = 6_000 * W - (price - 66_000 * W)
    notional = price
    maintenance = notional * 12_650_000_000_000_000 // W + 50 * W
    reward = min(max(22 * W // 10, max(notional * 3 // 10_000, 6 * W // 10) + COST), 500 * W)
    return available, maintenance + reward


def test_short_health_and_liquidation_price_rises():
    snap = _snapshot(6_000 * W, [("BTC", -W, 60_000 * W, 66_000 * W, BTC)])
    # pnl +6,000; maintenance 60,000 * 0.01265 + 50 = 809; reward 18 + 1.2 = 19.2
    figures = (snap.health.equity, snap.health.requirement)
    assert figures == by_hand_short_btc(60_000 * W) == (12_000 * W, 8282 * W // 10)
    key = "synthetix_v3:devnet:BTC"
    point = ADAPTER.liquidation_points(snap)[key]
    assert not point.falling
    a, r = by_hand_short_btc(point.price)
    assert a >= r
    a, r = by_hand_short_btc(point.price + 1)
    assert a < r
    assert ADAPTER.health_at(snap, {key: point.price + 1}).liquidatable


def test_loss_funding_and_interest_count_and_reprice_moves_only_the_market():
    snap = _snapshot(6_000 * W, [("ETH", 20 * W, 2_000 * W, 2_200 * W, ETH)], funding=-3 * W, interest=2 * W)
    # pnl 20 * (2,000 - 2,200) - 3 - 2 = -4,005
    assert snap.health.equity == 6_000 * W - 4_005 * W
    moved = ADAPTER.reprice(snap, {"synthetix_v3:devnet:ETH": 2_100 * W})
    assert moved.health.equity == 6_000 * W - 2_005 * W
    assert moved.legs[0].price == 2_100 * W and moved.legs[0].value == 42_000 * W
    assert ADAPTER.price_dependencies(snap) == {"synthetix_v3:devnet:ETH"}
    assert ADAPTER.price_from_feed(None) is None  # type: ignore[arg-type]


def test_oracle_data_required_selector():
    # keccak("OracleDataRequired(address,bytes)")[:4], the ERC-7412 error of IPythERC7412Wrapper.sol l.5
    assert ORACLE_DATA_REQUIRED == "cf2cabdf"


def test_abi_selectors_are_the_published_ones():
    from indexer.chain.abi import load

    proxy = load("synthetix_v3", "PerpsMarketProxy")
    for name, selector in {"getAvailableMargin": "0a7dad2d", "getRequiredMargins": "3c0f0753",
                           "canLiquidate": "9b922bba"}.items():
        assert proxy.function(name).call("0x" + "11" * 20, 1).data[:4].hex() == selector
