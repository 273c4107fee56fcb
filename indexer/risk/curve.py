"""Liquidation curves: how much of one market's collateral becomes liquidatable as one asset's price falls, and
the cascade that follows when the seized collateral is sold into a thin market.

A *curve* is per market and collateral symbol. For each step ``s`` of ``0, −step, … , lowest``
(``[risk.curve]``) the symbol's price moves by ``s`` — its whole risk group (ETH moves WETH, wstETH … with it),
or the symbol alone when its group is also the market's quote currency (a wstETH/WETH market: moving ETH would
move nothing, so the curve is a depeg of wstETH) — and every position holding the symbol as collateral (or, on a
perp venue, long) is recomputed with its protocol's ``health_at``. Each point reports the positions under 1 at
that price and what their liquidation repays and seizes, cumulative (everything liquidatable at that price) and
incremental (against the previous step).

What a liquidation takes depends on the protocol (``LiquidationModel``):

- ``one_call``: the protocol's own recompute (``reprice``) says what ONE liquidation call repays and seizes
  (Aave v3's ``detail.liquidation``: the close factor's share of the largest debt against the largest
  collateral). It is not the whole position: further calls may follow while the position stays under 1.
  Collateral of the curve's symbol is counted only when that call seizes it (a call seizing another collateral
  counts its repayment and seizes none of this symbol). The repayment is ``max_debt_to_cover``, the most the
  call may repay: when the seizure is capped at the collateral balance the protocol repays less.
- ``whole_position``: everything is taken, all the debt repaid and all the symbol's collateral seized. Exact for
  Compound v3 (``absorb``), Liquity (a trove) and Maker (a vault, within the Dog's limits); an upper bound for
  Morpho Blue and Euler v2 (a liquidator chooses how much, up to all) and Aave v2 (half a debt per call).
- ``position_closed``: a perp long closed whole, its size sold; nothing is repaid. An upper bound on venues that
  close large positions in parts.
- ``no_call``: under 1, but the protocol's recompute says no call is possible at those prices (an Aave oracle
  at zero reverts): counted as liquidatable, nothing seized or repaid.

A *cascade* sells the seized collateral into a linear market-impact model: selling ``V`` (USD) moves the price
down by ``V / depth`` percent, ``depth`` the configured USD per 1 % move (``[risk.curve.depth]``, by symbol,
then group). Starting from a move ``s0``, each round finds the positions liquidatable at the current move that
have not fallen yet; each new one's seizure is valued at the price of the round it falls in (what its liquidator
gets, and sells) and added to ``V``; the next move is ``s0 − V / (100 · depth)``. ``V`` only grows (a fallen
position's contribution is fixed, never negative, and positions never un-fall), so the move only deepens; every
round but the last takes at least one new position, and the positions are finite: after at most ``n + 1``
rounds (``n`` holders) a round takes none, and that move is the fixed point — every position liquidatable there
has fallen. A defensive cap (``MAX_ROUNDS``) stops a pathological run and says so (``converged`` false).

Values are exact (fractions of the integer legs) until output; nothing here reads the chain.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from indexer.errors import PermanentError
from indexer.health.nearest import stored_snapshots
from indexer.protocols.base import PositionRules
from indexer.protocols.registry import rules_for
from indexer.risk.moves import Moves, group_index, moved_prices
from indexer.store.position_store import list_positions
from indexer.types import Leg, PositionSnapshot, Role, scaled

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from indexer.settings import RiskSettings, Settings

log = logging.getLogger(__name__)

MAX_ROUNDS = 10_000  # defensive: the cascade provably ends within holders + 1 rounds (module docstring)
USD_GROUP = "usd"  # the group whose members are taken at par with USD when sizing a cascade
_PLACES = 18  # a figure that does not terminate in decimals (a cascade's move) is rounded to this many places
_WIDE = Context(prec=200)  # wide enough that uint256 figures keep every digit
_SPEC = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*%?\s*$")


class CurveError(PermanentError):
    """A curve or cascade that cannot be computed as asked (one line for the CLI and a 400 for the API)."""


class LiquidationModel(StrEnum):
    ONE_CALL = "one_call"
    WHOLE_POSITION = "whole_position"
    POSITION_CLOSED = "position_closed"
    NO_CALL = "no_call"


# Protocols whose ``reprice`` records one liquidation call in ``detail["liquidation"]``; under 1 without it,
# no call is possible at those prices.
_ONE_CALL_PROTOCOLS = frozenset({"aave_v3"})

# What a curve point's figures mean, per protocol: the exact figure, or a bound.
MODEL_NOTES: Mapping[str, str] = {
    "aave_v3": "one liquidation call per position: the close factor's share of its largest debt against its largest "
               "collateral (detail.liquidation), not the whole position; later calls may take more",
    "aave_v2": "upper bound: the whole position (Aave v2 repays at most half of a debt per call)",
    "compound_v3": "the whole account: absorb seizes all its collateral and clears all its debt",
    "liquity_v1": "the whole trove: all its collateral and all its debt",
    "liquity_v2": "the whole trove: all its collateral and all its debt",
    "maker": "the whole vault (bark), unless the Dog's hole limits cut it into parts: then an upper bound",
    "morpho_blue": "upper bound: all collateral seized and all debt repaid (a liquidator chooses how much)",
    "euler_v2": "upper bound: all collateral seized and all debt repaid (a liquidator chooses how much)",
    "gmx_v2": "the whole position closed: its size sold, nothing repaid",
    "hyperliquid": "upper bound: the whole position closed (the venue may close a large one in parts)",
    "synthetix_v3": "upper bound: the whole position closed (liquidations are capped per window)",
}
_DEFAULT_NOTE = "upper bound: the whole position taken (all debt repaid, all collateral seized)"


# -- results ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidation:
    """One position's liquidation at one move: the symbol's collateral it gives up (``seized`` token units, and
    their value at that move's price) and the debt it repays, both values in the market's quote currency."""

    account: str
    model: LiquidationModel
    health: Decimal | None
    seized: int
    seized_value: Fraction
    repaid_value: Fraction

    def as_json(self, decimals: int) -> dict[str, Any]:
        return {"account": self.account, "model": str(self.model), "health": _text(self.health),
                "seized": _text(scaled(self.seized, decimals)), "seized_value": _text(_decimal(self.seized_value)),
                "repaid_value": _text(_decimal(self.repaid_value))}


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """Totals over liquidations: positions, the symbol's token units seized, values in the quote currency."""

    positions: int = 0
    seized: int = 0
    seized_value: Fraction = Fraction(0)
    repaid_value: Fraction = Fraction(0)

    @classmethod
    def of(cls, liquidations: Iterable[Liquidation]) -> Figures:
        listed = list(liquidations)
        return cls(positions=len(listed), seized=sum(liq.seized for liq in listed),
                   seized_value=sum((liq.seized_value for liq in listed), Fraction(0)),
                   repaid_value=sum((liq.repaid_value for liq in listed), Fraction(0)))

    def minus(self, other: Figures) -> Figures:
        return Figures(positions=self.positions - other.positions, seized=self.seized - other.seized,
                       seized_value=self.seized_value - other.seized_value,
                       repaid_value=self.repaid_value - other.repaid_value)

    def as_json(self, decimals: int) -> dict[str, Any]:
        return {"positions": self.positions, "seized": _text(scaled(self.seized, decimals)),
                "seized_value": _text(_decimal(self.seized_value)), "repaid_value": _text(_decimal(self.repaid_value))}


@dataclass(frozen=True, slots=True, kw_only=True)
class CurvePoint:
    """One step of a curve. ``price``: the symbol's price at ``move`` in the legs' price units (``price_decimals``
    places of quote per whole token). ``cumulative``: every position under 1 at that price; ``incremental``: that
    minus the previous step (the first step: minus nothing)."""

    move: Fraction
    price: int
    liquidations: tuple[Liquidation, ...]
    cumulative: Figures
    incremental: Figures
    new_accounts: tuple[str, ...]  # under 1 here and not at the previous step

    @property
    def models(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for liq in self.liquidations:
            counts[str(liq.model)] = counts.get(str(liq.model), 0) + 1
        return counts


@dataclass(frozen=True, slots=True, kw_only=True)
class Depth:
    """A cascade's market depth: ``per_percent`` of ``unit`` sold moves the price 1 % (configured as ``key``)."""

    key: str
    per_percent: Fraction
    unit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CascadeRound:
    """Round ``number`` of a cascade: at ``move`` (price ``price``) the positions of ``fallen`` go under 1 for the
    first time; ``volume`` is their seizures' value at that price, in the depth's unit."""

    number: int
    move: Fraction
    price: int
    fallen: tuple[Liquidation, ...]
    volume: Fraction


@dataclass(frozen=True, slots=True, kw_only=True)
class Cascade:
    """A cascade from ``start``: its rounds and where it stops (``end``, the fixed point when ``converged``)."""

    start: Fraction
    start_price: int
    end: Fraction
    end_price: int
    depth: Depth
    rounds: tuple[CascadeRound, ...]
    converged: bool
    floored: bool  # the sales pushed the move to −100 % (the price to zero): the linear model ran out

    @property
    def volume_at_start(self) -> Fraction:
        """Seized at the initial move alone (round 0), before any sale moved the price."""
        return self.rounds[0].volume if self.rounds else Fraction(0)

    @property
    def volume(self) -> Fraction:
        return sum((r.volume for r in self.rounds), Fraction(0))

    @property
    def volume_added(self) -> Fraction:
        """What the cascade added to the initial move's liquidations."""
        return self.volume - self.volume_at_start

    def as_json(self, price_decimals: int, decimals: int) -> dict[str, Any]:
        return {
            "start": _text(_decimal(self.start)), "end": _text(_decimal(self.end)),
            "start_price": _text(scaled(self.start_price, price_decimals)),
            "end_price": _text(scaled(self.end_price, price_decimals)),
            "depth": _text(_decimal(self.depth.per_percent)), "depth_key": self.depth.key,
            "volume_unit": self.depth.unit, "volume_at_start": _text(_decimal(self.volume_at_start)),
            "volume_added": _text(_decimal(self.volume_added)), "volume": _text(_decimal(self.volume)),
            "rounds": [{"round": r.number, "move": _text(_decimal(r.move)),
                        "price": _text(scaled(r.price, price_decimals)), "volume": _text(_decimal(r.volume)),
                        "positions": [liq.as_json(decimals) for liq in r.fallen]} for r in self.rounds],
            "converged": self.converged, "floored": self.floored,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetCurve:
    """The curve of one collateral ``symbol`` of a market; ``moved``: the group (or the symbol) the steps move."""

    symbol: str
    moved: str
    quote: str
    decimals: int
    price_decimals: int
    holders: int  # positions holding the symbol as collateral (or long)
    model_note: str
    points: tuple[CurvePoint, ...]
    cascade: Cascade | None = None
    cascade_refused: str | None = None  # why no cascade was run when one was asked (no depth configured …)

    def as_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "moved": self.moved, "quote": self.quote, "holders": self.holders,
            "model_note": self.model_note,
            "points": [{"move": _text(_decimal(p.move)), "price": _text(scaled(p.price, self.price_decimals)),
                        "models": p.models, "cumulative": p.cumulative.as_json(self.decimals),
                        "incremental": {**p.incremental.as_json(self.decimals), "accounts": list(p.new_accounts)}}
                       for p in self.points],
            "cascade": None if self.cascade is None else self.cascade.as_json(self.price_decimals, self.decimals),
            "cascade_refused": self.cascade_refused,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketCurve:
    """Every asked curve of one market."""

    market: str
    protocol: str
    positions: int
    curves: tuple[AssetCurve, ...]

    def as_json(self) -> dict[str, Any]:
        return {"market": self.market, "protocol": self.protocol, "positions": self.positions,
                "curves": [curve.as_json() for curve in self.curves]}


# -- moves ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Groups:
    """The config's risk groups, lower-cased: each symbol's group and each group's name as written."""

    group_of: Mapping[str, str]
    labels: Mapping[str, str]

    @classmethod
    def of(cls, groups: Mapping[str, Iterable[str]]) -> Groups:
        return cls(group_index(groups), {group.lower(): group for group in groups})

    def group(self, symbol: str) -> str | None:
        """The group's name as written, or None."""
        group = self.group_of.get(symbol.lower())
        return None if group is None else self.labels.get(group, group)

    def moved_name(self, symbol: str, quote: str) -> str:
        """What a curve of ``symbol`` moves: its group, unless the market's quote is in the same group (moving
        both would move nothing relative to the quote): then the symbol alone."""
        group = self.group_of.get(symbol.lower())
        if group is None or (quote and self.group_of.get(quote.lower()) == group):
            return symbol
        return self.labels.get(group, group)

    def moves(self, name: str, move: Fraction) -> Moves:
        return Moves(by_name={name.lower(): move}, group_of=self.group_of, labels={name.lower(): name})


def curve_steps(lowest: Decimal, step: Decimal) -> list[Fraction]:
    """``0, −step, −2·step …`` down to ``lowest`` (included, even off the grid), exactly."""
    low, size = Fraction(lowest), Fraction(step)
    if not -1 < low < 0 or size <= 0:
        raise CurveError(f"curve steps: lowest {lowest} must be in (-1, 0) and step {step} above 0")
    steps = []
    move = Fraction(0)
    while move >= low:
        steps.append(move)
        move -= size
    if steps[-1] != low:
        steps.append(low)
    return steps


def parse_move(text: str) -> Fraction:
    """A cascade's initial move as the CLI takes it, in percent (``-10%``, ``-10``, ``-2.5%``): −10 % is −1/10."""
    match = _SPEC.match(text)
    if match is None:
        raise CurveError(f"move {text!r} is not a percentage (e.g. -10%)")
    return Fraction(match.group(1)) / 100


# -- one position -----------------------------------------------------------------------------------------------
def held_legs(snapshot: PositionSnapshot, symbol: str) -> list[Leg]:
    """The legs by which ``snapshot`` holds ``symbol`` as collateral (or long), with something in them."""
    wanted = symbol.lower()
    return [leg for leg in snapshot.legs
            if leg.role in (Role.COLLATERAL, Role.LONG) and leg.amount > 0 and leg.symbol.lower() == wanted]


def _worth(amount: int, leg: Leg, price: int) -> Fraction:
    """``amount`` token units of ``leg``'s asset at ``price`` (its price units), in the quote currency, exactly."""
    return Fraction(amount * price, 10 ** (leg.decimals + leg.price_decimals))


def liquidation_at(rules: PositionRules, snapshot: PositionSnapshot, symbol: str, moves: Moves) -> Liquidation | None:
    """What liquidating ``snapshot`` takes at ``moves`` under its protocol's model; None when it is not under 1."""
    prices = moved_prices(rules, snapshot, moves)
    health = rules.health_at(snapshot, prices) if prices else snapshot.health
    if not health.liquidatable:
        return None
    legs = held_legs(snapshot, symbol)
    call = rules.reprice(snapshot, prices).detail.get("liquidation")
    if isinstance(call, Mapping):
        return _one_call(snapshot, health.health, legs, call, prices)
    if snapshot.protocol in _ONE_CALL_PROTOCOLS:
        return Liquidation(account=snapshot.account, model=LiquidationModel.NO_CALL, health=health.health, seized=0,
                           seized_value=Fraction(0), repaid_value=Fraction(0))
    seized = sum(leg.amount for leg in legs)
    value = sum((_worth(leg.amount, leg, prices.get(leg.price_key, leg.price)) for leg in legs), Fraction(0))
    lending = any(leg.role is Role.DEBT for leg in snapshot.legs)
    return Liquidation(
        account=snapshot.account, health=health.health, seized=seized, seized_value=value,
        model=LiquidationModel.WHOLE_POSITION if lending else LiquidationModel.POSITION_CLOSED,
        repaid_value=Fraction(health.debt, health.quote_unit) if lending else Fraction(0))


def _one_call(snapshot: PositionSnapshot, health: Decimal | None, legs: Sequence[Leg], call: Mapping[str, Any],
              prices: Mapping[str, int]) -> Liquidation:
    """The protocol's one call (``detail.liquidation``): its seizure counts when it takes this symbol."""
    seized, value = 0, Fraction(0)
    taken = str(call["collateral_asset"]).lower()
    for leg in legs:
        if leg.asset.lower() == taken:
            seized = int(call["collateral_seized"])
            value = _worth(seized, leg, prices.get(leg.price_key, leg.price))
            break
    repaid = Fraction(0)
    owed = str(call["debt_asset"]).lower()
    for leg in snapshot.legs:
        if leg.role is Role.DEBT and leg.asset.lower() == owed:
            repaid = _worth(int(call["max_debt_to_cover"]), leg, prices.get(leg.price_key, leg.price))
            break
    return Liquidation(account=snapshot.account, model=LiquidationModel.ONE_CALL, health=health, seized=seized,
                       seized_value=value, repaid_value=repaid)


def liquidations_at(rules: PositionRules, holders: Sequence[PositionSnapshot], symbol: str,
                    moves: Moves) -> list[Liquidation]:
    """Every holder under 1 at ``moves`` and what its liquidation takes, in the holders' order."""
    found = []
    for snapshot in holders:
        liquidation = liquidation_at(rules, snapshot, symbol, moves)
        if liquidation is not None:
            found.append(liquidation)
    return found


# -- curve ------------------------------------------------------------------------------------------------------
def holders_of(snapshots: Iterable[PositionSnapshot], symbol: str) -> list[PositionSnapshot]:
    """The positions holding ``symbol`` as collateral (or long), by account."""
    return sorted((s for s in snapshots if not s.closed and held_legs(s, symbol)), key=lambda s: s.account)


def collateral_symbols(snapshots: Iterable[PositionSnapshot]) -> list[str]:
    """Every symbol held as collateral (or long) in ``snapshots``, once each (case-insensitively), sorted."""
    seen: dict[str, str] = {}
    for snapshot in snapshots:
        for leg in snapshot.legs:
            if leg.role in (Role.COLLATERAL, Role.LONG) and leg.amount > 0:
                seen.setdefault(leg.symbol.lower(), leg.symbol)
    return [seen[key] for key in sorted(seen)]


def _price_at(rules: PositionRules, snapshot: PositionSnapshot, symbol: str, moves: Moves) -> int:
    leg = held_legs(snapshot, symbol)[0]
    return moved_prices(rules, snapshot, moves).get(leg.price_key, leg.price)


def asset_curve(rules: PositionRules, holders: Sequence[PositionSnapshot], *, symbol: str, groups: Groups,
                steps: Sequence[Fraction]) -> AssetCurve:
    """The curve of ``symbol`` over ``holders`` (non-empty: positions holding it) at each move of ``steps``."""
    first = holders[0]
    leg = held_legs(first, symbol)[0]
    quote = first.health.quote
    name = groups.moved_name(symbol, quote)
    points: list[CurvePoint] = []
    previous: Figures = Figures()
    before: set[str] = set()
    for move in steps:
        moves = groups.moves(name, move)
        found = liquidations_at(rules, holders, symbol, moves)
        figures = Figures.of(found)
        accounts = [liq.account for liq in found]
        points.append(CurvePoint(move=move, price=_price_at(rules, first, symbol, moves), liquidations=tuple(found),
                                 cumulative=figures, incremental=figures.minus(previous),
                                 new_accounts=tuple(a for a in accounts if a not in before)))
        previous, before = figures, set(accounts)
    return AssetCurve(symbol=leg.symbol, moved=name, quote=quote, decimals=leg.decimals,
                      price_decimals=leg.price_decimals, holders=len(holders),
                      model_note=MODEL_NOTES.get(first.protocol, _DEFAULT_NOTE), points=tuple(points))


# -- cascade ----------------------------------------------------------------------------------------------------
def depth_for(depths: Mapping[str, Decimal], *, symbol: str, quote: str, groups: Groups, market: str) -> Depth:
    """The configured depth for a cascade of ``symbol`` on a market quoted in ``quote``.

    A USD-group quote (USD, USDC, DAI …) is taken at par with USD, and the depth is looked up as ``symbol``, then
    its group: USD per 1 % move. Another quote (a Morpho market lending WETH) has no USD price here, and guessing
    one would hide an assumption in the result: its depth must be configured in the quote's own units, as
    ``"SYMBOL/QUOTE"`` or ``"GROUP/QUOTE"``. Names match case-insensitively."""
    by_name = {key.lower(): key for key in depths}
    group = groups.group(symbol)
    in_usd = groups.group_of.get(quote.lower()) == USD_GROUP or quote.lower() == USD_GROUP
    names = [symbol, group] if in_usd else [f"{symbol}/{quote}", None if group is None else f"{group}/{quote}"]
    for name in names:
        if name is not None and name.lower() in by_name:
            key = by_name[name.lower()]
            if depths[key] <= 0:
                raise CurveError(f"[risk.curve.depth] {key} is {depths[key]}: a market depth must be above 0")
            return Depth(key=key, per_percent=Fraction(depths[key]), unit="USD" if in_usd else quote)
    if in_usd:
        alternative = f" (or {group} for its group)" if group else ""
        raise CurveError(f"no market depth for {symbol}: set [risk.curve.depth] {symbol} = <USD sold per 1% price "
                         f"move>{alternative} to run a cascade")
    alternative = f' (or "{group}/{quote}" for its group)' if group else ""
    raise CurveError(f"market {market!r} is quoted in {quote}, not USD, and its volumes are not converted at a "
                     f"guessed price: set [risk.curve.depth] \"{symbol}/{quote}\" = <{quote} sold per 1% price move>"
                     f"{alternative} to run a cascade")


def cascade(rules: PositionRules, holders: Sequence[PositionSnapshot], *, symbol: str, groups: Groups,
            start: Fraction, depth: Depth, max_rounds: int = MAX_ROUNDS) -> Cascade:
    """The cascade from the move ``start`` (see the module docstring for the model and why it ends).

    Round ``k`` is evaluated at move ``m_k`` (``m_0 = start``): the holders under 1 there that have not fallen in
    an earlier round fall now, each contributing its seizure's value at ``m_k``'s price, in the quote currency (at
    par with USD, or in the quote's units; see ``depth_for``). With ``V`` the sum over every fallen position,
    ``m_{k+1} = max(start − V / (100 · depth), −1)``. The first round that takes no new position ends it: its move
    is the fixed point."""
    if not -1 < start <= 0:
        raise CurveError(f"a cascade starts from a fall: {_text(_decimal(start * 100))}% is not in (-100%, 0%]")
    if not holders:
        raise CurveError(f"no position holds {symbol} as collateral: nothing to cascade")
    quote = holders[0].health.quote
    name = groups.moved_name(symbol, quote)
    fallen: set[str] = set()
    rounds: list[CascadeRound] = []
    volume, move, converged = Fraction(0), start, False
    while True:
        moves = groups.moves(name, move)
        new = liquidations_at(rules, [h for h in holders if h.account not in fallen], symbol, moves)
        if not new:
            converged = True
            break
        if len(rounds) >= max_rounds:
            log.warning("cascade capped symbol=%s rounds=%d move=%s: no fixed point reached", symbol, len(rounds),
                        _text(_decimal(move)))
            break
        added = sum((liq.seized_value for liq in new), Fraction(0))
        rounds.append(CascadeRound(number=len(rounds), move=move, price=_price_at(rules, holders[0], symbol, moves),
                                   fallen=tuple(new), volume=added))
        fallen.update(liq.account for liq in new)
        volume += added
        move = max(start - volume / (100 * depth.per_percent), Fraction(-1))
    end_price = _price_at(rules, holders[0], symbol, groups.moves(name, move))
    log.debug("cascade symbol=%s start=%s end=%s rounds=%d fallen=%d", symbol, start, move, len(rounds), len(fallen))
    return Cascade(start=start, start_price=_price_at(rules, holders[0], symbol, groups.moves(name, start)), end=move,
                   end_price=end_price, depth=depth, rounds=tuple(rounds), converged=converged, floored=move == -1)


# -- entry points -----------------------------------------------------------------------------------------------
def curves_for(rules: PositionRules, snapshots: Sequence[PositionSnapshot], *, market: str, risk: RiskSettings,
               symbol: str | None = None, cascade_from: Fraction | Decimal | None = None,
               protocol: str | None = None) -> MarketCurve:
    """The curves of one market's positions (the pure core of ``market_curve``): of ``symbol``, or of every
    symbol held as collateral. With ``cascade_from`` (a relative move, −0.10 = −10 %) each curve gets its cascade;
    a missing depth raises ``CurveError`` when ``symbol`` was named, and is recorded on the curve
    (``cascade_refused``) when every symbol was asked for."""
    groups = Groups.of(risk.groups)
    steps = curve_steps(risk.curve.lowest, risk.curve.step)
    live = [s for s in snapshots if not s.closed and s.legs]
    symbols = [symbol] if symbol is not None else collateral_symbols(live)
    start = None if cascade_from is None else Fraction(cascade_from)
    curves = []
    for wanted in symbols:
        holders = holders_of(live, wanted)
        if not holders:
            raise CurveError(f"no position of market {market!r} holds {wanted} as collateral")
        curve = asset_curve(rules, holders, symbol=wanted, groups=groups, steps=steps)
        if start is not None:
            curve = _with_cascade(curve, rules, holders, groups=groups, risk=risk, market=market, start=start,
                                  strict=symbol is not None)
        curves.append(curve)
    kind = protocol if protocol is not None else (live[0].protocol if live else "")
    return MarketCurve(market=market, protocol=kind, positions=len(live), curves=tuple(curves))


def _with_cascade(curve: AssetCurve, rules: PositionRules, holders: Sequence[PositionSnapshot], *, groups: Groups,
                  risk: RiskSettings, market: str, start: Fraction, strict: bool) -> AssetCurve:
    try:
        depth = depth_for(risk.curve.depth, symbol=curve.symbol, quote=curve.quote, groups=groups, market=market)
    except CurveError as refused:
        if strict:
            raise
        log.info("cascade refused market=%s symbol=%s: %s", market, curve.symbol, refused)
        return dataclasses.replace(curve, cascade_refused=str(refused))
    run = cascade(rules, holders, symbol=curve.symbol, groups=groups, start=start, depth=depth)
    return dataclasses.replace(curve, cascade=run)


def market_curve(engine: Engine, *, settings: Settings, market: str, symbol: str | None = None,
                 cascade_from: Fraction | Decimal | None = None) -> MarketCurve:
    """The liquidation curves of the configured ``market``'s latest stored positions (see ``curves_for``)."""
    rules = rules_for(settings, market)
    if rules is None:
        raise CurveError(f"market {market!r} is not configured")
    views = list_positions(engine, market=market)
    snapshots = [snapshot for _, _, snapshot in stored_snapshots(engine, settings=settings, views=views)]
    return curves_for(rules, snapshots, market=market, risk=settings.risk, symbol=symbol, cascade_from=cascade_from,
                      protocol=settings.markets[market].protocol)


# -- numbers ----------------------------------------------------------------------------------------------------
def _decimal(value: Fraction) -> Decimal:
    """``value`` as a Decimal: exact when it terminates in decimals, else rounded to ``_PLACES`` places."""
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    if den == 1:
        places = max(twos, fives)
        return Decimal(value.numerator * 10**places // value.denominator).scaleb(-places, context=_WIDE)
    quotient = _WIDE.divide(Decimal(value.numerator), Decimal(value.denominator))
    return quotient.quantize(Decimal(1).scaleb(-_PLACES), rounding=ROUND_HALF_EVEN, context=_WIDE)


def _text(value: Decimal | None) -> str | None:
    """A decimal without trailing zeros or an exponent (``1800``, ``0.05``), None as None."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return format(value.quantize(Decimal(1), context=_WIDE), "f")
    return format(value.normalize(context=_WIDE), "f")
