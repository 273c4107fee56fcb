"""One HTTP venue's pipeline (Hyperliquid): poll after poll, each poll one stored snapshot of every market.

A venue has no blocks. Each poll reads every market of the venue for the tracked wallets (the sources'
``fetch`` plans, paced by the venue session) and is stored as one "block" of the venue's own sequence:
number = the last stored one + 1, timestamp = the venue's time of the newest state read (``time`` of a
``clearinghouseState``), hash = ``venue:<time in ms>``. A position whose venue time is older than the venue's
``max_age`` is marked STALE (its health was computed on an old mark), otherwise FRESH. Alerts, the outbox
and the positions are written in one transaction per poll, as for a chain block; there are no reorgs. A margin
parameter of a position that moved since the last poll (``MarginTerms``) is stored and alerted on as on a chain.

A poll that fails (the venue down, hanging past its timeout, busy past its retries, answering garbage) stores
nothing; the error is one line (the run loop logs it and backs off), and every stored position whose venue time
has grown older than ``max_age`` is marked STALE — the last snapshot stays, with its time. A wallet holding a coin
the venue's meta does not list is left out of that poll alone, its stored accounts kept and marked STALE.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from indexer.alerts.channels.base import Channel
from indexer.alerts.engine import AlertEngine
from indexer.alerts.registry import build_channels, routes
from indexer.chain.rpc import RpcStats
from indexer.errors import IndexerError
from indexer.health.nearest import encode_points
from indexer.oracles.status import PriceStatus
from indexer.pipeline.chain_read import ChainRead
from indexer.pipeline.changes import unchanged, write_policy
from indexer.pipeline.memory import ChainMemory
from indexer.protocols.base import MarketRead, VenueSource
from indexer.protocols.registry import venue_source_for
from indexer.risk.margin import margin_terms_of, margins_since
from indexer.settings import Settings
from indexer.store.feed_store import mark_stale_before
from indexer.store.wallet_store import wallet_alert_settings
from indexer.store.writer import write_block
from indexer.types import BlockRef, closing
from indexer.venue.session import VenueSession, run_venue_plans

log = logging.getLogger(__name__)


class VenuePipeline:
    def __init__(self, settings: Settings, engine: Engine, venue: str, *,
                 channels: Mapping[str, Channel[Any]] | None = None,
                 on_block: Callable[[str, int, float], None] | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.engine = engine
        self.chain = venue
        self.config = settings.venues[venue]
        self.session = VenueSession(venue, self.config.url, timeout=self.config.timeout,
                                    weight_per_minute=self.config.weight_per_minute)  # fmt: skip
        self.sources: dict[str, VenueSource] = {key: venue_source_for(settings, key)
                                                for key, m in settings.markets.items() if m.chain == venue}
        self.hints: dict[str, object] = {}
        chosen = build_channels(settings.channels) if channels is None else channels
        self.alerts = AlertEngine(settings.alerts, lambda message: routes(message, chosen), self.sources,
                                  target=settings.risk.target_health)
        self.on_block = on_block
        self.writes = write_policy(settings)
        self.exact_terms = margin_terms_of(self.sources)
        self.lock = asyncio.Lock()
        self.stopping = False
        self.memory: ChainMemory | None = None
        self.last_stored: int | None = None
        self.last_head: int | None = None  # a venue is never behind: its head is what was last stored

    async def close(self) -> None:
        await self.session.close()

    async def _memory(self) -> ChainMemory:
        if self.memory is None:
            self.memory = await asyncio.to_thread(ChainMemory.load, self.engine, chain=self.chain, finality_depth=1,
                                                  discovering=[], margin_terms=self.exact_terms)
        return self.memory

    async def _age_out(self) -> None:
        """After a failed poll: the stored positions whose venue state is now older than ``max_age`` are marked
        STALE (their figures stay, with their venue time: the age is plain to see), so nothing looks fresh while
        the venue cannot be read."""
        before = time.time() - self.config.max_age  # stored times are whole seconds: older by under one, never newer
        try:
            aged = await asyncio.to_thread(mark_stale_before, self.engine, chain=self.chain, before=before)
        except SQLAlchemyError as exc:
            log.error("could not mark positions stale venue=%s error=%s", self.chain, exc)
            return
        if aged:
            if self.memory is not None:
                self.memory.written.clear()  # their rows now say STALE: the next poll writes them in full
            log.warning("venue positions stale venue=%s positions=%d older_than=%ds", self.chain, aged,
                        self.config.max_age)

    async def step(self) -> int:
        """One poll, stored; returns 1 (one venue snapshot)."""
        async with self.lock:
            read = await self.poll()
            self.last_head = read.block.number
            return 1

    async def sync(self, *, block: int | None = None) -> ChainRead:
        if block is not None:
            raise ValueError(f"venue {self.chain!r} has no blocks: it can only be read as it is now")
        async with self.lock:
            return await self.poll()

    async def poll(self) -> ChainRead:
        started = time.perf_counter()
        memory = await self._memory()
        wallets = await asyncio.to_thread(wallet_alert_settings, self.engine)
        accounts = list(wallets)
        before = self.session.stats.copy()
        keys = list(self.sources)
        try:
            reads: list[MarketRead] = await run_venue_plans(
                self.session, [self.sources[key].fetch(accounts, self.hints.get(key)) for key in keys])
        except IndexerError:
            await self._age_out()
            raise
        self.hints.update({key: r.hint for key, r in zip(keys, reads, strict=True)})
        snapshots = [s for r in reads for s in r.snapshots]
        # wallets a market could not value now (a coin missing from the venue's meta): every stored account they
        # hold there keeps its last figures, marked STALE, and is not taken for closed
        unpriced = [(key, account) for key, r in zip(keys, reads, strict=True) if r.unpriced
                    for market, account in memory.healths
                    if market == key and account.partition(":")[0] in set(r.unpriced)]
        now = time.time()
        times = [int(s.detail["venue_time_ms"]) for s in snapshots if "venue_time_ms" in s.detail]
        venue_ms = max(times) if times else int(now * 1000)
        number = (memory.checkpoint or 0) + 1
        parent = memory.hashes.get(number - 1, "")
        block = BlockRef(number=number, hash=f"{self.chain}:{venue_ms}", timestamp=venue_ms // 1000,
                         parent_hash=parent)  # fmt: skip
        for snapshot in snapshots:
            snapshot.block = block
            age = now - int(snapshot.detail.get("venue_time_ms", venue_ms)) / 1000
            snapshot.price_status = PriceStatus.STALE if age > self.config.max_age else PriceStatus.FRESH
        closed = [closing(chain=self.chain, protocol=self.sources[key].kind, market=key,
                          market_address=self.sources[key].market.address, account=account, block=block)
                  for key in keys
                  for account in memory.closings(market=key, requested=accounts,
                                                 found=(s.account for s in snapshots if s.market == key),
                                                 unpriced=(a for k, a in unpriced if k == key))]
        everything = [*snapshots, *closed]
        requests = self.session.stats.requests - before.requests
        read = ChainRead(self.chain, block, snapshots, RpcStats(requests, requests, {}), None, closed=closed)
        read.timings["read"] = time.perf_counter() - started
        read.alerts = self.alerts.evaluate(block=block, snapshots=everything, states=memory.alert_states,
                                           previous_health=memory.healths, wallets=wallets, now=now)
        margins, changes = margins_since(snapshots, self.sources, self.exact_terms, memory.margins)
        if changes:
            self.alerts.margin(read.alerts, block=block, changes=changes, wallets=wallets, now=now,
                               snapshots={(s.market, s.account): s for s in snapshots})
        written = time.perf_counter()
        stored = memory.to_write(everything, self.writes, self.exact_terms)
        same = unchanged(everything, stored)

        def store() -> None:  # in a thread: the liquidation points of what is written, then the one transaction
            write_block(self.engine, chain=self.chain, block=block, snapshots=stored, stale=unpriced,
                        alerts=read.alerts, unchanged=same,
                        liquidations=encode_points(self.sources, stored) if self.writes.liquidation_points else None)

        await asyncio.to_thread(store)
        read.timings["write"] = time.perf_counter() - written
        memory.committed(block=number, snapshots=everything, feeds=[], alerts=read.alerts, discovered={},
                         margins=margins, written=stored, flagged=unpriced)
        memory.hashes[number] = block.hash
        self.last_stored = number
        if self.on_block is not None:
            self.on_block(self.chain, number, time.perf_counter() - started)
        stale = sum(1 for s in snapshots if s.price_status == PriceStatus.STALE) + len(unpriced)
        log.info("venue polled venue=%s snapshot=%d positions=%d stale=%d requests=%d weight=%d seconds=%.3f",
                 self.chain, number, len(snapshots), stale, requests, self.session.stats.weight - before.weight,
                 time.perf_counter() - started)
        return read
