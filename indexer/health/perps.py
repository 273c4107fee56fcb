"""Perp positions as people read them: one line per long or short leg — side, size, entry, mark, unrealized PnL,
leverage, margin mode and that leg's own liquidation price (its protocol's ``liquidation_points``, exact, the
account's other positions held fixed) — for the CLI, the API, the dashboard and alert messages alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from indexer.store.position_store import legs_of
from indexer.store.views import PositionView, base_to_decimal
from indexer.types import LEVERAGE_SCALE, Leg, PositionSnapshot, PriceKey, Role, scaled

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from indexer.protocols.base import PositionRules
    from indexer.settings import Settings

PERP_ROLES = (Role.LONG, Role.SHORT)


@dataclass(frozen=True, slots=True)
class PerpLine:
    """One perp position. Prices are per whole unit of ``symbol`` in the position's quote (``entry`` None when the
    venue gives none); ``pnl`` in the quote; ``leverage`` ×1 units (None: not given); ``liquidation`` the last
    mark at which the account is not liquidatable (None: no mark of this leg alone liquidates it), ``falling``
    for a long (it liquidates below), rising for a short."""

    symbol: str
    side: str  # long | short
    size: Decimal
    mark: Decimal
    entry: Decimal | None
    pnl: Decimal | None
    leverage: Decimal | None
    margin_mode: str
    liquidation: Decimal | None
    falling: bool

    def to_json(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else format(value, "f")

        return {"symbol": self.symbol, "side": self.side, "size": text(self.size), "mark": text(self.mark),
                "entry": text(self.entry), "unrealized_pnl": text(self.pnl), "leverage": text(self.leverage),
                "margin_mode": self.margin_mode, "liquidation_price": text(self.liquidation),
                "liquidates": "below" if self.falling else "above"}


def _perp_legs(snapshot: PositionSnapshot) -> list[Leg]:
    return sorted((g for g in snapshot.legs if g.role in PERP_ROLES), key=lambda g: g.value, reverse=True)


def perp_lines(rules: PositionRules | None, snapshot: PositionSnapshot) -> list[PerpLine]:
    """The position's perp legs, largest first (by the value the protocol counts)."""
    legs = _perp_legs(snapshot)
    if not legs or rules is None:
        return _lines(snapshot, legs, {})
    points = rules.liquidation_points(snapshot, [g.price_key for g in legs])
    return _lines(snapshot, legs, {key: point.price for key, point in points.items()})


def _lines(snapshot: PositionSnapshot, legs: Sequence[Leg], points: Mapping[PriceKey, int]) -> list[PerpLine]:
    """``points``: each perp leg's liquidation price by its price key (where one is reachable); the venue's own
    where there is none."""
    unit = snapshot.health.quote_unit
    lines = []
    for g in legs:
        venue = g.terms.get("liquidation_px") or None
        liquidation = points.get(g.price_key, venue)
        lines.append(PerpLine(
            symbol=g.symbol, side=g.role.value, size=scaled(g.amount, g.decimals),
            mark=scaled(g.price, g.price_decimals),
            entry=scaled(g.terms["entry_px"], g.price_decimals) if g.terms.get("entry_px") else None,
            pnl=base_to_decimal(g.terms["unrealized_pnl"], unit) if "unrealized_pnl" in g.terms else None,
            leverage=Decimal(g.terms["leverage"]) / LEVERAGE_SCALE if g.terms.get("leverage") else None,
            margin_mode=snapshot.margin_mode.value, falling=g.role == Role.LONG,
            liquidation=None if liquidation is None else scaled(liquidation, g.price_decimals)))
    return lines


def stored_perp_lines(engine: Engine, *, settings: Settings,
                      views: Sequence[PositionView]) -> dict[int, list[PerpLine]]:
    """The perp lines of each stored position (by ``snapshot_id``; empty for a lending position): liquidation prices
    as stored with the snapshot, else from the market's rules."""
    from indexer.health.nearest import stored_points, stored_snapshots

    legs = legs_of(engine, [view.snapshot_id for view in views])
    out: dict[int, list[PerpLine]] = {}
    missing = []
    for view in views:
        snapshot = view.snapshot(legs[view.snapshot_id])
        perps, points = _perp_legs(snapshot), stored_points(view)
        if perps and points is None:
            missing.append(view)
        else:
            out[view.snapshot_id] = _lines(snapshot, perps, {p.key: p.price_raw for p in points or ()})
    if missing:  # the registry, every protocol: only for rows stored without their points
        out.update({view.snapshot_id: perp_lines(rules, snapshot)
                    for view, rules, snapshot in stored_snapshots(engine, settings=settings, views=missing)})
    return out
