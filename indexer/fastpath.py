"""The oracle fast path: between full reads, a block whose feeds answer differently gets the positions
holding the affected assets recomputed locally from their cached components, and the alert rules run on
them in that same block's processing. The next full read confirms (or corrects) them.

Only the feeds are read (one Multicall3 round). The recomputed figures use the cached token amounts,
so interest accrued since the last full read is not in them; prices are what the protocol's adapter
says it takes from a feed reading (``price_from_feed``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

from indexer.chain.multicall import MulticallReader, run_plans
from indexer.chain.rpc import RpcClient, RpcStats
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.monitor import ChainOracles
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.protocols.base import Source
from indexer.protocols.registry import source_for
from indexer.settings import Settings
from indexer.sync import ChainRead
from indexer.types import BlockRef, PositionSnapshot, PriceKey

log = logging.getLogger(__name__)


def _feed_plan(feeds: ChainlinkFeeds, previous: Sequence[FeedReading]):  # type: ignore[no-untyped-def]
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
    moved.legs = [dataclasses.replace(leg, round_id=rounds.get(leg.feed, leg.round_id)) if leg.feed else leg
                  for leg in moved.legs]
    moved.block = block
    moved.detail = {**moved.detail, "fast_path": 1}
    return moved


async def fast_read(settings: Settings, chain: str, rpc: RpcClient, block_number: int,
                    cached: Sequence[PositionSnapshot], readings: Sequence[FeedReading],
                    feeds: ChainlinkFeeds) -> tuple[ChainRead, list[FeedReading]]:
    """Read only the feeds at ``block_number``; returns the positions recomputed for changed answers (with
    the block's readings), and all of this block's readings (to cache for the next comparison)."""
    header = await rpc.block(block_number)
    config = settings.chains[chain]
    reader = MulticallReader(rpc, header.number, address=config.multicall3, batch_size=config.batch_size)
    price_feeds = [r for r in readings if r.kind == FeedKind.CHAINLINK and r.price_id is None]
    oracles = ChainOracles(settings, chain, feeds)
    now, chain_feeds = await run_plans(reader, [_feed_plan(feeds, price_feeds), oracles.plan()])
    before = {r.address: r.answer for r in price_feeds}
    changed = [r for r in now if r.asset and r.answer != before.get(r.address)]
    rounds = {r.address: r.round_id for r in now}
    moved_keys = {r.asset for r in changed}
    sources = {key: source_for(settings, key) for key in {s.market for s in cached}}
    prices = {key: dict(p for r in changed if (p := source.price_from_feed(r)) is not None)
              for key, source in sources.items()}
    snapshots = [repriced(s, sources[s.market], prices[s.market], header, rounds) for s in cached
                 if not moved_keys.isdisjoint(sources[s.market].price_dependencies(s))]
    if snapshots:
        log.info("fast path chain=%s block=%d changed_assets=%d recomputed=%d", chain, header.number,
                 len(changed), len(snapshots))
    read = ChainRead(chain, header, snapshots, RpcStats(), oracles, readings=[*chain_feeds, *now])
    return read, list(now)
