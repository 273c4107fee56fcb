"""What one block of one chain produced: positions, feed readings and verdicts, alert writes, timings."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from indexer.alerts.engine import AlertWrites
from indexer.chain.rpc import RpcStats
from indexer.fastpath import FeedMove
from indexer.oracles.monitor import ChainOracles, mark_positions
from indexer.oracles.reading import FeedReading
from indexer.oracles.status import FeedStatus, PriceStatus
from indexer.protocols.base import MarketRead
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
    chain_status: PriceStatus = PriceStatus.FRESH  # the sequencer's word on every price (``assess``)
    alerts: AlertWrites | None = None  # set when the block is judged
    closed: list[PositionSnapshot] = field(default_factory=list)  # closings written with the block
    checks: dict[str, tuple[int, int]] = field(default_factory=dict)  # self-check per market: (checked, disagreed)
    drifted: dict[str, list[Address]] = field(default_factory=dict)  # per market: vouched unchanged, yet changed
    states: dict[str, Any] = field(default_factory=dict)  # per market read in full: its state (``MarketRead.state``)
    # per market read in full with ``defer``: its accounts rebuilt unassembled, and what assembles them
    # (``MarketRead.deferred``, ``.assemble``); the pipeline assembles those it must (``ChainPipeline._rest``)
    deferred: dict[str, list[Address]] = field(default_factory=dict)
    assemble: dict[str, Callable[[Sequence[Address]], MarketRead]] = field(default_factory=dict)
    # the dormant positions of the deferred: never assembled at this block, their figures within epsilon of these,
    # their written snapshots; found (no closing), not judged, not written: their latest rows move to the block
    rested: list[PositionSnapshot] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # the fast path (``ChainReader.reprice``): the feeds that moved, the markets it serves, the holders left for after
    # the block's alerts (cached, not repriced yet)
    move: FeedMove | None = None
    fast: list[str] = field(default_factory=list)
    steady: list[PositionSnapshot] = field(default_factory=list)

    def assess(self, previous: Mapping[str, tuple[int | None, str | None, str]],
               dependencies: Callable[[PositionSnapshot], set[str]] | None = None) -> None:
        """Judge every feed against the block and mark each position with the worst status of the prices its
        health rests on (``dependencies``, see ``mark_positions``)."""
        if self.oracles is None:
            return
        self.feeds = self.oracles.assess(self.block, self.readings, previous)
        self.chain_status = self.oracles.chain_status(self.feeds)
        mark_positions(self.snapshots, self.feeds, self.chain_status, dependencies)

    def mark(self, snapshots: Sequence[PositionSnapshot],
             dependencies: Callable[[PositionSnapshot], set[str]] | None = None) -> None:
        """Mark positions added after ``assess`` (the fast path's) as it marked the block's."""
        if self.oracles is not None:
            mark_positions(snapshots, self.feeds, self.chain_status, dependencies)

    def fresh_test(self) -> Callable[[PositionSnapshot], bool]:
        """A test, true only for positions ``mark`` would mark FRESH at this block (``assess`` first): every leg
        priced by a feed judged FRESH, the sequencer up. Cheaper than the mark, and cautious: a leg that is no price
        dependency, or has no feed, fails it (the position may well be FRESH)."""
        fresh = self.fresh_feeds()
        if fresh is None:
            return lambda snapshot: False
        return lambda snapshot: all(leg.feed in fresh for leg in snapshot.legs)

    def fresh_feeds(self) -> frozenset[str] | None:
        """The feeds judged FRESH at this block (``assess`` first); None where no price is FRESH (no oracle
        monitor, the sequencer not up): what ``fresh_test`` depends on."""
        if self.oracles is None or self.chain_status is not PriceStatus.FRESH:
            return None
        return frozenset(key for key, status in self.feeds.items() if status.verdict.status is PriceStatus.FRESH)
