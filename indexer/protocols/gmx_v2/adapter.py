"""GMX v2 perps (gmx-synthetics, the v2.2 Reader): one configured market is a Reader (its ``address``) reading one
DataStore (option ``data_store``), with the ReferralStorage it needs (option ``referral_storage``); every GMX market
of that DataStore (``Reader.getMarkets``) unless the option ``markets`` names some.

Reads, at the pinned block, in four Multicall3 rounds:

1. ``getMarkets(dataStore, 0, MAX_MARKETS)`` and ``MIN_COLLATERAL_USD``;
2. per token (index, long, short) its reference feed, multiplier and heartbeat from the DataStore
   (``Keys.priceFeedKey`` / ``priceFeedMultiplierKey`` / ``priceFeedHeartbeatDurationKey``), per market
   ``minCollateralFactor``, ``minCollateralFactorForLiquidation`` and ``maxPositionImpactFactorForLiquidations``;
3. the feeds themselves (``ChainlinkFeeds``: the oracle monitor judges their staleness);
4. ``getAccountPositionInfoList(dataStore, referralStorage, account, markets, marketPrices, 0x0, 0, MAX)`` per
   account, ``marketPrices`` built from the reference prices (min = max).

**Prices: a stated limitation.** GMX keepers execute orders and liquidations with Chainlink Data Streams prices
signed off-chain (a min/max spread, delivered with the keeper's transaction); they are not on chain before that.
The indexer values every position at the on-chain *reference* feeds the DataStore names for each token
(``price = answer × multiplier / 1e30``, contracts/oracle/ChainlinkPriceFeedUtils.sol) with min = max. A
position's figures are GMX's own arithmetic at those prices, not at the price a keeper will use.

Which minimum collateral factor: the v2.2 Reader's ``isPositionLiquidatable`` takes ``forLiquidation``, and the
DataStore holds both ``MIN_COLLATERAL_FACTOR`` and ``MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION`` per market. The health
here is the liquidation verdict, so it takes ``minCollateralFactorForLiquidation`` (what ``forLiquidation = true``
selects); ``detail`` keeps both. The published PositionUtils.sol versions this was checked against
(contracts/position/PositionUtils.sol, the ``IsPositionLiquidatableInfo`` revision) use ``getMinCollateralFactor``
only: the factor choice follows the v2.2 ABI's parameter and the DataStore key, not a read of the v2.2 body.

A position (market, collateral token, isLong) is isolated: an account of its own, ``0xWallet:<position key>``,
owned by the wallet. Legs: the position (long/short ``sizeInTokens`` of the index token at its price) and the
collateral (``collateralAmount`` of the collateral token). Prices are GMX's units (USD × 1e30 per smallest token
unit: ``30 - decimals`` places), keyed by the token address, so a same-token collateral moves with the index.
Health (contracts/position/PositionUtils.sol ``isPositionLiquidatable``): equity = the remaining collateral
(collateral × price + PnL + capped close impact − totalCostAmount × price), requirement = max(sizeInUsd ×
factor / 1e30, MIN_COLLATERAL_USD); raw = equity / requirement in WAD, floored. Recomputed at other prices, the
position fee (applyFactor(sizeInUsd, positionFeeFactor)) and the pending borrowing fee (borrowingFeeUsd) are turned
into collateral tokens at the new collateral price as PositionPricingUtils does; the rest of totalCostAmount
(funding fee, UI fee, less discounts) is held in tokens; the close's price impact is held in USD; the PnL is
recomputed uncapped (the Reader's capped PnL is used at the prices it was read at). The collateral amount is the
collateral leg's, so a what-if deposit (``indexer.risk.safety``) moves the health; ``amount_after`` explains why
that is GMX's own booking of a deposit.

Dynamic margin: the position leg carries ``min_collateral_factor_for_liquidation`` and ``min_collateral_usd`` as
terms (``margin_terms``), so a change of either between two reads is stored and alerted on (``indexer.risk.margin``).

Discovery: EventEmitter ``EventLog1`` (topic1 = keccak256 of the event name, topic2 = the account,
contracts/event/EventEmitter.sol; ``PositionIncrease`` is emitted with the account as its topic,
contracts/position/PositionEventUtils.sol), when the option ``event_emitter`` is set.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel

from indexer.chain.abi import load
from indexer.chain.multicall import Call, Failed, KeyedRound, Plan
from indexer.errors import MarketMismatchError
from indexer.health.liquidation import crossing_price
from indexer.hexutil import keccak, to_checksum_address
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import DiscoverySpec, MarketRead, MarketRef
from indexer.protocols.gmx_v2 import rules
from indexer.protocols.gmx_v2.options import GmxV2Options
from indexer.types import (
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
QUOTE, QUOTE_UNIT = "USD", rules.FLOAT_PRECISION
MAX_MARKETS = 1_000
LEVERAGE_UNIT = 10_000  # terms["leverage"]: sizeInUsd / collateral value, in 1e4 (25_000 = 2.5x)
MAX_POSITIONS = 1_000
_READER = load("gmx_v2", "Reader")
_DATA_STORE = load("gmx_v2", "DataStore")
_EVENT_EMITTER = load("gmx_v2", "EventEmitter")
POSITION_INCREASE = "0x" + keccak(text="PositionIncrease").hex()
# feed -> (token, multiplier) learnt by reads, for the fast path of any adapter of the same market
_FEED_TOKENS: dict[tuple[str, str, Address], tuple[Address, int]] = {}


class Market(NamedTuple):
    token: Address
    index_token: Address
    long_token: Address
    short_token: Address


class TokenPrice(NamedTuple):
    feed: Address
    multiplier: int
    heartbeat: int
    reading: FeedReading | None
    price: int | None  # GMX units; None when the feed is missing or answers <= 0
    decimals: int
    symbol: str


def _address(value: Any) -> Address:
    return to_checksum_address(value)


def _token_decimals(multiplier: int, feed_decimals: int | None) -> int:
    """The token's decimals implied by the multiplier (``10**(60 - feed - token decimals)``); 18 when it is not a
    power of ten or the feed's decimals are unknown."""
    digits = len(str(multiplier)) - 1
    if feed_decimals is None or multiplier != 10**digits or not 0 <= 60 - feed_decimals - digits <= 36:
        return 18
    return 60 - feed_decimals - digits


def _symbol(reading: FeedReading | None, token: Address) -> str:
    text = (reading.description or "") if reading else ""
    return text.split("/")[0].strip() or token[:8]


class GmxV2Adapter:
    kind: ClassVar[str] = "gmx_v2"
    options: ClassVar[type[BaseModel] | None] = GmxV2Options
    transport: ClassVar[str] = "chain"
    devnet: ClassVar[str | None] = "indexer.protocols.gmx_v2.devnet"

    def __init__(self, market: MarketRef) -> None:
        self.market = market
        opts = market.options
        self.data_store = str(opts.get("data_store", ZERO_ADDRESS))
        self.referral_storage = str(opts.get("referral_storage", ZERO_ADDRESS))
        listed = opts.get("markets")
        self.only = {_address(m) for m in listed} if listed else None
        emitter = opts.get("event_emitter")
        self.event_emitter = str(emitter) if emitter else None

    def discovery(self) -> DiscoverySpec | None:
        if self.event_emitter is None:
            return None
        return DiscoverySpec(account_topic={_EVENT_EMITTER.topic("EventLog1"): 2}, match=(POSITION_INCREASE,),
                             emitter=self.event_emitter)

    def _mismatch(self, what: str) -> MarketMismatchError:
        return self.market.mismatch(f"is not a GMX v2 Reader for DataStore {self.data_store} ({what})")

    # -- reading -------------------------------------------------------------------------------
    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = ()) -> Plan[MarketRead]:
        reader, store = self.market.address, self.data_store
        got = yield [_READER.function("getMarkets").call(reader, store, 0, MAX_MARKETS, allow_failure=True),
                     _DATA_STORE.function("getUint").call(store, rules.MIN_COLLATERAL_USD_KEY, allow_failure=True)]
        if any(isinstance(r, Failed) for r in got):
            raise self._mismatch("getMarkets or DataStore.getUint did not answer")
        markets = [Market(*(_address(a) for a in m)) for m in got[0][0]]
        if self.only is not None:
            markets = [m for m in markets if m.token in self.only]
        min_collateral_usd = int(got[1][0])
        if not markets:
            return MarketRead([])
        tokens = list(dict.fromkeys(t for m in markets for t in (m.index_token, m.long_token, m.short_token)))
        config = KeyedRound()
        get_uint, get_address = _DATA_STORE.function("getUint"), _DATA_STORE.function("getAddress")
        for t in tokens:
            config.add(("feed", t), get_address.call(store, rules.price_feed_key(t)))
            config.add(("multiplier", t), get_uint.call(store, rules.price_feed_multiplier_key(t)))
            config.add(("heartbeat", t), get_uint.call(store, rules.price_feed_heartbeat_duration_key(t)))
        for m in markets:
            config.add(("factor", m.token), get_uint.call(store, rules.min_collateral_factor_key(m.token)))
            config.add(("factor_liq", m.token),
                       get_uint.call(store, rules.min_collateral_factor_for_liquidation_key(m.token)))
            config.add(("impact", m.token),
                       get_uint.call(store, rules.max_position_impact_factor_for_liquidations_key(m.token)))
        values = {k: v[0] for k, v in config.results((yield config.calls)).items()}
        feed_of = {t: _address(values[("feed", t)]) for t in tokens}
        wanted = [f for f in dict.fromkeys(feed_of.values()) if f != ZERO_ADDRESS]
        feed_calls: list[Call] = []
        spans: list[int] = []
        for f in wanted:
            part = feeds.calls(f)
            feed_calls += part
            spans.append(len(part))
        results = yield feed_calls
        readings: dict[Address, FeedReading] = {}
        at = 0
        for f, span in zip(wanted, spans, strict=True):
            readings[f] = feeds.decode(f, results[at: at + span])
            at += span
        prices: dict[Address, TokenPrice] = {}
        for t in tokens:
            reading = readings.get(feed_of[t])
            multiplier = int(values[("multiplier", t)])
            answer = reading.answer if reading is not None else None
            price = rules.feed_price(answer, multiplier) if answer is not None else None
            prices[t] = TokenPrice(feed_of[t], multiplier, int(values[("heartbeat", t)]), reading, price,
                                   _token_decimals(multiplier, reading.decimals if reading else None),
                                   _symbol(reading, t))
            if reading is not None:
                _FEED_TOKENS[(self.market.chain, self.market.key, feed_of[t])] = (t, multiplier)
        for f, reading in readings.items():
            token = next(t for t in tokens if feed_of[t] == f)
            readings[f] = dataclasses.replace(reading, asset=token, symbol=prices[token].symbol)

        priced = [m for m in markets if all(prices[t].price is not None for t in m[1:])]
        unpriced_markets = {m.token for m in markets} - {m.token for m in priced}
        if unpriced_markets:
            log.warning("gmx_v2 markets without a reference price market=%s block=%d markets=%s", self.market.key,
                        block.number, sorted(unpriced_markets))
        market_prices = [tuple((prices[t].price, prices[t].price) for t in (m.index_token, m.long_token, m.short_token))
                         for m in priced]
        listing = _READER.function("getAccountPositionInfoList")
        infos = (yield [listing.call(reader, store, self.referral_storage, a, [m.token for m in priced],
                                     market_prices, ZERO_ADDRESS, 0, MAX_POSITIONS, allow_failure=True)
                        for a in accounts]) if accounts and priced else []
        by_token = {m.token: m for m in markets}
        factors = {m.token: (int(values[("factor", m.token)]), int(values[("factor_liq", m.token)]),
                             int(values[("impact", m.token)])) for m in markets}
        snapshots: list[PositionSnapshot] = []
        unpriced: list[Address] = []
        for account, answer in zip(accounts, infos, strict=False):
            if isinstance(answer, Failed):
                unpriced.append(account)  # EmptyMarketPrice: a position on a market without a reference price
                continue
            for info in answer[0]:
                snapshots.append(self._snapshot(account, block, info, by_token, prices, factors, min_collateral_usd))
        self._feeds = {p.feed: (t, p.multiplier) for t, p in prices.items()}
        log.debug("gmx_v2 read market=%s block=%d accounts=%d positions=%d", self.market.key, block.number,
                  len(accounts), len(snapshots))
        return MarketRead(snapshots, list(readings.values()), unpriced)

    # -- assembling ----------------------------------------------------------------------------
    def _snapshot(self, wallet: Address, block: BlockRef, info: Sequence[Any], markets: Mapping[Address, Market],
                  prices: Mapping[Address, TokenPrice], factors: Mapping[Address, tuple[int, int, int]],
                  min_collateral_usd: int) -> PositionSnapshot:
        key, position, fees, execution, base_pnl, uncapped_pnl, _ = info
        (account, market_token, collateral_token), numbers, (is_long,) = position
        size_usd, size_tokens, collateral_amount = numbers[0], numbers[1], numbers[2]
        market = markets[_address(market_token)]
        collateral = _address(collateral_token)
        factor, factor_liq, max_impact = factors[market.token]
        index_price, collateral_price = prices[market.index_token], prices[collateral]
        borrowing, funding = fees[3], fees[2]
        total_cost = int(fees[15])
        impact_read = int(execution[0])
        key_hex = "0x" + bytes(key).hex()
        position_fee_usd = rules.apply_factor(int(size_usd), int(fees[7]))
        index_leg = Leg(
            asset=market.index_token, symbol=index_price.symbol, decimals=index_price.decimals,
            role=Role.LONG if is_long else Role.SHORT, amount=int(size_tokens), price=int(index_price.price or 0),
            price_decimals=rules.USD_DECIMALS - index_price.decimals, price_key=market.index_token,
            value=int(size_tokens) * int(index_price.price or 0), feed=index_price.feed,
            round_id=index_price.reading.round_id if index_price.reading else None,
            terms={"entry_px": size_usd // size_tokens if size_tokens else 0, "size_usd": int(size_usd),
                   "min_collateral_factor_for_liquidation": int(factor_liq),
                   "min_collateral_usd": int(min_collateral_usd)})
        collateral_leg = Leg(
            asset=collateral, symbol=collateral_price.symbol, decimals=collateral_price.decimals,
            role=Role.COLLATERAL, amount=int(collateral_amount), price=int(collateral_price.price or 0),
            price_decimals=rules.USD_DECIMALS - collateral_price.decimals, price_key=collateral,
            value=int(collateral_amount) * int(collateral_price.price or 0), feed=collateral_price.feed,
            round_id=collateral_price.reading.round_id if collateral_price.reading else None,
            terms={})
        detail: dict[str, Any] = {
            "position_key": key_hex, "gmx_market": market.token, "index_token": market.index_token,
            "long_token": market.long_token, "short_token": market.short_token, "collateral_token": collateral,
            "is_long": bool(is_long), "size_in_usd": str(size_usd), "size_in_tokens": str(size_tokens),
            "collateral_amount": str(collateral_amount),
            "increased_at": int(numbers[8]), "decreased_at": int(numbers[9]),
            "fees": {"total_cost_amount": str(total_cost), "position_fee_amount": str(fees[13]),
                     "position_fee_factor": str(fees[7]), "position_fee_usd": str(position_fee_usd),
                     "borrowing_fee_usd": str(borrowing[0]), "borrowing_fee_amount": str(borrowing[1]),
                     "funding_fee_amount": str(funding[0]), "total_discount_amount": str(fees[16]),
                     "other_cost_amount": str(total_cost - int(fees[13]) - int(borrowing[1]))},
            "price_impact_usd_reader": str(impact_read),
            "price_impact_usd": str(rules.capped_price_impact(impact_read, int(size_usd), max_impact)),
            "pnl_read": str(base_pnl), "pnl_uncapped_read": str(uncapped_pnl),
            "read_index_price": str(index_price.price), "read_collateral_price": str(collateral_price.price),
            "min_collateral_factor": str(factor), "min_collateral_factor_for_liquidation": str(factor_liq),
            "max_position_impact_factor_for_liquidations": str(max_impact),
            "min_collateral_usd": str(min_collateral_usd), "prices": "reference feeds (min = max)",
        }
        snapshot = PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key, market_address=self.market.address,
            account=f"{_address(account)}:{key_hex}", owner=_address(account) if account else wallet, block=block,
            legs=[index_leg, collateral_leg],
            health=Health(raw=UINT256_MAX, decimals=HEALTH_DECIMALS, health=None, equity=0, requirement=0,
                          collateral=0, debt=0, quote=QUOTE, quote_unit=QUOTE_UNIT),
            margin_mode=MarginMode.ISOLATED, detail=detail)
        return _recompute(snapshot)

    # -- questions about a position ------------------------------------------------------------
    @staticmethod
    def margin_terms() -> tuple[str, ...]:
        """The position leg's ``minCollateralFactorForLiquidation`` (its market's, DataStore
        ``MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION``) and ``MIN_COLLATERAL_USD``: both enter the requirement, and the
        DataStore's controllers change them (``Config.setUint``, contracts/config/Config.sol)."""
        return ("min_collateral_factor_for_liquidation", "min_collateral_usd")

    @staticmethod
    def amount_after(snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """The collateral leg after a deposit of ``change`` collateral-token units: ``leg.amount + change``. A GMX
        deposit is a MarketIncrease order with ``sizeDeltaUsd = 0``, and checked against gmx-synthetics' published
        sources the health after it is exactly the health of this leg with the pending fees of the read kept:

        - contracts/position/IncreasePositionUtils.sol ``increasePosition`` first brings the market's funding and
          borrowing state up to date (``updateFundingAndBorrowingState``), as the Reader does for its figures.
          ``getExecutionPrice`` returns no price impact and no size in tokens when ``sizeDeltaUsd`` is 0, so size,
          size in tokens, open interest and the pending impact stay as they are;
        - ``processCollateral`` takes ``fees.totalCostAmount`` off the deposit. contracts/pricing/
          PositionPricingUtils.sol ``getPositionFees`` works the position fee (and the UI fee, and any referral
          discount on them) out from ``sizeDeltaUsd``, so here it is 0; what is left is the pending borrowing fee
          (``getBorrowingFees`` over the collateral's min price, floored, as the Reader converts it) and the
          pending funding fee. The position's collateral becomes ``C + x − B − F``. Its borrowing factor and
          funding amounts per size are then reset to the current ones, so nothing is pending any more;
        - contracts/position/PositionUtils.sol ``isPositionLiquidatable`` takes ``collateral × min price + PnL +
          capped close impact − totalCostAmount × min price``, where the fees are those of closing the full
          size. Before the deposit that cost is ``P + B + F`` (P the close's position fee, which depends only on
          the size). After it, it is ``P``. The remaining collateral is therefore ``(C + x − B − F)·p + PnL +
          impact − P·p = remaining + x·p``, to the unit. This is the health the local math gives the leg at
          ``C + x`` with ``B`` and ``F`` still counted (``_position``).

        None: another leg, a change that is not a deposit, or a PnL the Reader capped by
        MAX_PNL_FACTOR_FOR_TRADERS (``pnl_read`` differs from ``pnl_uncapped_read``). In that last case the fee
        share the deposit puts into the pool raises the cap, so the health comes out a little higher than
        computed, and the generic answer is used.

        GMX can refuse the order even where the health figure is exact. After the increase, ``validatePosition``
        checks the position against the market's MIN_COLLATERAL_FACTOR (the published ``isPositionLiquidatable``
        reads ``getMinCollateralFactor``; the liquidation check here uses MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION)
        and against MIN_POSITION_SIZE_USD. It also reverts with InsufficientCollateralAmount when ``C + x`` is
        below the fees it settles. So a deposit that leaves the position under the opening factor (the same
        remaining collateral against ``max(MIN_COLLATERAL_USD, size × MIN_COLLATERAL_FACTOR)``, ``rules.verdict``)
        is refused here (None), and the deposit offered is the smallest one GMX takes that reaches the target:
        where the opening factor is above ``target ×`` the liquidation factor, that is the opening factor's. Not
        modelled: MIN_POSITION_SIZE_USD and InsufficientCollateralAmount. The fees keep accruing until a keeper
        executes the order, as interest does elsewhere."""
        if leg.role is not Role.COLLATERAL or change <= 0:
            return None
        d = snapshot.detail
        if d.get("pnl_read") != d.get("pnl_uncapped_read") or "min_collateral_factor" not in d:
            return None
        after = leg.amount + change
        position, index_leg, collateral_leg = _position(dataclasses.replace(
            snapshot, legs=[dataclasses.replace(g, amount=after) if g is leg else g for g in snapshot.legs]))
        opening = position._replace(min_collateral_factor=int(d["min_collateral_factor"]))
        pnl = _pnl(snapshot, position, index_leg.price)
        if rules.verdict(opening, index_leg.price, collateral_leg.price, pnl).liquidatable:
            return None  # validatePosition would cancel the order: under the opening factor after it
        return after

    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        return {leg.price_key for leg in snapshot.legs}

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        legs = [_at(leg, prices[leg.price_key]) if leg.price_key in prices else leg for leg in snapshot.legs]
        return _recompute(dataclasses.replace(snapshot, legs=legs, detail=dict(snapshot.detail)))

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        return self.reprice(snapshot, prices).health

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        return _healthy_at(snapshot, key)

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        """Per token price, the last price at which the position is not liquidatable, the other held: a long's
        index falls into liquidation, a short's rises; a collateral falls; a same-token collateral moves with
        the index (the direction is the sign of the remaining collateral's slope in that price)."""
        wanted = self.price_dependencies(snapshot) if keys is None else self.price_dependencies(snapshot) & set(keys)
        return _liquidation_points(snapshot, wanted)

    def price_from_feed(self, reading: FeedReading) -> tuple[PriceKey, int] | None:
        """The reference price GMX's ChainlinkPriceFeedUtils takes from a feed reading: ``answer × multiplier /
        1e30`` for the token whose feed it is (known once a read has seen it); None for an answer ≤ 0."""
        known = getattr(self, "_feeds", {}).get(reading.address) or _FEED_TOKENS.get(
            (self.market.chain, self.market.key, reading.address))
        if known is None or reading.answer is None:
            return None
        price = rules.feed_price(reading.answer, known[1])
        return None if price is None else (known[0], price)


def _healthy_at(snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
    position, index_leg, collateral_leg = _position(snapshot)

    def healthy(price: int) -> bool:
        index_price = price if index_leg.price_key == key else index_leg.price
        collateral_price = price if collateral_leg.price_key == key else collateral_leg.price
        pnl = _pnl(snapshot, position, index_price)
        return not rules.verdict(position, index_price, collateral_price, pnl).liquidatable

    return healthy


def _liquidation_points(snapshot: PositionSnapshot, wanted: Iterable[PriceKey]) -> dict[PriceKey, LiquidationPoint]:
    position, index_leg, collateral_leg = _position(snapshot)
    requirement = max(rules.apply_factor(position.size_in_usd, position.min_collateral_factor),
                      position.min_collateral_usd, 1)
    points: dict[PriceKey, LiquidationPoint] = {}
    for key in sorted(wanted):
        slope = 0  # d(remaining collateral) / d(price of key)
        if index_leg.price_key == key:
            slope += position.size_in_tokens if position.is_long else -position.size_in_tokens
        if collateral_leg.price_key == key:
            slope += position.collateral_amount - rules.total_cost_amount(position, collateral_leg.price)
        if slope == 0:
            continue
        here = index_leg.price if index_leg.price_key == key else collateral_leg.price
        remaining = rules.remaining_collateral_usd(position, index_leg.price, collateral_leg.price)
        estimate = Fraction(requirement - (remaining - slope * here), slope)
        price = crossing_price(_healthy_at(snapshot, key), estimate, falling=slope > 0)
        if price is not None:
            points[key] = LiquidationPoint(price, falling=slope > 0)
    return points


def _position(snapshot: PositionSnapshot) -> tuple[rules.Position, Leg, Leg]:
    """The position's figures. The collateral amount is the collateral leg's (equal to ``detail["collateral_amount"]``
    as read; a what-if deposit changes the leg, and the health follows it); the margin parameters come from the
    position leg's terms (where a margin change puts the old ones to recompute the health before it), else from
    ``detail`` (snapshots stored before the legs had them); the rest (size, fees, impact) from ``detail``.

    A deposit moves the health by exactly its value: see ``GmxV2Adapter.amount_after`` for why keeping the pending
    fees in ``detail`` while the collateral grows gives the remaining collateral GMX would have after it."""
    d = snapshot.detail
    index_leg = next(leg for leg in snapshot.legs if leg.role in (Role.LONG, Role.SHORT))
    collateral_leg = next(leg for leg in snapshot.legs if leg.role is Role.COLLATERAL)
    factor = index_leg.terms.get("min_collateral_factor_for_liquidation",
                                 int(d["min_collateral_factor_for_liquidation"]))
    min_usd = index_leg.terms.get("min_collateral_usd", int(d["min_collateral_usd"]))
    position = rules.Position(
        is_long=bool(d["is_long"]), size_in_usd=int(d["size_in_usd"]), size_in_tokens=int(d["size_in_tokens"]),
        collateral_amount=collateral_leg.amount, position_fee_usd=int(d["fees"]["position_fee_usd"]),
        borrowing_fee_usd=int(d["fees"]["borrowing_fee_usd"]), other_cost_amount=int(d["fees"]["other_cost_amount"]),
        price_impact_usd=int(d["price_impact_usd"]),
        min_collateral_factor=int(factor), min_collateral_usd=int(min_usd))
    return position, index_leg, collateral_leg


def _pnl(snapshot: PositionSnapshot, position: rules.Position, index_price: int) -> int:
    """The Reader's (capped) PnL at the index price it was read at; GMX's uncapped formula at any other."""
    if str(index_price) == snapshot.detail.get("read_index_price"):
        return int(snapshot.detail["pnl_read"])
    return rules.position_pnl_usd(position.is_long, position.size_in_usd, position.size_in_tokens, index_price)


def _at(leg: Leg, price: int) -> Leg:
    return dataclasses.replace(leg, price=price, value=leg.amount * price)


def _recompute(snapshot: PositionSnapshot) -> PositionSnapshot:
    """Health, the liquidation verdict and the per-leg terms from the legs' prices, the collateral leg's amount and
    ``detail``."""
    position, index_leg, collateral_leg = _position(snapshot)
    collateral_leg = _at(collateral_leg, collateral_leg.price)  # its value, should a what-if have changed the amount
    pnl = _pnl(snapshot, position, index_leg.price)
    v = rules.verdict(position, index_leg.price, collateral_leg.price, pnl)
    requirement = max(v.min_collateral_usd_for_leverage, v.min_collateral_usd)
    raw = rules.health_raw(v.remaining_collateral_usd, requirement)
    if raw is None:  # no requirement at all: only remaining <= 0 liquidates
        raw = 0 if v.liquidatable else UINT256_MAX
        health = scaled(0, HEALTH_DECIMALS) if v.liquidatable else None
    else:
        health = scaled(raw, HEALTH_DECIMALS)
        raw = max(raw, 0)
    collateral_usd = collateral_leg.value
    leverage = position.size_in_usd * LEVERAGE_UNIT // collateral_usd if collateral_usd else 0
    snapshot.legs = [dataclasses.replace(index_leg, terms={**index_leg.terms, "unrealized_pnl": pnl,
                                                           "leverage": leverage}), collateral_leg]
    point = _liquidation_points(snapshot, [index_leg.price_key]).get(index_leg.price_key)
    snapshot.legs[0].terms["liquidation_px"] = point.price if point else 0
    snapshot.health = dataclasses.replace(
        snapshot.health, raw=raw, health=health, equity=v.remaining_collateral_usd, requirement=requirement,
        collateral=collateral_usd, debt=index_leg.value)
    snapshot.detail.update({
        "pnl_usd": str(pnl), "remaining_collateral_usd": str(v.remaining_collateral_usd),
        "min_collateral_usd_for_leverage": str(v.min_collateral_usd_for_leverage),
        "liquidatable": v.liquidatable, "reason": v.reason, "leverage_bps": leverage})
    return snapshot
