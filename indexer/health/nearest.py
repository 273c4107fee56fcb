"""The nearest liquidation price of a position: of every price its health rests on, the one whose move to the
liquidation line is the smallest, and how far that is.

Computed from a position's legs with its protocol's own ``liquidation_points`` (exact, the protocol's rounding),
so it costs no chain read: the CLI and the API ask it of stored positions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from indexer.protocols.base import PositionRules
from indexer.protocols.registry import rules_for
from indexer.store.position_store import legs_of
from indexer.store.views import PositionView
from indexer.types import PositionSnapshot, PriceKey, scaled

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from indexer.settings import Settings


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


def nearest_liquidation(rules: PositionRules, snapshot: PositionSnapshot) -> NearestLiquidation | None:
    """The liquidation point closest to the position's current prices; None when no single price liquidates it
    (nothing owed, or every point unreachable)."""
    points = liquidation_prices(rules, snapshot)
    return points[0] if points else None


def liquidation_prices(rules: PositionRules, snapshot: PositionSnapshot) -> list[NearestLiquidation]:
    """Every price dependency's liquidation point (each price alone, the others held fixed), nearest first (the
    protocol's order among equals); empty when nothing is owed."""
    if snapshot.health.health is None:
        return []
    points = []
    for key, point in rules.liquidation_points(snapshot).items():
        legs = snapshot.legs_priced_by(key)
        if not legs or legs[0].price <= 0:
            continue
        leg = max(legs, key=lambda g: g.value)
        move = Decimal(leg.price - point.price if point.falling else point.price - leg.price)
        points.append(NearestLiquidation(key=key, symbol=leg.symbol, price=scaled(point.price, leg.price_decimals),
                                         current=scaled(leg.price, leg.price_decimals), falling=point.falling,
                                         distance=move / Decimal(leg.price)))
    return sorted(points, key=lambda p: p.distance)


def stored_snapshots(engine: Engine, *, settings: Settings, views: Sequence[PositionView]
                     ) -> Iterator[tuple[PositionView, PositionRules | None, PositionSnapshot]]:
    """Each stored position as its source produced it (its legs read in one query), with its market's rules (None
    for a market no longer configured): what the questions asked of stored positions start from."""
    legs = legs_of(engine, [v.snapshot_id for v in views])
    rules: dict[str, PositionRules | None] = {}
    for view in views:
        if view.market not in rules:
            rules[view.market] = rules_for(settings, view.market)
        yield view, rules[view.market], view.snapshot(legs[view.snapshot_id])


def stored_liquidations(engine: Engine, *, settings: Settings,
                        views: Sequence[PositionView]) -> dict[int, NearestLiquidation | None]:
    """The nearest liquidation of each stored position (by ``snapshot_id``), from its stored legs and its
    market's rules; None for a position of a market no longer configured, or with no reachable point."""
    return {view.snapshot_id: None if rules is None else nearest_liquidation(rules, snapshot)
            for view, rules, snapshot in stored_snapshots(engine, settings=settings, views=views)}
