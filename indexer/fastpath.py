"""The oracle fast path: between full reads, a block whose feeds answer differently gets the positions
holding the affected assets recomputed locally from their cached components, and the alert rules run on
them in that same block's processing. The next full read confirms (or corrects) them.

Only the feeds are read (one Multicall3 round). The recomputed figures use the cached token amounts,
so interest accrued since the last full read is not in them; prices are what the protocol's adapter
says it takes from a feed reading (``price_from_feed``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from indexer.chain.multicall import Plan
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.protocols.base import Source
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


def moved_positions(sources: Mapping[str, Source], cached: Sequence[PositionSnapshot],
                    previous: Sequence[FeedReading], now: Sequence[FeedReading],
                    block: BlockRef) -> list[PositionSnapshot]:
    """The cached positions with a leg priced by a feed whose answer changed since ``previous``, repriced at
    ``block`` with what each one's source takes from the new answers (the others are left as they are)."""
    before = {r.address: r.answer for r in previous}
    changed = [r for r in now if r.asset and r.answer != before.get(r.address)]
    if not changed:
        return []
    rounds = {r.address: r.round_id for r in now}
    # a market takes a reading only from a feed its own positions were priced by: two markets on one chain may
    # price the same asset through different feeds (Aave Core and Prime, a USD and an ETH oracle)
    used: dict[str, set[str]] = {}
    for s in cached:
        used.setdefault(s.market, set()).update(leg.feed for leg in s.legs if leg.feed)
    prices = {key: dict(p for r in changed if r.address in used.get(key, ()) and (p := source.price_from_feed(r))
                        is not None) for key, source in sources.items()}
    changed_feeds = {r.address for r in changed}
    snapshots = [repriced(s, sources[s.market], prices[s.market], block, rounds) for s in cached
                 if any(leg.feed in changed_feeds for leg in s.legs)]
    log.info("fast path block=%d changed_assets=%d recomputed=%d", block.number, len(changed), len(snapshots))
    return snapshots
