"""One pass: every tracked account on every configured market, each chain at one pinned block.

All chain reads happen first; the store is written only once everything was read and computed, in one
transaction per chain-block. A failure anywhere before the write leaves the database as it was.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from indexer.chain.multicall import MulticallReader, run_plans
from indexer.chain.rpc import RpcClient, RpcStats
from indexer.errors import ConfigError
from indexer.protocols.base import MarketRef
from indexer.protocols.registry import ADAPTERS
from indexer.settings import Settings
from indexer.types import Address, BlockRef, PositionSnapshot

log = logging.getLogger(__name__)


@dataclass
class ChainRead:
    chain: str
    block: BlockRef
    snapshots: list[PositionSnapshot]
    stats: RpcStats
    timings: dict[str, float] = field(default_factory=dict)


def market_refs(settings: Settings, chain: str) -> list[MarketRef]:
    return [MarketRef(key=key, chain=chain, address=settings.market_address(key), verify_onchain=m.verify_onchain)
            for key, m in settings.markets.items() if m.chain == chain]


async def read_chain(settings: Settings, chain: str, accounts: Sequence[Address], *,
                     block: int | None = None) -> ChainRead:
    """Read every market of ``chain`` for ``accounts`` at one block (the head, unless given)."""
    config = settings.chains[chain]
    started = time.perf_counter()
    async with RpcClient(settings.rpc_urls(chain), timeout=config.rpc_timeout) as rpc:
        chain_id_hex, header = await rpc.batch([
            ("eth_chainId", []), ("eth_getBlockByNumber", [hex(block) if block is not None else "latest", False])])
        if int(chain_id_hex, 16) != config.chain_id:
            raise ConfigError(f"chain {chain!r}: the RPC reports chain id {int(chain_id_hex, 16)}, "
                              f"the config says {config.chain_id}")
        if not header:
            raise ConfigError(f"chain {chain!r}: block {block} does not exist yet")
        pinned = BlockRef(number=int(header["number"], 16), hash=header["hash"],
                          timestamp=int(header["timestamp"], 16), parent_hash=header["parentHash"])
        reader = MulticallReader(rpc, pinned.number, address=config.multicall3, batch_size=config.batch_size)
        plans = [ADAPTERS[settings.markets[m.key].protocol](m).read(accounts, pinned)
                 for m in market_refs(settings, chain)]
        results = await run_plans(reader, plans)
        stats = rpc.stats
    snapshots = [s for market in results for s in market]
    elapsed = time.perf_counter() - started
    log.info("read chain=%s block=%d accounts=%d positions=%d requests=%d seconds=%.3f",
             chain, pinned.number, len(accounts), len(snapshots), stats.requests, elapsed)
    return ChainRead(chain, pinned, snapshots, stats, {"read": elapsed})


async def sync_once(settings: Settings, engine: object, *, block: int | None = None,
                    chains: Sequence[str] | None = None) -> list[ChainRead]:
    """Read and store every configured chain once. Returns what was read, per chain."""
    from indexer.store.queries import list_wallets
    from indexer.store.writer import write_block

    accounts = [w.address for w in await asyncio.to_thread(list_wallets, engine)]
    names = list(chains) if chains else sorted({m.chain for m in settings.markets.values()})
    reads = []
    for chain in names:
        read = await read_chain(settings, chain, accounts, block=block)
        started = time.perf_counter()
        await asyncio.to_thread(write_block, engine, chain=chain, block=read.block, snapshots=read.snapshots)
        read.timings["write"] = time.perf_counter() - started
        log.info("stored chain=%s block=%d positions=%d seconds=%.3f",
                 chain, read.block.number, len(read.snapshots), read.timings["write"])
        reads.append(read)
    return reads
