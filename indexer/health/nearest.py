"""The nearest liquidation price of a position: of every price its health rests on, the one whose move to the
liquidation line is the smallest, and how far that is.

Computed from a position's legs with its protocol's own ``liquidation_points`` (exact, the protocol's rounding),
so it costs no chain read. The pipeline computes every point of each snapshot it writes and stores them with it
(``encode_points``, the ``liquidations`` column); readers take the stored ones and compute only for rows without
them (written before they were stored, or by a market whose rules could not give them).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from indexer.store.position_store import legs_of
from indexer.store.views import PositionView
from indexer.types import PositionSnapshot, PriceKey, scaled

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from indexer.protocols.base import PositionRules
    from indexer.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NearestLiquidation:
    """``price`` of ``symbol`` (in the position's price units for that leg, as a decimal) is the last one at which
    the position is not liquidatable, the others held fixed; ``current`` is the price it was computed with.
    ``falling``: it liquidates below ``price`` (something it holds), else above (something it owes).
    ``distance``: the relative move from ``current`` to ``price`` in the liquidating direction (0.18 = an 18 %
    move; ≤ 0: it is already past the line)."""

    key: PriceKey
    symbol: str
    price: Decimal
    current: Decimal
    falling: bool
    distance: Decimal
    price_raw: int  # ``price`` and ``current`` in the leg's price units (``decimals`` places)
    current_raw: int
    decimals: int

    @classmethod
    def decode(cls, stored: Mapping[str, Any]) -> NearestLiquidation:
        price, current, places = int(stored["price"]), int(stored["current"]), int(stored["decimals"])
        return _point(stored["key"], stored["symbol"], price, current, places, bool(stored["falling"]))


def _point(key: PriceKey, symbol: str, price: int, current: int, places: int, falling: bool) -> NearestLiquidation:
    move = Decimal(current - price if falling else price - current)
    return NearestLiquidation(key=key, symbol=symbol, price=scaled(price, places), current=scaled(current, places),
                              falling=falling, distance=move / Decimal(current), price_raw=price,
                              current_raw=current, decimals=places)


def nearest_liquidation(rules: PositionRules, snapshot: PositionSnapshot) -> NearestLiquidation | None:
    """The liquidation point closest to the position's current prices; None when no single price liquidates it
    (nothing owed, or every point unreachable)."""
    points = liquidation_prices(rules, snapshot)
    return points[0] if points else None


def liquidation_prices(rules: PositionRules, snapshot: PositionSnapshot) -> list[NearestLiquidation]:
    """Every price dependency's liquidation point (each price alone, the others held fixed), nearest first (the
    protocol's order among equals); empty when nothing is owed."""
    return [_point(*raw) for raw in _raw_points(rules, snapshot)]


_Raw = tuple[PriceKey, str, int, int, int, bool]  # key, symbol, price, current, places, falling


def _raw_points(rules: PositionRules, snapshot: PositionSnapshot) -> list[_Raw]:
    """``liquidation_prices`` in integers: each point with the largest leg it prices (its symbol, current price and
    places), ordered by the exact relative move (the protocol's order among equals)."""
    if snapshot.health.health is None:
        return []
    points: list[tuple[int, int, _Raw]] = []  # (move, current price > 0, the point): ordered by move / price
    for key, point in rules.liquidation_points(snapshot).items():
        legs = snapshot.legs_priced_by(key)
        if not legs or legs[0].price <= 0:
            continue
        leg = max(legs, key=lambda g: g.value)
        move = leg.price - point.price if point.falling else point.price - leg.price
        points.append((move, leg.price, (key, leg.symbol, point.price, leg.price, leg.price_decimals, point.falling)))
    if len(points) > 1:
        points.sort(key=_by_relative_move)
    return [raw for _, _, raw in points]


@functools.cmp_to_key
def _by_relative_move(a: tuple[int, int, _Raw], b: tuple[int, int, _Raw]) -> int:
    """``a[0] / a[1]`` against ``b[0] / b[1]`` (positive denominators), exactly, without a ``Fraction`` each."""
    left, right = a[0] * b[1], b[0] * a[1]
    return (left > right) - (left < right)


def encode_points(sources: Mapping[str, PositionRules], snapshots: Sequence[PositionSnapshot]
                  ) -> dict[tuple[str, str], list[dict[str, Any]] | None]:
    """Every point of each snapshot (its market's rules in ``sources``, by key), nearest first, as stored (by market
    key and account; integers as strings, so JSON readers in any language keep them exact); a closing stores an
    empty list, and a snapshot whose rules fail on it None (logged: readers then compute it themselves)."""
    out: dict[tuple[str, str], list[dict[str, Any]] | None] = {}
    for snapshot in snapshots:
        key = (snapshot.market, snapshot.account)
        try:
            out[key] = [] if snapshot.closed else [
                {"key": k, "symbol": symbol, "price": str(price), "current": str(current), "decimals": places,
                 "falling": falling}
                for k, symbol, price, current, places, falling in _raw_points(sources[snapshot.market], snapshot)]
        except (ArithmeticError, ValueError, KeyError, TypeError):
            log.exception("liquidation points failed chain=%s block=%d market=%s account=%s", snapshot.chain,
                          snapshot.block.number, snapshot.market, snapshot.account)
            out[key] = None
    return out


def stored_points(view: PositionView) -> list[NearestLiquidation] | None:
    """The points stored with the position's snapshot, nearest first; None when none were stored."""
    if view.liquidations is None:
        return None
    return [NearestLiquidation.decode(p) for p in view.liquidations]


def points_of(view: PositionView, rules: PositionRules | None, snapshot: PositionSnapshot) -> list[NearestLiquidation]:
    """Every point of a stored position, nearest first: as stored, else from its rules (none without rules)."""
    points = stored_points(view)
    if points is not None:
        return points
    return [] if rules is None else liquidation_prices(rules, snapshot)


def stored_snapshots(engine: Engine, *, settings: Settings, views: Sequence[PositionView]
                     ) -> Iterator[tuple[PositionView, PositionRules | None, PositionSnapshot]]:
    """Each stored position as its source produced it (its legs read in one query), with its market's rules (None
    for a market no longer configured): what the questions asked of stored positions start from."""
    from indexer.protocols.registry import rules_for  # the adapters: only for what needs their rules

    legs = legs_of(engine, [v.snapshot_id for v in views])
    rules: dict[str, PositionRules | None] = {}
    for view in views:
        if view.market not in rules:
            rules[view.market] = rules_for(settings, view.market)
        yield view, rules[view.market], view.snapshot(legs[view.snapshot_id])


def stored_liquidations(engine: Engine, *, settings: Settings,
                        views: Sequence[PositionView]) -> dict[int, NearestLiquidation | None]:
    """The nearest liquidation of each stored position (by ``snapshot_id``): the one stored with its snapshot, else
    computed from its stored legs and its market's rules; None for a position with no reachable point, or (not
    stored) of a market no longer configured."""
    out: dict[int, NearestLiquidation | None] = {}
    missing = []
    for view in views:
        points = stored_points(view)
        if points is None:
            missing.append(view)
        else:
            out[view.snapshot_id] = points[0] if points else None
    if missing:
        out.update({view.snapshot_id: None if rules is None else nearest_liquidation(rules, snapshot)
                    for view, rules, snapshot in stored_snapshots(engine, settings=settings, views=missing)})
    return out
