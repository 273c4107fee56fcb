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
from indexer.store.position_store import market_state, row_at
from indexer.types import PositionSnapshot

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
    if row.snapshot.block.number == block or row.snapshot.closed or not isinstance(rules, Accrues):
        return as_stored
    stored = market_state(engine, chain=chain, market=market, block=block)
    if stored is None:
        return as_stored
    advanced = rules.advance(row.snapshot, stored.state, stored.block)
    if advanced is None:
        return as_stored
    mark_with([advanced], {key: PriceStatus(value) for key, value in stored.verdicts.items()},
              PriceStatus(stored.chain_status), rules.price_dependencies)
    points = encode_points({market: rules}, [advanced])[(market, account)]
    return Figures(block, advanced, points, row.id, row.snapshot.block.number, derived=True)
