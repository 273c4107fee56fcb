"""One pass (``indexer sync``): every configured market of every chain read at one pinned block per chain,
judged and stored, through the same per-chain pipeline ``indexer run`` follows blocks with; and
``read_chain``, the read alone (nothing stored), for tools and tests.

All chain reads happen first (positions and the oracle feeds behind their prices, in the same Multicall3
rounds); the store is written only once everything was read and judged, in one transaction per
chain-block. A failure anywhere before the write leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from indexer.chain.rpc import RpcClient
from indexer.errors import ConfigError
from indexer.pipeline.chain import ChainPipeline, ChainReader
from indexer.pipeline.chain_read import ChainRead
from indexer.settings import Settings
from indexer.store.lease import ChainLease
from indexer.types import Address
from indexer.venue.pipeline import VenuePipeline

__all__ = ["ChainRead", "read_chain", "sync_once"]


async def read_chain(settings: Settings, chain: str, accounts: Sequence[Address], *, block: int | None = None,
                     rpc: RpcClient | None = None, hints: dict[str, object] | None = None) -> ChainRead:
    """Read every market of ``chain`` for ``accounts``, and the feeds behind them, at one block; store nothing.
    ``rpc``: a long-lived client (endpoint health kept across blocks); by default one for this read.
    ``hints``: per market key, what its previous read left for the next (updated in place); a caller that
    reads block after block keeps one dict, which saves each market its entry-point round trips."""
    reader = ChainReader(settings, chain, rpc=rpc)
    if hints is not None:
        reader.hints = hints
    stats_before = reader.rpc.stats.copy()
    try:
        header = await reader.header(block)
        read = await reader.read(header, dict.fromkeys(reader.sources, list(accounts)))
        read.stats = reader.rpc.stats.since(stats_before)
        return read
    finally:
        if rpc is None:
            await reader.close()


async def sync_once(settings: Settings, engine: Engine, *, block: int | None = None,
                    chains: Sequence[str] | None = None,
                    hints: dict[str, dict[str, object]] | None = None) -> list[ChainRead]:
    """Read, judge and store every configured chain once (tracked wallets, and for discovering markets the
    accounts discovery found), raising alerts. Returns what was read, per chain. ``hints``: per chain, the
    markets' hints (see ``read_chain``), for a caller that syncs repeatedly. An HTTP venue is read as it is
    now: with ``block``, venues are left out (or refused, when named in ``chains``)."""
    names = list(chains) if chains else sorted({m.chain for m in settings.markets.values()})
    if block is not None:
        named = [n for n in names if settings.is_venue(n)]
        if chains and named:
            raise ConfigError(f"{named[0]!r} is an HTTP venue: it has no blocks, so --block does not apply to it")
        names = [n for n in names if not settings.is_venue(n)]
    reads = []
    for chain in names:
        lease = ChainLease(engine, chain)
        lease.acquire_or_refuse("sync")  # `indexer run` follows this chain: it alone writes it
        try:
            if settings.is_venue(chain):
                venue = VenuePipeline(settings, engine, chain)
                try:
                    reads.append(await venue.sync())
                finally:
                    await venue.close()
                continue
            pipeline = ChainPipeline(settings, engine, chain)
            if hints is not None:
                pipeline.reads.hints = hints.setdefault(chain, {})
            try:
                reads.append(await pipeline.sync(block=block))
            finally:
                await pipeline.close()
        finally:
            lease.release()
    return reads
