"""One pass: every tracked account on every configured market, each chain at one pinned block.

All chain reads happen first (positions and the oracle feeds behind their prices, in the same Multicall3
rounds); the store is written only once everything was read and judged, in one transaction per
chain-block. A failure anywhere before the write leaves the database as it was.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from indexer.alerts.engine import AlertEngine, AlertWrites
from indexer.alerts.registry import build_channels, routes
from indexer.chain.multicall import MulticallReader, run_plans
from indexer.chain.rpc import RpcClient, RpcStats
from indexer.errors import ConfigError, RpcUnavailableError
from indexer.oracles.chainlink import ChainlinkFeeds, FeedMeta
from indexer.oracles.monitor import ChainOracles, mark_positions
from indexer.oracles.reading import FeedReading
from indexer.oracles.status import FeedStatus, PriceStatus
from indexer.protocols.base import MarketRef
from indexer.protocols.registry import SOURCES, market_ref
from indexer.settings import Settings
from indexer.store.queries import (
    alert_states,
    feed_metadata,
    feed_states,
    position_healths,
    wallet_alert_settings,
)
from indexer.store.writer import write_block
from indexer.types import Address, BlockRef, PositionSnapshot

log = logging.getLogger(__name__)


@dataclass
class ChainRead:
    chain: str
    block: BlockRef
    snapshots: list[PositionSnapshot]
    stats: RpcStats
    oracles: ChainOracles
    readings: list[FeedReading] = field(default_factory=list)
    unpriced: list[tuple[str, Address]] = field(default_factory=list)  # (market key, account)
    feeds: dict[str, FeedStatus] = field(default_factory=dict)  # set by ``assess``
    alerts: AlertWrites | None = None  # set by ``store_read``
    timings: dict[str, float] = field(default_factory=dict)

    def assess(self, previous: Mapping[str, tuple[int | None, str | None, str]]) -> None:
        """Judge every feed against the block and mark each position with the worst status of its prices."""
        self.feeds = self.oracles.assess(self.block, self.readings, previous)
        mark_positions(self.snapshots, self.feeds, self.oracles.chain_status(self.feeds))


def market_refs(settings: Settings, chain: str) -> list[MarketRef]:
    return [market_ref(settings, key) for key, m in settings.markets.items() if m.chain == chain]


async def read_chain(settings: Settings, chain: str, accounts: Sequence[Address], *, block: int | None = None,
                     known_feeds: Mapping[str, tuple[int, str]] | None = None,
                     rpc: RpcClient | None = None, hints: dict[str, object] | None = None) -> ChainRead:
    """Read every market of ``chain`` for ``accounts``, and the feeds behind them, at one block.
    ``rpc``: a long-lived client (endpoint health kept across blocks); by default one for this read.
    ``hints``: per market key, what its previous read left for the next (updated in place); a caller that
    reads block after block keeps one dict, which saves each market its entry-point round trips."""
    config = settings.chains[chain]
    feeds = ChainlinkFeeds({a: FeedMeta(d, desc) for a, (d, desc) in (known_feeds or {}).items()})
    oracles = ChainOracles(settings, chain, feeds)
    started = time.perf_counter()
    own = rpc is None
    client = RpcClient(settings.rpc_urls(chain), timeout=config.rpc_timeout) if rpc is None else rpc
    requests_before = client.stats.requests
    try:
        chain_id_hex, header = await client.batch([
            ("eth_chainId", []), ("eth_getBlockByNumber", [hex(block) if block is not None else "latest", False])])
        if int(chain_id_hex, 16) != config.chain_id:
            raise ConfigError(f"chain {chain!r}: the RPC reports chain id {int(chain_id_hex, 16)}, "
                              f"the config says {config.chain_id}")
        if not header:
            raise RpcUnavailableError(f"chain {chain!r}: block {block} is not available from the RPC (yet)")
        pinned = BlockRef(number=int(header["number"], 16), hash=header["hash"],
                          timestamp=int(header["timestamp"], 16), parent_hash=header["parentHash"])
        reader = MulticallReader(client, pinned.number, address=config.multicall3, batch_size=config.batch_size)
        markets = market_refs(settings, chain)
        hints = {} if hints is None else hints
        plans = [SOURCES[settings.markets[m.key].protocol](m).read(accounts, pinned, feeds, hints.get(m.key))
                 for m in markets]
        *market_reads, chain_feeds = await run_plans(reader, [*plans, oracles.plan()])
        hints.update({m.key: r.hint for m, r in zip(markets, market_reads, strict=True)})
    finally:
        if own:
            await client.close()
    stats = client.stats if own else RpcStats(requests=client.stats.requests - requests_before)
    read = ChainRead(
        chain, pinned, [s for r in market_reads for s in r.snapshots], stats, oracles,
        readings=[*chain_feeds, *(f for r in market_reads for f in r.feeds)],
        unpriced=[(m.key, a) for m, r in zip(markets, market_reads, strict=True) for a in r.unpriced])
    read.timings["read"] = time.perf_counter() - started
    log.info("read chain=%s block=%d accounts=%d positions=%d feeds=%d requests=%d seconds=%.3f",
             chain, pinned.number, len(accounts), len(read.snapshots), len(read.readings), stats.requests,
             read.timings["read"])
    return read


async def sync_once(settings: Settings, engine: object, *, block: int | None = None,
                    chains: Sequence[str] | None = None,
                    hints: dict[str, dict[str, object]] | None = None) -> list[ChainRead]:
    """Read, judge and store every configured chain once, raising alerts. Returns what was read, per chain.
    ``hints``: per chain, the markets' hints (see ``read_chain``), for a caller that syncs repeatedly."""
    from indexer.store.queries import wallet_addresses

    accounts = await asyncio.to_thread(wallet_addresses, engine)
    names = list(chains) if chains else sorted({m.chain for m in settings.markets.values()})
    reads = []
    for chain in names:
        known = await asyncio.to_thread(feed_metadata, engine, chain=chain)
        read = await read_chain(settings, chain, accounts, block=block, known_feeds=known,
                                hints=None if hints is None else hints.setdefault(chain, {}))
        await asyncio.to_thread(store_read, settings, engine, read)
        reads.append(read)
    return reads


def store_read(settings: Settings, engine: Any, read: ChainRead) -> None:
    """Judge the feeds, run the alert rules, and write the block with everything it caused in one transaction."""
    read.assess(feed_states(engine, chain=read.chain))
    alerts = alert_engine(settings).evaluate(
        block=read.block, snapshots=read.snapshots, states=alert_states(engine, chain=read.chain),
        previous_health=position_healths(engine, chain=read.chain), wallets=wallet_alert_settings(engine),
        now=time.time())
    read.alerts = alerts
    started = time.perf_counter()
    write_block(engine, chain=read.chain, block=read.block, snapshots=read.snapshots,
                feeds=list(read.feeds.values()), unpriced=read.unpriced, alerts=alerts)
    read.timings["write"] = time.perf_counter() - started
    not_fresh = sum(1 for f in read.feeds.values() if f.verdict.status != PriceStatus.FRESH)
    log.info("stored chain=%s block=%d positions=%d feeds=%d not_fresh=%d alert_events=%d seconds=%.3f",
             read.chain, read.block.number, len(read.snapshots), len(read.feeds), not_fresh, len(alerts.events),
             read.timings["write"])


def alert_engine(settings: Settings) -> AlertEngine:
    channels = build_channels(settings.channels)
    return AlertEngine(settings.alerts, lambda message: routes(message, channels))
