"""One health per wallet: its positions across protocols and chains in one view — the lowest health, what its book is
worth per quote currency, the single price move that first liquidates anything, what it takes to make each position
safe, and the value at risk of the whole book (``indexer.risk.var``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from indexer.health.nearest import NearestLiquidation, points_of, stored_snapshots
from indexer.health.perps import PerpLine, perp_lines
from indexer.risk.safety import SafetyPlan, to_be_safe
from indexer.risk.var import VarResult, is_perp, wallet_var
from indexer.store.position_store import list_positions
from indexer.store.views import PositionView, base_to_decimal

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from indexer.settings import Settings


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletPosition:
    view: PositionView
    nearest: NearestLiquidation | None
    safety: SafetyPlan | None  # None: the market is no longer configured
    perps: list[PerpLine]


@dataclass(slots=True, kw_only=True)
class Book:
    """A wallet's positions in one quote currency: gross collateral and debt, and net value (collateral − debt for
    lending, the account value for a perp account)."""

    quote: str
    positions: int = 0
    collateral: Decimal = Decimal(0)
    debt: Decimal = Decimal(0)
    net: Decimal = Decimal(0)


@dataclass(slots=True, kw_only=True)
class WalletRisk:
    wallet: str
    target: Decimal
    positions: list[WalletPosition] = field(default_factory=list)  # riskiest first
    books: dict[str, Book] = field(default_factory=dict)
    var: VarResult | None = None

    @property
    def min_health(self) -> Decimal | None:
        healths = [p.view.health for p in self.positions if p.view.health is not None]
        return min(healths) if healths else None

    @property
    def liquidatable(self) -> int:
        return sum(p.view.liquidatable for p in self.positions)

    @property
    def first_liquidation(self) -> WalletPosition | None:
        """The position whose nearest liquidation price is the smallest move away (one price, the others fixed)."""
        reachable = [p for p in self.positions if p.nearest is not None]
        return min(reachable, key=lambda p: p.nearest.distance if p.nearest else Decimal(0), default=None)


def wallet_risk(engine: Engine, *, settings: Settings, wallet: str, horizon: str | int = "1d",
                target: Decimal | None = None) -> WalletRisk:
    """Every stored position of ``wallet`` (a checksummed address) with its risk figures, and the book's VaR."""
    goal = settings.risk.target_health if target is None else target
    risk = WalletRisk(wallet=wallet, target=goal)
    views = list_positions(engine, wallet=wallet)
    for view, rules, snapshot in stored_snapshots(engine, settings=settings, views=views):
        points = points_of(view, rules, snapshot)
        nearest = points[0] if points else None
        plan = None if rules is None else to_be_safe(rules, snapshot, goal)
        lines = [] if rules is None else perp_lines(rules, snapshot)
        risk.positions.append(WalletPosition(view=view, nearest=nearest, safety=plan, perps=lines))
        book = risk.books.setdefault(view.quote, Book(quote=view.quote))
        book.positions += 1
        book.collateral += view.collateral
        book.debt += view.debt
        book.net += base_to_decimal(view.equity, view.quote_unit) if is_perp(snapshot) else view.collateral - view.debt
    if views:
        risk.var = wallet_var(engine, settings=settings, wallet=wallet, horizon=horizon)
    return risk
