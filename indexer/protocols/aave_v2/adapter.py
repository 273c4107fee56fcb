"""Aave v2 markets (and forks of protocol-v2), named by the market's LendingPoolAddressesProvider.

Reads, per snapshot, in four Multicall3 rounds at the pinned block (two once a previous read's layout is known:
see ``_speculate``): the provider's ``getLendingPool()`` and ``getPriceOracle()``; the pool's
``LENDINGPOOL_REVISION()`` and ``getReservesList()`` and the oracle's ``WETH()``; per reserve ``getReserveData``,
the normalized income and variable debt, the symbol, ``getAssetPrice`` and ``getSourceOfAsset``, and every
account's ``getUserConfiguration``; then the balances each account's configuration bits call for (aToken and
variable debt ``scaledBalanceOf``, stable debt ``balanceOf``) and the feeds behind the prices. Health is
computed locally with the Aave family's shared math (:mod:`indexer.protocols.aave_math`) and equals
``LendingPool.getUserAccountData`` to the unit (GenericLogic.calculateUserAccountData, @aave/protocol-v2 1.0.1).

The figures are in the oracle's quote currency, which AaveOracle v2 does not state on chain: ETH in wei on the
mainnet and Polygon markets (the default), USD with 8 decimals on Avalanche, named by the market's options
(``quote``, ``quote_decimals``). The asset AaveOracle answers ``1 ether`` for by definition (its ``WETH()``)
carries no price dependency: nothing can move it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
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
    Row,
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
from indexer.protocols.aave_v2.options import AaveV2Options
from indexer.protocols.base import DiscoverySpec, MarketRead, MarketRef
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
# LendingPoolCollateralManager.LIQUIDATION_CLOSE_FACTOR_PERCENT: a liquidation repays at most half of one
# reserve's debt, whatever the health factor (no 95 % step as in v3.0-3.2)
CLOSE_FACTOR = 5_000
_PROVIDER = load("aave_v2", "LendingPoolAddressesProvider")
_POOL = load("aave_v2", "LendingPool")
_ORACLE = load("aave_v2", "AaveOracle")
_SCALED = load("aave_v2", "ScaledBalanceToken").function("scaledBalanceOf")
_ERC20 = load("aave_v2", "ERC20")
_USER_CONFIGURATION = _POOL.function("getUserConfiguration")
_ACCOUNT_DATA = _POOL.function("getUserAccountData")
_BALANCE = _ERC20.function("balanceOf")
_PER_RESERVE = 6  # calls per reserve in the market round


def _bits(config: int, low: int, width: int) -> int:
    """A field of a ReserveConfigurationMap (ReserveConfiguration.sol: 0-15 LTV, 16-31 LT, 48-55 decimals)."""
    return (config >> low) & ((1 << width) - 1)


def _addr(value: str) -> Address:
    return to_checksum_address(value)


@dataclass(frozen=True, slots=True)
class Reserve:
    asset: Address
    id: int
    symbol: str
    decimals: int
    ltv: int
    liquidation_threshold: int
    a_token: Address
    stable_debt_token: Address
    variable_debt_token: Address
    normalized_income: int
    normalized_debt: int
    price: int | None  # None: AaveOracle reverted for this asset (no source and no fallback, or a bad feed)
    source: Address | None  # the Chainlink-style source AaveOracle reads (None: none, or the fixed-price WETH)


class Layout(NamedTuple):
    """What a market's entry points resolve to: the next read's hint (``_speculate``)."""

    pool: Address
    oracle: Address
    revision: int
    weth: Address | None  # AaveOracle.WETH(): priced at 1 ether without a source
    assets: tuple[Address, ...]


class AaveV2Adapter:
    kind: ClassVar[str] = "aave_v2"
    options: ClassVar[type[BaseModel] | None] = AaveV2Options
    transport: ClassVar[str] = "chain"
    devnet: ClassVar[str | None] = "indexer.protocols.aave_v2.devnet"
    # LendingPool events (ILendingPool.sol, protocol-v2 1.0.1), topic index of the position's owner: Deposit and
    # Borrow index `onBehalfOf` second (after `reserve`; `user`, the caller, is not indexed), Withdraw and Repay
    # `user`, the collateral switches `user`; LiquidationCall `user` third (after the two assets). Collateral
    # received by an aToken transfer shows up as ReserveUsedAsCollateralEnabled (LendingPool.finalizeTransfer).
    _DISCOVERY = DiscoverySpec(
        emitter_getter="getLendingPool()",
        account_topic={
            _POOL.topic("Deposit"): 2,
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
        options = AaveV2Options.model_validate(dict(market.options))
        self.quote = options.quote
        self.quote_unit = 10**options.quote_decimals
        self.price_decimals = options.quote_decimals

    def discovery(self) -> DiscoverySpec:
        return self._DISCOVERY

    # -- reading -------------------------------------------------------------------------------
    def _mismatch(self, what: str) -> MarketMismatchError:
        return self.market.mismatch(f"is not an Aave v2 LendingPoolAddressesProvider ({what})")

    def _provider_calls(self) -> list[Call]:
        provider = self.market.address
        return [_PROVIDER.function("getLendingPool").call(provider, allow_failure=True),
                _PROVIDER.function("getPriceOracle").call(provider, allow_failure=True)]

    def _provider_answer(self, got: list[Any]) -> tuple[Address, Address]:
        if any(isinstance(r, Failed) for r in got) or ZERO_ADDRESS in (got[0][0], got[1][0]):
            raise self._mismatch("getLendingPool()/getPriceOracle() did not answer with addresses")
        return _addr(got[0][0]), _addr(got[1][0])

    @staticmethod
    def _pool_calls(pool: Address, oracle: Address) -> list[Call]:
        return [_POOL.function("LENDINGPOOL_REVISION").call(pool, allow_failure=True),
                _POOL.function("getReservesList").call(pool, allow_failure=True),
                _ORACLE.function("WETH").call(oracle, allow_failure=True)]

    def _pool_answer(self, pool: Address, oracle: Address, got: list[Any]) -> Layout:
        if isinstance(got[0], Failed) or isinstance(got[1], Failed):
            raise self._mismatch("its pool does not answer LENDINGPOOL_REVISION()/getReservesList()")
        weth = None if isinstance(got[2], Failed) or got[2][0] == ZERO_ADDRESS else _addr(got[2][0])
        return Layout(pool, oracle, got[0][0], weth, tuple(_addr(a) for a in got[1][0]))

    def _entry_points(self) -> Plan[Layout]:
        pool, oracle = self._provider_answer((yield self._provider_calls()))
        return self._pool_answer(pool, oracle, (yield self._pool_calls(pool, oracle)))

    @staticmethod
    def _market_round(layout: Layout) -> list[Call]:
        calls: list[Call] = []
        for asset in layout.assets:
            calls += [
                _POOL.function("getReserveData").call(layout.pool, asset),
                _POOL.function("getReserveNormalizedIncome").call(layout.pool, asset),
                _POOL.function("getReserveNormalizedVariableDebt").call(layout.pool, asset),
                _ERC20.function("symbol").call(asset, allow_failure=True),
                # AaveOracle.getAssetPrice reverts when the source answers ≤ 0 and there is no fallback oracle:
                # that costs the positions holding the asset (their view reverts too), not the whole market
                _ORACLE.function("getAssetPrice").call(layout.oracle, asset, allow_failure=True),
                _ORACLE.function("getSourceOfAsset").call(layout.oracle, asset, allow_failure=True),
            ]
        return calls

    def _first_round(self, layout: Layout, accounts: Sequence[Address], checked: Collection[Address]) -> list[Call]:
        """Reserves, prices and every account's configuration, and the pool's own ``getUserAccountData`` for the
        ``checked`` accounts (the self-check)."""
        calls = self._market_round(layout)
        for account in accounts:
            calls.append(_USER_CONFIGURATION.call(layout.pool, account))
            if account in checked:
                calls.append(_ACCOUNT_DATA.call(layout.pool, account, allow_failure=True))
        return calls

    def _speculate(self, hint: Layout, accounts: Sequence[Address], block: BlockRef,
                   checked: Collection[Address]) -> Plan[tuple[Layout, list[Any]] | None]:
        """Entry points and the first round in one round trip, on the previous read's layout; kept only when the
        provider, pool and oracle answer at this block exactly what the layout says (every call may fail here,
        so a swapped pool costs one more round trip, never a reverted batch)."""
        first = self._first_round(hint, accounts, checked)
        got = yield [*self._provider_calls(), *self._pool_calls(hint.pool, hint.oracle),
                     *(Call(c.target, c.data, c.output, True) for c in first)]
        try:
            pool, oracle = self._provider_answer(got[:2])
            layout = self._pool_answer(pool, oracle, got[2:5]) if (pool, oracle) == (hint.pool, hint.oracle) else None
        except MarketMismatchError:
            layout = None
        results = got[5:]
        if layout is None or layout != hint or any(
                isinstance(r, Failed) and not c.allow_failure for c, r in zip(first, results, strict=True)):
            log.info("aave_v2 market layout changed market=%s block=%d; reading its entry points afresh",
                     self.market.key, block.number)
            return None
        return layout, results

    def _reserves(self, layout: Layout, results: list[Any]) -> dict[int, Reserve]:
        reserves: dict[int, Reserve] = {}
        for n, asset in enumerate(layout.assets):
            data, (income,), (debt,), symbol, price, source = results[_PER_RESERVE * n: _PER_RESERVE * (n + 1)]
            # DataTypes.ReserveData (protocol-v2 1.0.1), flattened: configuration, liquidityIndex,
            # variableBorrowIndex, currentLiquidityRate, currentVariableBorrowRate, currentStableBorrowRate,
            # lastUpdateTimestamp, aTokenAddress, stableDebtTokenAddress, variableDebtTokenAddress,
            # interestRateStrategyAddress, id
            config = data[0]
            fixed = asset == layout.weth  # AaveOracle.getAssetPrice: `if (asset == WETH) return 1 ether;`
            feed = None if fixed or isinstance(source, Failed) or source[0] == ZERO_ADDRESS else _addr(source[0])
            reserves[data[11]] = Reserve(
                asset=asset, id=data[11], symbol=symbol[0] if not isinstance(symbol, Failed) else asset[:8],
                decimals=_bits(config, 48, 8), ltv=_bits(config, 0, 16), liquidation_threshold=_bits(config, 16, 16),
                a_token=_addr(data[7]), stable_debt_token=_addr(data[8]), variable_debt_token=_addr(data[9]),
                normalized_income=income, normalized_debt=debt,
                price=None if isinstance(price, Failed) else price[0], source=feed)
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
        at = _PER_RESERVE * len(layout.assets)
        reserves = self._reserves(layout, results[:at])
        users: list[tuple[Address, int, tuple[int, ...] | None]] = []
        for account in accounts:
            (bits,) = results[at]
            at += 1
            own = None
            if account in checked:
                own = None if isinstance(results[at], Failed) else tuple(results[at])
                at += 1
            if bits:
                users.append((account, bits, own))

        # round: the balances the configuration bits call for, and the feeds behind the prices
        calls: list[Call] = []
        wanted: list[list[tuple[int, str]]] = []
        for account, bits, _ in users:
            mine: list[tuple[int, str]] = []
            for rid, reserve in reserves.items():
                if bits >> (2 * rid + 1) & 1:
                    mine.append((rid, "collateral"))
                    calls.append(_SCALED.call(reserve.a_token, account))
                if bits >> (2 * rid) & 1:
                    mine += [(rid, "variable"), (rid, "stable")]
                    calls += [_SCALED.call(reserve.variable_debt_token, account),
                              _BALANCE.call(reserve.stable_debt_token, account)]
            wanted.append(mine)
        balances = len(calls)
        sources = {r.source: r for r in reserves.values() if r.source}
        spans = []
        for source in sources:
            part = feeds.calls(source)
            spans.append(len(part))
            calls += part
        results = yield calls
        readings, offset = [], balances
        for (source, reserve), span in zip(sources.items(), spans, strict=True):
            readings.append(feeds.decode(source, results[offset: offset + span], asset=reserve.asset,
                                         symbol=reserve.symbol))
            offset += span
        rounds = {r.address: r.round_id for r in readings}

        snapshots: list[PositionSnapshot] = []
        unpriced: list[Address] = []
        mismatched: list[Address] = []
        compared = offset = 0
        for (account, bits, own), mine in zip(users, wanted, strict=True):
            amounts: dict[int, dict[str, int]] = {}
            for rid, what in mine:
                amounts.setdefault(rid, {})[what] = results[offset][0]
                offset += 1
            snapshot = self._snapshot(account, block, layout, reserves, bits, amounts, rounds)
            if snapshot is None:
                unpriced.append(account)
                continue
            if own is not None:
                compared += 1
                if not keep_protocol_figures(snapshot, own):
                    mismatched.append(account)
            snapshots.append(snapshot)
        if unpriced:
            log.warning("aave_v2 positions without a price market=%s block=%d accounts=%d (an asset's oracle "
                        "reverted)", self.market.key, block.number, len(unpriced))
        log.debug("aave_v2 read market=%s block=%d accounts=%d positions=%d", self.market.key, block.number,
                  len(accounts), len(snapshots))
        return MarketRead(snapshots, readings, unpriced, hint=layout, checked=compared, mismatched=mismatched,
                          state=_state(layout, reserves, rounds))

    # -- assembling ----------------------------------------------------------------------------
    def _snapshot(self, account: Address, block: BlockRef, layout: Layout, reserves: dict[int, Reserve], bits: int,
                  amounts: dict[int, dict[str, int]], rounds: Mapping[Address, int | None]) -> PositionSnapshot | None:
        """The position, or None when the oracle cannot price one of the reserves it touches (GenericLogic asks
        the price of every such reserve, so the pool's own view reverts then too).

        A collateral leg per collateral bit (its value 0 when the reserve's LT is 0: GenericLogic does not count
        it), a debt leg per borrowing bit whose amount is stable + variable debt (valued with one truncation
        over the sum, as GenericLogic does); each leg priced by its asset."""
        legs: list[Leg] = []
        split: dict[str, dict[str, str]] = {}
        for rid in sorted(amounts):
            reserve, got = reserves[rid], amounts[rid]
            if reserve.price is None:
                return None
            unit = UNITS[reserve.decimals]
            base = Leg(asset=reserve.asset, symbol=reserve.symbol, decimals=reserve.decimals, role=Role.DEBT,
                       amount=0, price=reserve.price, price_decimals=self.price_decimals, price_key=reserve.asset,
                       value=0, feed=reserve.source, round_id=rounds.get(reserve.source) if reserve.source else None)
            if "collateral" in got:
                # AToken.balanceOf = rayMul(scaledBalance, getReserveNormalizedIncome(asset))
                held = ray_mul(got["collateral"], reserve.normalized_income)
                lt = reserve.liquidation_threshold
                legs.append(dataclasses.replace(
                    base, role=Role.COLLATERAL, amount=held, value=reserve.price * held // unit if lt else 0,
                    terms={"liquidation_threshold": lt, "ltv": reserve.ltv, "scaled": got["collateral"],
                           "index": reserve.normalized_income}))
            if "variable" in got:
                # VariableDebtToken.balanceOf = rayMul(scaledBalance, getReserveNormalizedVariableDebt(asset));
                # StableDebtToken.balanceOf is the user's principal compounded at their own rate, read as is
                variable = ray_mul(got["variable"], reserve.normalized_debt)
                owed = variable + got["stable"]
                legs.append(dataclasses.replace(base, amount=owed, value=reserve.price * owed // unit,
                                                terms={"scaled": got["variable"], "index": reserve.normalized_debt,
                                                       "stable": got["stable"]}))
                split[reserve.asset] = {"stable": str(got["stable"]), "variable": str(variable)}
        detail: dict[str, Any] = {"user_configuration": str(bits), "pool_revision": layout.revision,
                                  "close_factor": CLOSE_FACTOR, "debt_by_rate_mode": split}
        if layout.weth is not None:
            detail["fixed_price_asset"] = layout.weth
        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key, market_address=self.market.address,
            account=account, block=block, legs=legs,
            health=Health(raw=0, decimals=HF_DECIMALS, health=None, equity=0, requirement=0, collateral=0, debt=0,
                          quote=self.quote, quote_unit=self.quote_unit),
            detail=detail)
        return self._recompute(snapshot)

    def _health(self, rows: Iterable[Row]) -> tuple[Health, int, int, int]:
        """Health from rows, with (available borrows, avg LT, avg LTV) as ``getUserAccountData`` has them."""
        collateral, debt, available, lt, ltv, hf = account_totals(rows)
        return health_of(collateral, debt, lt, hf, quote=self.quote, quote_unit=self.quote_unit), available, lt, ltv

    def _recompute(self, snapshot: PositionSnapshot) -> PositionSnapshot:
        snapshot.health, available, lt, ltv = self._health(leg_rows(snapshot.legs))
        snapshot.detail.update(liquidation_threshold=lt, ltv=ltv, available_borrows=available)
        return snapshot

    # -- questions about a position ------------------------------------------------------------
    @staticmethod
    def margin_terms() -> tuple[str, ...]:
        """A collateral's liquidation threshold: governance moves it (LendingPoolConfigurator
        .configureReserveAsCollateral)."""
        return ("liquidation_threshold",)

    @staticmethod
    def amount_after(snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """A deposit mints ``amount.rayDiv(liquidityIndex)`` scaled aTokens (``LendingPool.deposit`` →
        ``AToken.mint``); a variable repayment of ``x`` pays back at most the variable debt and burns
        ``payback.rayDiv(variableBorrowIndex)`` (``LendingPool.repay`` → ``VariableDebtToken.burn``), leaving the
        stable debt as it is (@aave/protocol-v2 1.0.1 contracts/protocol). Balances are ``rayMul`` half-up of the
        scaled balance at the index of the snapshot's block, which a transaction at the same timestamp uses."""
        scaled, index = leg.terms.get("scaled"), leg.terms.get("index")
        if scaled is None or not index:
            return None
        if leg.role is Role.COLLATERAL and change >= 0:
            return ray_mul(scaled + ray_div(change, index), index)
        if leg.role is Role.DEBT and change <= 0:
            stable = leg.terms.get("stable", 0)
            variable = ray_mul(scaled, index)
            payback = min(-change, variable)
            left = max(scaled - ray_div(payback, index), 0)
            return (ray_mul(left, index) if left else 0) + stable
        return None

    # -- accruing (``Accrues``) --------------------------------------------------------------------
    @staticmethod
    def inputs(snapshot: PositionSnapshot) -> Hashable | None:
        """The account's configuration bits and scaled balances per leg; None when it owes a stable debt (its
        principal compounds at its own rate) or the self-check kept the pool's figures."""
        if "self_check" in snapshot.detail:
            return None
        legs = []
        for leg in snapshot.legs:
            if leg.terms.get("stable") or "scaled" not in leg.terms:
                return None
            legs.append((leg.asset, leg.role.value, leg.terms["scaled"]))
        return snapshot.detail.get("user_configuration"), tuple(legs)

    def advance(self, snapshot: PositionSnapshot, state: Any, block: BlockRef) -> PositionSnapshot | None:
        """The snapshot's scaled balances assembled with the market's state at ``block`` (``_state``) by the same
        code as a read (``_snapshot``)."""
        if self.inputs(snapshot) is None or not snapshot.legs:
            return None
        layout, reserves, rounds = _from_state(state)
        amounts = scaled_by_reserve(snapshot.legs, {r.asset: r.id for r in reserves.values()})
        if amounts is None:
            return None
        for held in amounts.values():
            if "variable" in held:
                held["stable"] = 0  # a stable debt is never advanced (``inputs``)
        return self._snapshot(snapshot.account, block, layout, reserves, int(snapshot.detail["user_configuration"]),
                              amounts, rounds)

    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        """Every leg's asset but the one AaveOracle prices at a constant 1 ether (the quote currency itself)."""
        fixed = snapshot.detail.get("fixed_price_asset")
        return {leg.price_key for leg in snapshot.legs if leg.price_key != fixed}

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        fixed = snapshot.detail.get("fixed_price_asset")
        legs = []
        for leg in snapshot.legs:
            price = leg.price if leg.price_key == fixed else prices.get(leg.price_key, leg.price)
            in_total = leg.role is Role.DEBT or counted(leg)
            legs.append(dataclasses.replace(leg, price=price,
                                            value=price * leg.amount // UNITS[leg.decimals] if in_total else 0))
        return self._recompute(dataclasses.replace(snapshot, legs=legs, detail=dict(snapshot.detail)))

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        fixed = snapshot.detail.get("fixed_price_asset")
        return self._health(leg_rows(snapshot.legs, {k: p for k, p in prices.items() if k != fixed}))[0]

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        """``price → HF ≥ 1`` with the legs of asset ``key`` at ``price``, the others as in the snapshot."""
        return healthy_at_price(leg_rows(snapshot.legs), [leg.price_key == key for leg in snapshot.legs])

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        """Per asset, the last price (quote units per whole token) at which HF ≥ 1, the others held fixed.
        ``liquidationCall`` needs HF < 1 (ValidationLogic.validateLiquidationCall); it may then repay up to
        ``CLOSE_FACTOR`` of one reserve's debt."""
        if not snapshot.health.debt:
            return {}
        dependencies = self.price_dependencies(snapshot)
        return liquidation_points(snapshot.legs, dependencies if keys is None else set(keys) & dependencies)

    @staticmethod
    def price_from_feed(reading: FeedReading) -> tuple[PriceKey, int] | None:
        """AaveOracle v2 returns its source's ``latestAnswer`` as it is when it is positive (else it asks the
        fallback oracle, which only a full read can follow). The fast path hands a market only the readings of
        feeds its own positions were priced by (another market on the chain may price the same asset through a
        feed in another currency: ``indexer.fastpath.moved_positions``)."""
        if reading.asset is None or reading.answer is None or reading.answer <= 0:
            return None
        return reading.asset, reading.answer


_RESERVE_FIELDS = tuple(f.name for f in dataclasses.fields(Reserve))


def _state(layout: Layout, reserves: Mapping[int, Reserve], rounds: Mapping[Address, int | None]) -> dict[str, Any]:
    """The market's part of a block's figures as JSON values (``MarketRead.state``): the pool's revision, the
    fixed-price WETH, every reserve's parameters, indexes and price, the feeds' rounds."""
    return {"revision": layout.revision, "weth": layout.weth, "reserve_fields": list(_RESERVE_FIELDS),
            "reserves": [[getattr(r, name) for name in _RESERVE_FIELDS] for r in reserves.values()],
            "rounds": [[a, r] for a, r in rounds.items()]}


def _from_state(state: Mapping[str, Any]) -> tuple[Layout, dict[int, Reserve], dict[Address, int | None]]:
    """``_state`` read back: what ``_snapshot`` takes beside an account's own inputs."""
    layout = Layout(ZERO_ADDRESS, ZERO_ADDRESS, state["revision"], state["weth"], ())
    reserves = {}
    for row in state["reserves"]:
        reserve = Reserve(**dict(zip(state["reserve_fields"], row, strict=True)))
        reserves[reserve.id] = reserve
    return layout, reserves, {a: r for a, r in state["rounds"]}
