"""Which read positions a block writes (``[writes]``): only those whose figures changed since they were last
written (``mode = "changed"``, the default), or all of them (``mode = "all"``), or, where the protocol derives a
position's figures from its own inputs and its market's state (``Accrues``), only those whose inputs changed beside
every market's state (``mode = "accrued"``). A position read but not written
keeps its figures and history; its latest row moves to the block (``write_block``'s ``unchanged``), so the latest
rows always say the last block they were read at.

What "changed" means, for a position compared with the figures last written for it (``changed``):

* ``epsilon = 0`` (the default): anything the store would hold differs — the health (raw and normalized, equity,
  requirement, collateral and debt values), any leg (amount, price, value, feed round, price time, terms), the
  price status, the margin mode or the protocol's ``detail``. A position not written in a block therefore has
  exactly the figures of its last written row: reading history "as of block B" (the last row at or before B)
  gives B's figures exactly. Interest accrues with time, so on a chain whose every block moves the clock every
  debt position changes every block; blocks sharing a timestamp (fast L2s), idle positions and markets whose
  prices did not move are what this saves.
* ``epsilon > 0``: a relative tolerance. Each of the numbers above (the health's raw figure, equity,
  requirement, collateral and debt values; each leg's amount, price, value and the terms its protocol derives
  from them, such as a perp's unrealized PnL) may move by at most ``epsilon`` of its last written value;
  everything else must be equal — which legs (asset, role, feed, which terms), the protocol's margin parameters
  (``MarginTerms``: exactly, since a restart compares the next read with the stored ones), whether it owes
  anything, whether it is liquidatable, the price status and the margin mode. ``detail`` is
  not compared (what it holds — fees, indices, venue times — moves with the numbers). History read as of a
  block is then within ``epsilon`` of that block's figures, never across a liquidation line, a status change or
  a change of the protocol's margin parameters.
* ``heartbeat_blocks = N``: a position is written again once its last row is N blocks old, changed or not.
* ``mode = "accrued"``: each block stores its markets' states (``MarketRead.state``). A position of a protocol
  that ``Accrues`` is written when its own inputs changed (``Accrues.inputs``: the account acted) and otherwise as
  under ``changed`` (exactly, or within ``epsilon``): ``epsilon`` then bounds how far its latest row may lag its
  last read, not its history. Its figures at any stored block are its last row at or before it advanced with that
  block's state (``indexer.history``), exactly what a full write would have stored, because a block it was not
  written at gave it the inputs of its last row. A position whose inputs the protocol cannot take that way (a
  stable debt growing at its own rate) is written whenever any figure changed (``epsilon = 0``), so that its
  history is exact too; every position of other protocols is written as under ``changed``. Where the protocol
  bounds the drift (``Drifts``: Aave v3), a position whose inputs did not change, none of whose market's steady
  parts (its reserves' prices and parameters, its eMode category, the rules) moved since its last row (or since a
  later read of it found within ``epsilon`` of that row), is not compared figure by figure when its indexes grew
  less than its headroom (the growth its amounts, values, totals and health factor can take, rounding included,
  before any leaves ``epsilon`` of the row, computed once per row or read): it is within epsilon.
* A position read for the first time since the process started is always written (memory knows no figures for
  it), as is every closing.

Alerts, margin changes and feeds are judged on every read, written or not: only the position rows are spared.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

from indexer.types import Health, Leg, PositionSnapshot

if TYPE_CHECKING:
    from indexer.settings import Settings


@dataclass(frozen=True, slots=True)
class WritePolicy:
    """``mode``: ``changed`` (only changed positions), ``accrued`` (markets' states, and positions whose inputs or
    figures changed) or ``all`` (every read position, every block)."""

    mode: str = "changed"
    epsilon: Decimal = Decimal(0)
    heartbeat_blocks: int = 0
    liquidation_points: bool = True  # stored with each written snapshot (``indexer.health.nearest``)

    @property
    def states(self) -> bool:
        """Whether blocks store their markets' states (``accrued``)."""
        return self.mode == "accrued"

    def changed(self, last: PositionSnapshot | None, now: PositionSnapshot, exact_terms: Collection[str] = (),
                inputs: Callable[[PositionSnapshot], Hashable | None] | None = None,
                last_inputs: Callable[[PositionSnapshot], Hashable | None] | None = None,
                within: Callable[[PositionSnapshot, PositionSnapshot], bool] | None = None) -> bool:
        """Whether ``now`` must be written, ``last`` being the figures last written for the position (None:
        none known); ``exact_terms``: the leg terms that are its protocol's margin parameters; ``inputs``: its
        protocol's ``Accrues.inputs`` (None: it does not accrue); ``last_inputs``: the same for ``last``, where
        the caller keeps them (default: ``inputs``); ``within``: whether its inputs are ``last``'s and its market's
        state moved no further since than ``epsilon`` allows it (``Drifts``, ``ChainMemory.to_write``)."""
        if self.mode == "all" or last is None or now.closed:
            return True
        if self.heartbeat_blocks and now.block.number - last.block.number >= self.heartbeat_blocks:
            return True
        if self.mode == "accrued" and inputs is not None:
            if within is not None and self.epsilon and now.price_status == last.price_status and within(last, now):
                return False  # the same inputs, and only its indexes grew since, less than its headroom: every
                # figure is within epsilon
            mine = inputs(now)
            if mine != (last_inputs or inputs)(last):  # it acted, or its inputs turned (un)derivable: the last
                # row no longer advances
                return True
            if mine is None:  # not derivable from a row and a state: its history is exact only if written exactly
                return not _same(last, now)
        if not self.epsilon:
            return not _same(last, now)
        return not _close(last, now, _tolerance(self.epsilon), exact_terms)


def unchanged(read: Sequence[PositionSnapshot], written: Sequence[PositionSnapshot],
              rested: Iterable[PositionSnapshot] = ()) -> list[tuple[str, str]]:
    """(market key, account) of the read positions a block does not write, and of its dormant ones (``rested``: found,
    not assembled): their latest rows only move to the block (``write_block``'s ``unchanged``)."""
    kept = {(s.market, s.account) for s in written}
    return [*((s.market, s.account) for s in read if (s.market, s.account) not in kept and not s.closed),
            *((s.market, s.account) for s in rested)]


def write_policy(settings: Settings) -> WritePolicy:
    writes = settings.writes
    return WritePolicy(mode=writes.mode, epsilon=writes.epsilon, heartbeat_blocks=writes.heartbeat_blocks,
                       liquidation_points=writes.liquidation_points)


def _same(a: PositionSnapshot, b: PositionSnapshot) -> bool:
    return (a.health == b.health and a.legs == b.legs and a.price_status == b.price_status
            and a.margin_mode == b.margin_mode and a.detail == b.detail and a.owner == b.owner)


class _Tolerance(NamedTuple):
    """A relative epsilon as an integer ratio: ``new`` is near ``old`` when ``|new - old| * den <= num * |old|``."""

    num: int
    den: int


@functools.lru_cache(maxsize=8)
def _tolerance(epsilon: Decimal) -> _Tolerance:
    ratio = Fraction(epsilon)
    return _Tolerance(ratio.numerator, ratio.denominator)


# The checks below run for every read position every block under an epsilon (bench/RESULTS.md, "Storing what
# accrues"): written as plain loops over the figures, each near when ``old == new or |new - old| * den <= num * |old|``.
def _close_health(a: Health, b: Health, t: _Tolerance) -> bool:
    if (a.health is None) != (b.health is None) or a.liquidatable != b.liquidatable:
        return False
    if a.decimals != b.decimals or a.quote != b.quote or a.quote_unit != b.quote_unit:
        return False
    num, den = t
    for old, new in ((a.raw, b.raw), (a.equity, b.equity), (a.requirement, b.requirement),
                     (a.collateral, b.collateral), (a.debt, b.debt)):
        if old != new and abs(new - old) * den > num * abs(old):
            return False
    return True


def _close_leg(a: Leg, b: Leg, t: _Tolerance, exact_terms: Collection[str]) -> bool:
    if (a.asset != b.asset or a.role != b.role or a.decimals != b.decimals or a.price_decimals != b.price_decimals
            or a.price_key != b.price_key or a.feed != b.feed):
        return False
    num, den = t
    if a.terms != b.terms:
        if a.terms.keys() != b.terms.keys():
            return False
        for key, old in a.terms.items():
            new = b.terms[key]
            if old != new and (key in exact_terms or abs(new - old) * den > num * abs(old)):
                return False
    for old, new in ((a.amount, b.amount), (a.price, b.price), (a.value, b.value)):
        if old != new and abs(new - old) * den > num * abs(old):
            return False
    return True


def _close(a: PositionSnapshot, b: PositionSnapshot, t: _Tolerance, exact_terms: Collection[str]) -> bool:
    if (a.price_status != b.price_status or a.margin_mode != b.margin_mode or a.owner != b.owner
            or len(a.legs) != len(b.legs) or not _close_health(a.health, b.health, t)):
        return False
    return all(_close_leg(x, y, t, exact_terms) for x, y in zip(a.legs, b.legs, strict=True))
