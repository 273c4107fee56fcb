"""Aave v3 (and forks such as Spark), named by the market's PoolAddressesProvider.

Reads, per snapshot, in four to five Multicall3 rounds at the pinned block: provider → pool and oracle;
reserves list and pool revision; reserve data, indexes, prices and every account's configuration and
eMode; the balances each account's configuration bits call for, and the eMode categories in use;
eMode price sources (only if a category has one). Health is then computed locally with
``indexer.protocols.aave_math`` and equals ``Pool.getUserAccountData``.

Which rules a market follows is decided by its Pool's ``POOL_REVISION()``
(:mod:`indexer.protocols.aave_v3.revisions`: v3.0–v3.1 stable debt and eMode configuration bits, v3.2–v3.4
eMode bitmaps, v3.5+ floor/ceil rounding); a revision it does not know is read with the nearest known rules
and every account through the Pool's own ``getUserAccountData``, whose figures are kept, the positions marked
``unverified``.

Liquidatability beside the health factor: a position under 1 that the protocol would not liquidate now says
why in ``detail.liquidation_held`` — the L2 PriceOracleSentinel holding liquidations while the sequencer is
down or in its grace period (unless HF < 0.95), or every reserve pair of the position in a liquidation grace
period (v3.1+).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel

from indexer.chain.abi import load
from indexer.chain.multicall import Call, Failed, Plan
from indexer.errors import MarketMismatchError
from indexer.hexutil import to_checksum_address
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.protocols.aave_math import (
    UNITS,
    WAD,
    account_totals,
    counted,
    health_of,
    healthy_at_price,
    keep_protocol_figures,
    leg_rows,
    liquidation_points,
    ray_div,
    ray_mul,
    scaled_by_reserve,
)
from indexer.protocols.aave_math import amount_reaching as aave_amount_reaching
from indexer.protocols.aave_math import health_at_amount as aave_health_at_amount
from indexer.protocols.aave_v3.options import AaveV3Options
from indexer.protocols.aave_v3.revisions import (
    BY_NAME,
    Applied,
    Rules,
    collateral_balance,
    collateral_seized,
    collateral_terms,
    debt_balance,
    debt_value,
    max_debt_to_cover,
    rules_for,
)
from indexer.protocols.base import DRIFT_SCALE, DiscoverySpec, MarketRead, MarketRef, price_dependencies
from indexer.types import (
    ZERO_ADDRESS,
    Address,
    BlockRef,
    Health,
    Leg,
    LiquidationPoint,
    PositionSnapshot,
    PriceKey,
    Role,
)

log = logging.getLogger(__name__)

HF_DECIMALS = 18
QUOTE = "USD"  # AaveOracle's base currency on every Aave v3 market (BASE_CURRENCY_UNIT = 1e8)
_PROVIDER = load("aave_v3", "PoolAddressesProvider")
_POOL = load("aave_v3", "Pool")
_ORACLE = load("aave_v3", "AaveOracle")
_SENTINEL = load("aave_v3", "PriceOracleSentinel")
_SCALED = load("aave_v3", "ScaledBalanceToken").function("scaledBalanceOf")
_ERC20 = load("aave_v3", "ERC20")
_USER_CONFIGURATION = _POOL.function("getUserConfiguration")
_USER_EMODE = _POOL.function("getUserEMode")
_ACCOUNT_DATA = _POOL.function("getUserAccountData")
_BALANCE = _ERC20.function("balanceOf")
_PER_RESERVE = 6  # calls per reserve in the market round (7 with a liquidation grace period)
# LiquidationLogic: below this health factor the PriceOracleSentinel no longer holds a liquidation
# (aave-v3-core/aave-v3-origin `ValidationLogic.validateLiquidationCall`, MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD)
SENTINEL_FLOOR = 95 * 10**16


def config_field(config: int, low: int, bits: int) -> int:
    return (config >> low) & ((1 << bits) - 1)


@dataclass(frozen=True, slots=True)
class Reserve:
    asset: Address
    id: int
    symbol: str
    decimals: int
    ltv: int
    liquidation_threshold: int
    emode_category: int
    a_token: Address
    stable_debt_token: Address
    variable_debt_token: Address
    normalized_income: int
    normalized_debt: int
    price: int | None  # None: AaveOracle reverted for this asset
    source: Address | None  # AaveOracle.getSourceOfAsset (None: no source, the fallback oracle prices it)
    grace_until: int = 0  # v3.1+: no liquidation involving this reserve before this timestamp
    liquidation_bonus: int = 0  # bps including 100 % (configuration bits 32–47)
    virtual_accounting: bool = True  # configuration bit 252 (v3.1+); v3.3 values a reserve without it differently


class Layout(NamedTuple):
    """What a market's entry points resolve to; the next read's hint (``_speculate``)."""

    pool: Address
    oracle: Address
    revision: int
    base_unit: int
    assets: tuple[Address, ...]
    applied: Applied
    sentinel: Address | None  # the provider's PriceOracleSentinel (L2 markets), if any

    @property
    def per_reserve(self) -> int:
        return _PER_RESERVE + self.applied.rules.grace_period


@dataclass(frozen=True, slots=True)
class Inputs:
    """An account's own part of its figures at a block: its configuration bits, its eMode category and its balances
    per reserve (scaled aToken and variable debt, stable debt as read). Only its own actions change them (supply,
    withdraw, borrow, repay, liquidation, transfer, collateral switch, eMode), except a stable debt, which grows
    with time; the rest of its figures comes from the market's round at the block."""

    bits: int
    emode: int
    amounts: dict[int, dict[str, int]]  # reserve id → {"collateral" | "variable" | "stable" | …: balance}
    # whether a later block's figures follow from these and that block's market round alone: not with a stable debt
    # (it compounds at the account's own rate) nor a debt read as a balance (GHO's discount); asked every block of
    # every rebuilt account, so worked out once
    rebuildable: bool = dataclasses.field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rebuildable", all(not got.get("stable") and "variable_balance" not in got
                                                    for got in self.amounts.values()))


class Remembered(NamedTuple):
    """The hint of a read that keeps its accounts' ``Inputs`` (``read(unchanged=…)``), and the contracts whose logs
    name every account whose inputs change (``watched``): the Pool and each reserve's aToken and debt tokens."""

    layout: Layout
    inputs: dict[Address, Inputs]
    watched: tuple[Address, ...] = ()


@dataclass(frozen=True, slots=True)
class EModeCategory:
    ltv: int
    liquidation_threshold: int
    price_source: Address  # v3.0–v3.1 (zero: the assets' own prices)
    collateral_bitmap: int | None = None  # v3.2+: bit ``id`` set = reserve ``id`` is collateral in the category
    ltvzero_bitmap: int = 0  # v3.6+: bit ``id`` set = that collateral's LTV is 0 in the category
    isolated: bool = False  # v3.7+: collateral outside the category has LTV 0
    liquidation_bonus: int = 0  # bps including 100 %: a liquidation of collateral in the category takes it

    def holds(self, reserve: Reserve, category: int) -> bool:
        """Whether the reserve's collateral takes the category's LT/LTV (and price source)."""
        if self.collateral_bitmap is None:
            return reserve.emode_category == category
        return bool(self.collateral_bitmap >> reserve.id & 1)


def _addr(value: str) -> Address:
    return to_checksum_address(value)


class AaveV3Adapter:
    kind: ClassVar[str] = "aave_v3"
    options: ClassVar[type[BaseModel] | None] = AaveV3Options
    transport: ClassVar[str] = "chain"
    devnet: ClassVar[str | None] = "indexer.protocols.aave_v3.devnet"
    # Pool events (indexed parameters per IPool.json): the account is the position's owner, `onBehalfOf`
    # for Supply/Borrow, `user` otherwise; in LiquidationCall `user` is the third indexed one.
    _DISCOVERY = DiscoverySpec(
        emitter_getter="getPool()",
        account_topic={
            _POOL.topic("Supply"): 2,
            _POOL.topic("Borrow"): 2,
            _POOL.topic("Repay"): 2,
            _POOL.topic("Withdraw"): 2,
            _POOL.topic("LiquidationCall"): 3,
            _POOL.topic("ReserveUsedAsCollateralEnabled"): 2,
            _POOL.topic("ReserveUsedAsCollateralDisabled"): 2,
        },
    )

    def __init__(self, market: MarketRef) -> None:
        self.market = market
        self._named_rules: str | None = market.options.get("rules")
        self._announced: Applied | None = None

    def discovery(self) -> DiscoverySpec:
        return self._DISCOVERY

    def watched(self, hint: object | None) -> Collection[Address] | None:
        """The Pool and every reserve's aToken, variable and stable debt token, as the read that kept ``hint`` found
        them. Every change of an account's ``Inputs`` logs it there: the Pool's Supply, Withdraw, Borrow, Repay,
        LiquidationCall, ReserveUsedAsCollateralEnabled/Disabled, UserEModeSet, MintUnbacked and FlashLoan name the
        account (``contracts/interfaces/IPool.sol``), and every balance a token mints, burns or moves logs Transfer
        and Mint, Burn or BalanceTransfer naming it (``IScaledBalanceToken.sol``, ``IAToken.sol``); a reserve
        added or dropped makes a new layout, on which every account is read anew."""
        return hint.watched if isinstance(hint, Remembered) and hint.watched else None

    # -- reading -------------------------------------------------------------------------------
    def _mismatch(self, what: str) -> MarketMismatchError:
        return self.market.mismatch(f"is not an Aave v3 PoolAddressesProvider ({what})")

    def _provider_calls(self) -> list[Call]:
        provider = self.market.address
        return [_PROVIDER.function("getPool").call(provider, allow_failure=True),
                _PROVIDER.function("getPriceOracle").call(provider, allow_failure=True),
                _PROVIDER.function("getPriceOracleSentinel").call(provider, allow_failure=True)]

    def _provider_answer(self, got: list[Any]) -> tuple[Address, Address, Address | None]:
        if any(isinstance(r, Failed) for r in got[:2]) or ZERO_ADDRESS in (got[0][0], got[1][0]):
            raise self._mismatch("getPool()/getPriceOracle() did not answer with addresses")
        sentinel = None if isinstance(got[2], Failed) or got[2][0] == ZERO_ADDRESS else _addr(got[2][0])
        return _addr(got[0][0]), _addr(got[1][0]), sentinel

    @staticmethod
    def _pool_calls(pool: Address, oracle: Address) -> list[Call]:
        return [_POOL.function("POOL_REVISION").call(pool, allow_failure=True),
                _POOL.function("getReservesList").call(pool, allow_failure=True),
                _ORACLE.function("BASE_CURRENCY_UNIT").call(oracle, allow_failure=True)]

    def _pool_answer(self, pool: Address, oracle: Address, sentinel: Address | None, got: list[Any]) -> Layout:
        if any(isinstance(r, Failed) for r in got):
            raise self._mismatch("its pool or oracle does not answer POOL_REVISION()/getReservesList()/"
                                 "BASE_CURRENCY_UNIT()")
        revision = got[0][0]
        applied = rules_for(revision, self._named_rules)
        if applied != self._announced:
            self._announced = applied
            (log.info if applied.verified else log.warning)(
                "aave_v3 rules market=%s chain=%s pool=%s revision=%d rules=%s verified=%s sentinel=%s: %s",
                self.market.key, self.market.chain, pool, revision, applied.rules.name, applied.verified,
                sentinel or "none", applied.why)
        return Layout(pool, oracle, revision, got[2][0], tuple(_addr(a) for a in got[1][0]), applied, sentinel)

    def _entry_points(self) -> Plan[Layout]:
        pool, oracle, sentinel = self._provider_answer((yield self._provider_calls()))
        return self._pool_answer(pool, oracle, sentinel, (yield self._pool_calls(pool, oracle)))

    def _first_round(self, layout: Layout, accounts: Sequence[Address], checked: Collection[Address]) -> list[Call]:
        """Reserve data, indexes, prices, every account's configuration and eMode, and the Pool's own
        ``getUserAccountData`` for the ``checked`` accounts (the self-check)."""
        calls = self._market_round(layout)
        for account in accounts:
            calls += [_USER_CONFIGURATION.call(layout.pool, account), _USER_EMODE.call(layout.pool, account)]
            if account in checked:
                # may fail: the Pool's view reverts when an asset's price does (the position is unpriced then)
                calls.append(_ACCOUNT_DATA.call(layout.pool, account, allow_failure=True))
        return calls

    def _speculate(self, hint: Layout, accounts: Sequence[Address], block: BlockRef,
                   checked: Collection[Address]) -> Plan[tuple[Layout, list[Any]] | None]:
        """The entry points and the first round in one round trip, on the previous read's layout: kept only
        if the provider, pool and oracle answer, at this same block, exactly what the layout says (every
        speculative call may fail, so a swapped pool costs a retry, never a reverted batch)."""
        first = self._first_round(hint, accounts, checked)
        got = yield [*self._provider_calls(), *self._pool_calls(hint.pool, hint.oracle),
                     *(Call(c.target, c.data, c.output, True) for c in first)]
        try:
            pool, oracle, sentinel = self._provider_answer(got[:3])
            layout = (self._pool_answer(pool, oracle, sentinel, got[3:6])
                      if (pool, oracle, sentinel) == (hint.pool, hint.oracle, hint.sentinel) else None)
        except MarketMismatchError:
            layout = None
        results = got[6:]
        if layout is None or layout.assets != hint.assets or layout.applied != hint.applied or any(
                isinstance(r, Failed) and not c.allow_failure for c, r in zip(first, results, strict=True)):
            log.info("aave_v3 market layout changed market=%s block=%d; reading its entry points afresh",
                     self.market.key, block.number)
            return None
        return layout, results

    @staticmethod
    def _market_round(layout: Layout) -> list[Call]:
        """Per reserve: its data, indexes, symbol, price and price source, and (v3.1+) its liquidation grace
        period; then the sentinel's verdict, if the market has one."""
        pool, oracle = layout.pool, layout.oracle
        calls: list[Call] = []
        for asset in layout.assets:
            calls += [
                _POOL.function("getReserveData").call(pool, asset),
                _POOL.function("getReserveNormalizedIncome").call(pool, asset),
                _POOL.function("getReserveNormalizedVariableDebt").call(pool, asset),
                _ERC20.function("symbol").call(asset, allow_failure=True),
                # One price per asset, failure allowed: AaveOracle reverts for an asset whose feed answers ≤ 0
                # (no fallback oracle); that must cost the positions holding it, not the whole market.
                _ORACLE.function("getAssetPrice").call(oracle, asset, allow_failure=True),
                _ORACLE.function("getSourceOfAsset").call(oracle, asset),
            ]
            if layout.applied.rules.grace_period:  # may fail: a fork without it has no grace period
                calls.append(_POOL.function("getLiquidationGracePeriod").call(pool, asset, allow_failure=True))
        if layout.sentinel:
            calls.append(_SENTINEL.function("isLiquidationAllowed").call(layout.sentinel, allow_failure=True))
        return calls

    @staticmethod
    def _reserves(layout: Layout, results: list[Any]) -> dict[int, Reserve]:
        reserves: dict[int, Reserve] = {}
        span, bitmaps = layout.per_reserve, layout.applied.rules.emode_bitmaps
        for n, asset in enumerate(layout.assets):
            data, (income,), (debt,), symbol, price, (source,), *grace = results[span * n: span * (n + 1)]
            config = data[0]
            reserves[data[7]] = Reserve(
                asset=asset, id=data[7],
                symbol=symbol[0] if not isinstance(symbol, Failed) else asset[:8],
                decimals=config_field(config, 48, 8), ltv=config_field(config, 0, 16),
                liquidation_threshold=config_field(config, 16, 16),
                # v3.2 gave bits 168–175 up (eMode membership moved to the categories' bitmaps)
                emode_category=0 if bitmaps else config_field(config, 168, 8),
                a_token=_addr(data[8]), stable_debt_token=_addr(data[9]), variable_debt_token=_addr(data[10]),
                normalized_income=income, normalized_debt=debt,
                price=None if isinstance(price, Failed) else price[0],
                source=None if source == ZERO_ADDRESS else _addr(source),
                grace_until=grace[0][0] if grace and not isinstance(grace[0], Failed) else 0,
                liquidation_bonus=config_field(config, 32, 16),
                virtual_accounting=bool(config_field(config, 252, 1)))
        return reserves

    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = (),
             unchanged: Collection[Address] | None = None, defer: bool = False) -> Plan[MarketRead]:
        """``unchanged`` (given, even empty): the returned hint keeps every account's ``Inputs``; and an account
        named in it whose inputs the ``hint`` kept (and that can be rebuilt, and is not checked) is not asked
        again: its position is rebuilt from those inputs and this block's market round, through the same
        assembly as a read. The caller vouches that the account did not act since (no event names it).
        ``defer``: such a rebuilt position (one with a configuration) is not assembled here but listed in
        ``MarketRead.deferred``, and ``MarketRead.assemble`` assembles those the caller asks for, the same way."""
        def checked_on(layout: Layout) -> set[Address]:
            # rules not known to be this Pool's: every account through getUserAccountData, whose figures are kept
            everyone = self.market.verify_onchain or not layout.applied.verified
            return set(accounts) if everyone else set(check)

        remembered = hint.inputs if isinstance(hint, Remembered) else {}
        if isinstance(hint, Remembered):
            hint = hint.layout
        rebuilt: dict[Address, Inputs] = {}
        vouched: dict[Address, Inputs] = {}  # vouched for and checked: read, and compared with what was kept
        asked = list(accounts)
        speculated = None
        if isinstance(hint, Layout):
            checked = checked_on(hint)
            known = remembered.get
            vouching = unchanged if isinstance(unchanged, (set, frozenset, dict)) else set(unchanged or ())
            for account in accounts:
                if account in vouching and (inputs := known(account)) is not None and inputs.rebuildable:
                    rebuilt[account] = inputs
            vouched = {a: rebuilt.pop(a) for a in checked if a in rebuilt}
            asked = [a for a in accounts if a not in rebuilt] if rebuilt else list(accounts)
            speculated = yield from self._speculate(hint, asked, block, checked)
        if speculated is None:  # a new layout: reserve ids may have moved, so every account is asked
            rebuilt, vouched, asked = {}, {}, list(accounts)
            layout = yield from self._entry_points()
            checked = checked_on(layout)
            results = yield self._first_round(layout, asked, checked)
        else:
            layout, results = speculated
        pool, oracle, assets, rules = layout.pool, layout.oracle, layout.assets, layout.applied.rules
        market_calls = layout.per_reserve * len(assets) + (layout.sentinel is not None)
        reserves = self._reserves(layout, results[:market_calls])
        # PriceOracleSentinel.isLiquidationAllowed: False while the sequencer is down or in its grace period
        # (a failed call is read as allowed: nothing is known to hold liquidations)
        held = (layout.sentinel is not None and rules.sentinel and not isinstance(results[market_calls - 1], Failed)
                and not results[market_calls - 1][0])
        users: list[tuple[Address, int, int, tuple[int, ...] | None]] = []
        kept: dict[Address, Inputs] = {}  # every account's inputs, for the next read's hint (``unchanged`` given)
        drifted: list[Address] = []
        at = market_calls
        # deferring, the rebuilt accounts are not assembled here: they are kept, listed and their eMode categories
        # read, in one pass each, and the loops below see only the accounts asked
        deferred: list[Address] = []
        rebuilt_categories: set[int] = set()
        if defer and rebuilt:
            kept.update(rebuilt)
            deferred = [a for a in accounts if a in rebuilt and rebuilt[a].bits]
            rebuilt_categories = {inputs.emode for inputs in rebuilt.values() if inputs.bits and inputs.emode}
        for account in asked if defer else accounts:
            if account in rebuilt:
                if rebuilt[account].bits:
                    users.append((account, rebuilt[account].bits, rebuilt[account].emode, None))
                else:
                    kept[account] = rebuilt[account]
                continue
            span = 3 if account in checked else 2
            row = results[at: at + span]
            at += span
            if row[0][0] != 0:
                own = tuple(row[2]) if span == 3 and not isinstance(row[2], Failed) else None
                users.append((account, row[0][0], row[1][0], own))
            elif unchanged is not None:
                kept[account] = Inputs(0, row[1][0], {})  # no position: none until it acts
                if account in vouched and vouched[account] != kept[account]:
                    drifted.append(account)

        balance_calls: list[Call] = []
        wanted_by_user: list[list[tuple[int, str]]] = []
        for account, bits, _, _ in users:
            wanted: list[tuple[int, str]] = []
            if account in rebuilt:  # its balances are the ones kept
                wanted_by_user.append(wanted)
                continue
            for rid, reserve in reserves.items():
                if bits >> (2 * rid + 1) & 1:
                    wanted.append((rid, "collateral"))
                    balance_calls.append(_SCALED.call(reserve.a_token, account))
                if bits >> (2 * rid) & 1 and rules.gho_balance_of and not reserve.virtual_accounting:
                    # v3.3 GenericLogic._getUserDebtInBaseCurrency: a reserve without virtual accounting (GHO) is
                    # valued with the debt token's own balanceOf (its discount applied)
                    wanted.append((rid, "variable_balance"))
                    balance_calls.append(_BALANCE.call(reserve.variable_debt_token, account))
                elif bits >> (2 * rid) & 1:
                    wanted.append((rid, "variable"))
                    balance_calls.append(_SCALED.call(reserve.variable_debt_token, account))
                    # v3.2+ left stable debt out of the account figures, stable debt token or not
                    if rules.stable_debt and reserve.stable_debt_token != ZERO_ADDRESS:
                        wanted.append((rid, "stable"))
                        balance_calls.append(_BALANCE.call(reserve.stable_debt_token, account))
            wanted_by_user.append(wanted)
        categories = sorted({emode for _, _, emode, _ in users if emode} | rebuilt_categories)
        getters = (["getEModeCategoryCollateralConfig", "getEModeCategoryCollateralBitmap"]
                   + ["getEModeCategoryLtvzeroBitmap"] * rules.ltvzero
                   + ["getIsEModeCategoryIsolated"] * rules.isolated_emode) if rules.emode_bitmaps else []
        per_category = len(getters) or 1
        guess = not layout.applied.verified  # rules guessed for an unknown revision: its getters may not exist
        for category in categories:
            if rules.emode_bitmaps:
                balance_calls += [_POOL.function(g).call(pool, category, allow_failure=guess) for g in getters]
            else:
                balance_calls.append(_POOL.function("getEModeCategoryData").call(pool, category, allow_failure=guess))
        sources = {r.source: r for r in reserves.values() if r.source}
        feed_spans = []
        for source in sources:
            feed_calls = feeds.calls(source)
            feed_spans.append(len(feed_calls))
            balance_calls += feed_calls
        results = yield balance_calls
        offset = len(results) - sum(feed_spans)
        readings = []
        for (source, reserve), span in zip(sources.items(), feed_spans, strict=True):
            readings.append(feeds.decode(source, results[offset: offset + span], asset=reserve.asset,
                                         symbol=reserve.symbol))
            offset += span
        rounds = {r.address: r.round_id for r in readings}
        results = results[: len(results) - sum(feed_spans)]
        tail = results[len(results) - per_category * len(categories):]
        emodes: dict[int, EModeCategory] = {}
        for n, c in enumerate(categories):
            if any(isinstance(r, Failed) for r in tail[per_category * n: per_category * (n + 1)]):
                continue  # (guessed rules only) local math without the category; the stored figures are the view's
            if rules.emode_bitmaps:
                (ltv, lt, bonus), (bitmap,), *more = tail[per_category * n: per_category * (n + 1)]
                ltvzero = more.pop(0)[0] if rules.ltvzero else 0
                isolated = bool(more.pop(0)[0]) if rules.isolated_emode else False
                emodes[c] = EModeCategory(ltv, lt, ZERO_ADDRESS, bitmap, ltvzero, isolated, liquidation_bonus=bonus)
            else:
                ltv, lt, bonus, source, _ = tail[n][0]
                emodes[c] = EModeCategory(ltv, lt, _addr(source), liquidation_bonus=bonus)
        source_prices: dict[Address, int | None] = {}
        price_sources = sorted({e.price_source for e in emodes.values() if e.price_source != ZERO_ADDRESS})
        if price_sources:
            got = yield [_ORACLE.function("getAssetPrice").call(oracle, s, allow_failure=True)
                         for s in price_sources]
            source_prices = {s: None if isinstance(r, Failed) else r[0]
                             for s, r in zip(price_sources, got, strict=True)}
        source_of_asset = {r.asset: r.source for r in reserves.values()}

        snapshots: list[PositionSnapshot] = []
        unpriced: list[Address] = []
        mismatched: list[Address] = []
        compared = 0
        offset = 0
        contexts: dict[tuple[int, int], _LegContext | None] = {}
        for (account, bits, emode, onchain), wanted in zip(users, wanted_by_user, strict=True):
            if account in rebuilt:  # (not deferring: deferred accounts are not among the users)
                amounts = rebuilt[account].amounts
                if unchanged is not None:
                    kept[account] = rebuilt[account]
            else:
                amounts = {}
                for rid, kind in wanted:
                    amounts.setdefault(rid, {})[kind] = results[offset][0]
                    offset += 1
                if unchanged is not None:
                    kept[account] = Inputs(bits, emode, amounts)
                    if account in vouched and vouched[account] != kept[account]:
                        drifted.append(account)
            snapshot = self._snapshot(account, block, layout, reserves, bits, emode, emodes,
                                      source_prices, amounts, source_of_asset, rounds, held, contexts)
            if snapshot is None:
                unpriced.append(account)
                continue
            if onchain is not None:
                compared += 1
                if not keep_protocol_figures(snapshot, onchain, precise=rules.precise):
                    mismatched.append(account)
            snapshots.append(snapshot)
        if unpriced:
            log.warning("aave_v3 positions without a price market=%s block=%d accounts=%d (an asset's oracle "
                        "reverted)", self.market.key, block.number, len(unpriced))
        log.debug("aave_v3 read market=%s block=%d accounts=%d positions=%d rebuilt=%d",
                  self.market.key, block.number, len(accounts), len(snapshots), len(rebuilt))
        watched = (pool, *(a for r in reserves.values() for a in (r.a_token, r.variable_debt_token,
                                                                  r.stable_debt_token) if a != ZERO_ADDRESS))
        state = _state(layout, reserves, emodes, source_prices, rounds, held)

        def assemble(chosen: Sequence[Address]) -> MarketRead:  # the deferred accounts asked for, as read above
            built: list[PositionSnapshot] = []
            missing: list[Address] = []
            for account in chosen:
                inputs = rebuilt[account]
                snapshot = self._snapshot(account, block, layout, reserves, inputs.bits, inputs.emode, emodes,
                                          source_prices, inputs.amounts, source_of_asset, rounds, held, contexts)
                if snapshot is None:
                    missing.append(account)
                else:
                    built.append(snapshot)
            return MarketRead(built, unpriced=missing)

        return MarketRead(snapshots, readings, unpriced,
                          hint=layout if unchanged is None else Remembered(layout, kept, watched),
                          checked=compared, mismatched=mismatched, drifted=drifted, state=state,
                          deferred=deferred, assemble=assemble if deferred else None)

    # -- assembling ----------------------------------------------------------------------------
    def _snapshot(self, account: Address, block: BlockRef, layout: Layout,
                  reserves: dict[int, Reserve], bits: int, emode: int, emodes: dict[int, EModeCategory],
                  source_prices: dict[Address, int | None], amounts: dict[int, dict[str, int]],
                  source_of_asset: dict[Address, Address | None], rounds: dict[Address, int | None],
                  sentinel_held: bool, contexts: dict[tuple[int, int], _LegContext | None] | None = None
                  ) -> PositionSnapshot | None:
        """The position, or None when the protocol cannot price one of its assets (its view would revert).

        Each reserve the account touches gives a collateral leg (collateral bit set; counted only with
        LT ≠ 0) and/or a debt leg (borrowing bit set); the leg's price key is the eMode category's price
        source when it has one and the asset is in the category (v3.0–v3.1), else the asset itself.
        ``contexts``: what a reserve's legs take from the block in an eMode category (``_leg_context``), kept
        across the accounts of one read."""
        rules = layout.applied.rules
        precise = rules.precise
        places = len(str(layout.base_unit)) - 1
        if contexts is None:
            contexts = {}
        legs: list[Leg] = []
        rows: list[tuple[int, int, int, int, int, int]] = []  # ``account_totals``' rows, as ``leg_rows`` gives them
        for rid in sorted(amounts):
            context = contexts.get((rid, emode), _UNBUILT)
            if context is _UNBUILT:
                context = contexts[rid, emode] = _leg_context(
                    rules, reserves[rid], emodes.get(emode), emode, block, source_prices, source_of_asset, rounds)
            if context is None:
                return None
            reserve, price, key, feed, unit, ltv, lt, in_total, bonus, grace, round_id = context
            got = amounts[rid]
            if bits >> (2 * rid + 1) & 1:
                # v3.5+ `getATokenBalance`: rayMulFloor; before, rayMul (half-up)
                collateral = collateral_balance(rules, got["collateral"], reserve.normalized_income)
                legs.append(Leg(  # built whole, not dataclasses.replace'd: this runs per leg per block
                    asset=reserve.asset, symbol=reserve.symbol, decimals=reserve.decimals, role=Role.COLLATERAL,
                    amount=collateral, price=price, price_decimals=places, price_key=key,
                    value=collateral * price // unit if in_total else 0, feed=feed, round_id=round_id,
                    terms={"liquidation_threshold": lt, "ltv": ltv, "counted": int(in_total),
                           "liquidation_bonus": bonus,
                           # the aToken's scaled balance and the income index: what a supply's rounding starts from
                           "scaled": got["collateral"], "index": reserve.normalized_income, **grace}))
                rows.append((collateral if in_total else 0, 0, price, unit, ltv, lt))
            if bits >> (2 * rid) & 1:
                # v3.5+ `getVTokenBalance`: rayMulCeil, valued rounding up; v3.0–v3.1 add the stable debt
                variable = got.get("variable", 0)
                if "variable_balance" in got:
                    debt = got["variable_balance"]
                    value = debt * price // unit
                    terms = dict(grace)
                else:
                    debt = debt_balance(rules, variable, reserve.normalized_debt, got.get("stable", 0))
                    value = debt_value(rules, debt, price, unit)
                    # the variable debt token's scaled balance and index: what a repayment's rounding starts from
                    terms = {**grace, "scaled": variable, "index": reserve.normalized_debt}
                    if got.get("stable"):  # v3.0–v3.1: a stable debt, grown at its own rate (no ``advance``)
                        terms["stable"] = got["stable"]
                legs.append(Leg(asset=reserve.asset, symbol=reserve.symbol, decimals=reserve.decimals, role=Role.DEBT,
                                amount=debt, price=price, price_decimals=places, price_key=key,
                                value=value, feed=feed, round_id=round_id, terms=terms))
                rows.append((0, debt, price, unit, 0, 0))
        detail: dict[str, Any] = {"emode_category": emode, "user_configuration": str(bits),
                                  "pool_revision": layout.revision, "rules": rules.name}
        if not layout.applied.verified:
            detail["unverified"] = layout.applied.why
        if sentinel_held:
            detail["sentinel_held"] = True
        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key,
            market_address=self.market.address, account=account, block=block, legs=legs, health=_UNFIGURED,
            detail=detail)
        return self._with_figures(snapshot, rows, precise, layout.base_unit)  # from the rows built beside the legs

    @staticmethod
    def _precise(snapshot: PositionSnapshot) -> bool:
        """Whether the snapshot follows the v3.5+ rounding (its ``detail.rules``; none stored: v3.0)."""
        return BY_NAME[snapshot.detail.get("rules", "v3.0")].precise

    @staticmethod
    def _held(snapshot: PositionSnapshot) -> str | None:
        """Why a position under 1 cannot be liquidated at its block, or None (above 1, or liquidatable).

        ValidationLogic.validateLiquidationCall: the PriceOracleSentinel (L2) must allow liquidations unless
        HF < 0.95 (``MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD``); v3.1+ neither the collateral nor the debt
        reserve may be in its liquidation grace period. A liquidation needs one counted collateral (LT ≠ 0)
        and one debt, both out of grace at the block's time."""
        hf = snapshot.health.raw
        if hf >= 10**HF_DECIMALS:
            return None
        if snapshot.detail.get("sentinel_held") and hf >= SENTINEL_FLOOR:
            return "L2 sequencer down or in grace (PriceOracleSentinel) while HF ≥ 0.95"
        now = snapshot.block.timestamp
        free_collateral = [leg for leg in snapshot.legs if leg.role is Role.COLLATERAL and counted(leg)
                           and leg.terms.get("grace_until", 0) < now]
        free_debt = [leg for leg in snapshot.legs if leg.role is Role.DEBT and leg.amount
                     and leg.terms.get("grace_until", 0) < now]
        if free_collateral and free_debt:
            return None
        until = max(leg.terms.get("grace_until", 0) for leg in snapshot.legs)
        return f"liquidation grace period until {until}" if until >= now else None

    def _recompute(self, snapshot: PositionSnapshot) -> PositionSnapshot:
        """Health and the detail's account figures from the snapshot's legs, as ``getUserAccountData``."""
        return self._with_figures(snapshot, leg_rows(snapshot.legs), self._precise(snapshot),
                                  snapshot.health.quote_unit)

    def _with_figures(self, snapshot: PositionSnapshot, rows: Sequence[tuple[int, int, int, int, int, int]],
                      precise: bool, quote_unit: int) -> PositionSnapshot:
        """The snapshot's health and its detail's account figures from ``account_totals`` rows (one per leg, as
        ``leg_rows`` gives them), as ``getUserAccountData``; and whether and how it can be liquidated."""
        c, d, available, lt, ltv, hf = account_totals(rows, precise)
        snapshot.health = health_of(c, d, lt, hf, quote=QUOTE, quote_unit=quote_unit, precise=precise)
        snapshot.detail.update(liquidation_threshold=lt, ltv=ltv, available_borrows=available)
        self._mark_held(snapshot)
        self._mark_liquidation(snapshot)
        return snapshot

    @staticmethod
    def _mark_liquidation(snapshot: PositionSnapshot) -> None:
        """Under 1: what one liquidation of the position's largest debt against its largest collateral would
        repay and seize, by the release's close factor (``detail.liquidation``, token units as strings)."""
        h = snapshot.health
        snapshot.detail.pop("liquidation", None)
        if h.raw >= 10**HF_DECIMALS or not h.debt:
            return
        collaterals = [leg for leg in snapshot.legs if leg.role is Role.COLLATERAL and leg.amount and counted(leg)]
        debts = [leg for leg in snapshot.legs if leg.role is Role.DEBT and leg.amount]
        if not collaterals or not debts:
            return
        rules = BY_NAME[snapshot.detail.get("rules", "v3.0")]
        coll = max(collaterals, key=lambda leg: leg.amount * leg.price // UNITS[leg.decimals])
        debt = max(debts, key=lambda leg: leg.value)
        if not coll.price or not debt.price:  # a what-if at a zero price: the Pool's oracle would revert
            return
        cover = max_debt_to_cover(
            rules, hf=h.raw, reserve_debt=debt.amount, reserve_debt_base=debt.value,
            reserve_collateral_base=coll.amount * coll.price // UNITS[coll.decimals], total_debt_base=h.debt,
            debt_price=debt.price, debt_unit=UNITS[debt.decimals])
        seized = collateral_seized(
            rules, debt_to_cover=cover, debt_price=debt.price, debt_unit=UNITS[debt.decimals],
            collateral_price=coll.price, collateral_unit=UNITS[coll.decimals],
            bonus=coll.terms.get("liquidation_bonus", 10_000), balance=coll.amount)
        snapshot.detail["liquidation"] = {
            "debt_asset": debt.asset, "debt_symbol": debt.symbol, "max_debt_to_cover": str(cover),
            "collateral_asset": coll.asset, "collateral_symbol": coll.symbol, "collateral_seized": str(seized)}

    def _mark_held(self, snapshot: PositionSnapshot) -> None:
        held = self._held(snapshot)
        if held is None:
            snapshot.detail.pop("liquidation_held", None)
        else:
            snapshot.detail["liquidation_held"] = held

    # -- accruing (``Accrues``) --------------------------------------------------------------------
    @staticmethod
    def inputs(snapshot: PositionSnapshot) -> Hashable | None:
        """The account's configuration bits, eMode category and scaled balances per leg: what ``Inputs`` keeps of
        it. None for a position whose figures are not local math on those (the self-check kept the Pool's
        figures) or that owes a balance growing at its own rate (a stable debt, a debt valued by its balance)."""
        detail = snapshot.detail
        if "self_check" in detail:
            return None
        legs = []
        for leg in snapshot.legs:
            scaled = leg.terms.get("scaled")
            if scaled is None or "stable" in leg.terms:
                return None
            legs.append((leg.asset, leg.role.value, scaled))
        return detail.get("user_configuration"), detail.get("emode_category"), tuple(legs)

    def advance(self, snapshot: PositionSnapshot, state: Any, block: BlockRef) -> PositionSnapshot | None:
        """The snapshot's inputs (``inputs``) assembled with the market's state at ``block`` (``_state``) by the
        same code as a read (``_snapshot``)."""
        if self.inputs(snapshot) is None or not snapshot.legs:
            return None
        layout, reserves, emodes, source_prices, rounds, held = _from_state(state)
        amounts = scaled_by_reserve(snapshot.legs, {r.asset: r.id for r in reserves.values()})
        if amounts is None:
            return None
        bits = int(snapshot.detail["user_configuration"])
        emode = int(snapshot.detail["emode_category"])
        source_of_asset = {r.asset: r.source for r in reserves.values()}
        return self._snapshot(snapshot.account, block, layout, reserves, bits, emode, emodes, source_prices,
                              amounts, source_of_asset, rounds, held)

    # -- drifting (``Drifts``) ------------------------------------------------------------------------
    @staticmethod
    def steady_parts(state: Any, block: BlockRef) -> dict[Hashable, Hashable]:
        """The state (``_state``) without the reserves' indexes and the feeds' rounds, in parts: the market's rules
        (key ``""``); each reserve (key: its asset) with whether it is in its liquidation grace period at ``block``
        (a leg carries ``grace_until`` only then); each eMode category of the block's accounts (key: ``("emode",
        category)``) with the price of its price source."""
        fields = state["reserve_fields"]
        moving = {fields.index("normalized_income"), fields.index("normalized_debt")}
        grace, asset = fields.index("grace_until"), fields.index("asset")
        parts: dict[Hashable, Hashable] = {
            "": (state["revision"], state["base_unit"], state["rules"], state["verified"], state["why"])}
        for row in state["reserves"]:
            parts[row[asset]] = (tuple(v for n, v in enumerate(row) if n not in moving), row[grace] >= block.timestamp)
        prices = {source: price for source, price in state["source_prices"]}
        source = state["emode_fields"].index("price_source")
        for row in state["emodes"]:
            parts[("emode", row[0])] = (tuple(row), prices.get(row[source]))
        return parts

    @staticmethod
    def parts_of(snapshot: PositionSnapshot) -> list[Hashable]:
        """(``Drifts``) The rules, the reserves of its legs, its eMode category (``_snapshot`` takes no more)."""
        keys: list[Hashable] = ["", *(leg.asset for leg in snapshot.legs)]
        category = snapshot.detail.get("emode_category")
        if category:
            keys.append(("emode", category))
        return keys

    def headroom(self, snapshot: PositionSnapshot, epsilon: Fraction, base: PositionSnapshot | None = None) -> int:
        """How far the indexes may grow before a figure could leave ``epsilon`` of ``base``'s (``Drifts``; default:
        this snapshot's).

        With the inputs, prices and parameters fixed, a leg's amount is its scaled balance times its index, rounded
        (half-up, floor or ceiling: within 1 of the exact product), and its value the amount times price / unit,
        rounded the same way; every figure is non-decreasing in the indexes except the health factor, whose
        numerator (risk-adjusted collateral) and denominator (debt) both grow. For a growth g of every index
        under the position, each figure's move is below g·A + B, A and B from its own amounts and prices (the
        rounding slack in B), and the headroom is the least g at which some move reaches ``epsilon`` of its
        figure, the health factor not crossing 1 either. The average liquidation threshold is floored
        (``GenericLogic.calculateUserAccountData``): with collateral of several thresholds, the growth must also
        keep the exact average within the basis point it was in (each collateral's share moves by at most the
        largest relative move of a collateral value). The index terms themselves move by g: the headroom is at
        most ``epsilon``. With a ``base`` (the row this snapshot was found within ``epsilon`` of, the same inputs),
        each figure may move only by what ``epsilon`` of the base's leaves beside the distance already between them;
        the lines not to cross (1, a basis point) are this snapshot's."""
        # Each bound below is a fraction N / D (D > 0) of growth; the headroom is the least floor(N · DRIFT_SCALE / D),
        # in integers throughout (every figure is an integer, every price unit and the threshold scale a power of
        # ten): the leg sums are kept times L = 10**(the legs' largest decimals), the numerator's times L · 10⁴.
        scale = DRIFT_SCALE
        en, ed = epsilon.numerator, epsilon.denominator
        least = en * scale // ed
        legs = snapshot.legs
        was = legs if base is None else base.legs
        if len(was) != len(legs) or any(a.asset != b.asset or a.role is not b.role
                                        for a, b in zip(was, legs, strict=True)):
            return 0

        def left(now: int, then: int) -> int:  # ed × what epsilon of ``then`` leaves for a figure now at ``now``
            return en * then - ed * abs(now - then)
        big = UNITS[max((leg.decimals for leg in legs), default=0)]
        grow_c = slack_c = grow_d = slack_d = grow_lt = slack_lt = 0  # × L
        shares: list[tuple[int, int, int, int]] = []  # per counted collateral: its grow and slack (× L), value, LT
        weighted = 0  # Σ value · LT: the average threshold's numerator
        for leg, old in zip(legs, was, strict=True):
            terms = leg.terms
            if "index" not in terms or "scaled" not in terms or "stable" in terms:
                return 0
            if base is not None:  # the index term itself, from what is left of it
                index = terms["index"]
                least = min(least, left(index, old.terms.get("index", 0)) * scale // (ed * index))
            if not terms["scaled"]:
                continue  # nothing to grow: amount and value stay 0
            amount = leg.amount
            least = min(least, (left(amount, old.amount) - 2 * ed) * scale // (ed * (amount + 1)))
            is_debt = leg.role is Role.DEBT
            price = leg.price
            if not price or not (is_debt or counted(leg)):
                continue  # valued at 0, whatever the amount
            value = leg.value
            if not value:
                return 0  # a value that may leave 0: no relative bound
            per = big // UNITS[leg.decimals]  # L / the leg's unit
            grow, slack = (amount + 1) * price * per, 2 * price * per + 2 * big  # (amount + 1) · p / u, 2 · p / u + 2
            least = min(least, (left(value, old.value) * big - ed * slack) * scale // (ed * grow))
            if is_debt:
                grow_d, slack_d = grow_d + grow, slack_d + slack
            else:
                lt = terms["liquidation_threshold"]
                grow_c, slack_c = grow_c + grow, slack_c + slack
                grow_lt, slack_lt = grow_lt + lt * grow, slack_lt + lt * slack
                shares.append((grow, slack, value, lt))
                weighted += value * lt
        health = snapshot.health
        then = health if base is None else base.health
        if grow_d:
            least = min(least, (left(health.debt, then.debt) * big - ed * slack_d) * scale // (ed * grow_d))
        grow_n = slack_n = 0  # the factor's numerator's growth and slack, × L · 10⁴
        wide = big * 10**4
        if grow_c:
            total = health.collateral
            least = min(least, (left(total, then.collateral) * big - ed * slack_c) * scale // (ed * grow_c))
            lowest, highest = min(lt for *_, lt in shares), max(lt for *_, lt in shares)
            if lowest != highest:  # the floored average must stay in its basis point
                rest = weighted % total
                # (margin − the largest slack / value) / the largest grow / value, margin = m / (total · spread)
                m, md = min(rest, total - 1 - rest), total * (highest - lowest)
                sb, vb = max(((slack, value) for _, slack, value, _ in shares),
                             key=lambda pair: Fraction(pair[0], pair[1]))
                ga, va = max(((grow, value) for grow, _, value, _ in shares),
                             key=lambda pair: Fraction(pair[0], pair[1]))
                least = min(least, (m * big * vb - sb * md) * va * scale // (md * vb * ga))
            average = weighted // total
            if average:
                # equity: the collateral times the average threshold, rounded (half-up, or floored from v3.5)
                least = min(least, (left(health.equity, then.equity) * wide - ed * slack_c * average - 2 * ed * wide)
                            * scale // (ed * grow_c * average))
            if self._precise(snapshot):  # the factor's numerator: Σ value · LT / 10⁴ (v3.5+)
                grow_n, slack_n = grow_lt, slack_lt
            else:  # … or that equity, with its rounding (≤ v3.4)
                grow_n, slack_n = grow_c * average, slack_c * average + 2 * wide
        if health.debt and grow_n:  # (a numerator that cannot move is 0: so is the factor, throughout)
            hf, debt = health.raw, health.debt
            # the factor is within 2 of numerator · WAD / debt: up with the numerator, down with the debt
            room = left(hf, then.raw) - 4 * ed
            least = min(least, (room * debt * wide - slack_n * ed * WAD) * scale // (ed * WAD * grow_n))
            if grow_d:
                least = min(least, (room * debt * big - slack_d * ed * (hf + 2)) * scale
                            // (ed * (hf + 2) * grow_d))
            if hf >= WAD and grow_d:  # not liquidatable: the fall must stay above 1
                least = min(least, ((hf - WAD - 4) * debt * big - slack_d * (hf + 2)) * scale // ((hf + 2) * grow_d))
            elif hf < WAD:  # liquidatable: the rise must stay below 1
                least = min(least, ((WAD - hf - 5) * debt * wide - slack_n * WAD) * scale // (WAD * grow_n))
        return max(0, least)

    @staticmethod
    def grown_within(last: PositionSnapshot, now: PositionSnapshot, headroom: int) -> bool:
        """(``Drifts``) The same ``inputs``, none of them None — configuration bits, eMode, each leg's asset, role
        and scaled balance, no stable debt, no self-check — in the same pass as the indexes."""
        a, b = last.detail, now.detail
        if (len(last.legs) != len(now.legs) or a.get("user_configuration") != b.get("user_configuration")
                or a.get("emode_category") != b.get("emode_category") or "self_check" in a or "self_check" in b):
            return False
        for old, new in zip(last.legs, now.legs, strict=True):
            was, got = old.terms, new.terms
            scaled = was.get("scaled")
            if (scaled is None or scaled != got.get("scaled") or "stable" in was or "stable" in got
                    or old.asset != new.asset or old.role is not new.role):
                return False
            before, after = was.get("index"), got.get("index")
            if before is None or after is None or not _index_within(before, after, headroom):
                return False
        return True

    @staticmethod
    def within_state(state: Any) -> Callable[[PositionSnapshot, int], bool]:
        """(``Drifts``) Each leg's index in ``state`` (``_state``: a collateral's income index, a debt's variable
        borrow index, as ``_snapshot`` puts them in its terms) against the snapshot's; its inputs as ``inputs``
        takes them (a scaled balance per leg, no stable debt, no self-check)."""
        fields = state["reserve_fields"]
        asset, income, debt = fields.index("asset"), fields.index("normalized_income"), fields.index("normalized_debt")
        indexes = {row[asset]: (row[income], row[debt]) for row in state["reserves"]}

        # (asset, debt, index before) → the least headroom the growth to this block's index takes (``_index_within``
        # solved for the headroom, once per distinct index: the block's positions share a few); None: none does
        needs: dict[tuple[Address, bool, int], int | None] = {}

        def need(asset: Address, debt: bool, before: int) -> int | None:
            now = indexes.get(asset)
            if now is None or before <= 0:
                return None
            after = now[1] if debt else now[0]
            return -(-(after - before) * DRIFT_SCALE // before) if after >= before else None

        def within(last: PositionSnapshot, headroom: int) -> bool:
            if "self_check" in last.detail:
                return False
            for leg in last.legs:
                terms = leg.terms
                before = terms.get("index")
                if before is None or "scaled" not in terms or "stable" in terms:
                    return False
                key = (leg.asset, leg.role is Role.DEBT, before)
                least = needs[key] if key in needs else needs.setdefault(key, need(*key))
                if least is None or least > headroom:
                    return False
            return True
        return within

    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        return price_dependencies(snapshot)

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        legs = []
        ceil = self._precise(snapshot)
        for leg in snapshot.legs:
            price = prices.get(leg.price_key, leg.price)
            unit = UNITS[leg.decimals]
            if leg.role is Role.DEBT:
                value = -(-leg.amount * price // unit) if ceil else leg.amount * price // unit
            else:
                value = leg.amount * price // unit if counted(leg) else 0
            legs.append(leg.at_price(price, value, leg.round_id))
        moved = dataclasses.replace(snapshot, legs=legs, detail=dict(snapshot.detail))
        return self._recompute(moved)

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        precise = self._precise(snapshot)
        c, d, _, lt, _, hf = account_totals(leg_rows(snapshot.legs, prices), precise)
        return health_of(c, d, lt, hf, quote=QUOTE, quote_unit=snapshot.health.quote_unit, precise=precise)

    def health_at_amount(self, snapshot: PositionSnapshot, index: int) -> Callable[[int], Decimal | None]:
        """``amount → health`` with leg ``index`` holding that amount, the other legs as they are (``AmountHealth``):
        ``health_at``'s figure, to the unit, without rebuilding the snapshot — what-it-takes asks it ~40 times a
        leg."""
        leg = snapshot.legs[index]
        return aave_health_at_amount(leg_rows(snapshot.legs), index, collateral=leg.role is Role.COLLATERAL,
                                     counted=counted(leg), precise=self._precise(snapshot))

    def amount_reaching(self, snapshot: PositionSnapshot, index: int, target: Decimal) -> int | None:
        """The amount leg ``index`` must hold for the health to reach ``target`` (``AmountReaching``): solved in base
        currency with the pool's own figure, see ``aave_math.amount_reaching``."""
        leg = snapshot.legs[index]
        wad = int((target * 10**18).to_integral_value(rounding=ROUND_CEILING))  # health ≥ target ⇔ HF ≥ ⌈target·10¹⁸⌉
        return aave_amount_reaching(leg_rows(snapshot.legs), index, wad, collateral=leg.role is Role.COLLATERAL,
                                    counted=counted(leg), precise=self._precise(snapshot))

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        """``price → health ≥ 1`` with every leg priced by ``key`` (an eMode price source, else the asset
        itself) at that price: the test the liquidation-point search asks ~40 times per position."""
        return healthy_at_price(leg_rows(snapshot.legs), [leg.price_key == key for leg in snapshot.legs],
                                self._precise(snapshot))

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        if not snapshot.health.debt:
            return {}
        return liquidation_points(snapshot.legs, self.price_dependencies(snapshot) if keys is None else keys,
                                  precise=self._precise(snapshot))

    @staticmethod
    def margin_terms() -> tuple[str, ...]:
        """A collateral's liquidation threshold (the eMode category's in the category): risk stewards and governance
        move it (PoolConfigurator.configureReserveAsCollateral, setEModeCategory)."""
        return ("liquidation_threshold",)

    @staticmethod
    def amount_after(snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """A supply mints ``amount.rayDiv(index)`` scaled aTokens and a variable repayment burns as many debt tokens
        (ScaledBalanceTokenBase._mintScaled / _burnScaled, aave-v3-core 1.x and aave-v3-origin to v3.4); the
        balance is the new scaled balance times the index, at the snapshot's index (a transaction in a block of
        the same timestamp). v3.5+ rounds scaled amounts its own way (TokenMath): not modelled, None."""
        rules = BY_NAME[snapshot.detail.get("rules", "v3.0")]
        scaled, index = leg.terms.get("scaled"), leg.terms.get("index")
        if scaled is None or not index or rules.precise:
            return None
        if leg.role is Role.COLLATERAL and change >= 0:
            return collateral_balance(rules, scaled + ray_div(change, index), index)
        if leg.role is Role.DEBT and change <= 0:
            stable = leg.amount - debt_balance(rules, scaled, index)  # v3.0–v3.1: a variable repayment leaves it
            left = max(scaled - ray_div(-change, index), 0)
            return (ray_mul(left, index) if left else 0) + stable
        return None

    @staticmethod
    def price_from_feed(reading: FeedReading) -> tuple[PriceKey, int] | None:
        """AaveOracle returns its source's ``latestAnswer`` unscaled when it is positive (and falls back,
        here to a revert, otherwise); the price is the asset's (or the eMode price source's, which is an
        asset AaveOracle prices the same way)."""
        if reading.asset is None or reading.answer is None or reading.answer <= 0:
            return None
        return reading.asset, reading.answer


_RESERVE_FIELDS = tuple(f.name for f in dataclasses.fields(Reserve))
_EMODE_FIELDS = tuple(f.name for f in dataclasses.fields(EModeCategory))


# A reserve's legs as one block gives them to an account in an eMode category: (reserve, price, price key, feed,
# unit, LTV, LT, counted, liquidation bonus, grace terms, feed round). The same for every account of a read.
_LegContext = tuple[Reserve, int, Address, "Address | None", int, int, int, bool, int, dict[str, int], "int | None"]
_UNBUILT: Any = object()
# a snapshot's health until ``_with_figures`` works it out (shared: frozen, and replaced at once)
_UNFIGURED = Health(raw=0, decimals=HF_DECIMALS, health=None, equity=0, requirement=0, collateral=0, debt=0,
                    quote=QUOTE, quote_unit=1)


def _leg_context(rules: Rules, reserve: Reserve, category: EModeCategory | None, emode: int, block: BlockRef,
                 source_prices: Mapping[Address, int | None], source_of_asset: Mapping[Address, Address | None],
                 rounds: Mapping[Address, int | None]) -> _LegContext | None:
    """What ``_snapshot`` takes from the block for a reserve's legs in eMode category ``emode`` (``category``: its
    figures, None outside eMode or when unread); None when the protocol cannot price the reserve."""
    in_emode = category is not None and category.holds(reserve, emode)
    price, key = reserve.price, reserve.asset
    if category is not None and category.price_source != ZERO_ADDRESS and in_emode:
        price, key = source_prices[category.price_source], category.price_source
    if price is None:
        return None
    feed = source_of_asset.get(key)
    # GenericLogic.calculateUserAccountData (aave-v3-core 1.x, aave-v3-origin v3.2–v3.4): collateral counts
    # only if the reserve's own LT is not 0, and adds LTV only if the reserve's own LTV is not 0 — in
    # eMode too, where the category's figures replace them
    # (`if (vars.ltv != 0) avgLtv += balance * (inEMode ? eModeLtv : ltv)`)
    # v3.6+ (ValidationLogic.getUserReserveLtv): in its category a collateral takes the category's LT and
    # LTV whatever the reserve's own, the LTV zeroed by the category's ltvzero bitmap; v3.7: an isolated
    # category zeroes the LTV of collateral outside it
    ltv, lt, in_total = collateral_terms(
        rules, ltv=reserve.ltv, lt=reserve.liquidation_threshold,
        category=(category.ltv, category.liquidation_threshold) if in_emode and category else None,
        ltv_zeroed=bool(category and category.ltvzero_bitmap >> reserve.id & 1),
        isolated_outside=bool(category and category.isolated and not in_emode))
    grace = {"grace_until": reserve.grace_until} if reserve.grace_until >= block.timestamp else {}
    # LiquidationLogic: the category's bonus for collateral in the user's category
    bonus = category.liquidation_bonus if in_emode and category else reserve.liquidation_bonus
    return (reserve, price, key, feed, UNITS[reserve.decimals], ltv, lt, in_total, bonus, grace,
            rounds.get(feed) if feed else None)


def _index_within(before: int, after: int, headroom: int) -> bool:
    """Whether an index went from ``before`` to ``after`` without falling and grew by at most ``headroom``
    (``DRIFT_SCALE`` units, relative)."""
    return after >= before and (after - before) * DRIFT_SCALE <= headroom * before


def _state(layout: Layout, reserves: Mapping[int, Reserve], emodes: Mapping[int, EModeCategory],
           source_prices: Mapping[Address, int | None], rounds: Mapping[Address, int | None], held: bool
           ) -> dict[str, Any]:
    """The market's part of a block's figures as JSON values (``MarketRead.state``): the rules, every reserve's
    parameters, indexes and price, the eMode categories the block's accounts are in, their price sources' prices,
    the feeds' rounds and whether the sentinel held liquidations. Rows are lists under their field names."""
    return {"revision": layout.revision, "base_unit": layout.base_unit, "rules": layout.applied.rules.name,
            "verified": layout.applied.verified, "why": layout.applied.why, "held": held,
            "reserve_fields": list(_RESERVE_FIELDS),
            "reserves": [[getattr(r, name) for name in _RESERVE_FIELDS] for r in reserves.values()],
            "emode_fields": ["category", *_EMODE_FIELDS],
            "emodes": [[c, *(getattr(e, name) for name in _EMODE_FIELDS)] for c, e in emodes.items()],
            "source_prices": [[a, p] for a, p in source_prices.items()],
            "rounds": [[a, r] for a, r in rounds.items()]}


def _from_state(state: Mapping[str, Any]) -> tuple[Layout, dict[int, Reserve], dict[int, EModeCategory],
                                                   dict[Address, int | None], dict[Address, int | None], bool]:
    """``_state`` read back: what ``_snapshot`` takes beside an account's own inputs."""
    applied = Applied(BY_NAME[state["rules"]], state["verified"], state["why"])
    layout = Layout(ZERO_ADDRESS, ZERO_ADDRESS, state["revision"], state["base_unit"], (), applied, None)
    reserve_fields, emode_fields = state["reserve_fields"], state["emode_fields"]
    reserves = {}
    for row in state["reserves"]:
        reserve = Reserve(**dict(zip(reserve_fields, row, strict=True)))
        reserves[reserve.id] = reserve
    emodes = {}
    for row in state["emodes"]:
        fields = dict(zip(emode_fields, row, strict=True))
        category = fields.pop("category")
        emodes[category] = EModeCategory(**fields)
    return (layout, reserves, emodes, {a: p for a, p in state["source_prices"]}, {a: r for a, r in state["rounds"]},
            bool(state["held"]))
