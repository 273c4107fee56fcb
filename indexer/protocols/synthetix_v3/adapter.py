"""Synthetix v3 perps: one configured market is one PerpsMarketProxy (all of its perps markets).

A tracked wallet is tracked through its accounts: ERC-721 tokens of the proxy's account token
(``getAccountTokenAddress()``; ``balanceOf`` / ``tokenOfOwnerByIndex``). Each account is a cross-margin account
of its own, id ``0xWallet:<accountId>``, owned by the wallet.

Reads, at the pinned block, in five Multicall3 rounds (every call ``allowFailure``): the account token and the
global reward guards; each wallet's token count; its account ids; per account the protocol's own figures
(``getAvailableMargin``, ``getRequiredMargins``, ``canLiquidate``, ``canLiquidateMarginOnly``), its open
markets, collateral ids, undiscounted collateral value and debt; then per position ``getOpenPosition`` (and
the price-free ``getOpenPositionSize``), per market ``indexPrice``, ``metadata`` and its liquidation, funding
and fee parameters, per collateral ``getCollateralAmount``.

Health: ``MH = availableMargin / requiredMaintenanceMargin`` in WAD, floored (0 for a negative margin). In
3.13.0 ``getRequiredMargins`` already includes ``maxLiquidationReward`` in the maintenance margin
(modules/PerpsAccountModule.sol l.217-219), and the protocol liquidates when ``maintenance + reward >
availableMargin`` (storage/PerpsAccount.sol l.210), so MH < 1 exactly when it liquidates (``rules``).

ERC-7412: a view that needs a price older than the market's tolerance reverts ``OracleDataRequired(address,
bytes)`` (interfaces/external/IPythERC7412Wrapper.sol l.5). When its margin views refuse an account so, there is
no figure at this block: the account is reported ``MarketRead.stale`` (its stored figures stay, marked STALE, and it
is not taken for closed). When only other views refuse it, the account is kept with what could be read,
``detail["unverified"]`` saying why and ``detail["price_verdict"] = "STALE"``; when every view answered, ``"FRESH"``
(the views refuse prices older than the tolerance, so an answer is a fresh price; the oracle monitor takes this
verdict for the legs no feed prices).

What-ifs (``reprice``, ``healthy_at``, ``liquidation_points``) recompute the margins from ``rules`` with the
markets' index prices moved: price pnl from the entry price (derived exactly from the pnl read, see
``rules.entry_price``), the charged interest scaled with the price (Position.sol l.93-112; the per-dollar
interest is not exposed, so within a wei or two), the accrued funding held at the read (its unrecorded part
scales with the price too, PerpsMarket.sol l.308-316: a small term held fixed), the snxUSD collateral taken from
its leg (worth its amount, so a what-if deposit on the leg moves the margin and the reward's collateral value; see
``amount_after``), synth collateral held at its read value (valued by the spot market, which is not modelled: its
price is not a dependency), the liquidation reward recomputed with the keeper costs inferred from the read (held
at the read when they cannot be inferred,
``detail["reward_model"] = "held"``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any, ClassVar

from pydantic import BaseModel

from indexer.chain.abi import load
from indexer.chain.multicall import Failed, KeyedRound, Plan
from indexer.health.liquidation import crossing_price
from indexer.hexutil import keccak, to_checksum_address
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import DiscoverySpec, MarketRead, MarketRef
from indexer.protocols.synthetix_v3 import rules
from indexer.protocols.synthetix_v3.rules import Guards, MarketParams, RewardTerms
from indexer.types import (
    LEVERAGE_SCALE,
    UINT256_MAX,
    ZERO_ADDRESS,
    Address,
    BlockRef,
    Health,
    Leg,
    LiquidationPoint,
    MarginMode,
    PositionSnapshot,
    PriceKey,
    Role,
    scaled,
)

log = logging.getLogger(__name__)

HEALTH_DECIMALS = 18
UNIT = rules.UNIT
QUOTE = "USD"
SNX_USD = 0  # SNX_USD_MARKET_ID (storage/PerpsAccount.sol l.22)
_PROXY = load("synthetix_v3", "PerpsMarketProxy")
_NFT = load("synthetix_v3", "AccountNft")
# ERC-7412's error, as IPythERC7412Wrapper declares it
ORACLE_DATA_REQUIRED = keccak(text="OracleDataRequired(address,bytes)")[:4].hex()
_TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
_BIG = 2**63


def _json_int(value: int) -> int | str:
    """An integer as ``detail`` stores it: as a string beyond 63 bits."""
    return str(value) if abs(value) >= _BIG else value


def _stale(result: Any) -> bool:
    return isinstance(result, Failed) and ORACLE_DATA_REQUIRED in result.reason


def _key(chain: str, symbol: str) -> PriceKey:
    return f"synthetix_v3:{chain}:{symbol}"


class SynthetixV3Adapter:
    kind: ClassVar[str] = "synthetix_v3"
    options: ClassVar[type[BaseModel] | None] = None
    transport: ClassVar[str] = "chain"
    devnet: ClassVar[str | None] = "indexer.protocols.synthetix_v3.devnet"

    def __init__(self, market: MarketRef) -> None:
        self.market = market

    def discovery(self) -> DiscoverySpec:
        """Wallets receive their accounts as account-token transfers (a mint is a transfer from 0): topic2."""
        return DiscoverySpec(account_topic={_TRANSFER: 2}, emitter_getter="getAccountTokenAddress()")

    # -- reading -------------------------------------------------------------------------------
    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = ()) -> Plan[MarketRead]:
        proxy = self.market.address
        (token,), guards, ratio = yield [
            _PROXY.function("getAccountTokenAddress").call(proxy),
            _PROXY.function("getKeeperRewardGuards").call(proxy, allow_failure=True),
            _PROXY.function("getCollateralLiquidateRewardRatio").call(proxy, allow_failure=True)]
        token = to_checksum_address(token)
        if token == ZERO_ADDRESS:
            raise self.market.mismatch("is not a Synthetix v3 perps market proxy (getAccountTokenAddress() is empty)")
        counts = yield [_NFT.function("balanceOf").call(token, w, allow_failure=True) for w in accounts]
        ids_round = KeyedRound()
        for wallet, count in zip(accounts, counts, strict=True):
            for i in range(0 if isinstance(count, Failed) else min(count[0], 256)):
                ids_round.add((wallet, i), _NFT.function("tokenOfOwnerByIndex").call(token, wallet, i,
                                                                                     allow_failure=True))
        owned: list[tuple[Address, int]] = []
        if ids_round.calls:
            for (wallet, _), got in ids_round.results((yield ids_round.calls)).items():
                if not isinstance(got, Failed):
                    owned.append((wallet, int(got[0])))
        if not owned:
            return MarketRead([])

        views = ("getAvailableMargin", "getRequiredMargins", "canLiquidate", "canLiquidateMarginOnly",
                 "getAccountOpenPositions", "getAccountCollateralIds", "totalCollateralValue", "debt")
        acct_round = KeyedRound()
        for _, account_id in owned:
            for view in views:
                acct_round.add((account_id, view), _PROXY.function(view).call(proxy, account_id, allow_failure=True))
        figures = acct_round.results((yield acct_round.calls))

        def ids(account_id: int, view: str) -> list[int]:
            got = figures[(account_id, view)]
            return [] if isinstance(got, Failed) else [int(x) for x in got[0]]

        markets = sorted({m for _, a in owned for m in ids(a, "getAccountOpenPositions")})
        detail_round = KeyedRound()
        for market_id in markets:
            for view in ("indexPrice", "metadata", "getLiquidationParameters", "getMaxLiquidationParameters",
                         "getFundingParameters", "getOrderFees"):
                detail_round.add((market_id, view), _PROXY.function(view).call(proxy, market_id, allow_failure=True))
        for _, account_id in owned:
            for market_id in ids(account_id, "getAccountOpenPositions"):
                for view in ("getOpenPosition", "getOpenPositionSize"):
                    detail_round.add((account_id, market_id, view),
                                     _PROXY.function(view).call(proxy, account_id, market_id, allow_failure=True))
            for collateral_id in ids(account_id, "getAccountCollateralIds"):
                detail_round.add((account_id, collateral_id, "getCollateralAmount"),
                                 _PROXY.function("getCollateralAmount").call(proxy, account_id, collateral_id,
                                                                             allow_failure=True))
        more = detail_round.results((yield detail_round.calls)) if detail_round.calls else {}

        guard = Guards(*guards) if not isinstance(guards, Failed) else Guards(0, 0, 0, 0)
        reward_ratio = 0 if isinstance(ratio, Failed) else int(ratio[0])
        params: dict[int, MarketParams] = {}
        symbols: dict[int, str] = {}
        for market_id in markets:
            liq, maxliq, funding, fees, meta = (more[(market_id, v)] for v in (
                "getLiquidationParameters", "getMaxLiquidationParameters", "getFundingParameters", "getOrderFees",
                "metadata"))
            symbols[market_id] = f"#{market_id}" if isinstance(meta, Failed) or not meta[1] else str(meta[1])
            if any(isinstance(r, Failed) for r in (liq, maxliq, funding, fees)):
                continue
            window = rules.max_liquidation_amount_in_window(fees[0], fees[1], funding[0], maxliq[0], maxliq[1])
            params[market_id] = MarketParams(funding[0], liq[0], liq[1], liq[2], liq[3], liq[4], window)

        snapshots: list[PositionSnapshot] = []
        mismatched: list[Address] = []
        stale: list[Address] = []
        checked = 0
        for wallet, account_id in owned:
            snapshot = self._snapshot(wallet, account_id, block, figures, more, params, symbols, guard,
                                      reward_ratio)
            if snapshot is None:
                continue
            if "available_margin" not in snapshot.detail and snapshot.detail.get("price_verdict") == "STALE":
                # the margin views refused the account on a stale price: no figure to stand on at this block; its
                # stored figures stay, marked STALE (never an "owes nothing" health)
                log.warning("synthetix_v3 account refused on a stale price market=%s block=%d wallet=%s account=%s",
                            self.market.key, block.number, wallet, snapshot.account)
                stale.append(snapshot.account)
                continue
            verdict = snapshot.detail.get("can_liquidate")
            if verdict is not None and "available_margin" in snapshot.detail:
                checked += 1
                if verdict is False and snapshot.health.liquidatable:
                    mismatched.append(snapshot.account)
                    snapshot.detail["unverified"] = ("canLiquidate() answered false; the margins say liquidatable")
                elif verdict is True and not snapshot.health.liquidatable:
                    snapshot.detail["flagged"] = True  # canLiquidate is true for an account already flagged
            snapshots.append(snapshot)
        log.debug("synthetix_v3 read market=%s block=%d wallets=%d accounts=%d", self.market.key, block.number,
                  len(accounts), len(snapshots))
        return MarketRead(snapshots, checked=checked, mismatched=mismatched, stale=stale)

    def _snapshot(self, wallet: Address, account_id: int, block: BlockRef, figures: Mapping[tuple[Any, ...], Any],
                  more: Mapping[tuple[Any, ...], Any], params: Mapping[int, MarketParams], symbols: Mapping[int, str],
                  guards: Guards, reward_ratio: int) -> PositionSnapshot | None:
        def fig(view: str) -> Any:
            return figures[(account_id, view)]

        results = [fig(v) for v in ("getAvailableMargin", "getRequiredMargins", "canLiquidate",
                                    "canLiquidateMarginOnly", "totalCollateralValue", "debt")]
        open_ids = [] if isinstance(fig("getAccountOpenPositions"), Failed) else \
            [int(x) for x in fig("getAccountOpenPositions")[0]]
        collateral_ids = [] if isinstance(fig("getAccountCollateralIds"), Failed) else \
            [int(x) for x in fig("getAccountCollateralIds")[0]]
        positions = {m: (more[(account_id, m, "getOpenPosition")], more[(account_id, m, "getOpenPositionSize")])
                     for m in open_ids}
        prices = {m: more[(m, "indexPrice")] for m in open_ids}
        everything = [*results, *(p for pair in positions.values() for p in pair), *prices.values(),
                      *(more[(account_id, c, "getCollateralAmount")] for c in collateral_ids)]
        stale = any(_stale(r) for r in everything)
        failed = [r for r in everything if isinstance(r, Failed) and not _stale(r)]
        available_r, required_r, can_r, margin_only_r, coll_value_r, debt_r = results
        debt = 0 if isinstance(debt_r, Failed) else int(debt_r[0])
        if not open_ids and not collateral_ids and debt == 0:
            return None

        detail: dict[str, Any] = {"account_id": account_id, "price_verdict": "STALE" if stale else "FRESH",
                                  "debt": _json_int(debt)}
        if not isinstance(can_r, Failed):
            detail["can_liquidate"] = bool(can_r[0])
        if not isinstance(margin_only_r, Failed):
            detail["can_liquidate_margin_only"] = bool(margin_only_r[0])
        if not isinstance(available_r, Failed):
            detail["available_margin"] = _json_int(available_r[0])
        if not isinstance(required_r, Failed):
            detail["required_initial_margin"] = _json_int(required_r[0])
            detail["required_maintenance_margin"] = _json_int(required_r[1])
            detail["max_liquidation_reward"] = _json_int(required_r[2])
        coll_value = None if isinstance(coll_value_r, Failed) else int(coll_value_r[0])

        legs: list[Leg] = []
        pnl_total = 0
        positions_known = True
        for market_id in open_ids:
            position_r, size_r = positions[market_id]
            price_r = prices[market_id]
            symbol = symbols.get(market_id, f"#{market_id}")
            size = int(position_r[2]) if not isinstance(position_r, Failed) else \
                (int(size_r[0]) if not isinstance(size_r, Failed) else 0)
            price = 0 if isinstance(price_r, Failed) else int(price_r[0])
            terms: dict[str, int] = {"market_id": market_id}
            market = params.get(market_id)
            if market is not None:
                terms.update(skew_scale=market.skew_scale, initial_margin_ratio=market.initial_margin_ratio,
                             minimum_initial_margin_ratio=market.minimum_initial_margin_ratio,
                             maintenance_margin_scalar=market.maintenance_margin_scalar,
                             flag_reward_ratio=market.flag_reward_ratio,
                             minimum_position_margin=market.minimum_position_margin,
                             max_liquidation_in_window=market.max_liquidation_in_window)
            if isinstance(position_r, Failed) or isinstance(price_r, Failed) or size == 0 or market is None:
                positions_known = False
            else:
                total, funding, _, interest = (int(v) for v in position_r)
                own_pnl = total - funding + interest
                entry = rules.entry_price(size, price, own_pnl)
                pnl_total += total
                terms.update(unrealized_pnl=total, accrued_funding=funding, owed_interest=interest,
                             price_pnl=own_pnl, read_px=price)
                if entry is not None:
                    terms["entry_px"] = entry
                else:
                    positions_known = False
            legs.append(Leg(asset=f"perps:{market_id}", symbol=symbol, decimals=18,
                            role=Role.LONG if size >= 0 else Role.SHORT, amount=abs(size), price=price,
                            price_decimals=18, price_key=_key(self.market.chain, symbol),
                            value=rules.mul_decimal(abs(size), price), terms=terms))
        usd = 0
        for collateral_id in collateral_ids:
            amount_r = more[(account_id, collateral_id, "getCollateralAmount")]
            amount = 0 if isinstance(amount_r, Failed) else int(amount_r[0])
            if collateral_id == SNX_USD:
                usd = amount
                legs.append(Leg(asset="collateral:0", symbol="snxUSD", decimals=18, role=Role.COLLATERAL,
                                amount=amount, price=UNIT, price_decimals=18,
                                price_key=_key(self.market.chain, "snxUSD"),
                                value=amount, terms={"collateral_id": 0}))
            else:  # a synth: priced by the spot market, not read one by one (see the module docstring)
                legs.append(Leg(asset=f"collateral:{collateral_id}", symbol=f"synth#{collateral_id}", decimals=18,
                                role=Role.COLLATERAL, amount=amount, price=0, price_decimals=18,
                                price_key=_key(self.market.chain, f"synth#{collateral_id}"), value=0,
                                terms={"collateral_id": collateral_id}))
        if debt:
            legs.append(Leg(asset="debt", symbol="snxUSD", decimals=18, role=Role.DEBT, amount=debt, price=UNIT,
                            price_decimals=18, price_key=_key(self.market.chain, "snxUSD"), value=debt))
        if coll_value is not None:
            detail["collateral_value"] = _json_int(coll_value)
        # the snxUSD collateral as read: the margins take the snxUSD leg's amount, the rest of the collateral
        # (synths, valued by the spot market) is held at the protocol's figure (see ``_usd_change``)
        detail["snx_usd_collateral"] = _json_int(usd)
        if not isinstance(available_r, Failed):
            # the discounted collateral value, as getAvailableMargin counted it
            detail["collateral_discounted"] = _json_int(int(available_r[0]) - pnl_total + debt)
        else:
            detail["collateral_discounted"] = _json_int(usd)

        reasons = []
        if stale:
            reasons.append("a price is older than the market's tolerance: a view reverted OracleDataRequired "
                           "(ERC-7412)")
        if failed:
            reasons.append(f"{len(failed)} view(s) reverted: {failed[0].reason[:80]}")
        if not positions_known and not stale:
            reasons.append("a position or its market's parameters could not be read")
        if any(c != SNX_USD for c in collateral_ids):
            reasons.append("synth collateral is valued by the spot market, which is not modelled: its value is "
                           "the protocol's, held in what-ifs")
        if reasons:
            detail["unverified"] = "; ".join(reasons)

        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key, market_address=self.market.address,
            account=f"{wallet}:{account_id}", owner=wallet, block=block, legs=legs,
            health=_health(0, 0, coll_value or usd, 0), margin_mode=MarginMode.CROSS, detail=detail)
        if isinstance(available_r, Failed) or isinstance(required_r, Failed):
            return snapshot  # no figures to stand on: read() reports the account as stale instead
        available, required, reward = int(available_r[0]), int(required_r[1]), int(required_r[2])
        detail["reward_model"] = "held"
        detail["reward_terms"] = {"guards": [_json_int(g) for g in guards], "collateral_reward_ratio": reward_ratio,
                                  "collateral_value": _json_int(coll_value or 0), "cost": 0, "windows_cost": 0}
        if positions_known and coll_value is not None:
            _infer_costs(snapshot, reward, guards, reward_ratio, coll_value)
        exposure = sum(leg.value for leg in legs if leg.role in (Role.LONG, Role.SHORT))
        snapshot.health = _health(available, required, coll_value or usd, exposure)
        detail["local"] = positions_known
        if positions_known:
            local_available, local_required = _margins(snapshot, {})
            if (local_available, local_required) != (available, required):
                detail["unverified"] = (f"the local margins ({local_available}, {local_required}) differ from the "
                                        f"protocol's ({available}, {required}); the protocol's are kept")
        for leg in legs:
            if leg.role in (Role.LONG, Role.SHORT) and available > 0:
                leg.terms["leverage"] = leg.value * LEVERAGE_SCALE // available  # notional / available margin
        if positions_known and "unverified" not in detail:
            for key, point in self.liquidation_points(snapshot).items():
                for leg in legs:
                    if leg.price_key == key:
                        leg.terms["liquidation_px"] = point.price
        return snapshot

    # -- questions about a position ------------------------------------------------------------
    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        """The perps markets' index prices (snxUSD is worth its amount; synth collateral is not modelled)."""
        return {leg.price_key for leg in snapshot.legs if leg.role in (Role.LONG, Role.SHORT)}

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        legs = [_at(leg, prices[leg.price_key]) if leg.price_key in prices and leg.role in (Role.LONG, Role.SHORT)
                else leg for leg in snapshot.legs]
        moved = dataclasses.replace(snapshot, legs=legs, detail=dict(snapshot.detail))
        moved.health = self.health_at(snapshot, prices)
        return moved

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        if not snapshot.detail.get("local"):
            return snapshot.health
        available, required = _margins(snapshot, prices)
        exposure = sum(rules.mul_decimal(leg.amount, prices.get(leg.price_key, leg.price))
                       for leg in snapshot.legs if leg.role in (Role.LONG, Role.SHORT))
        return _health(available, required, snapshot.health.collateral + _usd_change(snapshot), exposure)

    @staticmethod
    def amount_after(snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """The snxUSD collateral leg after ``modifyCollateral(accountId, 0, change)`` with ``change > 0``, as
        @synthetixio/perps-market 3.13.0 books it: ``leg.amount + change``, exactly.

        modules/PerpsAccountModule.sol ``modifyCollateral`` (l.41-91) deposits the snxUSD into the core system
        (``_depositMargin``, l.250-269) and then calls ``PerpsAccount.updateCollateralAmount`` (storage/
        PerpsAccount.sol l.244-261), which adds ``amountDelta`` to ``collateralAmounts[0]``. No fee is charged,
        nothing is rounded and the debt is left alone (repaying it is ``payDebt``). What the margins see then:

        - ``getTotalCollateralValue`` (l.359-384) counts snxUSD at its amount, with or without the discount, so
          the available margin (l.406-415: collateral + pnl − debt) rises by exactly the deposit;
        - the liquidation reward depends on the collateral too. ``getKeeperRewardsAndCosts`` (l.486-525) sets the
          collateral reward from the undiscounted total, and ``getPossibleLiquidationReward`` (l.527-547) passes
          that total to ``keeperReward`` as the basis of its upper cap. The local math recomputes the reward from
          the leg (``_margins``), so both follow the deposit. The flag keeper cost counts the account's
          collateral types other than snxUSD (storage/KeeperCosts.sol l.47-66), so a deposit leaves it as it is;
        - positions, prices, funding and interest do not change.

        None for any other leg (a synth's value comes from the spot market, which is not modelled), for a change
        that is not a deposit, and where the local math cannot follow the deposit: a read whose margins the
        protocol alone gives (``local`` false), whose reward is held because the keeper costs could not be
        inferred (``reward_model`` "held": the reward moves with the collateral, the held figure does not), or
        a snapshot stored before ``snx_usd_collateral`` was kept.

        Even an exact amount can be refused. ``modifyCollateral`` reverts for an account already flagged for
        liquidation (``GlobalPerpsMarket.checkLiquidation``), for one with a pending order
        (``AsyncOrder.checkPendingOrder``), and past the collateral's ``maxAmount`` across the market
        (``validateCollateralAmount``)."""
        d = snapshot.detail
        if (change <= 0 or leg.role is not Role.COLLATERAL or leg.terms.get("collateral_id") != SNX_USD
                or not d.get("local") or d.get("reward_model") != "recomputed" or "snx_usd_collateral" not in d):
            return None
        return leg.amount + change

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        if not snapshot.detail.get("local"):
            return lambda _price: not snapshot.health.liquidatable

        def healthy(price: int) -> bool:
            available, required = _margins(snapshot, {key: price})
            return not rules.liquidatable(available, required)

        return healthy

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        """Per market, the last index price at which the account is not liquidatable, others held fixed: a long
        liquidates as its market's price falls, a short as it rises."""
        if not snapshot.detail.get("local"):
            return {}
        wanted = self.price_dependencies(snapshot) if keys is None else self.price_dependencies(snapshot) & set(keys)
        available, required = _margins(snapshot, {})
        points: dict[PriceKey, LiquidationPoint] = {}
        for key in sorted(wanted):
            moving = [leg for leg in snapshot.legs if leg.price_key == key and "entry_px" in leg.terms]
            if not moving:
                continue
            net = sum(leg.amount if leg.role is Role.LONG else -leg.amount for leg in moving)
            if net == 0:
                continue
            falling = net > 0
            price = moving[0].price
            # the margin moves by net × Δp (the requirement a little): the first-order crossing seeds the search
            estimate = Fraction(price) - Fraction((available - required) * UNIT, net)
            if estimate <= 0:
                estimate = Fraction(max(price, 1), 2 if falling else 1)
            found = crossing_price(self.healthy_at(snapshot, key), estimate, falling=falling)
            if found is not None:
                points[key] = LiquidationPoint(found, falling=falling)
        return points

    @staticmethod
    def price_from_feed(reading: FeedReading) -> tuple[PriceKey, int] | None:
        return None  # index prices come from the protocol's oracle nodes (Pyth through ERC-7412), not feeds


def _at(leg: Leg, price: int) -> Leg:
    return dataclasses.replace(leg, price=price, value=rules.mul_decimal(leg.amount, price))


def _positions(snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> list[tuple[int, int, MarketParams, Leg]]:
    out = []
    for leg in snapshot.legs:
        if leg.role not in (Role.LONG, Role.SHORT):
            continue
        t = leg.terms
        params = MarketParams(t["skew_scale"], t["initial_margin_ratio"], t["minimum_initial_margin_ratio"],
                              t["maintenance_margin_scalar"], t["flag_reward_ratio"], t["minimum_position_margin"],
                              t["max_liquidation_in_window"])
        size = leg.amount if leg.role is Role.LONG else -leg.amount
        out.append((size, prices.get(leg.price_key, leg.price), params, leg))
    return out


def _interest(leg: Leg, price: int) -> int:
    """The charged interest at ``price``: Position.interestAccrued is the locked notional (|size| × price ×
    lockedOiRatio) × the interest per dollar since the position's last interaction (storage/Position.sol
    l.93-112), so it scales with the price; scaled here from the read (exact at the read's price, within a wei or
    two elsewhere: the per-dollar figure is not exposed by a view)."""
    owed, read = leg.terms["owed_interest"], leg.terms.get("read_px", 0)
    if not owed or not read or price == read:
        return owed
    return owed * price // read


def _terms(snapshot: PositionSnapshot) -> RewardTerms:
    """The reward's terms as read, the collateral value moved by the snxUSD legs' change (``_usd_change``)."""
    raw = snapshot.detail["reward_terms"]
    return RewardTerms(Guards(*(int(g) for g in raw["guards"])), int(raw["collateral_reward_ratio"]),
                       int(raw["collateral_value"]) + _usd_change(snapshot), int(raw["cost"]),
                       int(raw["windows_cost"]))


def _usd_change(snapshot: PositionSnapshot) -> int:
    """How much the snxUSD collateral legs hold beyond the snxUSD read (``detail["snx_usd_collateral"]``): 0 for a
    snapshot as read, the deposit for a what-if one. snxUSD counts at its amount in both the discounted and the
    undiscounted collateral value (storage/PerpsAccount.sol l.359-384), so the margins move by exactly this; 0 for
    a snapshot stored before that figure was kept (its margins stay the protocol's, whatever its legs say)."""
    read = snapshot.detail.get("snx_usd_collateral")
    if read is None:
        return 0
    held = sum(leg.amount for leg in snapshot.legs
               if leg.role is Role.COLLATERAL and leg.terms.get("collateral_id") == SNX_USD)
    return held - int(read)


def _margins(snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> tuple[int, int]:
    """(available margin, maintenance + reward) at ``prices``: the snxUSD collateral from its legs, the rest of the
    collateral (synths, at the protocol's discounted value), the debt and the positions' terms as read."""
    detail = snapshot.detail
    held = _positions(snapshot, prices)
    pnls = [rules.price_pnl(size, price, leg.terms["entry_px"]) + leg.terms["accrued_funding"]
            - _interest(leg, price) for size, price, _, leg in held]
    collateral = int(detail["collateral_discounted"]) + _usd_change(snapshot)
    available = rules.available_margin(collateral, pnls, int(detail["debt"]))
    listed = [(size, price, params) for size, price, params, _ in held]
    if detail.get("reward_model") == "recomputed":
        _, required, _ = rules.account_required(listed, _terms(snapshot))
    else:
        reward = int(detail["max_liquidation_reward"])
        required = sum(rules.required_margins(size, price, params)[1] for size, price, params in listed) + \
            (reward if listed else 0)
    return available, required


def _infer_costs(snapshot: PositionSnapshot, reward: int, guards: Guards, ratio: int, collateral_value: int) -> None:
    """The keeper costs behind the protocol's reward (a gas-price oracle node the proxy does not expose): with one
    liquidation window per position and the reward between its caps, ``cost = reward − max(Σ flag rewards,
    collateral reward)``; kept only when the recomputed reward equals the protocol's, else the reward is held."""
    listed = [(size, price, params) for size, price, params, _ in _positions(snapshot, {})]
    if not listed or any(rules.number_of_liquidation_windows(abs(s), p) > 1 for s, _, p in listed):
        return
    flags = sum(rules.flag_reward(s, price, p) for s, price, p in listed)
    cost = reward - max(flags, rules.mul_decimal(collateral_value, ratio))
    if cost < 0:
        return
    terms = RewardTerms(guards, ratio, collateral_value, cost, 0)
    if rules.liquidation_reward(listed, terms) == reward:
        snapshot.detail["reward_model"] = "recomputed"
        snapshot.detail["reward_terms"]["cost"] = _json_int(cost)


def _health(available: int, required: int, collateral: int, exposure: int) -> Health:
    raw = rules.health_raw(available, required)
    return Health(raw=UINT256_MAX if raw is None else raw, decimals=HEALTH_DECIMALS,
                  health=None if raw is None else scaled(raw, HEALTH_DECIMALS), equity=available,
                  requirement=required, collateral=collateral, debt=exposure, quote=QUOTE, quote_unit=UNIT)
