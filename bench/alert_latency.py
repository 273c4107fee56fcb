"""Row 6: seconds from the block that carries a feed update to the alert rows committed, for N watched
positions, through the real follower of `indexer run` (``ChainFollower``): the oracle fast path
(feeds only, cached positions repriced) against a full read of every position in that block.

``python -m bench.alert_latency --accounts 10000 --repeat 3``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.devnet import bench_devnet
from indexer.devnet import set_price
from indexer.follow import ChainFollower
from indexer.settings import MarketSettings
from indexer.store.models import AlertEvent


def _events_at(engine: sa.Engine, block: int) -> int:
    table = AlertEvent.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.block_number == block)
                            ).scalar_one()


async def _series(dev, every: int, drop_percent: int, repeat: int) -> list[tuple[float, int]]:  # type: ignore[no-untyped-def]
    """One follower for the whole series: per repeat the WETH price drops (timed) and recovers (not timed)."""
    market = dev.settings.markets["devnet-aave-v3"]
    settings = dev.settings.model_copy(update={"markets": {"devnet-aave-v3": MarketSettings(
        **{**market.model_dump(), "snapshot_every": every})}})
    follower = ChainFollower(settings, dev.engine, "devnet", max_blocks_per_step=1)
    weth = dev.deployment.reserve("WETH")
    runs = []
    try:
        await follower.step()  # the full read the fast path starts from (not timed)
        for _ in range(repeat):
            set_price(dev.url, dev.deployment, "WETH", weth["price"] * (100 - drop_percent) // 100)
            block = int(await follower.rpc.call("eth_blockNumber", []), 16)
            seen = time.perf_counter()  # the block exists from here on
            assert await follower.step() == 1
            runs.append((time.perf_counter() - seen, _events_at(dev.engine, block)))
            set_price(dev.url, dev.deployment, "WETH", weth["price"])
            await follower.step()
    finally:
        await follower.close()
    return runs


async def main(accounts: int, repeat: int, drop: int) -> None:
    with tempfile.TemporaryDirectory() as scratch, bench_devnet(accounts, Path(scratch)) as dev:
        rows = {}
        for label, every in (("fast path (feeds only, cached positions repriced)", 10**9),
                             ("full read of every position in that block", 1)):
            runs = await _series(dev, every, drop, repeat)
            seconds = [r[0] for r in runs]
            rows[label] = (statistics.median(seconds), min(seconds), max(seconds), runs[-1][1])
        base = rows["full read of every position in that block"][0]
        print(f"N = {accounts:,} watched positions, WETH −{drop} %, {repeat} repeats (median, min – max):\n")
        print("| path | block → alert rows committed | spread | alert events in that block | vs full read |")
        print("| --- | --- | --- | --- | --- |")
        for label, (median, low, high, events) in rows.items():
            print(f"| {label} | {median * 1000:.0f} ms | {low * 1000:.0f} – {high * 1000:.0f} ms | {events:,} | "
                  f"{base / median:.1f}× |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.alert_latency", description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--drop", type=int, default=20, help="WETH price drop in percent")
    args = parser.parse_args()
    asyncio.run(main(args.accounts, args.repeat, args.drop))
