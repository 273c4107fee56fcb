"""One chain's pipeline: long-lived, block after block (``indexer run``), or once (``indexer sync``).

It owns the chain's RPC client (endpoint health kept across blocks), its Multicall3 reader (a batch size
learned from a rejecting node stays learned), the oracle monitor and the feed metadata it has seen, every
market's source and hint, each market's account set (tracked wallets, plus the accounts discovery found
in that market's own events), and its memory of what is stored (``ChainMemory``).

One block: the header and, for discovering markets, that block's logs come in one JSON-RPC batch; the
header is checked against the remembered chain *before* anything is read (a reorg rolls back instead);
accounts found in the block's logs join their market before its read; the markets are read (full read, or
the oracle fast path between full reads, per market as configured) in merged Multicall3 rounds pinned to
the block; feeds and alerts are judged against memory; and everything the block caused is written in one
transaction, but for the fast path's repriced positions, which follow their alerts in a second (``write_later``).
Of the positions a feed update reprices, the rules see only those it may carry across an alert level (their
health at the new prices leaves their level's steady band, ``fastpath.split_steady``) or that they must see anyway;
the others, for which the rules would raise and write nothing, are repriced after the alerts commit.
The database is asked for one thing per block before that commit: the tracked wallets.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine

from indexer.alerts.channels.base import Channel
from indexer.alerts.engine import AlertEngine
from indexer.alerts.registry import build_channels, routes
from indexer.alerts.rules import severity_level, within_band
from indexer.chain.multicall import MulticallReader, Plan, run_plans
from indexer.chain.rpc import RpcClient
from indexer.discovery import accounts_in, discover, emitters, logs_query
from indexer.errors import BelowCheckpointError, ConfigError, RpcResponseError, RpcUnavailableError
from indexer.fastpath import Band, PositionCache, feed_move, feed_plan, split_steady, steady
from indexer.health.nearest import encode_points
from indexer.logs import Every
from indexer.metrics import BLOCK_PHASE_SECONDS, REORG_DEPTH, REORGS
from indexer.oracles.chainlink import ChainlinkFeeds, FeedMeta
from indexer.oracles.monitor import ChainOracles
from indexer.oracles.reading import FeedReading
from indexer.oracles.status import PriceStatus
from indexer.pipeline.acted import changes_query, named_accounts
from indexer.pipeline.chain_read import ChainRead
from indexer.pipeline.changes import unchanged, write_policy
from indexer.pipeline.heads import HeadTracker, Reorg
from indexer.pipeline.memory import ChainMemory
from indexer.protocols.base import Accrues, ChangeReads, DiscoverySpec, Drifts, MarketRead, Source
from indexer.protocols.registry import source_for
from indexer.risk.margin import Parameters, margin_terms_of, margins_since
from indexer.settings import Settings
from indexer.store.chain_store import rewind_discovery
from indexer.store.reorg import rollback
from indexer.store.wallet_store import wallet_alert_settings
from indexer.store.writer import StateRow, write_block, write_positions
from indexer.types import Address, BlockRef, PositionSnapshot, closing

log = logging.getLogger(__name__)

Wallets = Mapping[str, tuple[str | None, Decimal | None, Decimal | None]]  # account → (label, warn, critical)


def header_of(raw: Mapping[str, Any]) -> BlockRef:
    return BlockRef(number=int(raw["number"], 16), hash=raw["hash"], timestamp=int(raw["timestamp"], 16),
                    parent_hash=raw["parentHash"])


Rows = tuple[list[PositionSnapshot], list[tuple[str, str]]]


def write_later(written: Sequence[PositionSnapshot], same: Sequence[tuple[str, str]], estimated: Collection[str]
                ) -> tuple[Rows, Rows]:
    """The block's positions to write and unchanged ones, split: those of markets read in full, which commit with
    the block's alerts, feeds and checkpoint; and those of the ``estimated`` markets (the fast path's figures:
    cached amounts, the block's prices), which follow in a transaction of their own.

    The fast path exists to raise a feed update's alerts at once, and its figures are an estimate the next full
    read replaces; so its alert rows do not wait for its (possibly many) position rows. Should the process stop
    between the two, the block is stored (checkpoint, alerts, feeds) without its estimated figures: the positions'
    latest rows and history keep the last figures written, and the next block reads every market in full (a
    restarted pipeline caches nothing)."""
    later = set(estimated)
    if not later:
        return (list(written), list(same)), ([], [])
    return (([s for s in written if s.market not in later], [k for k in same if k[0] not in later]),
            ([s for s in written if s.market in later], [k for k in same if k[0] in later]))


class ChainReader:
    """The chain's read side, kept across blocks: RPC client, Multicall3 reader, sources and their hints, the
    oracle monitor and the feeds it knows, and the fast path's cache of positions and feed readings."""

    def __init__(self, settings: Settings, chain: str, *, rpc: RpcClient | None = None) -> None:
        self.settings = settings
        self.chain = chain
        self.config = settings.chains[chain]
        self.rpc = rpc or RpcClient(settings.rpc_urls(chain), timeout=self.config.rpc_timeout)
        self.reader = MulticallReader(self.rpc, 0, address=self.config.multicall3, batch_size=self.config.batch_size)
        self.sources: dict[str, Source] = {key: source_for(settings, key) for key, m in settings.markets.items()
                                           if m.chain == chain}
        self.hints: dict[str, object] = {}
        self.feeds = ChainlinkFeeds()
        self.oracles = ChainOracles(settings, chain, self.feeds)
        self.chain_id_checked = False
        self.cached = PositionCache()
        self.readings: list[FeedReading] = []
        self.check_cursor: dict[str, int] = {}  # per market, where the self-check's rotating sample goes next
        self.checked: Counter[str] = Counter()  # per market: positions self-checked, and disagreements
        self.mismatched: Counter[str] = Counter()

    def _sample(self, key: str, accounts: Sequence[Address]) -> list[Address]:
        """The market's next ``self_check`` accounts, rotating through its account list block after block."""
        size = min(self.settings.markets[key].self_check, len(accounts))
        if not size:
            return []
        start = self.check_cursor.get(key, 0) % len(accounts)
        self.check_cursor[key] = start + size
        return [accounts[(start + i) % len(accounts)] for i in range(size)]

    async def close(self) -> None:
        await self.rpc.close()

    async def check_chain_id(self) -> None:
        if not self.chain_id_checked:
            self._chain_id(await self.rpc.call("eth_chainId", []))

    def _chain_id(self, answer: str) -> None:
        if int(answer, 16) != self.config.chain_id:
            raise ConfigError(f"chain {self.chain!r}: the RPC reports chain id {int(answer, 16)}, the config says "
                              f"{self.config.chain_id}")
        self.chain_id_checked = True

    async def header(self, block: int | None = None) -> BlockRef:
        """The header of ``block`` (default: the head), in one batch with the chain-id check if not done yet."""
        tag = hex(block) if block is not None else "latest"
        calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", [tag, False])]
        if not self.chain_id_checked:
            calls.append(("eth_chainId", []))
        got = await self.rpc.batch(calls)
        if len(got) > 1:
            self._chain_id(got[1])
        if not got[0]:
            raise RpcUnavailableError(f"chain {self.chain!r}: block {block} is not available from the RPC (yet)")
        return header_of(got[0])

    def keeps(self, key: str) -> bool:
        """Whether the market's reads keep its accounts' inputs, to rebuild those that did not act (``ChangeReads``,
        with ``reread_every`` above 1)."""
        return isinstance(self.sources[key], ChangeReads) and self.settings.markets[key].reread_every > 1

    def watched(self, key: str) -> Collection[Address] | None:
        """The contracts whose logs name the market's accounts that act, as its last read found them; None: its
        last read kept nothing to rebuild from."""
        source = self.sources[key]
        return source.watched(self.hints.get(key)) if isinstance(source, ChangeReads) else None

    def _plan(self, key: str, header: BlockRef, accounts: Sequence[Address], vouched: Collection[Address],
              defer: bool = False) -> Plan[MarketRead]:
        source, hint, check = self.sources[key], self.hints.get(key), self._sample(key, accounts)
        if isinstance(source, ChangeReads) and self.keeps(key):
            return source.read(accounts, header, self.feeds, hint, check=check, unchanged=vouched, defer=defer)
        return source.read(accounts, header, self.feeds, hint, check=check)

    async def read(self, header: BlockRef, accounts: Mapping[str, Sequence[Address]],
                   vouched: Mapping[str, Collection[Address]] | None = None, defer: Collection[str] = ()
                   ) -> ChainRead:
        """The markets of ``accounts`` read in full for those accounts, the cached positions of the others
        repriced from the block's feed answers (the fast path); the feeds behind them in the same rounds.
        ``vouched``: per market, the accounts no log named since its last read, which it may rebuild from what that
        read kept (``ChangeReads``); ``defer``: the markets whose rebuilt accounts are left unassembled
        (``ChainRead.deferred``)."""
        started = time.perf_counter()
        stats_before = self.rpc.stats.copy()
        full = list(accounts)
        self.reader.block_number = header.number
        plans = [self._plan(key, header, accounts[key], (vouched or {}).get(key, ()), key in defer) for key in full]
        fast = sorted(self.cached.markets() - set(full))  # markets between full reads with positions cached
        *reads, chain_feeds, now = await run_plans(self.reader, [*plans, self.oracles.plan(),
                                                                 feed_plan(self.feeds, self.readings if fast else [])])
        market_reads: dict[str, MarketRead] = dict(zip(full, reads, strict=True))
        self.hints.update({key: r.hint for key, r in market_reads.items()})
        for key, r in market_reads.items():
            self.checked[key] += r.checked
            self.mismatched[key] += len(r.mismatched)
        snapshots = [s for r in market_reads.values() for s in r.snapshots]
        readings: list[FeedReading] = [*chain_feeds, *(f for r in market_reads.values() for f in r.feeds), *now]
        read = ChainRead(self.chain, header, snapshots, self.rpc.stats.since(stats_before),
                         self.oracles, readings=readings,
                         unpriced=[(key, a) for key, r in market_reads.items() for a in r.unpriced],
                         stale=[(key, a) for key, r in market_reads.items() for a in r.stale])
        if fast:
            read.move = feed_move(self.sources, self.cached, self.readings, now)
            read.fast = fast
        read.checks = {key: (r.checked, len(r.mismatched)) for key, r in market_reads.items() if r.checked}
        read.drifted = {key: r.drifted for key, r in market_reads.items() if r.drifted}
        read.states = {key: r.state for key, r in market_reads.items() if r.state is not None}
        for key, r in market_reads.items():
            if r.deferred and r.assemble is not None:
                read.deferred[key], read.assemble[key] = r.deferred, r.assemble
        read.timings["read"] = time.perf_counter() - started
        BLOCK_PHASE_SECONDS.labels(self.chain, "read").observe(read.timings["read"])
        return read

    def reprice(self, read: ChainRead, band: Callable[[PositionSnapshot], Band | None] | None = None
                ) -> list[PositionSnapshot]:
        """The fast path: the cached positions of the read's fast markets holding an asset whose feed answered
        differently, repriced at the block. With ``band`` (a position's steady healths, see ``split_steady``),
        only those whose health at the new prices leaves it are repriced now; the others wait in ``read.steady``
        for ``reprice_steady``, after the block's alerts are committed."""
        move = read.move
        if move is None:
            return []
        holders = self.cached.holding((r.address for r in move.changed), read.fast)
        judged, read.steady = (holders, []) if band is None else split_steady(self.sources, holders, move, band)
        log.info("fast path chain=%s block=%d changed_assets=%d holders=%d judged=%d", self.chain,
                 read.block.number, len(move.changed), len(holders), len(judged))
        return move.reprice(self.sources, judged, read.block)

    def reprice_steady(self, read: ChainRead) -> list[PositionSnapshot]:
        """The holders ``reprice`` left for later, repriced at the block."""
        move = read.move
        if move is None:
            return []
        return move.reprice(self.sources, read.steady, read.block)

    def remember(self, read: ChainRead, full: Sequence[str]) -> None:
        """Keep a stored block's positions and feed readings for the fast path of the next blocks."""
        self.cached.replace(set(full), read.snapshots, read.rested)  # a full read replaces its market's positions
        self.readings = [r for r in read.readings if r.asset]

    def forget(self) -> None:
        self.cached, self.readings = PositionCache(), []


@dataclass(frozen=True, slots=True)
class Steady:
    """The fast path's holders repriced after their block's alerts: all of them, those to write, the others."""

    snapshots: list[PositionSnapshot]
    written: list[PositionSnapshot]
    same: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A block read and ready to be judged: what its judgement and its write need."""

    read: ChainRead
    wallets: Wallets
    found: dict[str, dict[str, tuple[int, int]]]  # accounts its logs named, per discovering market
    full: list[str]  # the markets read in full (the others by the fast path)
    accounts: dict[str, list[Address]]  # the accounts each fully read market was asked for
    started: float  # perf_counter when its processing began


@dataclass(frozen=True, slots=True)
class Landing:
    """A block judged, its write running in a thread."""

    prepared: Prepared
    task: asyncio.Task[None] | None  # None: written already, in the event loop (``overlap`` off)


class ChainPipeline:
    def __init__(self, settings: Settings, engine: Engine, chain: str, *, max_blocks_per_step: int = 100,
                 rpc: RpcClient | None = None, channels: Mapping[str, Channel[Any]] | None = None,
                 on_block: Callable[[str, int, float], None] | None = None, overlap: bool = False,
                 steady_split: bool = True) -> None:
        """``channels``: the alert channels built once by the caller (default: built here from the config);
        ``on_block(chain, block, seconds)`` is called after each block's commit; ``overlap``: block B's write runs
        while block B+1 is read (commit order and crash safety as without: B commits before B+1 is written);
        ``steady_split`` off: the rules see every position of a full read and every holder of a moved feed on the
        fast path (what the split is measured and tested against; it stores the same)."""
        self.settings = settings
        self.engine = engine
        self.chain = chain
        self.config = settings.chains[chain]
        self.max_blocks = max_blocks_per_step
        self.lock = asyncio.Lock()  # held while a block is being processed
        self.stopping = False
        self.last_stored: int | None = None
        self.reads = ChainReader(settings, chain, rpc=rpc)
        self.rpc = self.reads.rpc
        self.discovery: dict[str, DiscoverySpec] = {
            key: spec for key, source in self.reads.sources.items()
            if settings.markets[key].discover and (spec := source.discovery()) is not None}
        self.every = {key: settings.markets[key].snapshot_every for key in self.reads.sources}
        chosen = build_channels(settings.channels) if channels is None else channels
        self.alerts = AlertEngine(settings.alerts, lambda message: routes(message, chosen), self.reads.sources,
                                  target=settings.risk.target_health)
        self.on_block = on_block
        self.last_head: int | None = None  # the head the last step saw
        self.memory: ChainMemory | None = None
        self.heads: HeadTracker | None = None
        self.emitters: dict[str, Address] = {}
        self.last_full: dict[str, int] = {}  # per market, the block of its last full read
        # per market keeping its accounts' inputs (``ChainReader.keeps``), the block of its last read of every account
        self.last_complete: dict[str, int] = {}
        self.progress = Every(settings.run.progress_seconds)  # block lines at INFO at most this often
        self.writes = write_policy(settings)
        self.exact_terms = margin_terms_of(self.reads.sources)
        # ``[writes] mode = "accrued"``: per market whose protocol derives figures from inputs and a state, its inputs
        self.inputs = {key: source.inputs for key, source in self.reads.sources.items()
                       if isinstance(source, Accrues)} if self.writes.states else {}
        # … and of those, the ones whose protocol bounds how far a position drifts with the indexes (``Drifts``)
        self.drifts = {key: source for key, source in self.reads.sources.items()
                       if isinstance(source, Accrues) and isinstance(source, Drifts)}
        # a dormant position's health at a later block, for the alert rules' previous health (``ChainMemory.previous``)
        self.advance = {key: source.advance for key, source in self.reads.sources.items()
                        if isinstance(source, Accrues)}
        self.overlap = overlap  # write block B in a thread while block B+1 is read
        self.steady_split = steady_split
        self.alerts_committed: tuple[int, float] | None = None  # (block, perf_counter) of the last alert-row commit
        self.dormant = 0  # of the last block judged, its dormant positions (``_rest``)
        REORGS.labels(chain)  # exported from zero
        REORG_DEPTH.labels(chain)

    async def close(self) -> None:
        await self.reads.close()

    # -- state ----------------------------------------------------------------------------------
    async def _memory(self) -> ChainMemory:
        if self.memory is None:
            self.memory = await asyncio.to_thread(
                ChainMemory.load, self.engine, chain=self.chain, finality_depth=self.config.finality_depth,
                discovering=sorted(self.discovery), margin_terms=self.exact_terms)
            self.reads.feeds.known.update({a: FeedMeta(d, desc) for a, (d, desc) in self.memory.feed_meta.items()})
            self.heads = HeadTracker(self.rpc, chain=self.chain, finality_depth=self.config.finality_depth,
                                     known=self.memory.hashes)
        return self.memory

    def _forget(self) -> None:
        """After a reorg: reload from the store, read every market in full."""
        self.memory, self.heads = None, None
        self.last_full, self.last_complete = {}, {}
        self.reads.forget()

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

    # -- following ------------------------------------------------------------------------------
    async def step(self) -> int:
        """Process every block from the checkpoint to the head (at most ``max_blocks``); returns how many."""
        async with self.lock:
            await self.reads.check_chain_id()
            head = self.last_head = await self._head()
            memory = await self._memory()
            if memory.checkpoint is not None and head <= memory.checkpoint and await self._tip_replaced(memory, head):
                return 0  # rolled back: the next step reads the canonical blocks
            await self._backfill(memory, head)
            number = head if memory.checkpoint is None else memory.checkpoint + 1
            done = 0
            writing: Landing | None = None  # the previous block's write, in its thread
            try:
                while number <= head and done < self.max_blocks and not self.stopping:
                    prepared = await self._prepare(number)  # while the previous block is being written
                    if writing is not None:
                        await self._landed(writing)
                        writing = None
                    if isinstance(prepared, Reorg):
                        await self._rollback(prepared)
                        number = prepared.ancestor + 1
                    else:
                        writing = self._launch(prepared)
                        if not self.overlap:
                            await self._landed(writing)
                            writing = None
                        number += 1
                    done += 1
            finally:
                if writing is not None:  # a read failed (or the loop ends): the write in flight lands first
                    await self._landed(writing)
            return done

    async def _tip_replaced(self, memory: ChainMemory, head: int) -> bool:
        """With nothing new to read, whether the stored tip is still the node's: a reorg that replaced it at
        the same height (or shortened the chain) shows no new block, so it is looked for here, once a poll."""
        assert self.heads is not None and memory.checkpoint is not None
        header = await self.rpc.block(min(head, memory.checkpoint))
        event = await self.heads.verify(header, processed_up_to=memory.checkpoint)
        if event is None:
            return False
        await self._rollback(event)
        return True

    async def _rollback(self, event: Reorg) -> None:
        await asyncio.to_thread(rollback, self.engine, chain=self.chain, ancestor=event.ancestor,
                                level_of=severity_level)
        await asyncio.to_thread(rewind_discovery, self.engine, chain=self.chain, to_block=event.ancestor)
        self._forget()

    async def _backfill(self, memory: ChainMemory, head: int) -> None:
        """Markets whose discovery has not reached the last stored block are scanned up to the head first (a
        backfill commits range by range); from there on, each block scans its own logs."""
        upto = memory.checkpoint if memory.checkpoint is not None else head  # what must be scanned already
        behind = [key for key, last in memory.discovery_progress.items() if last is None or last < upto]
        if not behind:
            return
        found = await discover(self.settings, self.engine, chain=self.chain, head=head, rpc=self.rpc, markets=behind)
        if found.new_accounts:
            log.info("discovered chain=%s accounts=%d up_to_block=%d", self.chain, found.new_accounts, head)
        self.memory = None  # reload the accounts and progress it committed
        refreshed = await self._memory()
        for key in behind:  # nothing new below the head: the next block follows on from here
            refreshed.discovery_progress[key] = max(refreshed.discovery_progress.get(key) or 0, head)

    async def _prepare(self, number: int) -> Prepared | Reorg:
        """Block ``number`` read (its header checked against the remembered chain first, its logs scanned for the
        discovering markets, every market read in full or by the fast path); or the reorg its header reveals.
        Reads only: the store is not touched but for the tracked wallets, so it runs while the previous block's
        write is in flight."""
        started = time.perf_counter()
        memory = await self._memory()
        assert self.heads is not None
        scanning = await self._scanning(memory, number)
        full = [key for key in self.reads.sources
                if key not in self.last_full or number - self.last_full[key] >= self.every[key]]
        changes = self._changes(number, full)
        calls: list[tuple[str, list[Any]]] = [
            ("eth_getBlockByNumber", [hex(number), False]),
            *(("eth_getLogs", [logs_query(self.discovery[key], emitter, number)]) for key, emitter in scanning.items())]
        try:
            header_raw, *logs = await self.rpc.batch([*calls, *(("eth_getLogs", [q]) for q in changes.values())])
        except RpcResponseError as exc:
            if not changes:
                raise
            log.warning("change logs refused chain=%s block=%d markets=%d error=%s: their accounts are read anew",
                        self.chain, number, len(changes), exc)
            changes = {}
            header_raw, *logs = await self.rpc.batch(calls)
        if not header_raw:
            raise RpcUnavailableError(f"chain {self.chain!r}: block {number} is not available from the RPC (yet)")
        header = header_of(header_raw)
        event = await self.heads.check(header)
        if isinstance(event, Reorg):
            return event
        logs, acted = logs[:len(scanning)], dict(zip(changes, logs[len(scanning):], strict=True))
        found = {key: accounts_in(entries, self.discovery[key]) for key, entries in zip(scanning, logs, strict=True)}
        wallets = await asyncio.to_thread(wallet_alert_settings, self.engine)
        tracked = list(wallets)
        accounts = {key: self._accounts(key, tracked, memory, found) for key in full}
        vouched = {}
        for key, entries in acted.items():
            named = named_accounts(entries, self.last_full[key] + 1, header)
            if named is not None:
                vouched[key] = {a for a in accounts[key] if a not in named}
        read = await self.reads.read(header, accounts, vouched, self._deferring(full))
        for key in full:
            if self.reads.keeps(key) and key not in vouched:
                self.last_complete[key] = number
        for key, drifted in read.drifted.items():  # the next block reads every account of the market anew
            log.warning("accounts changed unseen chain=%s block=%d market=%s accounts=%d first=%s: the market's "
                        "accounts are read anew", self.chain, number, key, len(drifted), drifted[0])
            self.last_complete.pop(key, None)
        return Prepared(read, wallets, found, full, accounts, started)

    def _changes(self, number: int, full: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per market read in full at block ``number`` that may rebuild its accounts that did not act, the
        ``eth_getLogs`` filter of its watched contracts since its last read: not when its last read kept nothing,
        nor when ``reread_every`` blocks have passed since it read every account."""
        queries = {}
        for key in full:
            last, complete = self.last_full.get(key), self.last_complete.get(key)
            if (not self.reads.keeps(key) or last is None or complete is None
                    or number - complete >= self.settings.markets[key].reread_every):
                continue
            emitters = self.reads.watched(key)
            if emitters:
                queries[key] = changes_query(emitters, last + 1, number)
        return queries

    def _launch(self, prepared: Prepared) -> Landing:
        """Judge the block against memory and start its write in a thread. Memory (and the fast path's cache, the
        remembered headers) move on at once, as if the write had committed, so the next block can be read while
        this one is written; should the write fail, ``_landed`` drops them all and the next step reloads from
        the store, which did not move."""
        read, memory = prepared.read, self.memory
        assert memory is not None and self.heads is not None
        closed = self._closings(read, prepared.accounts, memory)
        drifting = self._drifting(read, memory)
        written, margins = self._judge(read, prepared.wallets, memory, closed)
        stored = memory.to_write(written, self.writes, self.exact_terms, self.inputs, drifting)
        same = unchanged(written, stored, read.rested)
        estimated = [key for key in self.reads.sources if key not in prepared.full]
        steady = functools.cache(lambda: self._steady(read, memory))
        task = None
        if self.overlap:
            steady()  # memory and the cache are the event loop's: the thread only writes
            task = asyncio.create_task(asyncio.to_thread(self._write, read, stored, prepared.found, same, estimated,
                                                         steady))
        else:
            try:
                self._write(read, stored, prepared.found, same, estimated, steady)
            except BaseException:
                self._forget()
                raise
        rest = steady()
        read.snapshots += rest.snapshots
        memory.committed(block=read.block.number, snapshots=[*written, *rest.snapshots], feeds=read.feeds.values(),
                         alerts=read.alerts, discovered=prepared.found, margins=margins,
                         written=[*stored, *rest.written], flagged=[*read.unpriced, *read.stale],
                         rested=read.rested, states=read.states, header=read.block)
        self.heads.accept(read.block)
        for key in prepared.full:
            self.last_full[key] = read.block.number
        self.reads.remember(read, prepared.full)
        return Landing(prepared, task)

    async def _landed(self, landing: Landing) -> None:
        """Wait for a block's write; then it is stored (the checkpoint moved with it). A failed write drops what
        memory assumed and raises."""
        try:
            if landing.task is not None:
                await landing.task
        except BaseException:
            self._forget()
            raise
        prepared = landing.prepared
        read, number = prepared.read, prepared.read.block.number
        self.last_stored = number
        seconds = time.perf_counter() - prepared.started
        if self.on_block is not None:
            self.on_block(self.chain, number, seconds)
        kind = "full" if len(prepared.full) == len(self.reads.sources) else "fast" if not prepared.full else "mixed"
        events = len(read.alerts.events) if read.alerts else 0
        level = logging.INFO if self.progress.due() or events else logging.DEBUG
        since = self.progress.take_skipped() if level == logging.INFO else 0
        log.log(level, "block processed chain=%s block=%d read=%s positions=%d alert_events=%d seconds=%.3f%s",
                self.chain, number, kind, len(read.snapshots) + len(read.rested), events, seconds,
                f" blocks_since_last_line={since}" if since else "")

    async def _scanning(self, memory: ChainMemory, number: int) -> dict[str, Address]:
        """Discovering markets whose scan reaches the block before ``number``, with their event emitters."""
        keys = [key for key in self.discovery if memory.discovery_progress.get(key) == number - 1]
        missing = [key for key in keys if key not in self.emitters]
        if missing:
            self.emitters.update(await emitters(self.settings, self.rpc, self.chain, missing, number - 1))
        return {key: self.emitters[key] for key in keys}

    def _accounts(self, key: str, tracked: list[str], memory: ChainMemory,
                  found: Mapping[str, Mapping[str, tuple[int, int]]]) -> list[str]:
        """A market's accounts: tracked wallets, then (if it discovers) the accounts of its own events."""
        if key not in self.discovery:
            return tracked
        accounts = dict.fromkeys(tracked)
        accounts.update(dict.fromkeys(memory.discovered.get(key, [])))
        accounts.update(dict.fromkeys(found.get(key, {})))
        return list(accounts)

    def _closings(self, read: ChainRead, accounts: Mapping[str, Sequence[Address]],
                  memory: ChainMemory) -> list[PositionSnapshot]:
        """Closing snapshots of the stored positions that this block's full reads asked for and did not find."""
        out = []
        found: dict[str, list[str]] = {}  # per market, the accounts read (one pass over the block's positions)
        for snapshot in read.snapshots:
            found.setdefault(snapshot.market, []).append(snapshot.account)
        for key, deferred in read.deferred.items():  # found too, assembled or dormant (``_rest``)
            found.setdefault(key, []).extend(deferred)
        for key, requested in accounts.items():
            source = self.reads.sources[key]
            for account in memory.closings(market=key, requested=requested, found=found.get(key, ()),
                                           unpriced=(a for k, a in [*read.unpriced, *read.stale] if k == key)):
                out.append(closing(chain=self.chain, protocol=source.kind, market=key,
                                   market_address=source.market.address, account=account, block=read.block))
        if out:
            log.info("positions closed chain=%s block=%d count=%d", self.chain, read.block.number, len(out))
        return out

    def _judge_and_write(self, read: ChainRead, wallets: Wallets, memory: ChainMemory,
                         found: Mapping[str, Mapping[str, tuple[int, int]]],
                         closed: Sequence[PositionSnapshot] = ()) -> None:
        """Judge the block and write it with everything it caused in one transaction, then remember what was
        written (``indexer sync``: one block, nothing to overlap with)."""
        drifting = self._drifting(read, memory)
        written, margins = self._judge(read, wallets, memory, closed)
        stored = memory.to_write(written, self.writes, self.exact_terms, self.inputs, drifting)
        self._write(read, stored, found, unchanged(written, stored, read.rested))
        memory.committed(block=read.block.number, snapshots=written, feeds=read.feeds.values(), alerts=read.alerts,
                         discovered=found, margins=margins, written=stored,
                         flagged=[*read.unpriced, *read.stale], rested=read.rested, states=read.states,
                         header=read.block)

    def _judge(self, read: ChainRead, wallets: Wallets, memory: ChainMemory, closed: Sequence[PositionSnapshot] = ()
               ) -> tuple[list[PositionSnapshot], dict[tuple[str, str], Parameters]]:
        """Judge the feeds and run the alert rules against memory (a closing is not priced: its alerts resolve);
        the positions the block writes, closings included, and their margin parameters."""
        dependencies = self._dependencies
        read.assess(memory.feed_states, dependencies)
        self._rest(read, memory, wallets)
        if read.move is not None:  # the fast path: the holders a move may carry across an alert level, judged now
            band = self.alerts.steady_bands(chain=self.chain, states=memory.alert_states, wallets=wallets,
                                            fresh=read.fresh_test()) if self.steady_split else None
            moved = self.reads.reprice(read, band)
            read.mark(moved, dependencies)
            read.snapshots += moved
        written = [*read.snapshots, *closed]
        judged = written
        if read.move is None and self.steady_split and read.snapshots:
            # a full read: the rules see only the positions whose health left the band where their level holds (or
            # that must be seen whatever it is: a level pending, an oracle alert, a price not FRESH, a closing)
            band = self.alerts.steady_bands(chain=self.chain, states=memory.alert_states, wallets=wallets,
                                            fresh=lambda snapshot: snapshot.price_status == PriceStatus.FRESH)
            judged = [s for s in read.snapshots if not steady(s, band)]
            log.debug("full read chain=%s block=%d positions=%d judged=%d", self.chain, read.block.number,
                      len(read.snapshots), len(judged))
            judged += closed
        read.alerts = self.alerts.evaluate(block=read.block, snapshots=judged, states=memory.alert_states,
                                           previous_health=memory.previous(self.advance), wallets=wallets,
                                           now=time.time())
        margins, changes = margins_since(read.snapshots, self.reads.sources, self.exact_terms, memory.margins)
        if changes:
            self.alerts.margin(read.alerts, block=read.block, changes=changes, wallets=wallets, now=time.time(),
                               snapshots={(s.market, s.account): s for s in read.snapshots})
        read.closed = list(closed)
        return written, margins

    def _deferring(self, full: Sequence[str]) -> list[str]:
        """The markets read in full whose rebuilt accounts the read leaves unassembled (``_rest`` assembles those
        that are not dormant): where the drift bound holds (accrued writes with an epsilon, ``Drifts``) and the
        rules see only the positions outside their steady bands."""
        if not (self.drifts and self.writes.states and self.writes.epsilon and self.steady_split):
            return []
        return [key for key in full if key in self.drifts and self.reads.keeps(key)]

    def _rest(self, read: ChainRead, memory: ChainMemory, wallets: Wallets) -> None:
        """The block's deferred accounts (``ChainRead.deferred``, after ``assess``) split in two. The dormant ones
        (``ChainMemory.resting``): within epsilon of their written row, which was FRESH, every price under it FRESH
        at the block, and their alert level's steady band holding for every health within epsilon of the row's
        (``within_band``), no heartbeat due: the rules would raise nothing and the write would store nothing for
        them, so they are not assembled (``read.rested``). The others are assembled and marked, and join the block's
        positions."""
        self.dormant = memory.reused = 0
        if not read.deferred:
            return
        epsilon, heartbeat, number = Fraction(self.writes.epsilon), self.writes.heartbeat_blocks, read.block.number
        bands = self.alerts.steady_bands(chain=self.chain, states=memory.alert_states, wallets=wallets,
                                         fresh=read.fresh_test())
        tests: dict[Band, Callable[[Decimal | None], bool]] = {}

        def keeps(last: PositionSnapshot) -> bool:
            if last.price_status != PriceStatus.FRESH or (heartbeat and number - last.block.number >= heartbeat):
                return False
            healths = bands(last)
            if healths is None:
                return False
            test = tests.get(healths)
            if test is None:
                test = tests[healths] = within_band(healths, epsilon)
            return test(last.health.health)

        # what ``keeps`` depends on besides the position and its alert states: a position dormant in the market's
        # last block is asked only its indexes' growth and its heartbeat again while this is as it was
        # (``ChainMemory.resting``)
        context = (read.fresh_feeds(), epsilon, heartbeat, wallets)

        def due(last: PositionSnapshot) -> bool:
            return number - last.block.number >= heartbeat

        woken: list[PositionSnapshot] = []
        bounded = set(self._deferring(list(read.deferred)))  # (a read deferred for a market only when it was asked)
        for key, accounts in read.deferred.items():
            source, state = self.drifts.get(key), read.states.get(key)
            rested: list[PositionSnapshot] = []
            if source is None or state is None or key not in bounded:
                waking = list(accounts)
            else:
                rested, waking = memory.resting(key, accounts, source, state, epsilon, keeps, block=number,
                                                context=context, due=due if heartbeat else None)
            read.rested += rested
            if waking:
                made = read.assemble[key](waking)
                woken += made.snapshots
                read.unpriced += [(key, account) for account in made.unpriced]
        read.mark(woken, self._dependencies)
        read.snapshots += woken
        self.dormant = len(read.rested)
        log.debug("dormant chain=%s block=%d rested=%d reused=%d assembled=%d", self.chain, read.block.number,
                  len(read.rested), memory.reused, len(woken))

    def _drifting(self, read: ChainRead, memory: ChainMemory) -> Mapping[str, Drifts]:
        """Under accrued writes with an epsilon, the block's steady parts given to memory (``ChainMemory.steady``: a
        market without a state in the block is no longer followed), and the markets whose positions ``to_write`` may
        spare a comparison. Otherwise none, and memory keeps no parts (nor a row's headroom)."""
        if not (self.drifts and self.writes.states and self.writes.epsilon):
            memory.steady(None)
            return {}
        memory.steady({key: source.steady_parts(read.states[key], read.block) if key in read.states else None
                       for key, source in self.drifts.items()}, read.block.number)
        return self.drifts

    def _dependencies(self, snapshot: PositionSnapshot) -> set[str]:
        """The prices a position's health rests on, as its market's source says (what marks its price status)."""
        return self.reads.sources[snapshot.market].price_dependencies(snapshot)

    def _steady(self, read: ChainRead, memory: ChainMemory) -> Steady:
        """The fast path's steady holders (``ChainReader.reprice``) repriced and marked, and those of them to write."""
        snapshots = self.reads.reprice_steady(read)
        if not snapshots:
            return Steady([], [], [])
        read.mark(snapshots, self._dependencies)
        stored = memory.to_write(snapshots, self.writes, self.exact_terms, self.inputs, self.drifts)
        return Steady(snapshots, stored, unchanged(snapshots, stored))

    def _write(self, read: ChainRead, written: Sequence[PositionSnapshot],
               found: Mapping[str, Mapping[str, tuple[int, int]]], same: Sequence[tuple[str, str]] = (),
               estimated: Collection[str] = (), steady: Callable[[], Steady] | None = None) -> None:
        """The block's transaction: the positions to write (``[writes]``) and closings, the unchanged ones moved
        to the block, feeds, alert events and their outbox rows, discovered accounts and progress (thread-safe: it
        touches the store only). The positions of the ``estimated`` markets (repriced by the fast path) follow in
        a second transaction: a feed update's alerts commit without waiting for them (see ``write_later``)."""
        started = time.perf_counter()
        now, later = write_later(written, same, estimated)
        # off the loop with the write (``overlap``)
        points = encode_points(self.reads.sources, now[0]) if self.writes.liquidation_points else None
        read.timings["liquidations"] = time.perf_counter() - started
        write_block(self.engine, chain=self.chain, block=read.block, snapshots=now[0],
                    feeds=list(read.feeds.values()), unpriced=read.unpriced, stale=read.stale, alerts=read.alerts,
                    discovered=found, checks=read.checks, unchanged=now[1], liquidations=points,
                    states=self._states(read))
        self.alerts_committed = (read.block.number, time.perf_counter())
        if steady is not None:  # the fast path's holders whose alert levels it could not move, repriced now
            rest = steady()
            later = ([*later[0], *rest.written], [*later[1], *rest.same])
        if later[0] or later[1]:
            begun = time.perf_counter()
            points = encode_points(self.reads.sources, later[0]) if self.writes.liquidation_points else None
            read.timings["liquidations"] += time.perf_counter() - begun
            write_positions(self.engine, chain=self.chain, block=read.block, snapshots=later[0], unchanged=later[1],
                            liquidations=points)
        read.timings["write"] = time.perf_counter() - started - read.timings["liquidations"]
        BLOCK_PHASE_SECONDS.labels(self.chain, "write").observe(read.timings["write"])
        not_fresh = sum(1 for f in read.feeds.values() if f.verdict.status != PriceStatus.FRESH)
        log.debug("stored chain=%s block=%d positions=%d written=%d feeds=%d not_fresh=%d alert_events=%d "
                  "seconds=%.3f", read.chain, read.block.number, len(read.snapshots), len(written), len(read.feeds),
                  not_fresh,
                  len(read.alerts.events) if read.alerts else 0, read.timings["write"])

    def _states(self, read: ChainRead) -> dict[str, StateRow]:
        """The block's market states to store (``[writes] mode = "accrued"``), with the verdicts that mark its
        positions' price status."""
        if not self.writes.states or not read.states:
            return {}
        verdicts = {address: status.verdict.status.value for address, status in read.feeds.items()}
        return {key: StateRow(state, verdicts, read.chain_status.value) for key, state in read.states.items()
                if key in self.inputs}

    # -- one pass -----------------------------------------------------------------------------
    async def sync(self, *, block: int | None = None) -> ChainRead:
        """``indexer sync``: every market read in full at ``block`` (default: the head) for its tracked and
        discovered accounts, judged and stored, without following or scanning for new accounts."""
        stats_before = self.rpc.stats.copy()
        header = await self.reads.header(block)
        memory = await self._memory()
        if memory.checkpoint is not None and header.number < memory.checkpoint:
            # judging an older block against newer state would run the alert rules backwards (rounds going
            # back, resolutions) and move the checkpoint back, and `run` would then store those blocks again
            raise BelowCheckpointError(
                f"chain {self.chain!r}: block {header.number} is below the stored checkpoint {memory.checkpoint}; "
                "the store only moves forward (sync at or above it)")
        wallets = await asyncio.to_thread(wallet_alert_settings, self.engine)
        tracked = list(wallets)
        accounts = {key: self._accounts(key, tracked, memory, {}) for key in self.reads.sources}
        read = await self.reads.read(header, accounts)
        self._judge_and_write(read, wallets, memory, {}, self._closings(read, accounts, memory))
        read.stats = self.rpc.stats.since(stats_before)
        log.info("synced chain=%s block=%d positions=%d requests=%d seconds=%.3f", self.chain, header.number,
                 len(read.snapshots), read.stats.requests, sum(read.timings.values()))
        return read
