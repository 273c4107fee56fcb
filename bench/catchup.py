"""Catching up: blocks per second of `indexer run`'s pipeline following a backlog of blocks, every position read
in full and stored each block, with block B's write overlapping block B+1's read (the default) against the same
pipeline writing each block before reading the next (``overlap=False``, the baseline), in the same run.

Per repeat, ``--blocks`` empty blocks are mined, then one step of a fresh pipeline (the previous one's store
and checkpoint) follows them all; the two modes alternate so the machine's drift hits both.

``python -m bench.catchup --accounts 1000 --blocks 20 --repeat 3``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

from bench.devnet import BenchDevnet, bench_devnet
from indexer.devnet import mine
from indexer.pipeline.chain import ChainPipeline


async def _catch_up(dev: BenchDevnet, blocks: int, *, overlap: bool) -> float:
    """Seconds for one step to follow ``blocks`` freshly mined blocks (the pipeline's first read not timed)."""
    pipeline = ChainPipeline(dev.settings, dev.engine, "devnet", max_blocks_per_step=10**6, overlap=overlap)
    try:
        await pipeline.step()  # loads memory, reads and stores the head: not timed
        mine(dev.url, blocks)
        started = time.perf_counter()
        done = await pipeline.step()
        seconds = time.perf_counter() - started
    finally:
        await pipeline.close()
    if done != blocks:
        raise RuntimeError(f"the step followed {done} blocks, not {blocks}")
    return seconds


async def main(accounts: int, blocks: int, repeat: int) -> None:
    times: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as scratch, bench_devnet(accounts, Path(scratch)) as dev:
        for _ in range(repeat):
            for overlap in (False, True):
                times[overlap].append(await _catch_up(dev, blocks, overlap=overlap))
    base = statistics.median(times[False])
    print(f"N = {accounts:,} positions read in full and stored per block, {blocks} blocks per step, {repeat} repeats "
          "(median, min – max):\n")
    print("| pipeline | blocks/s | seconds per step | vs baseline |\n| --- | --- | --- | --- |")
    for overlap, label in ((False, "write, then read the next block (baseline)"),
                           (True, "write B while reading B+1")):
        median = statistics.median(times[overlap])
        print(f"| {label} | {blocks / median:.2f} | {median:.2f} s ({min(times[overlap]):.2f} – "
              f"{max(times[overlap]):.2f}) | {base / median:.2f}× |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.catchup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("indexer.oracles.monitor").setLevel(logging.ERROR)  # devnet feeds have no heartbeat table
    asyncio.run(main(args.accounts, args.blocks, args.repeat))
