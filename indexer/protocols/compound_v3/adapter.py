"""Compound v3 (Comet): one configured market is one Comet (cUSDCv3, cWETHv3, …), named by its proxy address.

Reads, at the pinned block, in two Multicall3 rounds (three on the first read, when the asset list is not
known yet):

1. the market: ``baseToken``, ``baseTokenPriceFeed``, ``baseScale``, ``numAssets``, the stored
   ``totalsBasic`` and ``getUtilization``; the asset list (``getAssetInfo``) and every feed's
   ``latestRoundData`` when the previous read's layout is the hint; each account's ``userBasic`` (signed
   principal, ``assetsIn`` bitmap and its ``_reserved`` extension); ``isLiquidatable`` for self-checked accounts;
2. ``getBorrowRate(utilization)`` (the interest since ``lastAccrualTime``), ``userCollateral`` for every
   asset the bitmaps name, and the feeds and token symbols when the layout is new.

Comet's ``getPrice(feed)`` is the feed's ``latestRoundData`` answer, refused when ≤ 0
(CometWithExtendedAssetList.getPrice); the indexer reads the feed itself (one call, with its round for
provenance) and applies the same rule: a position resting on a feed that answers ≤ 0 or reverts is not
valued (Comet's own views revert for it too) and is reported unpriced, the rest of the block goes on.

Two indices, two verdicts. ``isLiquidatable`` (the view) values a borrow at the *stored* base borrow index;
``absorb`` accrues interest first and then asks ``isLiquidatable`` (CometWithExtendedAssetList.absorb), so
the protocol acts on the index *accrued* to the block's time, which is also what ``borrowBalanceOf``
reports. The health stored is the accrued one (what an absorb in this block would decide); ``detail.stored``
keeps the view's figures and verdict beside it.

Health: Comet has no health figure of its own. The one stored is Σ liquidation-weighted collateral value /
borrowed value, in 1e18, floored (``rules.health_factor``): below 1e18 exactly when ``isLiquidatable``'s
liquidity is negative. Prices and values are in the base feed's currency, 8 decimals (the market option
``quote`` names it: USD by default, ETH for the WETH markets).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel

from indexer.chain.abi import load
from indexer.chain.multicall import Call, Failed, Plan
from indexer.errors import MarketMismatchError
from indexer.health.liquidation import crossing_price
from indexer.hexutil import to_checksum_address
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import DiscoverySpec, MarketRead, MarketRef
from indexer.protocols.compound_v3 import rules
from indexer.protocols.compound_v3.options import CometOptions
from indexer.types import (
    UINT256_MAX,
    ZERO_ADDRESS,
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

HEALTH_DECIMALS = 18
PRICE_DECIMALS = 8  # Comet's PRICE_FEED_DECIMALS: every feed it accepts answers with 8 decimals
_COMET = load("compound_v3", "Comet")
_ERC20 = load("compound_v3", "ERC20")
_USER_BASIC = _COMET.function("userBasic")
_USER_COLLATERAL = _COMET.function("userCollateral")
_ASSET_INFO = _COMET.function("getAssetInfo")


class Asset(NamedTuple):
    """``getAssetInfo(i)`` (factors in 1e18, as Comet returns them from their 1e4-precision storage) and the
    token's symbol."""

    offset: int
    address: Address
    feed: Address
    scale: int
    borrow_collateral_factor: int
    liquidate_collateral_factor: int
    liquidation_factor: int
    supply_cap: int
    symbol: str


class Layout(NamedTuple):
    """What changes only with a new implementation behind the proxy: the next read's hint, confirmed at every
    block before it is used."""

    base: Address
    base_symbol: str
    base_feed: Address
    base_scale: int
    assets: tuple[Asset, ...]


def _decimals(scale: int) -> int:
    return len(str(scale)) - 1


def _price(reading: FeedReading | None) -> int | None:
    """What ``getPrice`` would return: the feed's answer, None where Comet reverts (≤ 0, or the feed reverts)."""
    if reading is None or reading.answer is None or reading.answer <= 0:
        return None
    return reading.answer


class CompoundV3Adapter:
    kind: ClassVar[str] = "compound_v3"
    options: ClassVar[type[BaseModel] | None] = CometOptions
    transport: ClassVar[str] = "chain"
    devnet: ClassVar[str | None] = "indexer.protocols.compound_v3.devnet"
    # CometMainInterface events: the account is `dst` of Supply (topic2; a repay) and SupplyCollateral (topic2),
    # `src` of Withdraw (topic1; a borrow) and WithdrawCollateral (topic1), `to` of TransferCollateral (topic2)
    # and the `borrower` of AbsorbDebt (topic2).
    _ACCOUNT_TOPIC: ClassVar[dict[str, int]] = {
        _COMET.topic("Supply"): 2,
        _COMET.topic("Withdraw"): 1,
        _COMET.topic("SupplyCollateral"): 2,
        _COMET.topic("WithdrawCollateral"): 1,
        _COMET.topic("TransferCollateral"): 2,
        _COMET.topic("AbsorbDebt"): 2,
    }

    def __init__(self, market: MarketRef) -> None:
        self.market = market
        self.quote = str(market.options.get("quote", "USD"))

    def discovery(self) -> DiscoverySpec:
        return DiscoverySpec(account_topic=self._ACCOUNT_TOPIC, emitter=self.market.address)

    # -- reading -------------------------------------------------------------------------------
    def _mismatch(self, what: str) -> MarketMismatchError:
        return self.market.mismatch(f"is not a Compound v3 Comet ({what})")

    def _market_calls(self) -> list[Call]:
        comet = self.market.address
        return [_COMET.function(name).call(comet, allow_failure=True)
                for name in ("baseToken", "baseTokenPriceFeed", "baseScale", "numAssets", "totalsBasic",
                             "getUtilization")]

    def _asset_calls(self, count: int) -> list[Call]:
        return [_ASSET_INFO.call(self.market.address, i, allow_failure=True) for i in range(count)]

    @staticmethod
    def _feed_calls(feeds: ChainlinkFeeds, addresses: Iterable[Address]) -> tuple[list[Call], list[int]]:
        calls: list[Call] = []
        spans: list[int] = []
        for address in addresses:
            part = feeds.calls(address)
            calls += part
            spans.append(len(part))
        return calls, spans

    @staticmethod
    def _assets(infos: Sequence[Any], symbols: Mapping[Address, str]) -> tuple[Asset, ...]:
        made = []
        for info in infos:
            offset, address, feed, scale, borrow_cf, liquidate_cf, liquidation_factor, cap = info
            asset = to_checksum_address(address)
            made.append(Asset(offset, asset, to_checksum_address(feed), scale, borrow_cf, liquidate_cf,
                              liquidation_factor, cap, symbols.get(asset, asset[:8])))
        return tuple(made)

    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = ()) -> Plan[MarketRead]:
        comet = self.market.address
        checked = set(accounts) if self.market.verify_onchain else set(check)
        hinted = hint if isinstance(hint, Layout) else None
        head = self._market_calls()
        first: list[Call] = [*head]
        hinted_feeds: list[Address] = []
        spans: list[int] = []
        if hinted is not None:  # the previous read's asset list and feeds, in the same round trip
            first += self._asset_calls(len(hinted.assets))
            hinted_feeds = list(dict.fromkeys([hinted.base_feed, *(a.feed for a in hinted.assets)]))
            feed_calls, spans = self._feed_calls(feeds, hinted_feeds)
            first += feed_calls
        for account in accounts:
            first.append(_USER_BASIC.call(comet, account))
            if account in checked:
                first.append(_COMET.function("isLiquidatable").call(comet, account, allow_failure=True))
        got = yield first
        market, at = got[:len(head)], len(head)
        if any(isinstance(r, Failed) for r in market):
            raise self._mismatch("its base token, price feed, scale, asset count, totals or utilization "
                                 "did not answer")
        (base,), (base_feed,), (base_scale,), (count,), totals, (utilization,) = market
        base, base_feed = to_checksum_address(base), to_checksum_address(base_feed)
        if base == ZERO_ADDRESS or base_scale <= 0:
            raise self._mismatch("baseToken() is empty")

        layout: Layout | None = None
        readings: dict[Address, FeedReading] = {}
        if hinted is not None:
            infos = got[at: at + len(hinted.assets)]
            at += len(hinted.assets)
            same = (count == len(hinted.assets)
                    and (base, base_feed, base_scale) == (hinted.base, hinted.base_feed, hinted.base_scale)
                    and not any(isinstance(i, Failed) for i in infos)
                    and self._assets(infos, {a.address: a.symbol for a in hinted.assets}) == hinted.assets)
            offset = at
            for address, span in zip(hinted_feeds, spans, strict=True):
                readings[address] = feeds.decode(address, got[offset: offset + span])
                offset += span
            at = offset
            if same:
                layout = hinted
            else:
                readings = {}
                log.info("compound_v3 asset list changed market=%s block=%d; reading it afresh",
                         self.market.key, block.number)
        users: list[tuple[Address, int, int, int, bool | None]] = []
        for account in accounts:
            principal, _, _, assets_in, reserved = got[at]
            at += 1
            view: bool | None = None
            if account in checked:
                view = None if isinstance(got[at], Failed) else bool(got[at][0])
                at += 1
            users.append((account, principal, assets_in, reserved, view))

        symbols: dict[Address, str] = {}
        if layout is None:  # a first read or a changed implementation: the asset list, then symbols and feeds
            infos = yield [*self._asset_calls(count), _ERC20.function("symbol").call(base, allow_failure=True)]
            if any(isinstance(i, Failed) for i in infos[:count]):
                raise self._mismatch(f"getAssetInfo failed below numAssets() = {count}")
            listed = self._assets(infos[:count], {})
            symbols[base] = infos[count][0] if not isinstance(infos[count], Failed) else base[:8]
            layout = Layout(base, symbols[base], base_feed, base_scale, listed)

        # the last round: the borrow rate, the collateral balances, and whatever the layout still lacks
        stored_supply, stored_borrow, *_, last_accrual, _ = totals
        elapsed = block.timestamp - last_accrual
        borrowing = any(principal < 0 for _, principal, *_ in users)
        calls: list[Call] = []
        if borrowing and elapsed > 0:
            calls.append(_COMET.function("getBorrowRate").call(comet, utilization))
        holdings: list[list[Asset]] = []
        for account, _, assets_in, reserved, _ in users:
            held = [layout.assets[i] for i in rules.assets_held(assets_in, reserved, len(layout.assets))]
            holdings.append(held)
            calls += [_USER_COLLATERAL.call(comet, account, asset.address) for asset in held]
        balances_end = len(calls)
        missing = [f for f in dict.fromkeys([layout.base_feed, *(a.feed for a in layout.assets)]) if f not in readings]
        feed_calls, spans = self._feed_calls(feeds, missing)
        calls += feed_calls
        unnamed = [a for a in layout.assets if a.symbol == a.address[:8]] if layout is not hinted else []
        calls += [_ERC20.function("symbol").call(a.address, allow_failure=True) for a in unnamed]
        results = (yield calls) if calls else []
        rate = results[0][0] if borrowing and elapsed > 0 else 0
        offset = balances_end
        for address, span in zip(missing, spans, strict=True):
            readings[address] = feeds.decode(address, results[offset: offset + span])
            offset += span
        if unnamed:
            names = {a.address: r[0] for a, r in zip(unnamed, results[offset:], strict=True)
                     if not isinstance(r, Failed)}
            layout = layout._replace(assets=tuple(a._replace(symbol=names.get(a.address, a.symbol))
                                                  for a in layout.assets))
            holdings = [[layout.assets[a.offset] if a.offset < len(layout.assets) else a for a in held]
                        for held in holdings]
        for address, reading in readings.items():
            asset = next((a for a in layout.assets if a.feed == address), None)
            readings[address] = dataclasses.replace(
                reading, asset=asset.address if asset else layout.base,
                symbol=asset.symbol if asset else layout.base_symbol)

        indices = _Indices(stored=stored_borrow, accrued=rules.accrued_borrow_index(stored_borrow, rate, elapsed),
                           supply=stored_supply, last_accrual=last_accrual, rate=rate)
        snapshots: list[PositionSnapshot] = []
        unpriced: list[Address] = []
        mismatched: list[Address] = []
        compared = 0
        at = 1 if borrowing and elapsed > 0 else 0
        for (account, principal, assets_in, reserved, view), held in zip(users, holdings, strict=True):
            amounts = [r[0] for r in results[at: at + len(held)]]
            at += len(held)
            if principal == 0 and not any(amounts):
                continue
            snapshot = self._snapshot(account, block, layout, indices, readings, principal, assets_in, reserved,
                                      list(zip(held, amounts, strict=True)))
            if snapshot is None:
                unpriced.append(account)
                continue
            if view is not None:
                compared += 1
                if view != snapshot.detail.get("stored", {}).get("liquidatable", False):
                    mismatched.append(account)
                    snapshot.detail["unverified"] = (f"isLiquidatable() answered {view} at the stored index; the "
                                                     "local figures say otherwise")
                    log.error("self-check: isLiquidatable differs from the local verdict market=%s account=%s "
                              "block=%d protocol=%s", self.market.key, account, block.number, view)
            snapshots.append(snapshot)
        if unpriced:
            log.warning("compound_v3 positions without a price market=%s block=%d accounts=%d (a feed answered "
                        "<= 0 or reverted: Comet's getPrice reverts)", self.market.key, block.number, len(unpriced))
        log.debug("compound_v3 read market=%s block=%d accounts=%d positions=%d", self.market.key, block.number,
                  len(accounts), len(snapshots))
        return MarketRead(snapshots, list(readings.values()), unpriced, hint=layout, checked=compared,
                          mismatched=mismatched)

    # -- assembling ----------------------------------------------------------------------------
    def _snapshot(self, account: Address, block: BlockRef, layout: Layout, indices: _Indices,
                  readings: Mapping[Address, FeedReading], principal: int, assets_in: int, reserved: int,
                  held: list[tuple[Asset, int]]) -> PositionSnapshot | None:
        """The position, or None when a price it rests on is one Comet's ``getPrice`` refuses."""
        base_reading = readings.get(layout.base_feed)
        base_price = _price(base_reading)
        if base_price is None:
            return None
        legs: list[Leg] = []
        for asset, amount in held:
            reading = readings.get(asset.feed)
            price = _price(reading)
            if price is None:
                return None
            legs.append(Leg(
                asset=asset.address, symbol=asset.symbol, decimals=_decimals(asset.scale), role=Role.COLLATERAL,
                amount=amount, price=price, price_decimals=PRICE_DECIMALS, price_key=asset.feed,
                value=rules.mul_price(amount, price, asset.scale), feed=asset.feed,
                round_id=reading.round_id if reading else None,
                terms={"offset": asset.offset, "liquidate_collateral_factor": asset.liquidate_collateral_factor,
                       "borrow_collateral_factor": asset.borrow_collateral_factor,
                       "liquidation_factor": asset.liquidation_factor}))
        base = Leg(asset=layout.base, symbol=layout.base_symbol, decimals=_decimals(layout.base_scale),
                   role=Role.DEBT, amount=0, price=base_price, price_decimals=PRICE_DECIMALS,
                   price_key=layout.base_feed, value=0, feed=layout.base_feed,
                   round_id=base_reading.round_id if base_reading else None, terms={"base": 1})
        if principal < 0:
            owed = rules.present_value_borrow(indices.accrued, -principal)
            value = rules.mul_price(owed, base_price, layout.base_scale)
            # the signed principal and the borrow index accrued to the block: what a repayment is booked against
            legs.append(dataclasses.replace(base, amount=owed, value=value,
                                            terms={"base": 1, "principal": principal,
                                                   "borrow_index": indices.accrued}))
        elif principal > 0:
            # a base supply earns interest and counts for nothing against a borrow (there is none: one signed
            # principal); shown at the stored supply index, weight 0
            supplied = rules.present_value_supply(indices.supply, principal)
            legs.append(dataclasses.replace(base, role=Role.COLLATERAL, amount=supplied,
                                            value=rules.mul_price(supplied, base_price, layout.base_scale),
                                            terms={"base": 1, "liquidate_collateral_factor": 0}))
        detail: dict[str, Any] = {
            "principal": str(principal), "assets_in": assets_in, "assets_in_reserved": reserved,
            "base_scale": layout.base_scale,
            "index": {"stored": indices.stored, "accrued": indices.accrued, "last_accrual_time": indices.last_accrual,
                      "borrow_rate": indices.rate},
            "acts_on": "accrued",
        }
        if principal < 0:
            detail["stored"] = {"borrow_balance": str(rules.present_value_borrow(indices.stored, -principal))}
        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key, market_address=self.market.address,
            account=account, block=block, legs=legs,
            health=Health(raw=UINT256_MAX, decimals=HEALTH_DECIMALS, health=None, equity=0, requirement=0,
                          collateral=0, debt=0, quote=self.quote, quote_unit=10**PRICE_DECIMALS),
            detail=detail)
        return _recompute(snapshot)

    # -- questions about a position ------------------------------------------------------------
    @staticmethod
    def margin_terms() -> tuple[str, ...]:
        """Each collateral's liquidateCollateralFactor: governance changes it with a new Comet implementation
        (Configurator.updateAssetLiquidateCollateralFactor)."""
        return ("liquidate_collateral_factor",)

    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        """Every feed its legs were priced by: collateral feeds, and the base feed (a rising base price
        liquidates a borrower)."""
        return {leg.price_key for leg in snapshot.legs}

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        """Every leg valued again from its amount (``mulPrice(amount, price, scale)``, as a read values it) at the
        price given for its feed, else its own: a leg whose amount was changed (what it takes to be safe) counts
        with its new amount."""
        legs = [_at(leg, prices.get(leg.price_key, leg.price)) for leg in snapshot.legs]
        return _recompute(dataclasses.replace(snapshot, legs=legs, detail=_copy(snapshot.detail)))

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        return self.reprice(snapshot, prices).health

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        """``price → not liquidatable`` at the accrued index (what ``absorb`` acts on), feed ``key`` at ``price``."""
        fixed = [leg for leg in snapshot.legs if leg.price_key != key]
        moving = [leg for leg in snapshot.legs if leg.price_key == key]
        weighted_fixed = sum(_weighted(leg) for leg in fixed)
        owed_fixed = sum(leg.value for leg in fixed if leg.role is Role.DEBT)

        def healthy(price: int) -> bool:
            legs = [_at(leg, price) for leg in moving]
            weighted = weighted_fixed + sum(_weighted(leg) for leg in legs)
            owed = owed_fixed + sum(leg.value for leg in legs if leg.role is Role.DEBT)
            return weighted >= owed

        return healthy

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        """Per feed, the last price at which an absorb would be refused, the others held fixed: collateral feeds
        liquidate falling, the base feed rising."""
        if not snapshot.health.requirement:
            return {}
        wanted = self.price_dependencies(snapshot) if keys is None else self.price_dependencies(snapshot) & set(keys)
        points: dict[PriceKey, LiquidationPoint] = {}
        for key in sorted(wanted):
            moving = [leg for leg in snapshot.legs if leg.price_key == key]
            debt = [leg for leg in moving if leg.role is Role.DEBT]
            weighted_fixed = sum(_weighted(leg) for leg in snapshot.legs if leg.price_key != key)
            if debt:
                if len(debt) != len(moving):
                    continue  # a feed pricing both sides: no single direction liquidates
                per_unit = sum(Fraction(leg.amount, 10**leg.decimals) for leg in debt)
                estimate = Fraction(weighted_fixed) / per_unit if per_unit else Fraction(0)
                falling = False
            else:
                per_unit = sum(Fraction(leg.amount * leg.terms.get("liquidate_collateral_factor", 0),
                                        10**leg.decimals * rules.FACTOR_SCALE) for leg in moving)
                owed = snapshot.health.requirement
                if not per_unit or owed <= weighted_fixed:
                    continue  # this price alone cannot liquidate it
                estimate = Fraction(owed - weighted_fixed) / per_unit
                falling = True
            price = crossing_price(self.healthy_at(snapshot, key), estimate, falling=falling)
            if price is not None:
                points[key] = LiquidationPoint(price, falling=falling)
        return points

    @staticmethod
    def amount_after(snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """As DevComet books it (indexer/protocols/compound_v3/contracts/DevComet.sol, Comet's rules). A repayment of
        ``x`` is ``supply(base, x)`` (``_supplyBase``): the signed principal's present value (``_presentValue``: a
        borrow is ``-_presentValueBorrow(index, -principal)``, ``principal * index / BASE_INDEX_SCALE`` floored) plus
        ``x`` is turned back into a principal (``_principalValue``: ``_principalValueBorrow``, ``(presentValue *
        BASE_INDEX_SCALE + index - 1) / index`` rounded up, while still negative; ``_principalValueSupply``, floored,
        once it is not, which owes nothing); the debt shown is the new principal's ``_presentValueBorrow`` (as
        ``borrowBalanceOf``). The index is the one accrued to the snapshot's block: ``_supplyBase`` accrues first,
        and a transaction at the block's own time accrues exactly what the read did. A collateral deposit
        (``_supplyCollateral``) adds ``x`` to the balance. Anything else, a base supply leg, or a debt leg without its
        ``principal`` and ``borrow_index`` terms: None."""
        if "base" not in leg.terms and leg.role is Role.COLLATERAL and change >= 0:
            return leg.amount + change
        principal, index = leg.terms.get("principal"), leg.terms.get("borrow_index")
        if leg.role is not Role.DEBT or change > 0 or principal is None or index is None:
            return None
        if principal >= 0 or index <= 0 or (owed := rules.present_value_borrow(index, -principal)) != leg.amount:
            return None  # terms that are not this debt's (as ``_snapshot`` reads it): nothing exact to say
        present = -owed - change  # the signed present value plus the repayment (change < 0)
        if present >= 0:
            return 0
        return rules.present_value_borrow(index, rules.principal_value_borrow(index, -present))

    @staticmethod
    def price_from_feed(reading: FeedReading) -> tuple[PriceKey, int] | None:
        """Comet prices straight from the feed (``getPrice``: the answer, refused when ≤ 0); the price key is
        the feed itself."""
        if reading.answer is None or reading.answer <= 0:
            return None
        return reading.address, reading.answer


class _Indices(NamedTuple):
    stored: int  # totalsBasic().baseBorrowIndex, what the isLiquidatable view uses
    accrued: int  # the same accrued to the block's time, what absorb and borrowBalanceOf use
    supply: int  # totalsBasic().baseSupplyIndex (stored)
    last_accrual: int
    rate: int  # getBorrowRate(getUtilization()) per second, 1e18; 0 when nothing accrued


def _copy(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in detail.items()}


def _at(leg: Leg, price: int) -> Leg:
    return dataclasses.replace(leg, price=price, value=rules.mul_price(leg.amount, price, 10**leg.decimals))


def _weighted(leg: Leg) -> int:
    """What a collateral leg adds to Comet's liquidity: mulFactor(value, liquidateCollateralFactor)."""
    if leg.role is not Role.COLLATERAL:
        return 0
    return rules.mul_factor(leg.value, leg.terms.get("liquidate_collateral_factor", 0))


def _recompute(snapshot: PositionSnapshot) -> PositionSnapshot:
    """Health (accrued index), the stored-index verdict of the ``isLiquidatable`` view, and what an absorb would
    credit, from the legs and ``detail`` (amounts as read, prices as the legs have them)."""
    legs, detail = snapshot.legs, snapshot.detail
    weighted = sum(_weighted(leg) for leg in legs)
    gross = sum(leg.value for leg in legs if leg.role is Role.COLLATERAL)
    debt_leg = next((leg for leg in legs if leg.role is Role.DEBT), None)
    owed = debt_leg.value if debt_leg else 0
    raw = rules.health_factor(weighted, owed)
    snapshot.health = dataclasses.replace(
        snapshot.health, raw=UINT256_MAX if raw is None else raw,
        health=None if raw is None else scaled(raw, HEALTH_DECIMALS), equity=weighted, requirement=owed,
        collateral=gross, debt=owed)
    if debt_leg is not None:
        stored = int(detail["stored"]["borrow_balance"])
        stored_owed = rules.mul_price(stored, debt_leg.price, 10**debt_leg.decimals)
        stored_raw = rules.health_factor(weighted, stored_owed)
        detail["stored"] = {"borrow_balance": str(stored),
                            "health_raw": None if stored_raw is None else str(stored_raw),
                            "liquidatable": weighted < stored_owed}
        if weighted < owed:
            credited = sum(rules.mul_factor(leg.value, leg.terms["liquidation_factor"])
                           for leg in legs if leg.role is Role.COLLATERAL and "liquidation_factor" in leg.terms)
            credited_base = rules.div_price(credited, debt_leg.price, 10**debt_leg.decimals)
            detail["absorb"] = {"collateral_value": str(gross), "credited_value": str(credited),
                                "credited_base": str(credited_base),
                                "bad_debt": str(max(debt_leg.amount - credited_base, 0)),
                                "base_after": str(max(credited_base - debt_leg.amount, 0))}
        else:
            detail.pop("absorb", None)
    return snapshot
