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
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bench.devnet import MARKET, BenchDevnet, bench_devnet
from indexer.devnet import mine, set_price
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


def _events_at(engine: sa.Engine, block: int) -> int:
    table = AlertEvent.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.block_number == block)
                            ).scalar_one()


async def _series(dev: BenchDevnet, every: int, symbol: str, moved: int, restored: int,
                  repeat: int) -> list[AlertRun]:
    """One follower for the whole series: per repeat the price moves (timed) and is restored (not timed)."""
    market = dev.settings.markets[MARKET]
    settings = dev.settings.model_copy(update={"markets": {MARKET: MarketSettings(
        **{**market.model_dump(), "snapshot_every": every})}})
    follower = ChainPipeline(settings, dev.engine, "devnet", max_blocks_per_step=1)
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
            seconds = time.perf_counter() - seen
            if done != 1:
                raise RuntimeError(f"the follower processed {done} blocks for the feed update's block {block}")
            runs.append(AlertRun(seconds=seconds, block=block, stored=follower.last_stored,
                                 full=block in follower.last_full.values(), events=_events_at(dev.engine, block),
                                 requests=follower.rpc.stats.requests - requests - 1))
            set_price(dev.url, dev.deployment, symbol, restored)
            await follower.step()
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


async def main(accounts: int, repeat: int, symbol: str, percent: int) -> None:
    with tempfile.TemporaryDirectory() as scratch, bench_devnet(accounts, Path(scratch)) as dev:
        result = await measure(dev, symbol, percent, repeat)
    move = f"{symbol} {'+' if percent > 0 else '−'}{abs(percent)} %"
    print(f"N = {accounts:,} watched positions, {move}, {repeat} repeats (median, min – max):\n")
    print("\n".join(table(result)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.alert_latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--symbol", default="WETH", help="the asset whose feed is updated (default: WETH)")
    parser.add_argument("--drop", type=int, default=20, help="the price drop in percent (default: 20)")
    args = parser.parse_args()
    logging.getLogger("indexer.oracles.monitor").setLevel(logging.ERROR)  # devnet feeds have no heartbeat table
    asyncio.run(main(args.accounts, args.repeat, args.symbol, -args.drop))
