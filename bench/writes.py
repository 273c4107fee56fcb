"""Writing what changed: `indexer run`'s pipeline following a backlog of blocks with every position read in full,
writing every position every block (``[writes] mode = "all"``, the baseline) against writing only the changed ones
(``mode = "changed"``, exactly, and within a relative ``epsilon``), in the same run.

Per repeat and mode, ``--blocks`` blocks are mined ``--interval`` seconds apart (12: interest accrues between
them, so exact change-only writes save nothing on debt positions; 0: blocks sharing a timestamp, as on fast L2s),
then one step of a fresh pipeline (the previous one's store) follows them all; its first block, which reads and
writes every position (a fresh pipeline knows no figures), is not timed. Reported: blocks per second, and
position history rows written per block.

``python -m bench.writes --accounts 1000 --blocks 20 --repeat 3 --interval 12``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from bench.devnet import BenchDevnet, bench_devnet
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import WritesSettings
from indexer.store.models import PositionHistory

MODES: tuple[tuple[str, WritesSettings], ...] = (
    ('all (baseline)', WritesSettings(mode="all")),
    ('changed, exact', WritesSettings(mode="changed")),
    ('changed, epsilon 0.0001', WritesSettings(mode="changed", epsilon=Decimal("0.0001"))),
    ('changed, exact, no stored liquidation points', WritesSettings(mode="changed", liquidation_points=False)),
)


def _history_rows(dev: BenchDevnet) -> int:
    table = PositionHistory.__table__  # type: ignore[attr-defined]
    with dev.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


async def _follow(dev: BenchDevnet, writes: WritesSettings, blocks: int, interval: int) -> tuple[float, int]:
    """Seconds for one step to follow ``blocks`` freshly mined blocks, and the history rows it wrote."""
    settings = dev.settings.model_copy(update={"writes": writes})
    pipeline = ChainPipeline(settings, dev.engine, "devnet", max_blocks_per_step=10**6)
    try:
        rpc = JsonRpcClient(dev.url)
        await pipeline.step()  # loads memory (the head is stored already, by the previous run): not timed
        rpc.call("anvil_mine", [hex(1), hex(interval)])
        await pipeline.step()  # reads and writes every position (this pipeline knows none yet): not timed
        rpc.call("anvil_mine", [hex(blocks), hex(interval)])
        rows = _history_rows(dev)
        started = time.perf_counter()
        done = await pipeline.step()
        seconds = time.perf_counter() - started
        rows = _history_rows(dev) - rows
    finally:
        await pipeline.close()
    if done != blocks:
        raise RuntimeError(f"the step followed {done} blocks, not {blocks}")
    return seconds, rows


async def main(accounts: int, blocks: int, repeat: int, interval: int) -> None:
    times: dict[str, list[float]] = {name: [] for name, _ in MODES}
    rows: dict[str, list[int]] = {name: [] for name, _ in MODES}
    with tempfile.TemporaryDirectory() as scratch, bench_devnet(accounts, Path(scratch)) as dev:
        for _ in range(repeat):
            for name, writes in MODES:
                seconds, written = await _follow(dev, writes, blocks, interval)
                times[name].append(seconds)
                rows[name].append(written)
    base = statistics.median(times[MODES[0][0]])
    print(f"N = {accounts:,} positions read in full per block, {blocks} blocks {interval} s apart per step, "
          f"{repeat} repeats (median, min – max):\n")
    print("| writes | blocks/s | seconds per step | history rows per block | vs baseline |\n"
          "| --- | --- | --- | --- | --- |")
    for name, _ in MODES:
        median = statistics.median(times[name])
        per_block = statistics.median(rows[name]) / blocks
        print(f"| {name} | {blocks / median:.2f} | {median:.2f} s ({min(times[name]):.2f} – {max(times[name]):.2f}) "
              f"| {per_block:,.0f} | {base / median:.2f}× |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--interval", type=int, default=12, help="seconds between the mined blocks (default: 12)")
    args = parser.parse_args()
    logging.getLogger("indexer.oracles.monitor").setLevel(logging.ERROR)  # devnet feeds have no heartbeat table
    asyncio.run(main(args.accounts, args.blocks, args.repeat, args.interval))
