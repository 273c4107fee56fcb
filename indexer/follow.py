"""Following one chain block by block: every new block read, judged, alerted and stored in order.

Before a block is stored its parent hash is checked against the stored previous block. On a mismatch
the follower walks back to the common ancestor, rolls the derived rows above it back
(``indexer.store.reorg``) and re-processes from there. A reorg deeper than the chain's finality depth is
a PermanentError: that chain stops, loudly.
"""

from __future__ import annotations

import asyncio
import logging
import time

from indexer.chain.rpc import RpcClient
from indexer.errors import PermanentError
from indexer.settings import Settings
from indexer.store.queries import checkpoint, feed_metadata, list_wallets
from indexer.store.reorg import rollback, stored_hashes
from indexer.sync import read_chain, store_read

log = logging.getLogger(__name__)


class ChainFollower:
    def __init__(self, settings: Settings, engine: object, chain: str, *, max_blocks_per_step: int = 100) -> None:
        self.settings = settings
        self.engine = engine
        self.chain = chain
        self.config = settings.chains[chain]
        self.max_blocks = max_blocks_per_step
        self.lock = asyncio.Lock()  # held while a block is being processed
        self.stopping = False
        self.last_stored: int | None = None

    async def _head(self) -> int:
        async with RpcClient(self.settings.rpc_urls(self.chain), timeout=self.config.rpc_timeout) as rpc:
            return int(await rpc.call("eth_blockNumber", []), 16)

    async def step(self) -> int:
        """Process every block from the checkpoint to the head (at most ``max_blocks``); returns how many."""
        async with self.lock:
            head = await self._head()
            last = await asyncio.to_thread(checkpoint, self.engine, chain=self.chain)
            number = head if last is None else last + 1
            done = 0
            while number <= head and done < self.max_blocks and not self.stopping:
                stored = await self._process(number)
                number = stored + 1
                done += 1
            return done

    async def _process(self, number: int) -> int:
        """Process block ``number``; returns the block number the follower should continue after."""
        started = time.perf_counter()
        accounts = [w.address for w in await asyncio.to_thread(list_wallets, self.engine)]
        known = await asyncio.to_thread(feed_metadata, self.engine, chain=self.chain)
        read = await read_chain(self.settings, self.chain, accounts, block=number, known_feeds=known)
        stored = await asyncio.to_thread(stored_hashes, self.engine, chain=self.chain, since=number - 1)
        parent = stored.get(number - 1)
        if parent is not None and parent != read.block.parent_hash:
            ancestor = await self._ancestor(number - 1)
            log.warning("reorg detected chain=%s block=%d stored_parent=%s new_parent=%s ancestor=%d",
                        self.chain, number, parent, read.block.parent_hash, ancestor)
            await asyncio.to_thread(rollback, self.engine, chain=self.chain, ancestor=ancestor)
            return ancestor
        await asyncio.to_thread(store_read, self.settings, self.engine, read)
        self.last_stored = number
        log.info("block processed chain=%s block=%d positions=%d alert_events=%d seconds=%.3f", self.chain, number,
                 len(read.snapshots), len(read.alerts.events) if read.alerts else 0, time.perf_counter() - started)
        return number

    async def _ancestor(self, number: int) -> int:
        """The highest stored block that is still canonical, at most ``finality_depth`` back."""
        floor = number - self.config.finality_depth
        hashes = await asyncio.to_thread(stored_hashes, self.engine, chain=self.chain, since=max(floor, 0))
        async with RpcClient(self.settings.rpc_urls(self.chain), timeout=self.config.rpc_timeout) as rpc:
            for candidate in range(number, floor - 1, -1):
                if candidate not in hashes:
                    break
                if (await rpc.block(candidate)).hash == hashes[candidate]:
                    return candidate
        raise PermanentError(f"chain {self.chain!r}: reorg deeper than the finality depth "
                             f"({self.config.finality_depth} blocks) below block {number}; stopping this chain")
