"""What one block of one chain produced: positions, feed readings and verdicts, alert writes, timings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from indexer.alerts.engine import AlertWrites
from indexer.chain.rpc import RpcStats
from indexer.oracles.monitor import ChainOracles, mark_positions
from indexer.oracles.reading import FeedReading
from indexer.oracles.status import FeedStatus
from indexer.types import Address, BlockRef, PositionSnapshot


@dataclass
class ChainRead:
    chain: str
    block: BlockRef
    snapshots: list[PositionSnapshot]
    stats: RpcStats
    oracles: ChainOracles | None  # None: an HTTP venue (no feeds; its positions are marked by venue time)
    readings: list[FeedReading] = field(default_factory=list)
    unpriced: list[tuple[str, Address]] = field(default_factory=list)  # (market key, account)
    stale: list[tuple[str, Address]] = field(default_factory=list)  # (market key, account): refused on a stale price
    feeds: dict[str, FeedStatus] = field(default_factory=dict)  # set by ``assess``
    alerts: AlertWrites | None = None  # set when the block is judged
    closed: list[PositionSnapshot] = field(default_factory=list)  # closings written with the block
    checks: dict[str, tuple[int, int]] = field(default_factory=dict)  # self-check per market: (checked, disagreed)
    timings: dict[str, float] = field(default_factory=dict)

    def assess(self, previous: Mapping[str, tuple[int | None, str | None, str]],
               dependencies: Callable[[PositionSnapshot], set[str]] | None = None) -> None:
        """Judge every feed against the block and mark each position with the worst status of the prices its
        health rests on (``dependencies``, see ``mark_positions``)."""
        if self.oracles is None:
            return
        self.feeds = self.oracles.assess(self.block, self.readings, previous)
        mark_positions(self.snapshots, self.feeds, self.oracles.chain_status(self.feeds), dependencies)
