"""Liquity v2's (BOLD) trove arithmetic in exact integers, as the deployed contracts compute it.

Every value is a uint256 held in a plain int; each function names the Solidity it mirrors. Paths are under
``contracts/src/`` of liquity/bold: ``TroveManager.sol``, ``ActivePool.sol``, ``Dependencies/LiquityBase.sol``,
``Dependencies/LiquityMath.sol``, ``Dependencies/Constants.sol``, ``AddressesRegistry.sol`` and
``PriceFeeds/{MainnetPriceFeedBase,WETHPriceFeed,CompositePriceFeed,WSTETHPriceFeed,RETHPriceFeed}.sol``.
Solidity's ``/`` on uints floors, as ``//`` does here.

The liquidation verdict is the one ``TroveManager.batchLiquidateTroves([troveId])`` reaches (liquity/bold v2 has
no single-trove ``liquidate``): the price is ``PriceFeed.fetchPrice()``'s at the block (``used_price``), the trove
is skipped unless its status is active or zombie, and liquidated exactly when ``getCurrentICR(troveId, price) <
MCR`` — the branch's own MCR (AddressesRegistry), with no recovery mode and no other threshold — unless it is the
branch's last trove (``_closeTrove`` reverts OnlyOneTroveLeft). A branch shut down (TCR < SCR, or an oracle
failure) still liquidates; only its interest stops at ``shutdownTime``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

# Dependencies/Constants.sol
DECIMAL_PRECISION = 10**18
UINT256_MAX = 2**256 - 1
ONE_YEAR = 365 * 24 * 3600
PCT = DECIMAL_PRECISION // 100  # _1pct
MCR_WETH = 110 * PCT
MCR_SETH = 120 * PCT  # wstETH, rETH
CCR_WETH = 150 * PCT
CCR_SETH = 160 * PCT
SCR_WETH = 110 * PCT
SCR_SETH = 120 * PCT
MIN_DEBT = 2_000 * 10**18
MIN_ANNUAL_INTEREST_RATE = PCT // 2  # 0.5 %
MAX_ANNUAL_INTEREST_RATE = 250 * PCT
COLL_GAS_COMPENSATION_DIVISOR = 200
COLL_GAS_COMPENSATION_CAP = 2 * 10**18
MIN_BOLD_IN_SP = 10**18
# PriceFeeds/MainnetPriceFeedBase.sol: every answer is scaled to 18 decimals
TARGET_DIGITS = 18


class TroveStatus(IntEnum):
    """ITroveManager.sol ``enum Status`` (the fourth field of ``Troves(id)``)."""

    nonExistent = 0  # noqa: N815 - Liquity's names
    active = 1
    closedByOwner = 2  # noqa: N815
    closedByLiquidation = 3  # noqa: N815
    zombie = 4  # redeemed below MIN_DEBT: out of the sorted list, still liquidatable


OPEN_STATUSES = (TroveStatus.active, TroveStatus.zombie)  # TroveManager._isActiveOrZombie


class PriceSource(IntEnum):
    """IMainnetPriceFeed.sol ``enum PriceSource`` (``priceSource()``)."""

    primary = 0
    ETHUSDxCanonical = 1  # noqa: N815
    lastGoodPrice = 2  # noqa: N815


# --- Dependencies/LiquityMath.sol and LiquityBase.sol


def compute_cr(coll: int, debt: int, price: int) -> int:
    """LiquityMath._computeCR: ``coll * price / debt`` floored (1e18 = 100 %); 2**256 - 1 without debt."""
    if debt > 0:
        return coll * price // debt
    return UINT256_MAX


def min_price_for_cr(coll: int, debt: int, ratio: int) -> int:
    """The smallest price at which ``compute_cr(coll, debt, price) >= ratio``: floor(c * p / d) >= r holds exactly
    when c * p >= r * d, so p = ceil(r * d / c). ``coll`` and ``debt`` must be positive."""
    return -(-ratio * debt // coll)


def calc_interest(weighted_debt: int, period: int) -> int:
    """LiquityBase._calcInterest: ``weightedDebt * period / ONE_YEAR / DECIMAL_PRECISION``, floored twice;
    ``weighted_debt`` is a debt times its annual rate (1e18 = 100 %)."""
    return weighted_debt * period // ONE_YEAR // DECIMAL_PRECISION


def interest_period(last_debt_update: int, now: int, shutdown_time: int) -> int:
    """TroveManager._getInterestPeriod: seconds since the trove's last debt update, ending at ``shutdownTime`` once
    the branch is shut down (and nothing for a trove updated after the shutdown)."""
    if shutdown_time == 0:
        return now - last_debt_update
    if last_debt_update < shutdown_time:
        return shutdown_time - last_debt_update
    return 0


def ceil_div(a: int, b: int) -> int:
    """OpenZeppelin Math.ceilDiv: 0 for 0, else ``(a - 1) / b + 1``."""
    return 0 if a == 0 else (a - 1) // b + 1


def pending_agg_interest(agg_weighted_debt_sum: int, last_agg_update: int, now: int, shutdown_time: int) -> int:
    """ActivePool.calcPendingAggInterest: the aggregate interest since the last update, rounded *up* so that the
    branch's debt never falls below the sum of its troves' (each floored); 0 once the branch is shut down."""
    if shutdown_time != 0:
        return 0
    return ceil_div(agg_weighted_debt_sum * (now - last_agg_update), ONE_YEAR * DECIMAL_PRECISION)


def redistribution_gain(stake: int, running_sum: int, snapshot: int) -> int:
    """TroveManager._getLatestTroveData: ``stake * (L - snapshot) / 1e18`` floored, for L_coll (collateral) and
    L_boldDebt (debt). TroveManager keeps L_coll / L_boldDebt internal, so the indexer reads a trove's gains from
    ``getLatestTroveData``; this is the rule behind them."""
    if running_sum < snapshot:
        raise ArithmeticError(f"reward snapshot {snapshot} above the running sum {running_sum} (Solidity reverts)")
    return stake * (running_sum - snapshot) // DECIMAL_PRECISION


def batch_share(batch_figure: int, trove_shares: int, total_shares: int) -> int:
    """TroveManager._getLatestTroveDataFromBatch: a batched trove's part of the batch's recorded debt, accrued
    interest or management fee, ``figure * batchDebtShares / totalDebtShares`` floored (0 without shares)."""
    return batch_figure * trove_shares // total_shares if total_shares > 0 else 0


class EntireTrove(NamedTuple):
    """What TroveManager.getLatestTroveData adds up for one trove (its first five words and the batch fee)."""

    debt: int  # entireDebt = recorded + redistribution debt gain + accrued interest (+ batch management fee)
    coll: int  # entireColl = recorded coll + redistribution coll gain
    redist_debt: int
    redist_coll: int
    accrued_interest: int
    batch_fee: int = 0


def entire_trove(*, recorded_debt: int, recorded_coll: int, annual_rate: int, last_debt_update: int, now: int,
                 shutdown_time: int, redist_debt: int, redist_coll: int) -> EntireTrove:
    """TroveManager._getLatestTroveData for a trove outside a batch: the interest accrued to ``now`` at the trove's
    own rate on its recorded debt (``_calcInterest(debt * rate, period)``), plus its redistribution gains."""
    accrued = calc_interest(recorded_debt * annual_rate, interest_period(last_debt_update, now, shutdown_time))
    return EntireTrove(recorded_debt + redist_debt + accrued, recorded_coll + redist_coll, redist_debt, redist_coll,
                       accrued)


def debt_after_repayment(entire_debt: int, repayment: int) -> int | None:
    """A trove's entire debt once ``repayBold(troveId, repayment)`` (or ``adjustTrove`` with only a debt decrease)
    goes through at the block its ``entire_debt`` was read at; None when it reverts.

    ``BorrowerOperations._adjustTrove`` takes the trove's ``getLatestTroveData`` at ``block.timestamp`` (recorded
    debt + interest accrued to now + redistribution debt gain: ``entire_debt``) and caps the repayment at
    ``entireDebt - MIN_DEBT`` (so a trove never falls under MIN_DEBT by repaying; the rest stays with the payer);
    a repayment capped to nothing reverts (``_requireNonZeroAdjustment``). There is no fee on a repayment (the
    upfront fee is charged on debt increases only), and ``TroveManager.onAdjustTrove`` records ``entireDebt - x``
    as the new debt with the interest clock restarted: read in the same block, the entire debt is exactly that."""
    if repayment <= 0:
        return None
    cap = entire_debt - MIN_DEBT if entire_debt > MIN_DEBT else 0
    if cap == 0:
        return None
    return entire_debt - min(repayment, cap)


def tcr(branch_coll: int, branch_debt: int, price: int) -> int:
    """LiquityBase._getTCR: _computeCR over the branch's entire coll and debt (getEntireBranchColl /
    getEntireBranchDebt: ActivePool + DefaultPool, the ActivePool's debt with its pending aggregate interest)."""
    return compute_cr(branch_coll, branch_debt, price)


def usd_value(coll: int, price: int) -> int:
    """A collateral amount's value in BOLD (USD, 18 decimals): ``coll * price / 1e18`` floored (the ICR's numerator
    over 1e18; Liquity keeps no per-trove value of its own)."""
    return coll * price // DECIMAL_PRECISION


# --- the liquidation verdict


def liquidatable(coll: int, debt: int, price: int, mcr: int, *, held: bool = False) -> bool:
    """Whether batchLiquidateTroves([id]) liquidates an open (active or zombie) trove of entire ``coll`` and
    ``debt`` at ``price``: ``getCurrentICR < MCR`` (TroveManager._batchLiquidateTroves), unless ``held`` (the last
    trove of the branch, or a price feed that reverts at the block)."""
    return not held and debt > 0 and coll * price // debt < mcr


def health_ratio(icr: int, mcr: int) -> int:
    """ICR / MCR in 1e18, floored: below 1e18 exactly when ICR < MCR (floor(i * W / m) >= W iff i >= m), so the
    verdict is kept exactly."""
    return icr * DECIMAL_PRECISION // mcr


# --- PriceFeeds: the price batchLiquidateTroves takes from fetchPrice() at the block


def scale_to_18(answer: int, decimals: int) -> int:
    """MainnetPriceFeedBase._scaleChainlinkPriceTo18decimals: ``answer * 10 ** (18 - decimals)`` (the decimals the
    feed stored at construction; Liquity's feeds have at most 18)."""
    return answer * 10 ** (TARGET_DIGITS - decimals)


@dataclass(frozen=True, slots=True)
class OracleRead:
    """One Chainlink oracle of a branch price feed at the block: its stored config (``Oracle`` struct: staleness
    threshold and decimals) and ``latestRoundData`` (None when the call failed)."""

    staleness: int
    decimals: int
    answer: int | None = None
    updated_at: int | None = None


class OracleVerdict(NamedTuple):
    price: int  # 18 decimals (0 when down)
    down: bool
    reverts: bool  # the feed's own check would revert (a round dated after the block: checked subtraction)


def oracle_verdict(oracle: OracleRead, now: int) -> OracleVerdict:
    """MainnetPriceFeedBase._getOracleAnswer: down unless the call succeeds, ``block.timestamp - updatedAt <
    stalenessThreshold`` and the answer is positive. The subtraction is checked: a round dated after the block
    makes fetchPrice revert (and with it any liquidation)."""
    if oracle.answer is None or oracle.updated_at is None:
        return OracleVerdict(0, True, False)
    if oracle.updated_at > now:
        return OracleVerdict(0, True, True)
    if now - oracle.updated_at >= oracle.staleness or oracle.answer <= 0:
        return OracleVerdict(0, True, False)
    if oracle.decimals > TARGET_DIGITS:  # 10 ** (18 - decimals) underflows: the scaling reverts
        return OracleVerdict(0, True, True)
    return OracleVerdict(scale_to_18(oracle.answer, oracle.decimals), False, False)


class PriceKind:
    """Which branch price feed: the oracles it holds decide (``stEthUsdOracle`` / ``rEthEthOracle`` getters)."""

    WETH = "weth"  # WETHPriceFeed: ETH-USD
    WSTETH = "wsteth"  # WSTETHPriceFeed: STETH-USD x stEthPerToken, ETH-USD as fallback
    RETH = "reth"  # RETHPriceFeed: min(ETH-USD x RETH-ETH, ETH-USD x getExchangeRate)


class Model(NamedTuple):
    """How the price batchLiquidateTroves would use follows the price of the position's key (18 decimals):

    - ``direct``: the key's price itself (WETH: ETH-USD; or ``lastGoodPrice``, keyed by the PriceFeed contract);
    - ``rate``: ``key * rate / 1e18`` (wstETH primary: STETH-USD x stEthPerToken);
    - ``min_rate``: ``min(key * market / 1e18, key * rate / 1e18)`` (rETH primary: ETH-USD x RETH-ETH vs x the
      canonical rate);
    - ``capped_rate``: ``min(key * rate / 1e18, cap)`` (ETHUSDxCanonical: ETH-USD x rate, never above the
      lastGoodPrice it keeps lowering)."""

    kind: str
    rate: int = 0
    market_rate: int = 0
    cap: int = 0


DIRECT = Model("direct")


def collateral_price(model: Model, key_price: int) -> int:
    """The price the branch's fetchPrice() returns when the key's (scaled) price is ``key_price``."""
    if model.kind == "rate":
        return key_price * model.rate // DECIMAL_PRECISION
    if model.kind == "min_rate":
        return min(key_price * model.market_rate // DECIMAL_PRECISION, key_price * model.rate // DECIMAL_PRECISION)
    if model.kind == "capped_rate":
        return min(key_price * model.rate // DECIMAL_PRECISION, model.cap)
    return key_price


def min_key_price(model: Model, target: int) -> int | None:
    """The smallest key price at which ``collateral_price(model, key) >= target`` (None: none). With a factor f,
    floor(k * f / 1e18) >= t exactly when k * f >= t * 1e18; min of two floors is the floor of the smaller factor."""
    if model.kind == "direct":
        return target
    if model.kind == "capped_rate" and model.cap < target:
        return None
    factor = min(model.rate, model.market_rate) if model.kind == "min_rate" else model.rate
    if factor <= 0:
        return None if target > 0 else 0
    return -(-target * DECIMAL_PRECISION // factor)


class UsedPrice(NamedTuple):
    """What fetchPrice() would return at the block and where it comes from.

    ``source`` names the calculation (``primary``, ``ETHUSDxCanonical``, ``lastGoodPrice``); ``key_oracle`` the
    oracle role whose price moves it (``eth_usd``, ``steth_usd``; None: nothing moves it — ``lastGoodPrice``);
    ``key_price`` that oracle's scaled price; ``oracle_failure``: the call would detect a new failure and shut the
    branch down; ``reverts``: the call reverts (a round dated after the block), so no liquidation goes through."""

    price: int
    source: str
    key_oracle: str | None
    key_price: int
    model: Model
    oracle_failure: bool = False
    reverts: bool = False


def _last_good(last_good_price: int, *, failure: bool = False, reverts: bool = False) -> UsedPrice:
    return UsedPrice(last_good_price, "lastGoodPrice", None, last_good_price, DIRECT, failure, reverts)


def _canonical(eth_usd: int, rate: int, last_good_price: int, *, failure: bool) -> UsedPrice:
    """CompositePriceFeed._fetchPriceETHUSDxCanonical with a working rate: min(ETH-USD x rate, lastGoodPrice)."""
    model = Model("capped_rate", rate=rate, cap=last_good_price)
    return UsedPrice(collateral_price(model, eth_usd), "ETHUSDxCanonical", "eth_usd", eth_usd, model, failure)


def used_price(kind: str, source: int, last_good_price: int, oracles: dict[str, OracleRead], now: int,
               rate: int | None = None) -> UsedPrice:
    """The price ``PriceFeed.fetchPrice()`` returns at the block, as batchLiquidateTroves takes it.

    ``oracles``: ``eth_usd`` and, by kind, ``steth_usd`` (WSTETHPriceFeed) or ``reth_eth`` (RETHPriceFeed);
    ``rate``: the LST's canonical rate (stEthPerToken / getExchangeRate; None or 0 when it failed).

    - WETHPriceFeed.fetchPrice: primary → ETH-USD when good, else (shutdown) lastGoodPrice; afterwards
      lastGoodPrice for good.
    - WSTETHPriceFeed._fetchPricePrimary: all three read first (a round from the future reverts the call); rate
      down or ETH-USD down → lastGoodPrice (shutdown); STETH-USD down → ETHUSDxCanonical (shutdown); else
      STETH-USD x rate / 1e18.
    - RETHPriceFeed._fetchPricePrimary: ETH-USD down or rate down → lastGoodPrice (shutdown); RETH-ETH down →
      ETHUSDxCanonical (shutdown); else min(ETH-USD x RETH-ETH, ETH-USD x rate) / 1e18.
    - CompositePriceFeed._fetchPriceDuringShutdown: in ETHUSDxCanonical, ETH-USD or the rate down →
      lastGoodPrice, else min(ETH-USD x rate / 1e18, lastGoodPrice); in lastGoodPrice, lastGoodPrice.
    """
    eth = oracle_verdict(oracles["eth_usd"], now)
    rate_down = not rate
    if source == PriceSource.lastGoodPrice:
        return _last_good(last_good_price)
    if kind == PriceKind.WETH:
        if source != PriceSource.primary:  # WETHPriceFeed asserts primary or lastGoodPrice
            return _last_good(last_good_price, reverts=True)
        if eth.reverts:
            return _last_good(last_good_price, reverts=True)
        if eth.down:
            return _last_good(last_good_price, failure=True)
        return UsedPrice(eth.price, "primary", "eth_usd", eth.price, DIRECT)
    if source == PriceSource.ETHUSDxCanonical:
        if eth.reverts:
            return _last_good(last_good_price, reverts=True)
        if eth.down or rate_down:
            return _last_good(last_good_price)
        return _canonical(eth.price, rate or 0, last_good_price, failure=False)
    # a composite feed's primary calculation
    market_role = "steth_usd" if kind == PriceKind.WSTETH else "reth_eth"
    market = oracle_verdict(oracles[market_role], now)
    if eth.reverts or market.reverts:
        return _last_good(last_good_price, reverts=True)
    if rate_down or eth.down:
        return _last_good(last_good_price, failure=True)
    if market.down:
        return _canonical(eth.price, rate or 0, last_good_price, failure=True)
    if kind == PriceKind.WSTETH:
        model = Model("rate", rate=rate or 0)
        return UsedPrice(collateral_price(model, market.price), "primary", "steth_usd", market.price, model)
    model = Model("min_rate", rate=rate or 0, market_rate=market.price)
    return UsedPrice(collateral_price(model, eth.price), "primary", "eth_usd", eth.price, model)


# --- liquidation prices


def liquidation_key_price(coll: int, debt: int, mcr: int, model: Model) -> int | None:
    """The last key price (falling) at which the trove is not liquidatable: ICR >= MCR at ``collateral_price(model,
    key)`` and ICR < MCR one unit lower. None when no price liquidates it (no debt) or every price does (no
    collateral, or a cap under the line)."""
    if debt == 0 or coll == 0:
        return None
    return min_key_price(model, min_price_for_cr(coll, debt, mcr))
