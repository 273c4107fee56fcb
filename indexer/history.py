"""A position's figures at any stored block, derived where the block did not write them.

Under ``[writes] mode = "accrued"`` a block stores its markets' states (``market_states``) and only the positions
whose own inputs changed (or whose figures moved more than ``epsilon``). A position's figures at block B are then its
last history row at or before B, advanced to B with its protocol's ``Accrues.advance`` and the market's state at B,
its price status marked with that state's verdicts and its liquidation points computed from the result: exactly what
a block writing every position would have stored at B (``tests/integration/test_accrued_writes.py`` compares them).
Where nothing can be derived — another write mode, a protocol that does not accrue, a block without a stored state
(the fast path served it), a closing, a position the protocol cannot advance — the row is returned as stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indexer.health.nearest import encode_points
from indexer.oracles.monitor import mark_with
from indexer.oracles.status import PriceStatus
from indexer.protocols.base import Accrues
from indexer.store.position_store import (
    HistoryRow,
    HistoryWindow,
    StoredState,
    accrued_window,
    market_state,
    position_history,
    row_at,
)
from indexer.store.types import quantize_health
from indexer.types import BlockRef, PositionSnapshot

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from indexer.protocols.base import PositionRules


@dataclass(frozen=True, slots=True)
class Figures:
    """A position's figures at ``block``: ``snapshot`` (at ``block`` when ``derived``, else at its stored row's
    block), its liquidation points as stored (None: not computed) and the id of the history row it comes from."""

    block: int
    snapshot: PositionSnapshot
    liquidations: list[dict[str, Any]] | None
    row_id: int
    stored_block: int  # the stored row's block
    derived: bool


def figures_at(engine: Engine, rules: PositionRules | None, *, chain: str, market: str, account: str, block: int
               ) -> Figures | None:
    """The position's figures at ``block`` (None: no row at or before it). ``rules``: its market's source
    (``indexer.protocols.registry.rules_for``; None: rows as stored)."""
    row = row_at(engine, chain=chain, market=market, account=account, block=block)
    if row is None:
        return None
    as_stored = Figures(block, row.snapshot, row.liquidations, row.id, row.snapshot.block.number, derived=False)
    if row.snapshot.block.number == block or not isinstance(rules, Accrues):
        return as_stored
    stored = market_state(engine, chain=chain, market=market, block=block)
    advanced = None if stored is None else _advanced(rules, row.snapshot, stored)
    if advanced is None:
        return as_stored
    points = encode_points({market: rules}, [advanced])[(market, account)]
    return Figures(block, advanced, points, row.id, row.snapshot.block.number, derived=True)


def history(engine: Engine, rules: PositionRules | None, *, chain: str, market: str, account: str,
            since: int | None = None, until: int | None = None, points: int = 500) -> HistoryWindow:
    """The position's figures over ``since ≤ block ≤ until``, oldest first, downsampled to at most ``points``.

    Where its market stored states (``[writes] mode = "accrued"``) the window holds every such block from the
    position's first row on, and every block it has a row at: a block it was written at gives its row, another its
    last row advanced with the block's state (``derived``). Where that cannot be (a closing, inputs the protocol
    cannot advance) the last row's figures stand for the block: a position the accrued rule could not derive is
    written whenever any figure changed (``indexer.pipeline.changes``), so they are the block's. Elsewhere the
    window is the stored rows (``position_history``)."""
    window = None
    if isinstance(rules, Accrues):
        window = accrued_window(engine, chain=chain, market=market, account=account, since=since, until=until,
                                points=points)
    if rules is None or window is None:
        return position_history(engine, chain=chain, market=market, account=account, since=since, until=until,
                                points=points)
    found = []
    for block, row_id in window.blocks:
        row = window.rows[row_id].snapshot
        stored = window.states.get(block)
        if row.block.number == block or stored is None:
            found.append(_history_row(row, row.block, row.block.number, derived=False))
            continue
        advanced = _advanced(rules, row, stored)
        if advanced is None:
            found.append(_history_row(row, stored.block, row.block.number, derived=False))
        else:
            found.append(_history_row(advanced, stored.block, row.block.number, derived=True))
    return HistoryWindow(total=window.total, rows=found)


def _advanced(rules: PositionRules, snapshot: PositionSnapshot, stored: StoredState) -> PositionSnapshot | None:
    """``snapshot`` advanced to the stored state's block, its price status marked with the block's verdicts; None
    when it cannot be (a protocol that does not accrue, a closing, inputs the protocol cannot advance)."""
    if snapshot.closed or not isinstance(rules, Accrues):
        return None
    advanced = rules.advance(snapshot, stored.state, stored.block)
    if advanced is not None:
        mark_with([advanced], {key: PriceStatus(value) for key, value in stored.verdicts.items()},
                  PriceStatus(stored.chain_status), rules.price_dependencies)
    return advanced


def _history_row(snapshot: PositionSnapshot, block: BlockRef, stored_block: int, *, derived: bool) -> HistoryRow:
    health = snapshot.health
    return HistoryRow(block_number=block.number, block_hash=block.hash, block_timestamp=block.timestamp,
                      health_raw=health.raw, health_decimals=health.decimals,
                      health=None if health.health is None else quantize_health(health.health),
                      collateral_value=health.collateral, debt_value=health.debt, quote=health.quote,
                      quote_unit=health.quote_unit, price_status=str(snapshot.price_status),
                      stored_block=stored_block, derived=derived)
