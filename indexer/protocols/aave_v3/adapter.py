"""Aave v3 (and forks such as Spark), named by the market's PoolAddressesProvider.

Reads, per snapshot, in four to five Multicall3 rounds at the pinned block: provider → pool and oracle;
reserves list and pool revision; reserve data, indexes, prices and every account's configuration and
eMode; the balances each account's configuration bits call for, and the eMode categories in use;
eMode price sources (only if a category has one). Health is then computed locally with
``indexer.protocols.aave_v3.rules`` and equals ``Pool.getUserAccountData``.

Local math is implemented for Pool revisions 1–4 (v3.0–v3.1: stable debt counted, eMode category in
reserve configuration bits 168–175, optional eMode price source). Later revisions changed eMode storage
and rounding; they are refused with a clear error rather than computed approximately.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from eth_utils import to_checksum_address
from pydantic import BaseModel

from indexer.chain.abi import load
from indexer.chain.multicall import Call, Failed, Plan
from indexer.errors import MarketMismatchError, PermanentError
from indexer.health.liquidation import crossing_price
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.protocols.aave_v3.rules import (
    account_totals,
    healthy_at_price,
    linear_estimate,
    risk_adjusted,
)
from indexer.protocols.aave_v3.wadray import ray_mul
from indexer.protocols.base import DiscoverySpec, MarketRead, MarketRef, price_dependencies
from indexer.types import (
    UINT256_MAX,
    Address,
    BlockRef,
    Health,
    Leg,
    LiquidationPoint,
    PositionSnapshot,
    PriceKey,
    Role,
    scaled,
)

log = logging.getLogger(__name__)

SUPPORTED_REVISIONS = range(1, 5)
ZERO = "0x0000000000000000000000000000000000000000"
HF_DECIMALS = 18
QUOTE = "USD"  # AaveOracle's base currency on every Aave v3 market (BASE_CURRENCY_UNIT = 1e8)
_PROVIDER = load("aave_v3", "PoolAddressesProvider")
_POOL = load("aave_v3", "Pool")
_ORACLE = load("aave_v3", "AaveOracle")
_SCALED = load("aave_v3", "ScaledBalanceToken").function("scaledBalanceOf")
_ERC20 = load("aave_v3", "ERC20")
_USER_CONFIGURATION = _POOL.function("getUserConfiguration")
_USER_EMODE = _POOL.function("getUserEMode")
_ACCOUNT_DATA = _POOL.function("getUserAccountData")
_BALANCE = _ERC20.function("balanceOf")
_PER_RESERVE = 6  # calls per reserve in the market round
_UNITS = tuple(10**n for n in range(78))  # 10**decimals, looked up rather than raised per asset


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


class Layout(NamedTuple):
    """What a market's entry points resolve to; the next read's hint (``_speculate``)."""

    pool: Address
    oracle: Address
    revision: int
    base_unit: int
    assets: tuple[Address, ...]


@dataclass(frozen=True, slots=True)
class EModeCategory:
    ltv: int
    liquidation_threshold: int
    price_source: Address


def _addr(value: str) -> Address:
    return to_checksum_address(value)


class AaveV3Adapter:
    kind: ClassVar[str] = "aave_v3"
    options: ClassVar[type[BaseModel] | None] = None
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

    def discovery(self) -> DiscoverySpec:
        return self._DISCOVERY

    # -- reading -------------------------------------------------------------------------------
    def _mismatch(self, what: str) -> MarketMismatchError:
        return MarketMismatchError(
            f"market {self.market.key!r}: {self.market.address} on chain {self.market.chain!r} "
            f"is not an Aave v3 PoolAddressesProvider ({what})")

    def _provider_calls(self) -> list[Call]:
        provider = self.market.address
        return [_PROVIDER.function("getPool").call(provider, allow_failure=True),
                _PROVIDER.function("getPriceOracle").call(provider, allow_failure=True)]

    def _provider_answer(self, got: list[Any]) -> tuple[Address, Address]:
        if any(isinstance(r, Failed) for r in got) or ZERO in (got[0][0], got[1][0]):
            raise self._mismatch("getPool()/getPriceOracle() did not answer with addresses")
        return _addr(got[0][0]), _addr(got[1][0])

    @staticmethod
    def _pool_calls(pool: Address, oracle: Address) -> list[Call]:
        return [_POOL.function("POOL_REVISION").call(pool, allow_failure=True),
                _POOL.function("getReservesList").call(pool, allow_failure=True),
                _ORACLE.function("BASE_CURRENCY_UNIT").call(oracle, allow_failure=True)]

    def _pool_answer(self, pool: Address, oracle: Address, got: list[Any]) -> Layout:
        if any(isinstance(r, Failed) for r in got):
            raise self._mismatch("its pool or oracle does not answer POOL_REVISION()/getReservesList()/"
                                 "BASE_CURRENCY_UNIT()")
        revision = got[0][0]
        if revision not in SUPPORTED_REVISIONS:
            raise PermanentError(
                f"market {self.market.key!r}: Aave v3 Pool revision {revision} is not supported yet "
                f"(exact local math is implemented for revisions 1-4, Aave v3.0-v3.1)")
        return Layout(pool, oracle, revision, got[2][0], tuple(_addr(a) for a in got[1][0]))

    def _entry_points(self) -> Plan[Layout]:
        pool, oracle = self._provider_answer((yield self._provider_calls()))
        return self._pool_answer(pool, oracle, (yield self._pool_calls(pool, oracle)))

    def _first_round(self, layout: Layout, accounts: Sequence[Address], checked: Collection[Address]) -> list[Call]:
        """Reserve data, indexes, prices, every account's configuration and eMode, and the Pool's own
        ``getUserAccountData`` for the ``checked`` accounts (the self-check)."""
        calls = self._market_round(layout.pool, layout.oracle, layout.assets)
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
            pool, oracle = self._provider_answer(got[:2])
            layout = self._pool_answer(pool, oracle, got[2:5]) if (pool, oracle) == (hint.pool, hint.oracle) else None
        except MarketMismatchError:
            layout = None
        results = got[5:]
        if layout is None or layout.assets != hint.assets or any(
                isinstance(r, Failed) and not c.allow_failure for c, r in zip(first, results, strict=True)):
            log.info("aave_v3 market layout changed market=%s block=%d; reading its entry points afresh",
                     self.market.key, block.number)
            return None
        return layout, results

    def _market_round(self, pool: Address, oracle: Address, assets: Sequence[Address]) -> list[Call]:
        calls: list[Call] = []
        for asset in assets:
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
        return calls

    def _reserves(self, assets: Sequence[Address], results: list[Any]) -> dict[int, Reserve]:
        reserves: dict[int, Reserve] = {}
        for n, asset in enumerate(assets):
            data, (income,), (debt,), symbol, price, (source,) = results[_PER_RESERVE * n: _PER_RESERVE * (n + 1)]
            config = data[0]
            reserves[data[7]] = Reserve(
                asset=asset, id=data[7],
                symbol=symbol[0] if not isinstance(symbol, Failed) else asset[:8],
                decimals=config_field(config, 48, 8), ltv=config_field(config, 0, 16),
                liquidation_threshold=config_field(config, 16, 16),
                emode_category=config_field(config, 168, 8),
                a_token=_addr(data[8]), stable_debt_token=_addr(data[9]), variable_debt_token=_addr(data[10]),
                normalized_income=income, normalized_debt=debt,
                price=None if isinstance(price, Failed) else price[0],
                source=None if source == ZERO else _addr(source))
        return reserves

    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = ()) -> Plan[MarketRead]:
        checked = set(accounts) if self.market.verify_onchain else set(check)
        speculated = ((yield from self._speculate(hint, accounts, block, checked)) if isinstance(hint, Layout)
                      else None)  # fmt: skip
        if speculated is None:
            layout = yield from self._entry_points()
            results = yield self._first_round(layout, accounts, checked)
        else:
            layout, results = speculated
        pool, oracle, revision, base_unit, assets = layout
        market_calls = _PER_RESERVE * len(assets)
        reserves = self._reserves(assets, results[:market_calls])
        users: list[tuple[Address, int, int, tuple[int, ...] | None]] = []
        at = market_calls
        for account in accounts:
            span = 3 if account in checked else 2
            row = results[at: at + span]
            at += span
            if row[0][0] != 0:
                own = tuple(row[2]) if span == 3 and not isinstance(row[2], Failed) else None
                users.append((account, row[0][0], row[1][0], own))

        balance_calls: list[Call] = []
        wanted_by_user: list[list[tuple[int, str]]] = []
        for account, bits, _, _ in users:
            wanted: list[tuple[int, str]] = []
            for rid, reserve in reserves.items():
                if bits >> (2 * rid + 1) & 1:
                    wanted.append((rid, "collateral"))
                    balance_calls.append(_SCALED.call(reserve.a_token, account))
                if bits >> (2 * rid) & 1:
                    wanted.append((rid, "variable"))
                    balance_calls.append(_SCALED.call(reserve.variable_debt_token, account))
                    if reserve.stable_debt_token != ZERO:
                        wanted.append((rid, "stable"))
                        balance_calls.append(_BALANCE.call(reserve.stable_debt_token, account))
            wanted_by_user.append(wanted)
        categories = sorted({emode for _, _, emode, _ in users if emode})
        for category in categories:
            balance_calls.append(_POOL.function("getEModeCategoryData").call(pool, category))
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
        emodes = {c: EModeCategory(r[0][0], r[0][1], _addr(r[0][3]))
                  for c, r in zip(categories, results[len(results) - len(categories):], strict=True)}
        source_prices: dict[Address, int | None] = {}
        price_sources = sorted({e.price_source for e in emodes.values() if e.price_source != ZERO})
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
        for (account, bits, emode, onchain), wanted in zip(users, wanted_by_user, strict=True):
            amounts: dict[int, dict[str, int]] = {}
            for rid, kind in wanted:
                amounts.setdefault(rid, {})[kind] = results[offset][0]
                offset += 1
            snapshot = self._snapshot(account, block, revision, base_unit, reserves, bits, emode, emodes,
                                      source_prices, amounts, source_of_asset, rounds)
            if snapshot is None:
                unpriced.append(account)
                continue
            if onchain is not None:
                compared += 1
                if not self._verify(snapshot, onchain):
                    mismatched.append(account)
            snapshots.append(snapshot)
        if unpriced:
            log.warning("aave_v3 positions without a price market=%s block=%d accounts=%d (an asset's oracle "
                        "reverted)", self.market.key, block.number, len(unpriced))
        log.debug("aave_v3 read market=%s block=%d accounts=%d positions=%d",
                  self.market.key, block.number, len(accounts), len(snapshots))
        return MarketRead(snapshots, readings, unpriced, hint=layout, checked=compared, mismatched=mismatched)

    # -- assembling ----------------------------------------------------------------------------
    def _snapshot(self, account: Address, block: BlockRef, revision: int, base_unit: int,
                  reserves: dict[int, Reserve], bits: int, emode: int, emodes: dict[int, EModeCategory],
                  source_prices: dict[Address, int | None], amounts: dict[int, dict[str, int]],
                  source_of_asset: dict[Address, Address | None], rounds: dict[Address, int | None],
                  ) -> PositionSnapshot | None:
        """The position, or None when the protocol cannot price one of its assets (its view would revert).

        Each reserve the account touches gives a collateral leg (collateral bit set; counted only with
        LT ≠ 0) and/or a debt leg (borrowing bit set); the leg's price key is the eMode category's price
        source when it has one and the asset is in the category, else the asset itself."""
        category = emodes.get(emode)
        places = len(str(base_unit)) - 1
        legs: list[Leg] = []
        for rid in sorted(amounts):
            reserve, got = reserves[rid], amounts[rid]
            in_emode = emode != 0 and reserve.emode_category == emode
            price, key = reserve.price, reserve.asset
            if category and category.price_source != ZERO and in_emode:
                price, key = source_prices[category.price_source], category.price_source
            if price is None:
                return None
            feed = source_of_asset.get(key)
            unit = _UNITS[reserve.decimals]
            # GenericLogic.calculateUserAccountData (aave-v3-core 1.x): collateral counts only if the reserve's
            # own LT is not 0, and adds LTV only if the reserve's own LTV is not 0 — in eMode too, where the
            # category's figures replace them (`if (vars.ltv != 0) avgLtv += balance * (inEMode ? eModeLtv : ltv)`)
            if in_emode and category:
                ltv = category.ltv if reserve.ltv else 0
                lt = category.liquidation_threshold if reserve.liquidation_threshold else 0
            else:
                ltv, lt = reserve.ltv, reserve.liquidation_threshold
            priced = Leg(asset=reserve.asset, symbol=reserve.symbol, decimals=reserve.decimals, role=Role.DEBT,
                         amount=0, price=price, price_decimals=places, price_key=key, value=0, feed=feed,
                         round_id=rounds.get(feed) if feed else None)
            if bits >> (2 * rid + 1) & 1:
                collateral = ray_mul(got["collateral"], reserve.normalized_income)
                legs.append(dataclasses.replace(
                    priced, role=Role.COLLATERAL, amount=collateral, value=collateral * price // unit if lt else 0,
                    terms={"liquidation_threshold": lt, "ltv": ltv}))
            if bits >> (2 * rid) & 1:
                variable = got.get("variable", 0)
                debt = (ray_mul(variable, reserve.normalized_debt) if variable else 0) + got.get("stable", 0)
                legs.append(dataclasses.replace(priced, amount=debt, value=debt * price // unit))
        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key,
            market_address=self.market.address, account=account, block=block, legs=legs,
            health=Health(raw=0, decimals=HF_DECIMALS, health=None, equity=0, requirement=0, collateral=0, debt=0,
                          quote=QUOTE, quote_unit=base_unit),
            detail={"emode_category": emode, "user_configuration": str(bits), "pool_revision": revision})
        return self._recompute(snapshot)

    @staticmethod
    def _rows(legs: Sequence[Leg], prices: Mapping[PriceKey, int]) -> list[tuple[int, int, int, int, int, int]]:
        """``account_totals`` rows, one per leg: amounts the protocol does not count are zero."""
        rows = []
        for leg in legs:
            price = prices.get(leg.price_key, leg.price) if prices else leg.price
            if leg.role is Role.COLLATERAL:
                lt = leg.terms["liquidation_threshold"]
                rows.append((leg.amount if lt else 0, 0, price, _UNITS[leg.decimals], leg.terms["ltv"], lt))
            else:
                rows.append((0, leg.amount, price, _UNITS[leg.decimals], 0, 0))
        return rows

    def _recompute(self, snapshot: PositionSnapshot) -> PositionSnapshot:
        """Health and the detail's account figures from the snapshot's legs, as ``getUserAccountData``."""
        c, d, available, lt, ltv, hf = account_totals(self._rows(snapshot.legs, {}))
        quote_unit = snapshot.health.quote_unit
        snapshot.health = Health(
            raw=hf, decimals=HF_DECIMALS, health=None if hf == UINT256_MAX else scaled(hf, HF_DECIMALS),
            equity=risk_adjusted(c, lt), requirement=d, collateral=c, debt=d, quote=QUOTE, quote_unit=quote_unit)
        snapshot.detail.update(liquidation_threshold=lt, ltv=ltv, available_borrows=available)
        return snapshot

    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        return price_dependencies(snapshot)

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        legs = []
        for leg in snapshot.legs:
            price = prices.get(leg.price_key, leg.price)
            counted = leg.role is Role.DEBT or leg.terms.get("liquidation_threshold", 0) != 0
            legs.append(dataclasses.replace(leg, price=price,
                                            value=leg.amount * price // _UNITS[leg.decimals] if counted else 0))
        moved = dataclasses.replace(snapshot, legs=legs, detail=dict(snapshot.detail))
        return self._recompute(moved)

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        c, d, _, lt, _, hf = account_totals(self._rows(snapshot.legs, prices))
        return Health(raw=hf, decimals=HF_DECIMALS, health=None if hf == UINT256_MAX else scaled(hf, HF_DECIMALS),
                      equity=risk_adjusted(c, lt), requirement=d, collateral=c, debt=d, quote=QUOTE,
                      quote_unit=snapshot.health.quote_unit)

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        """``price → health ≥ 1`` with every leg priced by ``key`` (an eMode price source, else the asset
        itself) at that price: the test the liquidation-point search asks ~40 times per position."""
        return healthy_at_price(self._rows(snapshot.legs, {}), [leg.price_key == key for leg in snapshot.legs])

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        if not snapshot.health.debt:
            return {}
        points: dict[PriceKey, LiquidationPoint] = {}
        for key in sorted(self.price_dependencies(snapshot) if keys is None else keys):
            estimate = linear_estimate(self._rows(snapshot.legs, {}), [leg.price_key == key for leg in snapshot.legs])
            if estimate is None:
                continue
            price = crossing_price(self.healthy_at(snapshot, key), estimate.price, falling=estimate.falling)
            if price is not None:
                points[key] = LiquidationPoint(price, estimate.falling)
        return points

    @staticmethod
    def price_from_feed(reading: FeedReading) -> tuple[PriceKey, int] | None:
        """AaveOracle returns its source's ``latestAnswer`` unscaled when it is positive (and falls back,
        here to a revert, otherwise); the price is the asset's (or the eMode price source's, which is an
        asset AaveOracle prices the same way)."""
        if reading.asset is None or reading.answer is None or reading.answer <= 0:
            return None
        return reading.asset, reading.answer

    def _verify(self, snapshot: PositionSnapshot, onchain: tuple[int, ...]) -> bool:
        """The self-check: the local figures against the Pool's own ``getUserAccountData`` at the same block.
        On a disagreement the protocol's figures are what is kept (a local figure known to be wrong is never
        stored as truth), with both in ``detail.self_check``; returns whether they agreed."""
        h, detail = snapshot.health, snapshot.detail
        local = (h.collateral, h.debt, detail["available_borrows"], detail["liquidation_threshold"], detail["ltv"],
                 h.raw)
        if local == tuple(onchain):
            return True
        log.error("self-check: local figures differ from getUserAccountData market=%s account=%s block=%d "
                  "local=%s protocol=%s", self.market.key, snapshot.account, snapshot.block.number, local,
                  tuple(onchain))
        collateral, debt, available, lt, ltv, hf = onchain
        snapshot.health = Health(
            raw=hf, decimals=HF_DECIMALS, health=None if hf == UINT256_MAX else scaled(hf, HF_DECIMALS),
            equity=risk_adjusted(collateral, lt), requirement=debt, collateral=collateral, debt=debt, quote=QUOTE,
            quote_unit=h.quote_unit)
        detail.update(liquidation_threshold=lt, ltv=ltv, available_borrows=available,
                      self_check={"local": [str(v) for v in local], "protocol": [str(v) for v in onchain]})
        return False
