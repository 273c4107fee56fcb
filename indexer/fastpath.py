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
from collections.abc import Sequence

from indexer.chain.multicall import MulticallReader, run_plans
from indexer.chain.rpc import RpcClient, RpcStats
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.monitor import ChainOracles
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.protocols.base import MarketRef
from indexer.protocols.registry import ADAPTERS
from indexer.settings import Settings
from indexer.sync import ChainRead
from indexer.types import BlockRef, PositionSnapshot

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


def repriced(snapshot: PositionSnapshot, changed: dict[str, FeedReading], block: BlockRef,
             rounds: dict[str, int | None]) -> PositionSnapshot:
    """The snapshot at ``block`` with the prices its protocol takes from the changed feeds (asset → reading):
    amounts as cached, per-asset values and health recomputed. A reading the protocol could not price from
    keeps the old price; its feed's verdict (INVALID) marks the position."""
    adapter = ADAPTERS[snapshot.protocol](MarketRef(snapshot.market, snapshot.chain, snapshot.market_address))
    prices = {asset: price for asset, reading in changed.items()
              if (price := adapter.price_from_feed(reading)) is not None}
    assets = []
    for a in snapshot.assets:
        price = prices.get(a.price_source or a.asset, a.price)
        unit = 10**a.decimals
        counted = a.is_collateral and a.liquidation_threshold
        assets.append(dataclasses.replace(
            a, price=price, collateral_base=a.collateral * price // unit if counted else 0,
            debt_base=a.debt * price // unit, round_id=rounds.get(a.feed, a.round_id) if a.feed else a.round_id))
    moved = dataclasses.replace(snapshot, block=block, assets=assets, extra={**snapshot.extra, "fast_path": 1})
    moved.health = adapter.health(moved, {})
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
    changed = {r.asset: r for r in now if r.asset and r.answer != before.get(r.address)}
    rounds = {r.address: r.round_id for r in now}
    affected = [s for s in cached if any((a.price_source or a.asset) in changed for a in s.assets)]
    snapshots = [repriced(s, changed, header, rounds) for s in affected]  # type: ignore[arg-type]
    if changed:
        log.info("fast path chain=%s block=%d changed_assets=%d recomputed=%d", chain, header.number,
                 len(changed), len(snapshots))
    read = ChainRead(chain, header, snapshots, RpcStats(), oracles, readings=[*chain_feeds, *now])
    return read, list(now)
