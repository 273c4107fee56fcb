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
from indexer.discovery import discover, watched_accounts
from indexer.errors import PermanentError, RpcUnavailableError
from indexer.fastpath import fast_read
from indexer.oracles.chainlink import ChainlinkFeeds, FeedMeta
from indexer.oracles.reading import FeedReading
from indexer.settings import Settings
from indexer.store.queries import checkpoint, feed_metadata, rewind_discovery, wallet_addresses
from indexer.store.reorg import rollback, stored_hashes
from indexer.sync import read_chain, store_read
from indexer.types import PositionSnapshot

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
        self.rpc = RpcClient(settings.rpc_urls(chain), timeout=self.config.rpc_timeout)
        self.every = min((m.snapshot_every for m in settings.markets.values() if m.chain == chain), default=1)
        self.last_full: int | None = None  # block of the last full read (the fast path's cache)
        self.cached: list[PositionSnapshot] = []
        self.readings: list[FeedReading] = []
        self.hints: dict[str, object] = {}  # per market, what its last read resolved (confirmed on each use)

    @property
    def discovering(self) -> bool:
        return any(m.discover for m in self.settings.markets.values() if m.chain == self.chain)

    def _watched(self) -> list[str]:
        """Tracked wallets and, for markets with ``discover = true``, every account seen in their events."""
        accounts = dict.fromkeys(wallet_addresses(self.engine))
        for key, market in self.settings.markets.items():
            if market.chain == self.chain and market.discover:
                accounts.update(dict.fromkeys(watched_accounts(self.engine, chain=self.chain, market=key)))
        return list(accounts)

    async def close(self) -> None:
        await self.rpc.close()

    async def _head(self) -> int:
        """The best head among the endpoints; endpoints lagging it by more than ``max_lag_blocks`` are demoted."""
        if len(self.rpc.endpoints) == 1:
            return int(await self.rpc.call("eth_blockNumber", []), 16)
        heads = await self.rpc.heads()
        known = [h for h in heads.values() if h is not None]
        if not known:
            raise RpcUnavailableError(f"chain {self.chain!r}: no RPC endpoint answered eth_blockNumber")
        best = max(known)
        for url, h in heads.items():
            if h is not None and best - h > self.config.max_lag_blocks:
                self.rpc.demote(url, 30 * self.config.poll_interval, f"head {h} lags {best} by {best - h} blocks")
        return best

    async def step(self) -> int:
        """Process every block from the checkpoint to the head (at most ``max_blocks``); returns how many."""
        async with self.lock:
            head = await self._head()
            if self.discovering:
                found = await discover(self.settings, self.engine, chain=self.chain, head=head, rpc=self.rpc)  # type: ignore[arg-type]
                if found.new_accounts:
                    log.info("discovered chain=%s accounts=%d up_to_block=%d", self.chain, len(found.new_accounts),
                             head)
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
        full = self.last_full is None or number - self.last_full >= self.every
        known = await asyncio.to_thread(feed_metadata, self.engine, chain=self.chain)
        if full:
            accounts = await asyncio.to_thread(self._watched)
            read = await read_chain(self.settings, self.chain, accounts, block=number, known_feeds=known,
                                    rpc=self.rpc, hints=self.hints)
        else:
            feeds = ChainlinkFeeds({a: FeedMeta(d, desc) for a, (d, desc) in known.items()})
            read, readings = await fast_read(self.settings, self.chain, self.rpc, number, self.cached,
                                             self.readings, feeds)
        stored = await asyncio.to_thread(stored_hashes, self.engine, chain=self.chain, since=number - 1)
        parent = stored.get(number - 1)
        if parent is not None and parent != read.block.parent_hash:
            ancestor = await self._ancestor(number - 1)
            log.warning("reorg detected chain=%s block=%d stored_parent=%s new_parent=%s ancestor=%d",
                        self.chain, number, parent, read.block.parent_hash, ancestor)
            await asyncio.to_thread(rollback, self.engine, chain=self.chain, ancestor=ancestor)
            await asyncio.to_thread(rewind_discovery, self.engine, chain=self.chain, to_block=ancestor)
            self.last_full, self.cached, self.readings = None, [], []
            return ancestor
        await asyncio.to_thread(store_read, self.settings, self.engine, read)
        if full:
            self.last_full, self.cached, self.readings = number, read.snapshots, read.readings
        else:
            moved = {(s.market, s.account): s for s in read.snapshots}
            self.cached = [moved.get((s.market, s.account), s) for s in self.cached]
            self.readings = [r for r in readings]
        self.last_stored = number
        log.info("block processed chain=%s block=%d read=%s positions=%d alert_events=%d seconds=%.3f", self.chain,
                 number, "full" if full else "fast", len(read.snapshots),
                 len(read.alerts.events) if read.alerts else 0, time.perf_counter() - started)
        return number

    async def _ancestor(self, number: int) -> int:
        """The highest stored block that is still canonical, at most ``finality_depth`` back."""
        floor = number - self.config.finality_depth
        hashes = await asyncio.to_thread(stored_hashes, self.engine, chain=self.chain, since=max(floor, 0))
        for candidate in range(number, floor - 1, -1):
            if candidate not in hashes:
                break
            if (await self.rpc.block(candidate)).hash == hashes[candidate]:
                return candidate
        raise PermanentError(f"chain {self.chain!r}: reorg deeper than the finality depth "
                             f"({self.config.finality_depth} blocks) below block {number}; stopping this chain")
