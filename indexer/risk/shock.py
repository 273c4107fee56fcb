"""What-if shocks over the stored positions: every price moved at once (``ETH=-25% BTC=-20%``), each position's health
recomputed with its protocol's own math (``health_at``: the same integers and rounding as a read at those prices),
and what crosses the liquidation line counted per market and per wallet.

Nothing here reads the chain: the positions are the latest stored ones, with the amounts they had at their block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from indexer.health.nearest import stored_snapshots
from indexer.risk.moves import Moves, moved_names, moved_prices
from indexer.store.position_store import list_positions
from indexer.store.views import PositionView, base_to_decimal
from indexer.types import Health, PriceKey, scaled

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from indexer.settings import Settings


@dataclass(frozen=True, slots=True, kw_only=True)
class MovedPrice:
    """One price a position rests on, before and after the moves, in its legs' units (``decimals`` places)."""

    key: PriceKey
    symbol: str
    before: int
    after: int
    decimals: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShockedPosition:
    """One position before and after the moves, with the prices that moved."""

    view: PositionView
    before: Health
    after: Health
    prices: list[MovedPrice]

    @property
    def crossing(self) -> bool:
        """Not liquidatable before the moves, liquidatable after."""
        return not self.before.liquidatable and self.after.liquidatable


@dataclass(slots=True, kw_only=True)
class ShockTotals:
    """A group of positions (a market, or a wallet's positions in one quote currency); values in ``quote``, exact.

    ``crossing``: positions the moves take under 1; ``collateral_crossing`` / ``debt_crossing`` their gross
    collateral and debt after the moves (what becomes liquidatable). ``liquidatable_after`` and the
    ``*_liquidatable`` figures count every position under 1 after the moves, those already under included."""

    quote: str
    positions: int = 0
    moved: int = 0  # positions with at least one moved price
    liquidatable_before: int = 0
    liquidatable_after: int = 0
    crossing: int = 0
    collateral_crossing: Decimal = Decimal(0)
    debt_crossing: Decimal = Decimal(0)
    collateral_liquidatable: Decimal = Decimal(0)
    debt_liquidatable: Decimal = Decimal(0)

    def add(self, shocked: ShockedPosition) -> None:
        self.positions += 1
        self.moved += bool(shocked.prices)
        after, unit = shocked.after, shocked.after.quote_unit
        self.liquidatable_before += shocked.before.liquidatable
        if after.liquidatable:
            self.liquidatable_after += 1
            self.collateral_liquidatable += base_to_decimal(after.collateral, unit)
            self.debt_liquidatable += base_to_decimal(after.debt, unit)
        if shocked.crossing:
            self.crossing += 1
            self.collateral_crossing += base_to_decimal(after.collateral, unit)
            self.debt_crossing += base_to_decimal(after.debt, unit)


@dataclass(slots=True, kw_only=True)
class ShockResult:
    moves: Moves
    positions: list[ShockedPosition] = field(default_factory=list)  # every position looked at, riskiest after first
    markets: dict[str, ShockTotals] = field(default_factory=dict)
    wallets: dict[tuple[str, str], ShockTotals] = field(default_factory=dict)  # (owner, quote)
    unconfigured: int = 0  # stored positions of markets no longer configured: not shocked
    used: set[str] = field(default_factory=set)  # move names that changed at least one price

    @property
    def unused(self) -> list[str]:
        """Move names (as written) that no stored position's price depends on."""
        return [label for label in self.moves.labels.values() if label not in self.used]


def shock_views(engine: Engine, *, settings: Settings, views: Sequence[PositionView], moves: Moves) -> ShockResult:
    """The moves applied to ``views`` (stored positions), exactly, each with its protocol's ``health_at``."""
    result = ShockResult(moves=moves)
    for view, rules, snapshot in stored_snapshots(engine, settings=settings, views=views):
        if rules is None:
            result.unconfigured += 1
            continue
        prices = moved_prices(rules, snapshot, moves)
        after = rules.health_at(snapshot, prices) if prices else snapshot.health
        moved = [MovedPrice(key=key, symbol=(leg := snapshot.legs_priced_by(key)[0]).symbol, before=leg.price,
                            after=new, decimals=leg.price_decimals) for key, new in prices.items()]
        result.used |= moved_names(moves, [m.symbol for m in moved])
        shocked = ShockedPosition(view=view, before=snapshot.health, after=after, prices=moved)
        result.positions.append(shocked)
        result.markets.setdefault(view.market, ShockTotals(quote=view.quote)).add(shocked)
        result.wallets.setdefault((view.owner, view.quote), ShockTotals(quote=view.quote)).add(shocked)
    result.positions.sort(key=_riskiest_after)
    return result


def shock_stored(engine: Engine, *, settings: Settings, moves: Moves, wallet: str | None = None,
                 chain: str | None = None, market: str | None = None) -> ShockResult:
    """The moves applied to the latest stored positions (optionally one wallet's, chain's or market's)."""
    views = list_positions(engine, wallet=wallet, chain=chain, market=market)
    return shock_views(engine, settings=settings, views=views, moves=moves)


def liquidatable_after(result: ShockResult) -> list[ShockedPosition]:
    """The positions under 1 after the moves, riskiest first."""
    return [p for p in result.positions if p.after.liquidatable]


def shock_json(result: ShockResult, *, limit: int | None = None) -> dict[str, Any]:
    """The result for machines (the CLI's ``--json`` and ``GET /v1/shock``): exact figures as strings, full
    account ids; ``positions`` lists those under 1 after the moves, riskiest first (at most ``limit``)."""
    under = liquidatable_after(result)
    return {
        "moves": result.moves.as_percent(),
        "unused_moves": result.unused,
        "positions_considered": len(result.positions),
        "unconfigured_positions": result.unconfigured,
        "markets": [{"market": key, **_totals_json(totals)} for key, totals in sorted(result.markets.items())],
        "wallets": [{"wallet": owner, **_totals_json(totals)}
                    for (owner, _), totals in sorted(result.wallets.items())],
        "liquidatable_after": len(under),
        "positions": [_position_json(p) for p in under[:limit]],
    }


def _totals_json(totals: ShockTotals) -> dict[str, Any]:
    return {"quote": totals.quote, "positions": totals.positions, "moved": totals.moved,
            "liquidatable_before": totals.liquidatable_before, "liquidatable_after": totals.liquidatable_after,
            "crossing": totals.crossing, "collateral_crossing": str(totals.collateral_crossing),
            "debt_crossing": str(totals.debt_crossing), "collateral_liquidatable": str(totals.collateral_liquidatable),
            "debt_liquidatable": str(totals.debt_liquidatable)}


def _position_json(shocked: ShockedPosition) -> dict[str, Any]:
    view, before, after = shocked.view, shocked.before, shocked.after
    return {
        "chain": view.chain, "protocol": view.protocol, "market": view.market, "account": view.account,
        "wallet": view.owner, "quote": after.quote,
        "health_before": None if before.health is None else str(before.health),
        "health_after": None if after.health is None else str(after.health),
        "health_raw_after": str(after.raw), "crossing": shocked.crossing,
        "collateral_after": str(base_to_decimal(after.collateral, after.quote_unit)),
        "debt_after": str(base_to_decimal(after.debt, after.quote_unit)),
        "prices": [{"symbol": m.symbol, "key": m.key, "before": str(scaled(m.before, m.decimals)),
                    "after": str(scaled(m.after, m.decimals))} for m in shocked.prices],
    }


def _riskiest_after(shocked: ShockedPosition) -> tuple[int, Decimal, int]:
    health = shocked.after.health
    return (0, health, -shocked.after.debt) if health is not None else (1, Decimal(0), 0)
