"""Liquity v2's integer rules, against values worked out by hand from the liquity/bold sources (the arithmetic is in
the comments; 1e18 = 100 % for ratios and rates, prices have 18 decimals, collateral and BOLD 18 decimals)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from indexer.chain.abi import load
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import MarketRef
from indexer.protocols.liquity_v2 import rules
from indexer.protocols.liquity_v2.adapter import LiquityV2Adapter, _keep_protocol_icr, _priced
from indexer.protocols.liquity_v2.rules import (
    MCR_SETH,
    MCR_WETH,
    UINT256_MAX,
    Model,
    OracleRead,
    PriceKind,
    PriceSource,
)
from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

E18 = 10**18
COLL = E18
BOLD = E18
USD = E18  # a price of 1 USD per collateral token, 18 decimals
DAY = 86_400
NOW = 1_750_000_000


def test_icr_below_at_and_above_mcr_on_both_branches():
    # LiquityMath._computeCR: 11 WETH at 2000 against 20,000 BOLD: 22,000 / 20,000 = 1.1 exactly = MCR_WETH (110 %):
    # batchLiquidateTroves wants ICR < MCR, so the trove is skipped
    at = rules.compute_cr(11 * COLL, 20_000 * BOLD, 2_000 * USD)
    assert at == MCR_WETH == 11 * 10**17
    assert not rules.liquidatable(11 * COLL, 20_000 * BOLD, 2_000 * USD, MCR_WETH)
    assert rules.health_ratio(at, MCR_WETH) == E18
    # one wei of collateral less: (11e18 - 1) * 2000e18 / 20000e18 = 1.1e18 - 0.1 -> floored to 1.1e18 - 1
    below = rules.compute_cr(11 * COLL - 1, 20_000 * BOLD, 2_000 * USD)
    assert below == MCR_WETH - 1 and rules.liquidatable(11 * COLL - 1, 20_000 * BOLD, 2_000 * USD, MCR_WETH)
    assert rules.health_ratio(below, MCR_WETH) == E18 - 1  # (1.1e18 - 1) * 1e18 / 1.1e18 = 1e18 - 0.909
    # 12 WETH: 24,000 / 20,000 = 120 %, safe on the WETH branch: health 1.2 / 1.1 = 1.0909...
    twelve = rules.compute_cr(12 * COLL, 20_000 * BOLD, 2_000 * USD)
    assert rules.health_ratio(twelve, MCR_WETH) == 1_090_909_090_909_090_909
    # the same 120 % is exactly the wstETH branch's MCR (Constants.sol MCR_SETH): safe there too, at the line
    assert not rules.liquidatable(12 * COLL, 20_000 * BOLD, 2_000 * USD, MCR_SETH)
    # and 119.9999 % is not: 11.99999 * 2000 / 20000 = 1.199999
    assert rules.liquidatable(11_999_990 * 10**12, 20_000 * BOLD, 2_000 * USD, MCR_SETH)
    # no debt: infinite CR, never liquidatable; the last trove (held) never either
    assert rules.compute_cr(5 * COLL, 0, 2_000 * USD) == UINT256_MAX
    assert not rules.liquidatable(5 * COLL, 0, 2_000 * USD, MCR_WETH)
    assert not rules.liquidatable(11 * COLL - 1, 20_000 * BOLD, 2_000 * USD, MCR_WETH, held=True)


def test_interest_accrued_to_the_block_and_to_the_shutdown():
    # LiquityBase._calcInterest: 10,000 BOLD at 5 % for 30 days = 10,000 * 0.05 * 30 / 365 = 41.0958904109589041...
    weighted = 10_000 * BOLD * 5 * 10**16
    assert rules.calc_interest(weighted, 30 * DAY) == 41_095_890_410_958_904_109  # floored
    # TroveManager._getInterestPeriod: live branch -> to now; shut down -> to shutdownTime; updated after it -> none
    assert rules.interest_period(NOW - 30 * DAY, NOW, 0) == 30 * DAY
    assert rules.interest_period(NOW - 30 * DAY, NOW, NOW - 20 * DAY) == 10 * DAY
    assert rules.interest_period(NOW - 5 * DAY, NOW, NOW - 20 * DAY) == 0
    # ActivePool.calcPendingAggInterest rounds the same aggregate *up* (...109.589 -> ...110) and is 0 once shut down
    assert rules.pending_agg_interest(weighted, NOW - 30 * DAY, NOW, 0) == 41_095_890_410_958_904_110
    assert rules.pending_agg_interest(weighted, NOW - 30 * DAY, NOW, NOW - DAY) == 0
    assert rules.ceil_div(0, 7) == 0 and rules.ceil_div(14, 7) == 2 and rules.ceil_div(15, 7) == 3


def test_redistribution_gains_and_interest_make_the_entire_trove():
    # stake 5; since its snapshot L_coll rose by 0.02 and L_boldDebt by 220 per unit staked:
    # coll gain = 5e18 * 2e16 / 1e18 = 0.1; debt gain = 5e18 * 220e18 / 1e18 = 1,100 BOLD
    coll_gain = rules.redistribution_gain(5 * E18, 3 * 10**16, 10**16)
    debt_gain = rules.redistribution_gain(5 * E18, 270 * BOLD, 50 * BOLD)
    assert (coll_gain, debt_gain) == (10**17, 1_100 * BOLD)
    assert rules.redistribution_gain(3, 5 * 10**17, 0) == 1  # 3 * 0.5 = 1.5, floored
    entire = rules.entire_trove(recorded_debt=10_000 * BOLD, recorded_coll=6 * COLL, annual_rate=5 * 10**16,
                                last_debt_update=NOW - 30 * DAY, now=NOW, shutdown_time=0, redist_debt=debt_gain,
                                redist_coll=coll_gain)
    # 10,000 + 1,100 + 41.0958904109589041 BOLD against 6.1 WETH
    assert entire == (11_141_095_890_410_958_904_109, 61 * 10**17, 1_100 * BOLD, 10**17, 41_095_890_410_958_904_109, 0)
    # recorded: 6 * 2000 / 10,000 = 120 % (safe on WETH); entire: 12,200 / 11,141.0959 = 1.09504... -> under MCR
    assert rules.compute_cr(6 * COLL, 10_000 * BOLD, 2_000 * USD) == 12 * 10**17
    icr = rules.compute_cr(entire.coll, entire.debt, 2_000 * USD)
    assert icr == 1_095_044_878_888_479_036 and rules.liquidatable(entire.coll, entire.debt, 2_000 * USD, MCR_WETH)
    # the line: ceil(1.1 * 11,141.0959 / 6.1) = ceil(2009.05007859869752...) USD
    assert rules.min_price_for_cr(entire.coll, entire.debt, MCR_WETH) == 2_009_050_078_598_697_507_299
    # a batched trove: its part of the batch's figures, by debt shares (123,456.789 * 2,500 / 10,000 = 30,864.19725)
    assert rules.batch_share(123_456_789 * 10**15, 2_500 * E18, 10_000 * E18) == 30_864_197_250 * 10**12
    assert rules.batch_share(10**20, 1, 0) == 0


def _oracle(answer: int | None, age: int, *, decimals: int = 8, staleness: int = DAY) -> OracleRead:
    return OracleRead(staleness=staleness, decimals=decimals, answer=answer,
                      updated_at=None if answer is None else NOW - age)


def test_the_weth_feed_primary_stale_and_shut_down():
    # MainnetPriceFeedBase: 8-decimal answers times 1e10; good while block.timestamp - updatedAt < stalenessThreshold
    fresh = {"eth_usd": _oracle(2_500 * 10**8, 10)}
    used = rules.used_price(PriceKind.WETH, PriceSource.primary, 2_400 * USD, fresh, NOW)
    assert (used.price, used.source, used.key_oracle, used.oracle_failure) == (2_500 * USD, "primary", "eth_usd", False)
    assert rules.oracle_verdict(_oracle(2_500 * 10**8, DAY - 1), NOW).down is False
    # exactly the threshold old: stale -> the call shuts the branch down and returns lastGoodPrice
    stale = rules.used_price(PriceKind.WETH, PriceSource.primary, 2_400 * USD, {"eth_usd": _oracle(2_500 * 10**8, DAY)},
                             NOW)
    assert (stale.price, stale.source, stale.key_oracle, stale.oracle_failure) == (2_400 * USD, "lastGoodPrice", None,
                                                                                   True)
    assert rules.used_price(PriceKind.WETH, PriceSource.primary, 2_400 * USD, {"eth_usd": _oracle(0, 1)}, NOW
                            ).oracle_failure  # a non-positive answer
    assert rules.used_price(PriceKind.WETH, PriceSource.primary, 2_400 * USD, {"eth_usd": _oracle(None, 0)}, NOW
                            ).oracle_failure  # latestRoundData reverted
    # a round dated after the block: the checked subtraction reverts fetchPrice (and every liquidation)
    future = rules.used_price(PriceKind.WETH, PriceSource.primary, 2_400 * USD, {"eth_usd": _oracle(2_500 * 10**8, -5)},
                              NOW)
    assert future.reverts and future.price == 2_400 * USD
    # once shut down on lastGoodPrice, the feed is not even read
    after = rules.used_price(PriceKind.WETH, PriceSource.lastGoodPrice, 2_400 * USD, fresh, NOW)
    assert (after.price, after.source, after.oracle_failure) == (2_400 * USD, "lastGoodPrice", False)


def test_the_wsteth_feed_and_its_fallbacks():
    oracles = {"eth_usd": _oracle(2_500 * 10**8, 10), "steth_usd": _oracle(2_497 * 10**8, 10)}
    rate = 12 * 10**17  # 1.2 stETH per wstETH
    lgp = 2_990 * USD
    # WSTETHPriceFeed._fetchPricePrimary: STETH-USD * stEthPerToken / 1e18 = 2497 * 1.2 = 2996.4
    used = rules.used_price(PriceKind.WSTETH, PriceSource.primary, lgp, oracles, NOW, rate)
    assert (used.price, used.key_oracle, used.key_price, used.model) == (2_996_400 * 10**15, "steth_usd", 2_497 * USD,
                                                                         Model("rate", rate=rate))
    # STETH-USD stale alone: shut down to ETHUSDxCanonical = min(2500 * 1.2 = 3000, lastGoodPrice 2990) = 2990
    stale_steth = {**oracles, "steth_usd": _oracle(2_497 * 10**8, DAY + 1)}
    canonical = rules.used_price(PriceKind.WSTETH, PriceSource.primary, lgp, stale_steth, NOW, rate)
    assert (canonical.price, canonical.source, canonical.key_oracle, canonical.oracle_failure) == (
        lgp, "ETHUSDxCanonical", "eth_usd", True)
    # in ETHUSDxCanonical with ETH at 2400: min(2880, 2990) = 2880, no new failure; the model is capped by lastGoodPrice
    lower = {**stale_steth, "eth_usd": _oracle(2_400 * 10**8, 10)}
    during = rules.used_price(PriceKind.WSTETH, PriceSource.ETHUSDxCanonical, lgp, lower, NOW, rate)
    assert (during.price, during.oracle_failure, during.model) == (2_880 * USD, False,
                                                                   Model("capped_rate", rate=rate, cap=lgp))
    assert rules.collateral_price(during.model, 2_600 * USD) == lgp  # 2600 * 1.2 = 3120 is capped at 2990
    # the rate failing (0 or reverting), or ETH-USD down: lastGoodPrice, with a shutdown from primary
    for bad_rate, bad in ((0, oracles), (None, oracles), (rate, {**oracles, "eth_usd": _oracle(2_500 * 10**8, DAY)})):
        fallback = rules.used_price(PriceKind.WSTETH, PriceSource.primary, lgp, bad, NOW, bad_rate)
        assert (fallback.price, fallback.source, fallback.oracle_failure) == (lgp, "lastGoodPrice", True)
    # ETHUSDxCanonical with ETH-USD down: lastGoodPrice for good (no new failure: the branch is already shut down)
    assert rules.used_price(PriceKind.WSTETH, PriceSource.ETHUSDxCanonical, lgp,
                            {**oracles, "eth_usd": _oracle(None, 0)}, NOW, rate)[:2] == (lgp, "lastGoodPrice")
    # a future-dated STETH-USD round reverts the primary call (all three are read first), not the fallback's
    future = {**oracles, "steth_usd": _oracle(2_497 * 10**8, -1)}
    assert rules.used_price(PriceKind.WSTETH, PriceSource.primary, lgp, future, NOW, rate).reverts
    assert not rules.used_price(PriceKind.WSTETH, PriceSource.ETHUSDxCanonical, lgp, future, NOW, rate).reverts


def test_the_reth_feed_takes_the_lower_of_market_and_canonical():
    # RETHPriceFeed: market = ETH-USD * RETH-ETH = 2500 * 1.05 = 2625; canonical = 2500 * 1.1 = 2750 -> 2625
    oracles = {"eth_usd": _oracle(2_500 * 10**8, 10), "reth_eth": _oracle(105 * 10**16, 10, decimals=18)}
    used = rules.used_price(PriceKind.RETH, PriceSource.primary, 2_000 * USD, oracles, NOW, 11 * 10**17)
    assert (used.price, used.key_oracle, used.model) == (2_625 * USD, "eth_usd",
                                                         Model("min_rate", rate=11 * 10**17, market_rate=105 * 10**16))
    # RETH-ETH down: ETHUSDxCanonical = min(2750, lastGoodPrice 2000) = 2000
    down = {**oracles, "reth_eth": _oracle(105 * 10**16, DAY, decimals=18)}
    assert rules.used_price(PriceKind.RETH, PriceSource.primary, 2_000 * USD, down, NOW, 11 * 10**17)[:2] == (
        2_000 * USD, "ETHUSDxCanonical")


def test_liquidation_prices_by_hand():
    # WETH, direct: ceil(1.1 * 18,000 / 10) = 1980 USD; at 1980: 19,800 / 18,000 = 1.1, one unit lower under
    assert rules.liquidation_key_price(10 * COLL, 18_000 * BOLD, MCR_WETH, rules.DIRECT) == 1_980 * USD
    # wstETH keyed by STETH-USD at a 1.2 rate: the line is 1.2 * 20,000 / 10 = 2400 USD a wstETH, i.e. 2000 a stETH
    model = Model("rate", rate=12 * 10**17)
    assert rules.liquidation_key_price(10 * COLL, 20_000 * BOLD, MCR_SETH, model) == 2_000 * USD
    # with a rate of 1.234567890123456789: ceil(2400e18 * 1e18 / rate) = 1944.000017496000159234...
    odd = Model("rate", rate=1_234_567_890_123_456_789)
    point = rules.liquidation_key_price(10 * COLL, 20_000 * BOLD, MCR_SETH, odd)
    assert point == 1_944_000_017_496_000_159_234
    assert not rules.liquidatable(10 * COLL, 20_000 * BOLD, rules.collateral_price(odd, point), MCR_SETH)
    assert rules.liquidatable(10 * COLL, 20_000 * BOLD, rules.collateral_price(odd, point - 1), MCR_SETH)
    # capped under the line: every price liquidates (no point); no debt or no collateral: none either
    assert rules.liquidation_key_price(10 * COLL, 20_000 * BOLD, MCR_SETH,
                                       Model("capped_rate", rate=12 * 10**17, cap=2_399 * USD)) is None
    assert rules.liquidation_key_price(10 * COLL, 0, MCR_SETH, model) is None
    assert rules.liquidation_key_price(0, 20_000 * BOLD, MCR_SETH, model) is None


@given(coll=st.integers(1, 10**24), debt=st.integers(1, 10**24), mcr=st.sampled_from([MCR_WETH, MCR_SETH]),
       kind=st.sampled_from(["direct", "rate", "min_rate", "capped_rate"]), rate=st.integers(1, 3 * 10**18),
       market=st.integers(1, 3 * 10**18), cap=st.integers(0, 10**26))
def test_the_liquidation_key_price_is_the_exact_boundary(coll, debt, mcr, kind, rate, market, cap):
    model = Model(kind, rate=rate, market_rate=market, cap=cap)
    point = rules.liquidation_key_price(coll, debt, mcr, model)
    if point is None:
        assert kind == "capped_rate" and rules.liquidatable(coll, debt, cap, mcr)
        return
    assert not rules.liquidatable(coll, debt, rules.collateral_price(model, point), mcr)
    assert point == 0 or rules.liquidatable(coll, debt, rules.collateral_price(model, point - 1), mcr)
    for above in (point + 1, 2 * point + 7):
        assert not rules.liquidatable(coll, debt, rules.collateral_price(model, above), mcr)


def test_abi_selectors_and_the_discovery_topic():
    manager, target = load("liquity_v2", "TroveManager"), "0x" + "11" * 20
    assert manager.function("getCurrentICR").call(target, 1, 2).data[:4].hex() == "c067e95c"
    assert manager.function("getLatestTroveData").outputs == ("uint256",) * 10
    assert manager.function("Troves").outputs == ("uint256", "uint256", "uint256", "uint8", "uint64", "uint64",
                                                  "uint64", "uint256", "address", "uint256")
    assert load("liquity_v2", "PriceFeed").function("ethUsdOracle").outputs == ("address", "uint256", "uint8")
    spec = LiquityV2Adapter(MarketRef(key="b", chain="devnet", address=target)).discovery()
    transfer = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
    assert dict(spec.account_topic) == {transfer: 2} and spec.emitter_getter == "troveNFT()"


def test_price_from_feed_scales_like_the_price_feed():
    feed = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    reading = FeedReading(address=feed, kind="chainlink", round_id=3, answer=1_999_12345678, decimals=8)
    assert LiquityV2Adapter.price_from_feed(reading) == (feed, 1_999_123_456_780_000_000_000)
    assert LiquityV2Adapter.price_from_feed(FeedReading(address=feed, kind="chainlink", answer=-1, decimals=8)) is None
    assert LiquityV2Adapter.price_from_feed(FeedReading(address=feed, kind="chainlink", error="reverted")) is None


def _trove(coll: int, debt: int, key_price: int, *, model: Model = rules.DIRECT,
           mcr: int = MCR_SETH) -> PositionSnapshot:
    key = "0x" + "ab" * 20
    legs = [Leg(asset="0x" + "01" * 20, symbol="wstETH", decimals=18, role=Role.COLLATERAL, amount=coll,
                price=key_price, price_decimals=18, price_key=key, value=0, feed=key,
                terms={"mcr": mcr, "rate": model.rate, "market_rate": model.market_rate, "cap": model.cap}),
            Leg(asset="0x" + "02" * 20, symbol="BOLD", decimals=18, role=Role.DEBT, amount=debt, price=1,
                price_decimals=0, price_key="0x" + "02" * 20, value=debt)]
    snapshot = PositionSnapshot(
        chain="devnet", protocol="liquity_v2", market="b", market_address="0x" + "aa" * 20,
        account=f"{'0x' + 'bb' * 20}:7", block=BlockRef(1, "0x01", NOW), legs=legs,
        health=Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote="USD",
                      quote_unit=E18),
        detail={"mcr": str(mcr), "ccr": str(rules.CCR_SETH), "scr": str(rules.SCR_SETH), "price_model": model.kind,
                "branch_coll": str(1_000 * COLL), "branch_debt": str(1_000_000 * BOLD), "trove_id": "7"})
    return _priced(snapshot, key_price)


def test_a_trove_through_the_adapters_questions():
    adapter = LiquityV2Adapter(MarketRef(key="b", chain="devnet", address="0x" + "aa" * 20))
    model = Model("rate", rate=12 * 10**17)
    trove = _trove(10 * COLL, 20_000 * BOLD, 2_100 * USD, model=model)
    key = trove.legs[0].price_key
    assert trove.owner == "0x" + "bb" * 20 and trove.detail["price"] == str(2_520 * USD)  # 2100 * 1.2
    # ICR = 10 * 2520 / 20,000 = 1.26; health 1.26 / 1.2 = 1.05; value 25,200
    assert trove.health.raw == 126 * 10**16 and trove.health.health == Decimal("1.05")
    assert trove.legs[0].value == 25_200 * BOLD and trove.health.requirement == 24_000 * BOLD
    # TCR = 1000 * 2520 / 1,000,000 = 2.52
    assert trove.detail["tcr"] == str(252 * 10**16) and trove.detail["below_ccr"] is False
    point = adapter.liquidation_points(trove)[key]
    assert point.price == 2_000 * USD and point.falling
    healthy = adapter.healthy_at(trove, key)
    assert healthy(2_000 * USD) and not healthy(2_000 * USD - 1)
    at_line = adapter.reprice(trove, {key: 2_000 * USD})
    assert at_line.health.raw == MCR_SETH and not at_line.health.liquidatable
    assert adapter.health_at(trove, {key: 2_000 * USD - 1}).liquidatable
    assert adapter.reprice(trove, {"0x" + "cd" * 20: 1}).health == trove.health  # not its key
    # the branch's last trove: held, no point, never liquidatable
    held = dataclasses.replace(trove, detail={**trove.detail, "liquidation_held": "last trove"})
    assert adapter.liquidation_points(held) == {} and adapter.healthy_at(held, key)(1)


def test_the_self_check_keeps_the_trove_managers_icr():
    trove = _trove(10 * COLL, 20_000 * BOLD, 2_400 * USD)  # direct: ICR 1.2 = MCR_SETH
    assert _keep_protocol_icr(trove, MCR_SETH)
    assert not _keep_protocol_icr(trove, MCR_SETH - 1)
    assert trove.health.raw == MCR_SETH - 1 and trove.health.liquidatable
    assert trove.detail["icr"] == str(MCR_SETH - 1) and "unverified" in trove.detail
