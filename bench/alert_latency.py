"""Row 6: seconds from the block that carries a feed update to the alert rows committed, for N watched
positions, through the real per-chain pipeline of `indexer run` (``ChainPipeline``): the oracle fast path
(feeds only, cached positions repriced) against a full read of every position in that block.

Per series one follower: a block is mined and the follower catches up to it with a full read (not
timed); then per repeat the feed update is mined (one block), timed from the moment that block exists to
its alert rows committed, and the price is restored in the next block (processed, not timed). The
series leave the price as the deployment set it; the chain is a few blocks further on and the indexer's
database holds those blocks, so :mod:`bench.runner` runs this last on each devnet.

``python -m bench`` reports it as row 6; ``python -m bench.alert_latency --accounts 10000 --repeat 3``
runs it alone on a fresh devnet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.devnet import MARKET, BenchDevnet, bench_devnet
from indexer.devnet import mine, set_price
from indexer.heap import HeapSchedule
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import MarketSettings
from indexer.store.models import AlertEvent

FAST = "fast path (feeds only, cached positions repriced)"
FULL = "full read of every position in that block"


@dataclass(frozen=True)
class AlertRun:
    """One timed block: the one that carries the feed update."""

    seconds: float  # from the block existing (its number known) to its alert rows committed
    block: int  # the block carrying the feed update
    stored: int | None  # the block the follower stored in that step (must be ``block``)
    full: bool  # the follower read every position in that block (else: the fast path)
    events: int  # alert events committed with that block
    requests: int  # JSON-RPC requests the follower made for that block (eth_blockNumber included)


@dataclass(frozen=True)
class AlertLatency:
    symbol: str
    percent: int
    fast: list[AlertRun]
    full: list[AlertRun]  # the baseline


def _events_by_block(engine: sa.Engine, since: int) -> list[tuple[Any, ...]]:
    """(block, kind, severity, price status, count) of the alert events from ``since`` on: what a failed series
    shows to explain itself."""
    t = AlertEvent.__table__  # type: ignore[attr-defined]
    columns = (t.c.block_number, t.c.kind, t.c.severity, t.c.price_status)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(*columns, sa.func.count()).where(t.c.block_number >= since)
                                               .group_by(*columns).order_by(t.c.block_number))]


def _events_at(engine: sa.Engine, block: int) -> int:
    table = AlertEvent.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.block_number == block)
                            ).scalar_one()


@contextlib.contextmanager
def as_run() -> Iterator[HeapSchedule]:
    """``indexer run``'s garbage collector schedule (``indexer.heap``) for the time of a series."""
    heap = HeapSchedule()
    heap.start()
    try:
        yield heap
    finally:
        heap.stop()


async def _series(dev: BenchDevnet, every: int, symbol: str, moved: int, restored: int,
                  repeat: int) -> list[AlertRun]:
    """One follower for the whole series, the collector scheduled as in ``indexer run``: per repeat the price moves
    (timed) and is restored (not timed)."""
    with as_run() as heap:
        return await _run_series(dev, every, symbol, moved, restored, repeat, heap)


async def _run_series(dev: BenchDevnet, every: int, symbol: str, moved: int, restored: int, repeat: int,
                      heap: HeapSchedule) -> list[AlertRun]:
    market = dev.settings.markets[MARKET]
    settings = dev.settings.model_copy(update={"markets": {MARKET: MarketSettings(
        **{**market.model_dump(), "snapshot_every": every})}})
    follower = ChainPipeline(settings, dev.engine, "devnet", max_blocks_per_step=1,
                             on_block=lambda chain, block, seconds: heap.settle())
    runs = []
    try:
        mine(dev.url)  # a block of its own for the full read the fast path starts from (not timed)
        while await follower.step():  # catches up from the store's checkpoint, one block per step
            pass
        for _ in range(repeat):
            set_price(dev.url, dev.deployment, symbol, moved)
            requests = follower.rpc.stats.requests
            block = int(await follower.rpc.call("eth_blockNumber", []), 16)
            seen = time.perf_counter()  # the block exists from here on
            done = await follower.step()
            if follower.alerts_committed is None or follower.alerts_committed[0] != block:
                raise RuntimeError(f"the follower did not commit block {block}'s alert rows")
            seconds = follower.alerts_committed[1] - seen
            if done != 1:
                raise RuntimeError(f"the follower processed {done} blocks for the feed update's block {block}")
            runs.append(AlertRun(seconds=seconds, block=block, stored=follower.last_stored,
                                 full=block in follower.last_full.values(), events=_events_at(dev.engine, block),
                                 requests=follower.rpc.stats.requests - requests - 1))
            set_price(dev.url, dev.deployment, symbol, restored)
            await follower.step()
            heap.sweep()  # where `run` would: between blocks, when due (not timed)
    finally:
        await follower.close()
    return runs


async def measure(dev: BenchDevnet, symbol: str, percent: int, repeat: int) -> AlertLatency:
    """The fast-path series, then the full-read series (its baseline), on ``dev``'s chain and database.
    ``percent``: the feed update, in percent of the price the deployment set (−20 = a 20 % drop)."""
    price = dev.deployment.reserve(symbol)["price"]
    moved = price * (100 + percent) // 100
    fast = await _series(dev, 10**9, symbol, moved, price, repeat)
    full = await _series(dev, 1, symbol, moved, price, repeat)
    return AlertLatency(symbol, percent, fast, full)


# -- detection included: from the block existing on the node, woken by newHeads or found by polling ------------------
POLL = 2.0  # seconds: `[chains.X] poll_interval`'s default


@dataclass(frozen=True)
class Detected:
    label: str
    seconds: list[float]  # per repeat: from the feed update's block existing to its alert rows committed


async def _detected_series(dev: BenchDevnet, symbol: str, moved: int, restored: int, repeat: int, *,
                           subscribe: bool, seed: int = 7) -> list[float]:
    """A follower as `indexer run` has it (the fast path; a step when woken, else every ``POLL`` seconds), woken by
    a newHeads subscription or not. Per repeat, after a random wait (so the update lands anywhere in the poll
    cycle), the feed update is mined; timed from the moment the node has mined it to its alert rows committed."""
    import random

    from indexer.chain.newheads import HeadSubscription, ws_url_for

    market = dev.settings.markets[MARKET]
    settings = dev.settings.model_copy(update={"markets": {MARKET: MarketSettings(
        **{**market.model_dump(), "snapshot_every": 10**9})}})
    heap = HeapSchedule()  # as in `indexer run`: frozen after each block, swept when a step finds nothing
    follower = ChainPipeline(settings, dev.engine, "devnet", on_block=lambda chain, block, seconds: heap.settle())
    stop, wake = asyncio.Event(), asyncio.Event()

    async def follow() -> None:
        while not stop.is_set():
            if not await follower.step():
                heap.sweep()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), POLL)
            wake.clear()

    subscription = HeadSubscription([ws_url_for(dev.url)], chain="devnet", on_head=lambda _: wake.set())
    tasks = [asyncio.create_task(follow())]
    if subscribe:
        tasks.append(asyncio.create_task(subscription.run(stop)))
    rng, times = random.Random(seed), []
    heap.start()
    try:
        mine(dev.url)
        while subscribe and subscription.subscribed is None:
            await asyncio.sleep(0.01)
        for _ in range(repeat):
            await asyncio.sleep(rng.uniform(0, POLL))
            # timed from just before the update is sent: the block exists a few ms later (anvil mines on
            # receipt), so the figure is an upper bound by that much; after the receipt would be too late, the
            # woken follower may have stored the block before the sender hears back
            sent = time.perf_counter()
            await asyncio.to_thread(set_price, dev.url, dev.deployment, symbol, moved)
            block = int(await follower.rpc.call("eth_blockNumber", []), 16)
            while follower.alerts_committed is None or follower.alerts_committed[0] < block:
                await asyncio.sleep(0.001)
            times.append(follower.alerts_committed[1] - sent)
            if not _events_at(dev.engine, block):
                raise RuntimeError(f"no alert events committed with the feed update's block {block}: "
                                   f"{_events_by_block(dev.engine, block - 3)}")
            await asyncio.to_thread(set_price, dev.url, dev.deployment, symbol, restored)
    finally:
        stop.set()
        wake.set()
        await asyncio.gather(*tasks)
        await follower.close()
        heap.stop()
    return times


async def measure_detection(dev: BenchDevnet, symbol: str, percent: int, repeat: int) -> list[Detected]:
    price = dev.deployment.reserve(symbol)["price"]
    moved = price * (100 + percent) // 100
    polled = await _detected_series(dev, symbol, moved, price, repeat, subscribe=False)
    woken = await _detected_series(dev, symbol, moved, price, repeat, subscribe=True)
    return [Detected(f"polled every {POLL:g} s", polled), Detected("woken by newHeads (WebSocket)", woken)]


def detection_table(rows: list[Detected]) -> list[str]:
    base = statistics.median(rows[0].seconds)
    lines = ["| head detection | block exists → alert rows committed (median) | spread | vs polling |",
             "| --- | --- | --- | --- |"]
    for row in rows:
        median = statistics.median(row.seconds)
        lines.append(f"| {row.label} | {median * 1000:.0f} ms | {min(row.seconds) * 1000:.0f} – "
                     f"{max(row.seconds) * 1000:.0f} ms | {base / median:.1f}× |")
    return lines


def table(result: AlertLatency) -> list[str]:
    base = statistics.median(r.seconds for r in result.full)
    lines = ["| path | block → alert rows committed | spread | alert events in that block | JSON-RPC requests | "
             "vs full read |", "| --- | --- | --- | --- | --- | --- |"]
    for label, runs in ((FAST, result.fast), (FULL, result.full)):
        seconds = [r.seconds for r in runs]
        median = statistics.median(seconds)
        lines.append(f"| {label} | {median * 1000:.0f} ms | {min(seconds) * 1000:.0f} – {max(seconds) * 1000:.0f} ms"
                     f" | {runs[-1].events:,} | {runs[-1].requests:,} | {base / median:.1f}× |")
    return lines


async def main(accounts: int, repeat: int, symbol: str, percent: int, detection: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch, bench_devnet(accounts, Path(scratch)) as dev:
        result = await measure(dev, symbol, percent, repeat)
        detected = await measure_detection(dev, symbol, percent, repeat) if detection else None
    move = f"{symbol} {'+' if percent > 0 else '−'}{abs(percent)} %"
    print(f"N = {accounts:,} watched positions, {move}, {repeat} repeats (median, min – max):\n")
    print("\n".join(table(result)))
    if detected is not None:
        print(f"\nDetection included (the fast path; the update lands at a random point of the {POLL:g} s poll "
              "cycle):\n")
        print("\n".join(detection_table(detected)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.alert_latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--symbol", default="WETH", help="the asset whose feed is updated (default: WETH)")
    parser.add_argument("--drop", type=int, default=20, help="the price drop in percent (default: 20)")
    parser.add_argument("--detection", action="store_true",
                        help="also time from the block existing, head detection included: polling against newHeads")
    args = parser.parse_args()
    logging.getLogger("indexer.oracles.monitor").setLevel(logging.ERROR)  # devnet feeds have no heartbeat table
    asyncio.run(main(args.accounts, args.repeat, args.symbol, -args.drop, args.detection))
