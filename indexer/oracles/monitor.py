"""Oracle monitor for one chain: which feeds to read, how stale they are, and what that means for positions.

Feeds come from three places: the protocol adapters (the source behind every asset a market prices),
the chain's hand-listed feeds, and the chain's L2 sequencer-uptime feed. All are read inside the same
pinned Multicall3 pass as the positions. Heartbeats come from hand config, else the shipped tables,
else the explicit default (logged once per feed, never silently).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from indexer.chain.multicall import Plan
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.heartbeats import load_tables
from indexer.oracles.pyth import pyth_calls, pyth_decode
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.oracles.status import FeedStatus, Previous, PriceStatus, judge_price, judge_sequencer, worst
from indexer.settings import FeedSettings, Settings
from indexer.types import BlockRef, PositionSnapshot

log = logging.getLogger(__name__)
_defaulted: set[tuple[str, str]] = set()


class ChainOracles:
    def __init__(self, settings: Settings, chain: str, known: ChainlinkFeeds | None = None) -> None:
        self.chain = chain
        self.config = settings.chains[chain]
        self.oracles = settings.oracles
        self.tables = load_tables(settings.feed_tables_dir())
        self.feeds = known or ChainlinkFeeds()
        self.hand: list[tuple[str, FeedSettings]] = [
            (settings.resolve_address(chain, f.address, f"chain {chain!r} feed"), f) for f in self.config.feeds]
        self.sequencer = (settings.resolve_address(chain, self.config.sequencer_uptime_feed,
                                                   f"chain {chain!r} sequencer_uptime_feed")
                          if self.config.sequencer_uptime_feed else None)

    def plan(self) -> Plan[list[FeedReading]]:
        """Read the sequencer feed and the hand-listed feeds (one round, merged with the adapters' first)."""
        calls, spans = [], []
        for address, feed in self.hand:
            part = (pyth_calls(address, feed.price_id) if feed.kind == "pyth" and feed.price_id is not None
                    else self.feeds.calls(address))
            spans.append(len(part))
            calls += part
        if self.sequencer:
            seq = self.feeds.calls(self.sequencer)
            calls += seq
        results = yield calls
        readings, offset = [], 0
        for (address, feed), span in zip(self.hand, spans, strict=True):
            part, offset = results[offset: offset + span], offset + span
            if feed.kind == "pyth":
                assert feed.price_id is not None
                readings.append(pyth_decode(address, feed.price_id, part, asset=feed.asset, symbol=feed.symbol))
            else:
                readings.append(self.feeds.decode(address, part, asset=feed.asset, symbol=feed.symbol))
        if self.sequencer:
            readings.append(self.feeds.decode(self.sequencer, results[offset:], kind=FeedKind.SEQUENCER))
        return readings

    def _rule(self, reading: FeedReading) -> tuple[int, str, float | None, tuple[int | None, int | None]]:
        for address, feed in self.hand:
            if address.lower() == reading.address.lower() and feed.price_id == reading.price_id and feed.heartbeat:
                return feed.heartbeat, "config", feed.deviation, (feed.min_answer, feed.max_answer)
        bounds = next(((f.min_answer, f.max_answer) for a, f in self.hand
                       if a.lower() == reading.address.lower() and f.price_id == reading.price_id), (None, None))
        row = self.tables.get((self.config.chain_id, reading.address.lower()))
        if row is not None and row.heartbeat > 0:
            return row.heartbeat, "table" if row.confirmed else "table-unconfirmed", row.deviation, bounds
        if (self.chain, reading.key) not in _defaulted:
            _defaulted.add((self.chain, reading.key))
            log.warning("no heartbeat known chain=%s feed=%s asset=%s: using the default %ds "
                        "(list it under [[chains.%s.feeds]] to set one)", self.chain, reading.key,
                        reading.symbol or reading.asset, self.oracles.default_heartbeat, self.chain)
        return self.oracles.default_heartbeat, "default", None, bounds

    def assess(self, block: BlockRef, readings: Sequence[FeedReading],
               previous: Mapping[str, tuple[int | None, str | None, str]]) -> dict[str, FeedStatus]:
        """Judge every reading at ``block``; ``previous`` maps feed key → (round id, aggregator, status)."""
        statuses: dict[str, FeedStatus] = {}
        for reading in readings:
            if reading.key in statuses:
                continue
            prev = previous.get(reading.key)
            if reading.kind == FeedKind.SEQUENCER:
                verdict = judge_sequencer(reading, block_timestamp=block.timestamp,
                                          grace_period=self.config.sequencer_grace)
                heartbeat, source, deviation = None, "", None
            else:
                heartbeat, source, deviation, bounds = self._rule(reading)
                verdict = judge_price(reading, block_timestamp=block.timestamp, heartbeat=heartbeat,
                                      grace=self.oracles.grace, bounds=bounds,
                                      previous=Previous(prev[0], prev[1]) if prev else None)
            changed = prev is None or prev[2] != verdict.status
            if changed and prev is not None:
                log.warning("feed status changed chain=%s block=%d feed=%s asset=%s from=%s to=%s reason=%s",
                            self.chain, block.number, reading.key, reading.symbol, prev[2], verdict.status,
                            verdict.reason)
            if prev is not None and prev[1] and reading.aggregator and prev[1] != reading.aggregator:
                log.warning("aggregator swapped chain=%s block=%d feed=%s from=%s to=%s",
                            self.chain, block.number, reading.key, prev[1], reading.aggregator)
            statuses[reading.key] = FeedStatus(reading, verdict, heartbeat, source, deviation, changed)
        return statuses

    def chain_status(self, statuses: Mapping[str, FeedStatus]) -> PriceStatus:
        """What the sequencer says about every price on this chain (FRESH without a sequencer feed)."""
        if self.sequencer is None:
            return PriceStatus.FRESH
        return statuses[self.sequencer].verdict.status


def mark_positions(snapshots: Sequence[PositionSnapshot], statuses: Mapping[str, FeedStatus],
                   chain_status: PriceStatus,
                   dependencies: Callable[[PositionSnapshot], set[str]] | None = None) -> None:
    """Set each position's ``price_status``: the worst of the feeds that priced it and the chain's sequencer.
    ``dependencies``: the price keys a position's health rests on (its source's ``price_dependencies``); a
    leg priced by anything else (a loan token that is the quote currency itself) is not judged.

    A leg with no feed behind it is UNKNOWN, unless the protocol itself vouched for its price at the block:
    ``detail["price_verdict"]`` (a ``PriceStatus`` name) is the protocol's own freshness verdict on the prices it
    read without a feed (Synthetix v3's views refuse a Pyth price older than the market's tolerance with
    ERC-7412 ``OracleDataRequired``: success is FRESH, that refusal STALE)."""
    mark_with(snapshots, {key: status.verdict.status for key, status in statuses.items()}, chain_status,
              dependencies)


def mark_with(snapshots: Sequence[PositionSnapshot], verdicts: Mapping[str, PriceStatus], chain_status: PriceStatus,
              dependencies: Callable[[PositionSnapshot], set[str]] | None = None) -> None:
    """``mark_positions`` from the verdicts alone (feed key → status), as a block stored them (a market state)."""
    for snapshot in snapshots:
        keys = dependencies(snapshot) if dependencies is not None else None
        own = _own_verdict(snapshot)
        feed_statuses = [verdicts[a.feed] if a.feed is not None and a.feed in verdicts
                         else own for a in snapshot.legs if keys is None or a.price_key in keys]
        snapshot.price_status = worst([*feed_statuses, chain_status])


def _own_verdict(snapshot: PositionSnapshot) -> PriceStatus:
    """The protocol's own verdict on the prices of its legs without a feed (UNKNOWN when it gives none)."""
    verdict = snapshot.detail.get("price_verdict")
    try:
        return PriceStatus(verdict) if verdict is not None else PriceStatus.UNKNOWN
    except ValueError:
        log.warning("unknown price verdict chain=%s market=%s wallet=%s verdict=%r", snapshot.chain,
                    snapshot.market, snapshot.account, verdict)
        return PriceStatus.UNKNOWN
