"""Pruning old history: position history (and its per-asset rows), market states and oracle readings more than
``keep_blocks`` below a chain's checkpoint. Kept of a position's rows below the cut: the one its latest position
points to, and its last one, which holds its figures from the cut until its next row (a block that did not write
the position — ``[writes] mode = "changed"`` or ``"accrued"`` — reads its last row at or before, and under
``"accrued"`` advances it with the block's state), so every block kept reads as it did before the prune."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, Table, delete, exists, select

from indexer.store.models import (
    SYNC_CHECKPOINT,
    Checkpoint,
    MarketState,
    OracleReading,
    Position,
    PositionHistory,
    PositionLeg,
)

log = logging.getLogger(__name__)


def prune(engine: Engine, *, chain: str, keep_blocks: int) -> dict[str, int]:
    history: Table = PositionHistory.__table__  # type: ignore[attr-defined]
    legs: Table = PositionLeg.__table__  # type: ignore[attr-defined]
    positions: Table = Position.__table__  # type: ignore[attr-defined]
    readings: Table = OracleReading.__table__  # type: ignore[attr-defined]
    checkpoints: Table = Checkpoint.__table__  # type: ignore[attr-defined]
    states: Table = MarketState.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        head = conn.execute(select(checkpoints.c.block_number).where(
            checkpoints.c.chain == chain, checkpoints.c.name == SYNC_CHECKPOINT)).scalar()
        if head is None or keep_blocks <= 0:
            return {}
        below = head - keep_blocks
        later = history.alias("later")
        superseded = exists().where(later.c.market_id == history.c.market_id, later.c.account == history.c.account,
                                    later.c.block_number > history.c.block_number, later.c.block_number < below)
        prunable = (history.c.chain == chain, history.c.block_number < below, superseded,
                    history.c.id.not_in(select(positions.c.snapshot_id)))
        conn.execute(delete(legs).where(legs.c.snapshot_id.in_(select(history.c.id).where(*prunable))))
        counts = {"history": conn.execute(delete(history).where(*prunable)).rowcount,
            "readings": conn.execute(delete(readings).where(
                readings.c.chain == chain, readings.c.block_number < below)).rowcount,
            "market_states": conn.execute(delete(states).where(
                states.c.chain == chain, states.c.block_number < below)).rowcount}
    if any(counts.values()):
        log.info("pruned chain=%s below_block=%d history=%d readings=%d market_states=%d", chain, below,
                 counts["history"], counts["readings"], counts["market_states"])
    return counts
