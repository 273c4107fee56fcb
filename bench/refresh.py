"""The indexer's refresh (``sync_once``: read every tracked wallet at one block, then store), measured.

The indexer's own classes are swapped for thin timing subclasses while a refresh runs, so the wall time
splits into RPC (JSON-RPC round trips, JSON included), building the calls (``Call.of``: selector and
argument encoding), aggregate3 calldata encoding, result decoding, health math, judging the feeds and
running the alert rules (with the reads they need), and the database write; the rest (the plans' own
bookkeeping, assembling snapshots, listing wallets, thread hand-offs) is "other". The JSON-RPC payloads
the client posts are kept for the floor replay.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import indexer.pipeline.chain
from indexer.chain.multicall import Call, MulticallReader
from indexer.chain.rpc import RpcClient
from indexer.pipeline.chain import ChainPipeline
from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.registry import SOURCES
from indexer.settings import Settings
from indexer.sync import ChainRead, sync_once
from indexer.types import PositionSnapshot


@dataclass
class Probe:
    """Seconds spent in each instrumented part, and every JSON-RPC payload posted."""

    rpc: float = 0.0
    build: float = 0.0
    encode: float = 0.0
    decode: float = 0.0
    health: float = 0.0
    store: float = 0.0  # all of judging and writing: verdicts, alert rules, the wallets read, and the write
    payloads: list[list[dict[str, Any]]] = field(default_factory=list)


@contextmanager
def instrumented(probe: Probe) -> Iterator[Probe]:
    class TimedRpc(RpcClient):
        async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
            started = time.perf_counter()
            try:
                return await super().batch(calls)
            finally:
                probe.rpc += time.perf_counter() - started

        async def _post(self, url: str, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
            probe.payloads.append(payload)
            return await super()._post(url, payload)

    class TimedReader(MulticallReader):
        def _eth_call(self, chunk: Sequence[Call]) -> tuple[str, list[Any]]:
            started = time.perf_counter()
            try:
                return super()._eth_call(chunk)
            finally:
                probe.encode += time.perf_counter() - started

        def _decode_chunk(self, chunk: Sequence[Call], hex_data: str) -> list[Any]:
            started = time.perf_counter()
            try:
                return super()._decode_chunk(chunk, hex_data)
            finally:
                probe.decode += time.perf_counter() - started

    class TimedAaveV3(AaveV3Adapter):
        def _with_figures(self, snapshot: PositionSnapshot, rows: Sequence[tuple[int, int, int, int, int, int]],
                          precise: bool, quote_unit: int) -> PositionSnapshot:
            started = time.perf_counter()  # a read's and a recompute's health math both end here
            try:
                return super()._with_figures(snapshot, rows, precise, quote_unit)
            finally:
                probe.health += time.perf_counter() - started

    make_call = Call.of.__func__  # type: ignore[attr-defined]

    def timed_call(cls: type[Call], *args: Any, **kwargs: Any) -> Call:
        started = time.perf_counter()
        try:
            return make_call(cls, *args, **kwargs)
        finally:
            probe.build += time.perf_counter() - started

    judge_and_write = ChainPipeline._judge_and_write

    def timed_store(*args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        try:
            judge_and_write(*args, **kwargs)
        finally:
            probe.store += time.perf_counter() - started

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(Call, "of", classmethod(timed_call)))
        stack.enter_context(mock.patch.object(ChainPipeline, "_judge_and_write", timed_store))
        stack.enter_context(mock.patch.object(indexer.pipeline.chain, "RpcClient", TimedRpc))
        stack.enter_context(mock.patch.object(indexer.pipeline.chain, "MulticallReader", TimedReader))
        stack.enter_context(mock.patch.dict(SOURCES, {AaveV3Adapter.kind: TimedAaveV3}))
        yield probe


@dataclass
class RefreshRun:
    wall: float
    rpc: float
    build: float
    encode: float
    decode: float
    health: float
    judge: float  # feed verdicts and alert rules (judging and writing, minus the write)
    write: float
    requests: int
    http_posts: int
    by_method: dict[str, int]
    read: ChainRead | None  # dropped (None) once measured, except for the last repeat's
    payloads: list[list[dict[str, Any]]]

    @property
    def other(self) -> float:
        parts = self.rpc + self.build + self.encode + self.decode + self.health + self.judge + self.write
        return max(self.wall - parts, 0.0)


async def indexer_refresh(settings: Settings, engine: Any, block: int,
                          hints: dict[str, dict[str, object]] | None = None) -> RefreshRun:
    """One ``sync_once`` pinned to ``block`` over the wallets tracked in ``engine``; the settings' one chain.
    ``hints``: kept by the caller across refreshes, as ``indexer run``'s follower keeps them (the markets'
    entry points then ride along with the first round); None: a first read, as a one-shot ``indexer sync``."""
    with instrumented(Probe()) as probe:
        started = time.perf_counter()
        reads = await sync_once(settings, engine, block=block, hints=hints)
        wall = time.perf_counter() - started
    if len(reads) != 1:
        raise RuntimeError(f"expected one chain, the settings configure {len(reads)}")
    (read,) = reads
    write = read.timings["write"] + read.timings.get("liquidations", 0.0)  # the write thread: points, transaction
    return RefreshRun(wall=wall, rpc=probe.rpc, build=probe.build, encode=probe.encode, decode=probe.decode,
                      health=probe.health, judge=max(probe.store - write, 0.0), write=write,
                      requests=read.stats.requests, http_posts=read.stats.http_posts,
                      by_method=dict(read.stats.by_method), read=read, payloads=probe.payloads)
