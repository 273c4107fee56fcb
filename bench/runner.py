"""One benchmark run: for each size, a fresh devnet, then every measurement side by side.

Per repeat, a new block is mined and the naive loop, the indexer's refresh and the raw replay of the
indexer's own requests all run against that block, one after the other; then the local recompute (with
its on-chain check, in an evm snapshot that is reverted) and the persist measurements, and the profiles
if asked for. Then, because they mine blocks and store them in the indexer's database: new blocks as
``indexer run`` follows them (:mod:`bench.follow`), and last a price update to its alert rows committed,
through the same pipeline (:mod:`bench.alert_latency`). Nothing here prints: :mod:`bench.report` renders it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from bench import alert_latency, follow, machine
from bench.alert_latency import AlertLatency
from bench.devnet import CHAIN, MARKET, BenchDevnet, bench_devnet
from bench.floor import FloorRun, replay
from bench.follow import Following
from bench.naive import NaiveRun, naive_refresh
from bench.peer import PeerRun, peer_refresh
from bench.persist import PersistRun, persist, postgres_engine, postgres_server, postgres_version, sqlite_engine
from bench.profiling import profile_await, profile_call
from bench.recompute import ChainCheck, check_on_chain, figures, pick_sample, recompute_rate, shocked_prices
from bench.refresh import RefreshRun, indexer_refresh
from indexer.devnet import mine
from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.base import MarketRef
from indexer.types import BlockRef, PositionSnapshot

log = logging.getLogger(__name__)

RECOMPUTE_AT_LEAST = 100_000  # positions per timed recompute run (several passes over small sets)


@dataclass(frozen=True)
class BenchConfig:
    accounts: Sequence[int] = (1_000, 10_000)
    repeat: int = 3
    shock_symbol: str = "WETH"
    shock_percent: int = -20
    check_sample: int = 20
    postgres: bool = True
    postgres_url: str | None = None  # a server's maintenance database; None: local, else embedded
    batch_size: int | None = None  # Multicall3 calls per aggregate3; None: the indexer's default
    profile: bool = False


@dataclass
class SizeResult:
    accounts: int
    positions: int
    deploy_seconds: float
    seed_seconds: float
    naive: list[NaiveRun]
    peer: list[PeerRun]  # Multicall3 + eth-abi, nothing stored: the best simple alternative
    refresh: list[RefreshRun]
    floor: list[FloorRun]
    parity: int  # accounts whose indexed figures equal the naive loop's getUserAccountData
    peer_parity: int  # accounts whose peer figures equal the naive loop's
    recompute: list[float]  # positions per second, recomputed under the shock
    below_one: int  # positions with health < 1 after the shock (local figures)
    check: ChainCheck
    sqlite: list[PersistRun]
    postgres: list[PersistRun] | None
    alerts: AlertLatency  # row 6: the fast path and its full-read baseline
    follow: Following  # row 7: new blocks as `indexer run` follows them
    first_requests: int  # JSON-RPC requests of the first refresh (no hints: a one-shot `indexer sync`)
    profiles: dict[str, str] = field(default_factory=dict)


@dataclass
class BenchResult:
    config: BenchConfig
    machine: str
    postgres_server: str | None
    sizes: list[SizeResult]
    load: tuple[float, float]  # the machine's 1-minute load average before and after the run


def _slim(run: RefreshRun) -> None:
    """Drops what a measured refresh holds: ten thousand positions per repeat add up, and a big heap slows
    every later measurement through the garbage collector."""
    run.payloads = []
    run.read = None


async def _measure_size(n: int, config: BenchConfig, pg_url: str | None, scratch: Path) -> SizeResult:
    with bench_devnet(n, scratch, batch_size=config.batch_size) as dev:
        log.info("devnet with %d borrowers: deployed in %.2fs, seeded in %.2fs", n, dev.deploy_seconds,
                 dev.seed_seconds)
        pool = dev.deployment.contracts["Pool"]
        addresses = [a.address for a in dev.accounts]
        # Warm-up (caches in the node and here), and a process's first read: no hints yet.
        hints: dict[str, dict[str, object]] = {}
        first = await indexer_refresh(dev.settings, dev.engine, mine(dev.url), hints)
        first_requests = first.requests
        _slim(first)
        naive: list[NaiveRun] = []
        peer: list[PeerRun] = []
        refresh: list[RefreshRun] = []
        floor: list[FloorRun] = []
        for r in range(config.repeat):
            block = mine(dev.url)
            naive.append(naive_refresh(dev.url, pool, addresses, block))
            peer.append(await peer_refresh(dev.url, pool, addresses, block, batch_size=config.batch_size or 1000))
            refresh.append(await indexer_refresh(dev.settings, dev.engine, block, hints))
            floor.append(await replay(dev.url, refresh[-1].payloads))
            log.info("N=%d repeat %d: naive %.3fs, peer %.3fs, indexer %.3fs, floor %.3fs", n, r + 1,
                     naive[-1].wall, peer[-1].wall, refresh[-1].wall, floor[-1].wall)
            if r < config.repeat - 1:
                _slim(refresh[-1])
                naive[-1].figures = {}
                peer[-1].figures = {}
        last = refresh[-1]
        assert last.read is not None
        snapshots = last.read.snapshots
        parity = _parity(snapshots, naive[-1])
        peer_parity = sum(1 for a, f in peer[-1].figures.items() if naive[-1].figures.get(a) == tuple(f))
        naive[-1].figures = {}
        peer[-1].figures = {}

        recompute, below_one, check = await _recompute(dev, snapshots, last.read.block, config)
        with sqlite_engine(scratch) as engine:
            sqlite = persist(engine, CHAIN, snapshots, last.read.block, config.repeat)
        postgres = None
        if pg_url is not None:
            with postgres_engine(pg_url) as engine:
                postgres = persist(engine, CHAIN, snapshots, last.read.block, config.repeat)
        positions = len(snapshots)
        profiles: dict[str, str] = {}
        if config.profile:
            profiles = await _profiles(dev, snapshots, last.read.block, config, pg_url, scratch, hints)
        _slim(last)
        del snapshots
        # It mines blocks (one with transactions) and stores them: after the rows that read the chain as it was.
        following = await follow.measure(dev, config.repeat, batch_size=config.batch_size or 1000)
        log.info("N=%d following: quiet block as changed %s, accrued %s, active %s", n,
                 *([round(r.seconds, 3) for r in runs] for runs in (following.changed, following.quiet,
                                                                    following.active)))
        # Last: it mines feed updates (each restored in the next block) and the follower stores those blocks.
        alerts = await alert_latency.measure(dev, config.shock_symbol, config.shock_percent, config.repeat)
        log.info("N=%d price update -> alert stored: fast path %s, full read %s", n,
                 [round(r.seconds, 3) for r in alerts.fast], [round(r.seconds, 3) for r in alerts.full])
        return SizeResult(n, positions, dev.deploy_seconds, dev.seed_seconds, naive, peer, refresh, floor, parity,
                          peer_parity, recompute, below_one, check, sqlite, postgres, alerts, following,
                          first_requests, profiles)


def _parity(snapshots: Sequence[PositionSnapshot], naive: NaiveRun) -> int:
    return sum(1 for s in snapshots if naive.figures.get(s.account) == figures(s))


def _adapter() -> AaveV3Adapter:
    return AaveV3Adapter(MarketRef(key=MARKET, chain=CHAIN, address="0x" + "00" * 20))


async def _recompute(dev: BenchDevnet, snapshots: list[PositionSnapshot], block: BlockRef,
                     config: BenchConfig) -> tuple[list[float], int, ChainCheck]:
    asset = dev.deployment.reserve(config.shock_symbol)["asset"]
    prices = shocked_prices(snapshots, asset, config.shock_percent)
    adapter = _adapter()
    runs = []
    for _ in range(config.repeat):
        per_second, healths = recompute_rate(adapter, snapshots, prices, at_least=RECOMPUTE_AT_LEAST)
        runs.append(per_second)
    below_one = sum(1 for h in healths if h.liquidatable)
    sample = pick_sample(snapshots, asset, config.check_sample)
    # the six figures of getUserAccountData need the detail too: the sample is repriced in full, and its
    # health must be the timed path's to the unit
    by_account = {s.account: h for s, h in zip(snapshots, healths, strict=True)}
    local = {s.account: adapter.reprice(s, prices) for s in sample}
    if any(local[a].health != by_account[a] for a in local):
        raise RuntimeError("health_at and reprice disagree on the chain sample")
    check = await check_on_chain(dev.url, dev.deployment, config.shock_symbol, prices[asset], block, sample, local)
    return runs, below_one, check


async def _profiles(dev: BenchDevnet, snapshots: list[PositionSnapshot], block: BlockRef, config: BenchConfig,
                    pg_url: str | None, scratch: Path, hints: dict[str, dict[str, object]]) -> dict[str, str]:
    """One extra, unmeasured run of each part under cProfile (the refresh's DB write runs in a worker thread
    and is profiled through the persist runs instead)."""
    profiles = {}
    _, profiles["naive loop (web3.py)"] = profile_call(
        naive_refresh, dev.url, dev.deployment.contracts["Pool"], [a.address for a in dev.accounts], block.number,
        sort="cumulative")
    _, profiles["indexer refresh (read; the write is in a worker thread)"] = await profile_await(
        lambda: indexer_refresh(dev.settings, dev.engine, block.number, hints), limit=25)
    asset = dev.deployment.reserve(config.shock_symbol)["asset"]
    _, profiles["local recompute"] = profile_call(
        recompute_rate, _adapter(), snapshots, shocked_prices(snapshots, asset, config.shock_percent))
    with sqlite_engine(scratch / "profile") as engine:
        profiles["persist, SQLite (one write after the warm-up)"] = _profile_persist(engine, snapshots, block)
    if pg_url is not None:
        with postgres_engine(pg_url) as engine:
            profiles["persist, Postgres (one write after the warm-up)"] = _profile_persist(engine, snapshots, block)
    return profiles


def _profile_persist(engine: Engine, snapshots: list[PositionSnapshot], block: BlockRef) -> str:
    persist(engine, CHAIN, snapshots, block, 0)  # the warm-up write only
    _, text = profile_call(lambda: persist(engine, CHAIN, snapshots, block, 1, warm_up=False), limit=20)
    return text


async def run_benchmark(config: BenchConfig) -> BenchResult:
    with tempfile.TemporaryDirectory(prefix="indexer-bench-") as tmp:
        scratch = Path(tmp)
        if not config.postgres:
            return await _run(config, None, scratch)
        with postgres_server(config.postgres_url, scratch) as pg_url:
            return await _run(config, pg_url, scratch)


async def _run(config: BenchConfig, pg_url: str | None, scratch: Path) -> BenchResult:
    pg = f"PostgreSQL {postgres_version(pg_url)}" if pg_url else None
    load_before = os.getloadavg()[0]
    sizes = []
    for n in config.accounts:
        directory = scratch / f"n{n}"
        (directory / "profile").mkdir(parents=True)
        sizes.append(await _measure_size(n, config, pg_url, directory))
    return BenchResult(config, machine.describe(), pg, sizes, (load_before, os.getloadavg()[0]))
