"""Hyperliquid perps, over the venue's HTTP API: one configured market is one perp dex (``""`` the main dex,
or a builder-deployed dex by name) and every tracked account's clearinghouse on it.

One read is two rounds of ``POST /info``: ``meta`` for the dex (each asset's ``szDecimals`` and margin table;
later reads take it from the hint and ask again after ``META_SECONDS``, or at once when an unknown coin shows
up), then ``clearinghouseState`` for every account. Weights are the venue's published ones (2 for
``clearinghouseState``, 20 for ``meta``); the venue session paces them.

A wallet's snapshots: its **cross** margin account (account id = the wallet): one leg per cross position (long
or short, size in the asset's lot units, the mark the venue valued it at — ``positionValue / |szi|``, exact —
with the venue's time as its provenance), equity the cross ``accountValue`` and requirement
``crossMaintenanceMarginUsed`` as the venue reports them (health ``= accountValue / crossMaintenanceMarginUsed``;
the raw figure is that ratio in WAD, floored). Each **isolated** position is an account of its own
(``0xWallet:COIN``, owned by the wallet, margin mode isolated): equity its own rawUsd + size × mark (the venue's
``marginUsed``), requirement its maintenance recomputed from the margin tiers (the venue prints none for it).
Liquidation points are recomputed from the documented margin rules (``rules``): per coin, the last mark at
which equity still covers maintenance, others held fixed.

Dynamic margin: each position leg carries, as terms, the margin tiers its maintenance rests on — tier 0's
``max_leverage_0``, and for each higher tier its notional has reached ``max_leverage_<n>`` and ``tier_bound_<n>``
(micro-USD), plus the bound of the first tier not reached (lowering it can pull the position in). A change of one
between two polls is stored and alerted on (``margin_terms``, ``indexer.risk.margin``); the health before it is
recomputed with the old tiers. Not seen: a tier added to or removed from a table (its terms are new, or gone,
rather than changed).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

from pydantic import BaseModel

from indexer.health.liquidation import crossing_price
from indexer.oracles.reading import FeedReading
from indexer.protocols.base import MarginAsset, MarketRead, MarketRef, VenuePlan, VenueRequest
from indexer.protocols.hyperliquid import rules
from indexer.protocols.hyperliquid.options import HyperliquidOptions
from indexer.protocols.hyperliquid.rules import PerpPosition, Tier, VenueDataError
from indexer.types import (
    LEVERAGE_SCALE,
    UINT256_MAX,
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
WAD = 10**HEALTH_DECIMALS
QUOTE, QUOTE_UNIT = "USDC", 10**rules.USD_DECIMALS
# request weights, from the venue's "Rate limits" page
WEIGHT_CLEARINGHOUSE = 2
WEIGHT_META = 20
NO_BLOCK = BlockRef(number=0, hash="", timestamp=0)  # the venue pipeline stamps the real one
DEX_LIST_SECONDS = 600.0  # how long a `perpDexs` answer is used before it is asked again
META_SECONDS = 60.0  # how long a dex's `meta` is used before it is asked again (margin tables can change)


@dataclass
class VenueHint:
    """What a read leaves for the next: each dex's assets (asked again after ``META_SECONDS``, or when an unknown
    coin shows up) and the dex list (asked again after ``DEX_LIST_SECONDS``)."""

    assets: dict[str, dict[str, Asset]] = field(default_factory=dict)
    assets_until: dict[str, float] = field(default_factory=dict)
    dexes: list[str] | None = None
    dexes_until: float = 0.0

    def learned(self, dexes: Sequence[str], metas: Sequence[Any]) -> None:
        until = time.monotonic() + META_SECONDS
        for dex, meta in zip(dexes, metas, strict=True):
            self.assets[dex] = universe(meta)
            self.assets_until[dex] = until


class Asset:
    __slots__ = ("name", "sz_decimals", "tiers")

    def __init__(self, name: str, sz_decimals: int, tiers: tuple[Tier, ...]) -> None:
        self.name, self.sz_decimals, self.tiers = name, sz_decimals, tiers


def universe(meta: Any) -> dict[str, Asset]:
    """The dex's assets by coin name, each with its lot decimals and margin tiers."""
    if not isinstance(meta, Mapping) or not isinstance(meta.get("universe"), list):
        raise VenueDataError(f"the venue's meta has no universe: {str(meta)[:120]}")
    try:
        return _universe(meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise VenueDataError(f"the venue's meta does not fit the documented shape ({type(exc).__name__}: "
                             f"{exc})") from None


def _universe(meta: Mapping[str, Any]) -> dict[str, Asset]:
    tables = rules.margin_tables(meta)
    assets = {}
    for entry in meta.get("universe") or []:
        table_id = int(entry.get("marginTableId", entry.get("maxLeverage", 0)))
        sz = int(entry["szDecimals"])
        if not 0 <= sz <= rules.PERP_PRICE_DECIMALS:
            raise VenueDataError(f"asset {entry.get('name')!r}: szDecimals {sz} out of range")
        assets[str(entry["name"])] = Asset(str(entry["name"]), sz, rules.tiers_of(table_id, tables))
    return assets


class HyperliquidAdapter:
    kind: ClassVar[str] = "hyperliquid"
    transport: ClassVar[str] = "venue"
    options: ClassVar[type[BaseModel] | None] = HyperliquidOptions
    devnet: ClassVar[str | None] = None

    def __init__(self, market: MarketRef) -> None:
        self.market = market
        self.dex = str(market.options.get("dex", ""))  # "*": every perp dex `perpDexs` lists

    def discovery(self) -> None:
        return None  # the venue has no public log of who trades

    # -- reading ----------------------------------------------------------------------------------
    def fetch(self, accounts: Sequence[Address], hint: object | None = None) -> VenuePlan[MarketRead]:
        known = hint if isinstance(hint, VenueHint) else VenueHint()
        if self.dex != "*":
            dexes = [self.dex]
        elif known.dexes is not None and time.monotonic() < known.dexes_until:
            dexes = known.dexes
        else:
            (listed,) = yield [VenueRequest({"type": "perpDexs"}, WEIGHT_META)]
            dexes = known.dexes = perp_dexes(listed)
            known.dexes_until = time.monotonic() + DEX_LIST_SECONDS
        now = time.monotonic()
        missing = [d for d in dexes if d not in known.assets or now >= known.assets_until.get(d, 0.0)]
        if missing:
            metas = yield [VenueRequest({"type": "meta", "dex": d}, WEIGHT_META) for d in missing]
            known.learned(missing, metas)
        pairs = [(d, a) for d in dexes for a in accounts]
        states = yield [VenueRequest({"type": "clearinghouseState", "user": a, "dex": d}, WEIGHT_CLEARINGHOUSE)
                        for d, a in pairs]  # fmt: skip
        unknown: set[str] = set()
        for (dex, _), state in zip(pairs, states, strict=True):
            try:
                coins = {str(p["position"]["coin"]) for p in (state or {}).get("assetPositions") or []}
            except (KeyError, TypeError, AttributeError):
                raise VenueDataError(f"dex {dex!r}: a clearinghouseState answer has no "
                                     "assetPositions[].position.coin") from None
            if not coins <= set(known.assets[dex]):
                unknown.add(dex)
        if unknown:  # a new listing: that dex's meta again
            stale = sorted(unknown)
            metas = yield [VenueRequest({"type": "meta", "dex": d}, WEIGHT_META) for d in stale]
            known.learned(stale, metas)
        snapshots: list[PositionSnapshot] = []
        unpriced: list[Address] = []
        for (dex, account), state in zip(pairs, states, strict=True):
            if not state:
                continue
            held = {str(p["position"]["coin"]) for p in state.get("assetPositions") or []}
            if missing := sorted(held - set(known.assets[dex])):
                # even the meta asked again lists no such coin: this wallet cannot be valued now; its stored
                # accounts keep their last figures (marked stale by the pipeline), the other wallets go on
                log.warning("hyperliquid coin missing from meta market=%s dex=%r wallet=%s coins=%s", self.market.key,
                            dex, account, ",".join(missing))
                unpriced.append(account)
                continue
            try:
                snapshots += self.snapshots(account, state, known.assets[dex], dex=dex)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise VenueDataError(f"dex {dex!r}: the clearinghouseState of {account} does not fit the "
                                     f"documented shape ({type(exc).__name__}: {exc})") from None
        return MarketRead(snapshots, unpriced=unpriced, hint=known)

    def snapshots(self, owner: Address, state: Mapping[str, Any], assets: Mapping[str, Asset], *,
                  dex: str = "") -> list[PositionSnapshot]:  # fmt: skip
        """From one ``clearinghouseState`` of ``dex``: the wallet's cross margin account there (account id = the
        wallet on the main dex, ``0xWallet:DEX`` on a builder dex; left out when it holds nothing) and each
        isolated position as an account of its own (``0xWallet:COIN``; a builder dex's coins are ``DEX:COIN``)."""
        time_ms = int(state["time"])
        cross = state["crossMarginSummary"]
        value = rules.units(cross["accountValue"], rules.USD_DECIMALS, what="crossMarginSummary.accountValue")
        cash = rules.units(cross["totalRawUsd"], rules.USD_DECIMALS, what="crossMarginSummary.totalRawUsd")
        maint = rules.units(state["crossMaintenanceMarginUsed"], rules.USD_DECIMALS, what="crossMaintenanceMarginUsed")
        legs: list[Leg] = []
        isolated: list[PositionSnapshot] = []
        for entry in state.get("assetPositions") or []:
            p = entry["position"]
            coin = str(p["coin"])
            asset = assets[coin]
            size = rules.units(p["szi"], asset.sz_decimals, what=f"{coin} szi")
            if size == 0:
                continue
            value_abs = rules.units(p["positionValue"], rules.USD_DECIMALS, what=f"{coin} positionValue")
            mark, rest = divmod(value_abs, abs(size))
            if rest:
                raise VenueDataError(f"{coin}: positionValue {p['positionValue']} is not size {p['szi']} × a mark "
                                     f"with {rules.PERP_PRICE_DECIMALS - asset.sz_decimals} decimals")
            leverage = p.get("leverage") or {}
            position = PerpPosition(coin, size, asset.sz_decimals, mark, asset.tiers,
                                    rules.units(leverage.get("rawUsd", "0"), rules.USD_DECIMALS, what=f"{coin} rawUsd"))
            leg = Leg(
                asset=coin, symbol=coin, decimals=asset.sz_decimals, role=Role.LONG if size > 0 else Role.SHORT,
                amount=abs(size), price=mark, price_decimals=position.price_decimals, price_key=_key(dex, coin),
                value=value_abs, price_time=time_ms // 1000,
                terms={
                    "entry_px": rules.units(p.get("entryPx") or "0", position.price_decimals, what=f"{coin} entryPx"),
                    "leverage": int(leverage.get("value", 0)) * LEVERAGE_SCALE,
                    "unrealized_pnl": rules.units(p.get("unrealizedPnl") or "0", rules.USD_DECIMALS,
                                                  what=f"{coin} unrealizedPnl"),
                    "funding_since_open": rules.units((p.get("cumFunding") or {}).get("sinceOpen", "0"),
                                                      rules.USD_DECIMALS, what=f"{coin} cumFunding"),
                    "liquidation_px": _venue_liquidation(p, position.price_decimals),
                    **_tier_terms(position),
                },
            )  # fmt: skip
            if leverage.get("type") == "isolated":
                isolated.append(self._isolated(owner, position, leg, p, time_ms, dex))
            else:
                legs.append(leg)
        found = []
        if legs or value != 0:
            detail = {"dex": dex, "venue_time_ms": time_ms, "cash": cash, "tiers": _tiers(legs, assets),
                      "withdrawable": str(state.get("withdrawable", ""))}  # fmt: skip
            found.append(PositionSnapshot(
                chain=self.market.chain, protocol=self.kind, market=self.market.key,
                market_address=self.market.address, account=f"{owner}:{dex}" if dex else owner, owner=owner,
                block=NO_BLOCK, legs=legs,
                health=_health(value, maint, legs), margin_mode=MarginMode.CROSS, detail=detail,
            ))  # fmt: skip
        return found + isolated

    def _isolated(self, owner: Address, position: PerpPosition, leg: Leg, p: Mapping[str, Any], time_ms: int,
                  dex: str) -> PositionSnapshot:  # fmt: skip
        """An isolated position as an account of its own: its equity is its own rawUsd + size × mark (what the
        venue prints as its ``marginUsed``), its requirement its maintenance (the venue prints none for it:
        recomputed exactly from the margin tiers)."""
        account = f"{owner}:{_coin(dex, position.coin)}"
        own_equity = rules.equity(position.raw_usd, [position])
        own_maint = position.maintenance()
        detail = {"dex": dex, "venue_time_ms": time_ms, "cash": position.raw_usd,
                  "tiers": {position.coin: [[t.lower_bound, t.max_leverage] for t in position.tiers]},
                  "margin_used": rules.units(p.get("marginUsed") or "0", rules.USD_DECIMALS, what="marginUsed"),
                  "venue_liquidation_px": p.get("liquidationPx")}  # fmt: skip
        return PositionSnapshot(
            chain=self.market.chain, protocol=self.kind, market=self.market.key, market_address=self.market.address,
            account=account, owner=owner, block=NO_BLOCK, legs=[leg],
            health=_health(own_equity, _ceil(own_maint), [leg], exact_requirement=own_maint),
            margin_mode=MarginMode.ISOLATED, detail=detail,
        )  # fmt: skip

    # -- what-ifs ---------------------------------------------------------------------------------
    @staticmethod
    def margin_terms() -> tuple[str, ...]:
        """The margin tier parameters a leg carries (``_tier_terms``): the venue changes an asset's margin table
        or max leverage in its ``meta``."""
        return TIER_TERMS

    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        return {leg.price_key for leg in snapshot.legs}

    def _positions(self, snapshot: PositionSnapshot) -> tuple[int, list[PerpPosition]]:
        tiers = snapshot.detail.get("tiers", {})
        positions = [PerpPosition(leg.asset, leg.amount if leg.role == Role.LONG else -leg.amount, leg.decimals,
                                  leg.price, _leg_tiers(leg, tiers[leg.asset]))
                     for leg in snapshot.legs]  # fmt: skip
        return int(snapshot.detail.get("cash", 0)), positions

    def _marks(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> dict[str, int]:
        return {leg.asset: prices[leg.price_key] for leg in snapshot.legs if leg.price_key in prices}

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        cash, positions = self._positions(snapshot)
        marks = self._marks(snapshot, prices)
        value = rules.equity(cash, positions, marks)
        maint = rules.requirement(positions, marks)
        legs = [_revalued(leg, marks.get(leg.asset, leg.price)) for leg in snapshot.legs]
        return _health(value, _ceil(maint), legs, exact_requirement=maint)

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        marks = self._marks(snapshot, prices)
        legs = [_revalued(leg, marks.get(leg.asset, leg.price)) for leg in snapshot.legs]
        return PositionSnapshot(
            chain=snapshot.chain, protocol=snapshot.protocol, market=snapshot.market,
            market_address=snapshot.market_address, account=snapshot.account, block=snapshot.block, legs=legs,
            health=self.health_at(snapshot, prices), margin_mode=snapshot.margin_mode,
            price_status=snapshot.price_status, detail=dict(snapshot.detail),
        )  # fmt: skip

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        cash, positions = self._positions(snapshot)
        coin = next(leg.asset for leg in snapshot.legs if leg.price_key == key)
        return lambda mark: rules.healthy(cash, positions, {coin: mark})

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        cash, positions = self._positions(snapshot)
        wanted = set(keys) if keys is not None else self.price_dependencies(snapshot)
        points: dict[PriceKey, LiquidationPoint] = {}
        for leg, position in zip(snapshot.legs, positions, strict=True):
            if leg.price_key not in wanted:
                continue
            falling = position.size > 0
            price = crossing_price(self.healthy_at(snapshot, leg.price_key),
                                   rules.estimate_crossing(cash, positions, position.coin), falling=falling)
            if price is not None:
                points[leg.price_key] = LiquidationPoint(price, falling)
        return points

    @staticmethod
    def price_from_feed(reading: FeedReading) -> tuple[PriceKey, int] | None:
        return None  # marks come from the venue, not from feeds

    # -- margin deposits (``MarginDeposit``) --------------------------------------------------------
    # The unit is the micro-USDC (``rules.USD_DECIMALS``) the cash and equity above are parsed into: the venue's
    # USDC strings (accountValue, totalRawUsd, rawUsd) have 6 decimals, and its exchange endpoint's
    # ``updateIsolatedMargin`` takes ``ntli``, an integer of USDC × 10**6.
    @staticmethod
    def margin_asset(snapshot: PositionSnapshot) -> MarginAsset:
        return MarginAsset(asset=QUOTE, symbol=QUOTE, decimals=rules.USD_DECIMALS)

    def with_margin(self, snapshot: PositionSnapshot, amount: int) -> PositionSnapshot:
        """The position once ``amount`` micro-USDC are added to its margin. A cross account: a transfer into it (a
        deposit, or ``usdClassTransfer`` from spot) raises its cash (totalRawUsd), hence its accountValue, by the
        amount; maintenance rests on the positions and marks only ("Margin tiers"), so the venue's
        crossMaintenanceMarginUsed stays as it is, and the health is the one the next read stores (accountValue /
        crossMaintenanceMarginUsed). An isolated position: ``updateIsolatedMargin`` adds the amount to its rawUsd
        (the venue's "Margining" page: margin can be added to an isolated position), which its equity counts
        (rawUsd + size × mark, over maintenance recomputed from the tiers, as a read does). The isolated margin
        comes out of the wallet's cross account, whose health that lowers."""
        detail = {**snapshot.detail, "cash": int(snapshot.detail.get("cash", 0)) + amount}
        after = dataclasses.replace(snapshot, detail=detail)
        if snapshot.margin_mode is MarginMode.ISOLATED:
            after.health = self.health_at(after, {})
        else:
            after.health = _health(snapshot.health.equity + amount, snapshot.health.requirement, snapshot.legs)
        return after


def _coin(dex: str, coin: str) -> str:
    """A coin's name across dexes: a builder dex's meta already says ``DEX:COIN``; else it gets the prefix."""
    return coin if not dex or coin.startswith(f"{dex}:") else f"{dex}:{coin}"


def _key(dex: str, coin: str) -> PriceKey:
    return f"hyperliquid:{_coin(dex, coin)}"


def perp_dexes(listed: Any) -> list[str]:
    """``perpDexs``: ``[null, {"name": …}, …]``, the first (null) being the main dex: ``["", "xyz", …]``."""
    if not isinstance(listed, list):
        raise VenueDataError(f"perpDexs answered {str(listed)[:80]!r}, not a list")
    try:
        return ["" if d is None else str(d["name"]) for d in listed] or [""]
    except (KeyError, TypeError):
        raise VenueDataError("perpDexs: an entry has no name") from None


def _venue_liquidation(p: Mapping[str, Any], places: int) -> int:
    """The venue's ``liquidationPx`` (printed at any precision) truncated to the mark's places; 0 when the venue
    gives none, as it often does in cross margin."""
    raw = p.get("liquidationPx")
    if raw in (None, ""):
        return 0
    return int(rules.exact(raw, what="liquidationPx") * 10**places)


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)


MARGIN_TIERS = 8  # tiers per margin table whose parameters a leg can carry (the venue's tables have a few)
TIER_TERMS = ("max_leverage_0", *(f"{name}_{n}" for n in range(1, MARGIN_TIERS)
                                  for name in ("max_leverage", "tier_bound")))


def _tier_terms(position: PerpPosition) -> dict[str, int]:
    """The tiers ``rules.maintenance`` takes for this position's notional — tier 0 and every tier whose lower bound
    it has reached (each sets the rate and adds to the deduction) — and the lower bound of the first tier it has
    not reached."""
    notional = abs(position.notional())
    terms: dict[str, int] = {}
    for n, tier in enumerate(position.tiers[:MARGIN_TIERS]):
        if n:
            terms[f"tier_bound_{n}"] = tier.lower_bound
            if notional < tier.lower_bound:
                break
        terms[f"max_leverage_{n}"] = tier.max_leverage
    return terms


def _leg_tiers(leg: Leg, stored: Sequence[Sequence[int]]) -> tuple[Tier, ...]:
    """The margin tiers of ``leg``'s asset as ``detail`` stored them, with any tier parameter the leg carries in its
    terms taking precedence (the same values after a read; the old ones when a margin change recomputes the health
    before it)."""
    tiers = []
    for n, (bound, leverage) in enumerate(stored):
        tiers.append(Tier(leg.terms.get(f"tier_bound_{n}", bound) if n else bound,
                          leg.terms.get(f"max_leverage_{n}", leverage)))
    return tuple(tiers)


def _tiers(legs: Sequence[Leg], assets: Mapping[str, Asset]) -> dict[str, list[list[int]]]:
    return {leg.asset: [[t.lower_bound, t.max_leverage] for t in assets[leg.asset].tiers] for leg in legs}


def _revalued(leg: Leg, mark: int) -> Leg:
    if mark == leg.price:
        return leg
    return Leg(asset=leg.asset, symbol=leg.symbol, decimals=leg.decimals, role=leg.role, amount=leg.amount,
               price=mark, price_decimals=leg.price_decimals, price_key=leg.price_key, value=leg.amount * mark,
               feed=leg.feed, round_id=leg.round_id, price_time=leg.price_time, terms=leg.terms)  # fmt: skip


def _health(value: int, requirement: int, legs: Sequence[Leg], *, exact_requirement: Fraction | None = None) -> Health:
    """Margin health: equity (the cross account value) over the maintenance requirement, both micro-USD; the
    raw figure is the ratio in WAD, floored (0 when equity is negative; 2**256-1 without a requirement). The
    venue's figures are its own sums; a recomputation passes the exact maintenance (``exact_requirement``).
    ``collateral`` is the account value, ``debt`` the open notional (what is exposed)."""
    exposure = sum(leg.value for leg in legs)
    basis = Fraction(requirement) if exact_requirement is None else exact_requirement
    if basis <= 0:
        raw, health = UINT256_MAX, None
    else:
        ratio = Fraction(value) / basis
        floored = ratio.numerator * WAD // ratio.denominator
        raw, health = max(floored, 0), scaled(floored, HEALTH_DECIMALS)
    return Health(raw=raw, decimals=HEALTH_DECIMALS, health=health, equity=value, requirement=requirement,
                  collateral=max(value, 0), debt=exposure, quote=QUOTE, quote_unit=QUOTE_UNIT)  # fmt: skip
