"""Liquity v1's integer rules, against values worked out by hand from the liquity/dev v1.0 sources (the arithmetic
is in the comments; 1e18 = 100 % for ratios, prices have 18 decimals, ETH and LUSD amounts 18 decimals)."""

from __future__ import annotations

import dataclasses

from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from indexer.chain.abi import load
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import MarketRef
from indexer.protocols.liquity_v1 import rules
from indexer.protocols.liquity_v1.adapter import Layout, LiquityV1Adapter, _Prices
from indexer.protocols.liquity_v1.rules import CCR, MCR, UINT256_MAX, PriceFeedStatus, System
from indexer.types import BlockRef

E18 = 10**18
ETH = E18
LUSD = E18
USD = E18  # a price of 1 USD per ETH, 18 decimals

# 1,000 ETH against 1,500,000 LUSD: TCR = 1000 * 2000 / 1.5M = 133.33 % at 2000 USD (recovery mode)
SYSTEM = System(coll=1_000 * ETH, debt=1_500_000 * LUSD, stability_pool=20_000 * LUSD, trove_owners=100)


def test_compute_cr_floors_and_is_infinite_without_debt():
    # LiquityMath._computeCR: 1 ETH at 2000 against 1800 LUSD: 2000 / 1800 = 1.1111... -> floored
    assert rules.compute_cr(ETH, 1_800 * LUSD, 2_000 * USD) == 1_111_111_111_111_111_111
    assert rules.compute_cr(ETH, 0, 2_000 * USD) == UINT256_MAX == 2**256 - 1
    # NICR: 1e18 * 1e20 / 1800e18 = 5.5555...e16
    assert rules.compute_nominal_cr(ETH, 1_800 * LUSD) == 55_555_555_555_555_555
    assert rules.compute_nominal_cr(ETH, 0) == UINT256_MAX


def test_a_trove_below_at_and_above_mcr_in_normal_mode():
    normal = System(coll=1_000 * ETH, debt=100_000 * LUSD, stability_pool=0, trove_owners=10)  # TCR 2000 % at 2000
    price = 2_000 * USD
    # 11 ETH * 2000 / 20,000 LUSD = 1.1 exactly: ICR == MCR is not liquidatable (TroveManager wants ICR < MCR)
    at = rules.verdict(11 * ETH, 20_000 * LUSD, price, normal)
    assert (at.icr, at.recovery_mode, at.threshold, at.liquidatable) == (MCR, False, MCR, False)
    assert at.rule == "normal mode: ICR < MCR"
    assert rules.health_ratio(at.icr, at.threshold) == E18
    # one wei of ETH less: (11e18 - 1) * 2000e18 / 20000e18 = 1.1e18 - 0.1 -> 1,099,999,999,999,999,999
    below = rules.verdict(11 * ETH - 1, 20_000 * LUSD, price, normal)
    assert below.icr == MCR - 1 and below.liquidatable
    # (1.1e18 - 1) * 1e18 / 1.1e18 = 1e18 - 0.909 -> under 1
    assert rules.health_ratio(below.icr, MCR) == E18 - 1
    # 12 ETH: 24,000 / 20,000 = 1.2
    above = rules.verdict(12 * ETH, 20_000 * LUSD, price, normal)
    assert above.icr == 12 * 10**17 and not above.liquidatable
    assert rules.health_ratio(above.icr, MCR) == 1_090_909_090_909_090_909  # 1.2 / 1.1


def test_pending_rewards_are_part_of_the_entire_debt_and_coll():
    # stake 5 ETH; since its snapshot L_ETH rose by 0.02 and L_LUSDDebt by 220 per unit staked:
    # pending ETH = 5e18 * 2e16 / 1e18 = 0.1 ETH; pending LUSD = 5e18 * 220e18 / 1e18 = 1,100 LUSD
    entire = rules.entire_debt_and_coll(
        debt=10_000 * LUSD, coll=6 * ETH, stake=5 * ETH, status=rules.TroveStatus.active,
        l_eth=3 * 10**16, l_lusd_debt=270 * LUSD, snapshot_eth=10**16, snapshot_lusd_debt=50 * LUSD)
    assert entire == (11_100 * LUSD, 61 * 10**17, 1_100 * LUSD, 10**17)
    # stored: 6 ETH * 2000 / 10,000 = 120 %; entire: 6.1 * 2000 / 11,100 = 1.099099099... -> under MCR
    assert rules.compute_cr(6 * ETH, 10_000 * LUSD, 2_000 * USD) == 12 * 10**17
    assert rules.compute_cr(entire.coll, entire.debt, 2_000 * USD) == 1_099_099_099_099_099_099
    # floors: stake 3 wei * 0.5 per unit = 1.5 -> 1; nothing since the snapshot or a closed trove: 0
    assert rules.pending_reward(3, 5 * 10**17, 0) == 1
    assert rules.pending_reward(5 * ETH, 7, 7) == 0
    assert rules.pending_reward(5 * ETH, 3 * 10**16, 0, rules.TroveStatus.closedByLiquidation) == 0


def test_recovery_mode_entered_and_left():
    # TCR = 1000 ETH * p / 1.5M LUSD; CCR * D / C = 1.5 * 1.5e24 / 1e21 = 2250: recovery mode strictly below 2250 USD
    assert rules.min_price_for_cr(SYSTEM.coll, SYSTEM.debt, CCR) == 2_250 * USD
    assert rules.tcr(SYSTEM.coll, SYSTEM.debt, 2_250 * USD) == CCR
    assert not rules.is_recovery_mode(rules.tcr(SYSTEM.coll, SYSTEM.debt, 2_250 * USD))  # TCR == CCR: normal
    # one unit lower: (2.25e42 - 1e21) / 1.5e24 = 1.5e18 - 0.00067 -> 1.5e18 - 1
    assert rules.tcr(SYSTEM.coll, SYSTEM.debt, 2_250 * USD - 1) == CCR - 1
    assert rules.is_recovery_mode(CCR - 1)
    # at 2000: 2e24 / 1.5e24 = 1.3333...
    assert rules.tcr(SYSTEM.coll, SYSTEM.debt, 2_000 * USD) == 1_333_333_333_333_333_333


def test_recovery_mode_liquidates_under_the_tcr_when_the_pool_covers_the_debt():
    price = 2_000 * USD  # TCR 133.33 %: recovery mode
    # 10 ETH / 16,000 LUSD: 20,000 / 16,000 = 125 %: over MCR, under TCR, the pool's 20,000 covers 16,000
    covered = rules.verdict(10 * ETH, 16_000 * LUSD, price, SYSTEM)
    assert covered.recovery_mode and covered.stability_pool_covers and covered.liquidatable
    assert covered.icr == 125 * 10**16 and covered.threshold == covered.tcr == 1_333_333_333_333_333_333
    assert covered.rule.startswith("recovery mode: ICR < max(MCR, TCR)")
    # the same trove with 15,000 LUSD in the pool: only the MCR line applies, and it is over it
    short = rules.verdict(10 * ETH, 16_000 * LUSD, price, dataclass_replace(SYSTEM, stability_pool=15_000 * LUSD))
    assert short.recovery_mode and not short.stability_pool_covers and short.threshold == MCR
    assert not short.liquidatable
    # over the TCR: 20 ETH -> 250 %, safe
    assert not rules.verdict(20 * ETH, 16_000 * LUSD, price, SYSTEM).liquidatable
    # at or under 100 % (8 ETH -> 16,000 / 16,000): liquidated with an empty pool too (redistributed)
    empty = dataclass_replace(SYSTEM, stability_pool=0)
    assert rules.verdict(8 * ETH, 16_000 * LUSD, price, empty).liquidatable
    # the same covered trove in normal mode (2300 USD: TCR 153.33 %, ICR 143.75 %): safe
    normal = rules.verdict(10 * ETH, 16_000 * LUSD, 2_300 * USD, SYSTEM)
    assert not normal.recovery_mode and normal.icr == 14_375 * 10**14 and not normal.liquidatable
    # the last trove is never liquidated
    alone = rules.verdict(8 * ETH, 16_000 * LUSD, price, dataclass_replace(SYSTEM, trove_owners=1))
    assert not alone.liquidatable and alone.held
    assert rules.liquidatable(10 * ETH, 16_000 * LUSD, price, SYSTEM)
    assert not rules.liquidatable(10 * ETH, 16_000 * LUSD, price,
                                  dataclass_replace(SYSTEM, stability_pool=15_000 * LUSD))


def test_the_issue_wording_under_ccr_is_not_the_code():
    """'Troves under CCR become liquidatable in recovery mode': the code's line is the TCR (under CCR), not CCR.
    11.2 ETH / 16,000 LUSD at 2000: 22,400 / 16,000 = 140 %, under CCR (150 %) but over the TCR (133.33 %)."""
    v = rules.verdict(112 * 10**17, 16_000 * LUSD, 2_000 * USD, SYSTEM)
    assert v.recovery_mode and v.stability_pool_covers and v.icr == 14 * 10**17 < CCR
    assert not v.liquidatable


def test_debt_zero():
    assert rules.compute_cr(5 * ETH, 0, 2_000 * USD) == UINT256_MAX
    assert not rules.verdict(5 * ETH, 0, 2_000 * USD, SYSTEM).liquidatable
    assert not rules.liquidatable(5 * ETH, 0, 2_000 * USD, SYSTEM)
    assert rules.liquidation_price(5 * ETH, 0, SYSTEM) is None


def test_liquidation_price_by_hand():
    uncovered = dataclass_replace(SYSTEM, stability_pool=0)
    # MCR line: ceil(1.1 * 16,000 / 10) = 1760 USD; at 1760: 17,600 / 16,000 = 1.1 (safe), one unit lower liquidatable
    assert rules.liquidation_price(10 * ETH, 16_000 * LUSD, uncovered) == 1_760 * USD
    assert not rules.liquidatable(10 * ETH, 16_000 * LUSD, 1_760 * USD, uncovered)
    assert rules.liquidatable(10 * ETH, 16_000 * LUSD, 1_760 * USD - 1, uncovered)
    # covered, and its ratio (10 / 16,000 = 6.25e-4) under the system's (1000 / 1.5M = 6.67e-4): it falls with
    # recovery mode, at 2250 USD (at 2250 the system is in normal mode and ICR is 140.6 %)
    assert rules.liquidation_price(10 * ETH, 16_000 * LUSD, SYSTEM) == 2_250 * USD
    assert not rules.liquidatable(10 * ETH, 16_000 * LUSD, 2_250 * USD, SYSTEM)
    assert rules.liquidatable(10 * ETH, 16_000 * LUSD, 2_250 * USD - 1, SYSTEM)
    # covered but over the system's ratio (20 ETH): only the MCR line, ceil(1.1 * 16,000 / 20) = 880 USD
    assert rules.liquidation_price(20 * ETH, 16_000 * LUSD, SYSTEM) == 880 * USD
    # the last trove, or no collateral: no point
    assert rules.liquidation_price(10 * ETH, 16_000 * LUSD, dataclass_replace(SYSTEM, trove_owners=1)) is None
    assert rules.liquidation_price(0, 16_000 * LUSD, SYSTEM) is None


@given(coll=st.integers(1, 10**6), debt=st.integers(1, 10**6), system_coll=st.integers(1, 10**7),
       system_debt=st.integers(1, 10**7), pool=st.integers(0, 2 * 10**6))
def test_liquidation_price_is_the_exact_boundary(coll, debt, system_coll, system_debt, pool):
    system = System(coll=system_coll + coll, debt=system_debt + debt, stability_pool=pool, trove_owners=5)
    price = rules.liquidation_price(coll, debt, system)
    assert price is not None and price >= 1
    assert not rules.liquidatable(coll, debt, price, system)
    assert rules.liquidatable(coll, debt, price - 1, system)
    for above in (price + 1, price + 7, 2 * price, 10 * price + 3):
        assert not rules.liquidatable(coll, debt, above, system)


def test_chainlink_price_and_the_price_a_liquidation_uses():
    # PriceFeed._scaleChainlinkPriceByDigits: 8 digits times 1e10; more than 18 digits are divided, floored
    assert rules.scale_chainlink_price(2_500 * 10**8, 8) == 2_500 * USD
    assert rules.scale_chainlink_price(123_456_789_012_345_678_901, 20) == 1_234_567_890_123_456_789
    now = 1_700_000_000
    usable = {"round_id": 7, "answer": 2_500 * 10**8, "updated_at": now - rules.TIMEOUT, "now": now}
    assert rules.chainlink_answer_usable(**usable)  # exactly TIMEOUT old: not frozen (frozen is > TIMEOUT)
    assert not rules.chainlink_answer_usable(**{**usable, "updated_at": now - rules.TIMEOUT - 1})
    assert not rules.chainlink_answer_usable(**{**usable, "updated_at": now + 1})  # in the future
    assert not rules.chainlink_answer_usable(**{**usable, "updated_at": 0})
    assert not rules.chainlink_answer_usable(**{**usable, "round_id": 0})
    assert not rules.chainlink_answer_usable(**{**usable, "answer": 0})
    last_good, chainlink = 2_400 * USD, 2_500 * USD
    for status, usable_now, expected in (
        (PriceFeedStatus.chainlinkWorking, True, ("chainlink", chainlink)),
        (PriceFeedStatus.chainlinkWorking, False, ("last_good_price", last_good)),
        (PriceFeedStatus.usingTellorChainlinkUntrusted, True, ("last_good_price", last_good)),
        (PriceFeedStatus.bothOraclesUntrusted, True, ("last_good_price", last_good)),
        (PriceFeedStatus.usingTellorChainlinkFrozen, True, ("last_good_price", last_good)),
        (PriceFeedStatus.usingChainlinkTellorUntrusted, True, ("chainlink", chainlink)),
    ):
        used = rules.liquidation_price_source(status=status, last_good_price=last_good, chainlink_price=chainlink,
                                              chainlink_usable=usable_now)
        assert (used.source, used.price) == expected, status


def test_price_from_feed_scales_like_the_price_feed():
    feed = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    reading = FeedReading(address=feed, kind="chainlink", round_id=3, answer=1_999_12345678, decimals=8)
    assert LiquityV1Adapter.price_from_feed(reading) == (feed, 1_999_123_456_780_000_000_000)
    assert LiquityV1Adapter.price_from_feed(FeedReading(address=feed, kind="chainlink", answer=0, decimals=8)) is None
    assert LiquityV1Adapter.price_from_feed(FeedReading(address=feed, kind="chainlink", error="reverted")) is None


def dataclass_replace(system: System, **changes: int) -> System:
    return dataclasses.replace(system, **changes)


def test_abi_selectors_and_the_shared_trove_updated_topic():
    manager, price_feed = load("liquity_v1", "TroveManager"), load("liquity_v1", "PriceFeed")
    target = "0x" + "11" * 20
    assert manager.function("getCurrentICR").call(target, target, 1).data[:4].hex() == "d293c710"
    assert manager.function("getEntireDebtAndColl").call(target, target).data[:4].hex() == "b91af97c"
    assert price_feed.function("lastGoodPrice").call(target).data[:4].hex() == "0490be83"
    assert manager.function("Troves").outputs == ("uint256", "uint256", "uint256", "uint8", "uint128")
    topic = "0x" + keccak(text="TroveUpdated(address,uint256,uint256,uint256,uint8)").hex()
    assert manager.topic("TroveUpdated") == load("liquity_v1", "BorrowerOperations").topic("TroveUpdated") == topic


def test_the_self_check_keeps_the_trove_managers_figures():
    feed = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    adapter = LiquityV1Adapter(MarketRef(key="liquity", chain="devnet", address="0x" + "aa" * 20))
    layout = Layout("0x" + "01" * 20, "0x" + "02" * 20, "0x" + "03" * 20, feed)
    reading = FeedReading(address=feed, kind="chainlink", round_id=2, answer=2_000 * 10**8, decimals=8)
    prices = _Prices(2_000 * USD, 0, reading, 2_000 * USD, rules.UsedPrice(2_000 * USD, "chainlink"))
    entire = rules.EntireTrove(20_000 * LUSD, 12 * ETH, 0, 0)

    def make():
        return adapter._snapshot("0x" + "bb" * 20, BlockRef(1, "0x01", 1), layout, prices, SYSTEM, entire, {})

    snapshot = make()
    assert snapshot.health.raw == 12 * 10**17 and snapshot.detail["mode"] == "recovery"
    assert adapter._keep_protocol_figures(snapshot, (20_000 * LUSD, 12 * ETH, 0, 0, 12 * 10**17), SYSTEM)
    # the TroveManager counts 2,000 LUSD more pending debt: 24,000 / 22,000 = 1.0909... under MCR
    other = (22_000 * LUSD, 12 * ETH, 2_000 * LUSD, 0, 1_090_909_090_909_090_909)
    snapshot = make()
    assert not adapter._keep_protocol_figures(snapshot, other, SYSTEM)
    assert snapshot.health.raw == other[4] and snapshot.health.liquidatable
    assert [leg.amount for leg in snapshot.legs] == [12 * ETH, 22_000 * LUSD]
    assert snapshot.detail["pending_debt"] == str(2_000 * LUSD) and "self_check" in snapshot.detail
