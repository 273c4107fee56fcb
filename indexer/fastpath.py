"""The oracle fast path: between full reads, a block whose feeds answer differently gets the positions
holding the affected assets recomputed locally from their cached components, and the alert rules run on
them in that same block's processing. The next full read confirms (or corrects) them.

Of the holders, the rules see at once only those the move may carry across an alert level, or that they must
see whatever their health (``split_steady``): for the rest, the rules' own ``health_at`` at the new prices stays
inside the band where their level holds, so judging them would raise and write nothing. Those are repriced after
the block's alerts commit (the pipeline's second transaction), so an update's alerts wait only for its crossings.

Only the feeds are read (one Multicall3 round). The recomputed figures use the cached token amounts,
so interest accrued since the last full read is not in them; prices are what the protocol's adapter
says it takes from a feed reading (``price_from_feed``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from indexer.alerts.rules import in_band
from indexer.chain.multicall import Plan
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.protocols.base import PositionRules, Source
from indexer.types import BlockRef, PositionSnapshot, PriceKey

log = logging.getLogger(__name__)


def _feed_plan(feeds: ChainlinkFeeds, previous: Sequence[FeedReading]) -> Plan[list[FeedReading]]:
    spans, calls = [], []
    for reading in previous:
        part = feeds.calls(reading.address)
        spans.append(len(part))
        calls += part
    results = yield calls
    out, offset = [], 0
    for reading, span in zip(previous, spans, strict=True):
        out.append(feeds.decode(reading.address, results[offset: offset + span], kind=reading.kind,
                                asset=reading.asset, symbol=reading.symbol))
        offset += span
    return out


def repriced(snapshot: PositionSnapshot, source: Source, prices: Mapping[PriceKey, int], block: BlockRef,
             rounds: Mapping[str, int | None]) -> PositionSnapshot:
    """The snapshot at ``block`` with ``prices`` (key → the price the protocol takes from a changed feed):
    amounts as cached, leg values and health recomputed by the source, each leg's feed round moved on. A
    reading the protocol could not price from keeps the old price; its feed's verdict (INVALID) marks the
    position."""
    moved = source.reprice(snapshot, prices)
    moved.legs = [leg.at_price(leg.price, leg.value, rounds.get(leg.feed, leg.round_id)) if leg.feed else leg
                  for leg in moved.legs]
    moved.block = block
    moved.detail = {**moved.detail, "fast_path": 1}
    return moved


def feed_plan(feeds: ChainlinkFeeds, previous: Sequence[FeedReading]) -> Plan[list[FeedReading]]:
    """The Chainlink-style price feeds among ``previous`` (the readings the cached positions were valued on),
    read again: merged into the block's other rounds."""
    return _feed_plan(feeds, [r for r in previous if r.kind == FeedKind.CHAINLINK and r.price_id is None])


Key = tuple[str, str]  # (market key, account)


class PositionCache:
    """The fast path's cached positions by (market key, account), indexed by the feeds their legs are priced by:
    a feed update finds the positions holding its asset without looking at the others (at 100,000 positions and a
    feed most of them do not hold, the update costs what its holders cost)."""

    def __init__(self) -> None:
        self.positions: dict[Key, PositionSnapshot] = {}
        self.by_feed: dict[str, dict[Key, None]] = {}  # feed → its holders, in the order they were cached
        self.market_feeds: dict[str, Counter[str]] = {}  # market → the feeds its positions are priced by (counted)
        self.per_market: Counter[str] = Counter()  # market → positions cached
        self.feeds: dict[Key, frozenset[str]] = {}  # each cached position's feeds, as indexed

    @classmethod
    def of(cls, snapshots: Iterable[PositionSnapshot]) -> PositionCache:
        cache = cls()
        for snapshot in snapshots:
            cache.put(snapshot)
        return cache

    def __len__(self) -> int:
        return len(self.positions)

    def markets(self) -> set[str]:
        """The markets with cached positions."""
        return {market for market, count in self.per_market.items() if count}

    def put(self, snapshot: PositionSnapshot) -> None:
        key = (snapshot.market, snapshot.account)
        gone = self.feeds.get(key)
        self.positions[key] = snapshot
        feeds = _feeds(snapshot)
        if gone is None:
            self.per_market[snapshot.market] += 1
        else:
            if gone == feeds:
                return
            self._unindex(key, gone)
        self.feeds[key] = feeds
        counts = self.market_feeds.setdefault(snapshot.market, Counter())
        for feed in feeds:
            self.by_feed.setdefault(feed, {})[key] = None
            counts[feed] += 1

    def replace(self, markets: Collection[str], snapshots: Iterable[PositionSnapshot],
                resting: Iterable[PositionSnapshot] = ()) -> None:
        """Put ``snapshots``; of ``markets`` (read in full), forget every position not among them nor ``resting``: a
        position read again with the same feeds keeps its place in the index, so a block of full reads touches it
        once. ``resting``: positions found but not assembled (dormant), whose cached figures stay as they are (the
        given snapshot is put where none is cached)."""
        kept: set[Key] = set()
        for snapshot in snapshots:
            self.put(snapshot)
            kept.add((snapshot.market, snapshot.account))
        for snapshot in resting:
            key = (snapshot.market, snapshot.account)
            if key not in self.positions:
                self.put(snapshot)
            kept.add(key)
        if not any(self.per_market.get(market) for market in markets):
            return
        for key in [k for k in self.positions if k[0] in markets and k not in kept]:
            del self.positions[key]
            self._unindex(key, self.feeds.pop(key))
            self.per_market[key[0]] -= 1

    def _unindex(self, key: Key, feeds: frozenset[str]) -> None:
        counts = self.market_feeds[key[0]]
        for feed in feeds:
            holders = self.by_feed[feed]
            del holders[key]
            if not holders:
                del self.by_feed[feed]
            counts[feed] -= 1
            if not counts[feed]:
                del counts[feed]

    def holding(self, feeds: Iterable[str], markets: Collection[str] | None = None) -> list[PositionSnapshot]:
        """The cached positions with a leg priced by one of ``feeds`` (of ``markets`` only, where given), each once,
        in the order they were cached per feed."""
        keys: dict[Key, None] = {}
        for feed in feeds:
            keys.update(self.by_feed.get(feed, {}))
        return [self.positions[k] for k in keys if markets is None or k[0] in markets]

    def used(self, market: str) -> Collection[str]:
        """The feeds ``market``'s cached positions are priced by."""
        return self.market_feeds.get(market, Counter()).keys()


def _feeds(snapshot: PositionSnapshot) -> frozenset[str]:
    return frozenset(leg.feed for leg in snapshot.legs if leg.feed)


@dataclass(frozen=True, slots=True)
class FeedMove:
    """The feeds whose answers changed in a block, as each market's rules price them."""

    changed: list[FeedReading]
    prices: dict[str, dict[PriceKey, int]]  # market key → price key → the price its rules take from the new answer
    rounds: dict[str, int | None]  # feed address → its round now

    def reprice(self, sources: Mapping[str, Source], snapshots: Iterable[PositionSnapshot], block: BlockRef
                ) -> list[PositionSnapshot]:
        """``snapshots`` repriced at ``block`` with what each one's source takes from the move (``repriced``)."""
        return [repriced(s, sources[s.market], self.prices[s.market], block, self.rounds) for s in snapshots]


def feed_move(sources: Mapping[str, Source], cache: PositionCache, previous: Sequence[FeedReading],
              now: Sequence[FeedReading]) -> FeedMove | None:
    """What changed between ``previous`` (the readings the cached positions were valued on) and ``now``; None when
    no answer did."""
    before = {r.address: r.answer for r in previous}
    changed = [r for r in now if r.asset and r.answer != before.get(r.address)]
    if not changed:
        return None
    # a market takes a reading only from a feed its own positions were priced by: two markets on one chain may
    # price the same asset through different feeds (Aave Core and Prime, a USD and an ETH oracle)
    prices = {key: dict(p for r in changed if r.address in cache.used(key) and (p := source.price_from_feed(r))
                        is not None) for key, source in sources.items()}
    return FeedMove(changed, prices, {r.address: r.round_id for r in now})


def moved_positions(sources: Mapping[str, Source], cached: Iterable[PositionSnapshot] | PositionCache,
                    previous: Sequence[FeedReading], now: Sequence[FeedReading],
                    block: BlockRef, *, markets: Collection[str] | None = None) -> list[PositionSnapshot]:
    """The cached positions (of ``markets``, where given) with a leg priced by a feed whose answer changed since
    ``previous``, repriced at ``block`` with what each one's source takes from the new answers (the others are left
    as they are)."""
    cache = cached if isinstance(cached, PositionCache) else PositionCache.of(cached)
    move = feed_move(sources, cache, previous, now)
    if move is None:
        return []
    snapshots = move.reprice(sources, cache.holding((r.address for r in move.changed), markets), block)
    log.info("fast path block=%d changed_assets=%d recomputed=%d", block.number, len(move.changed), len(snapshots))
    return snapshots


Band = tuple[Decimal | None, Decimal | None]  # healths [low, high), None: unbounded (``alerts.rules.steady_band``)


def steady(snapshot: PositionSnapshot, band: Callable[[PositionSnapshot], Band | None]) -> bool:
    """Whether the rules would raise and write nothing for ``snapshot`` as it is: its health in its ``band``."""
    healths = band(snapshot)
    return healths is not None and in_band(snapshot.health.health, healths)


def split_steady(sources: Mapping[str, PositionRules], holders: Iterable[PositionSnapshot], move: FeedMove,
                 band: Callable[[PositionSnapshot], Band | None]) -> tuple[list[PositionSnapshot],
                                                                            list[PositionSnapshot]]:
    """The cached ``holders`` of a move split in two: those the block's rules must see, and those whose health at
    the new prices (the rules' ``health_at``: the health ``reprice`` gives, to the unit) stays in their ``band``,
    for which the rules would raise and write nothing. ``band`` says a position's steady healths, or None where the
    rules must see it whatever its health (a level pending, an oracle alert, a price that is not fresh)."""
    judged: list[PositionSnapshot] = []
    steady: list[PositionSnapshot] = []
    for snapshot in holders:
        healths = band(snapshot)
        if healths is not None and in_band(sources[snapshot.market].health_at(snapshot, move.prices[snapshot.market])
                                           .health, healths):
            steady.append(snapshot)
        else:
            judged.append(snapshot)
    return judged, steady
