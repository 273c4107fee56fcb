"""Memory per position: what `indexer run`'s pipeline keeps between blocks for each position it follows.

The pipeline keeps, per position, the snapshot its last full read made (the fast path's cache), the figures last
written (``[writes] mode = "changed"``), the stored health and margin parameters (the alert rules' memory), and the
hints its sources carry (reading what changed, Aave v3's keep each account's inputs: ``reread_every``). Measured
once as `indexer run` runs by default and once with ``reread_every = 1`` (no inputs kept), with ``tracemalloc``: the
Python memory still allocated after a pipeline has followed ``--blocks`` blocks of N positions, less what was
allocated before its first block, divided by N; and the process's peak RSS for scale. One devnet per row; the rows
come from the same run.

``python -m bench.memory --accounts 1000 10000 --blocks 3``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import resource
import tempfile
import tracemalloc
from pathlib import Path

from bench.devnet import bench_devnet
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.pipeline.chain import ChainPipeline


async def _kept(accounts: int, blocks: int, reread: int | None) -> tuple[int, int, int]:
    """(bytes kept by the pipeline after following ``blocks`` blocks, positions it holds, peak RSS in KiB), its
    markets' ``reread_every`` as configured (None) or ``reread``."""
    with tempfile.TemporaryDirectory() as scratch, bench_devnet(accounts, Path(scratch)) as dev:
        settings = dev.settings
        if reread is not None:
            settings = settings.model_copy(update={"markets": {
                key: m.model_copy(update={"reread_every": reread}) for key, m in settings.markets.items()}})
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        pipeline = ChainPipeline(settings, dev.engine, "devnet", max_blocks_per_step=10**6)
        try:
            await pipeline.step()
            for _ in range(blocks):
                JsonRpcClient(dev.url).call("anvil_mine", [hex(1), hex(12)])
                await pipeline.step()
            gc.collect()
            kept = tracemalloc.get_traced_memory()[0] - before
            assert pipeline.memory is not None
            positions = len(pipeline.memory.healths)
        finally:
            tracemalloc.stop()
            await pipeline.close()
        return kept, positions, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def main(sizes: list[int], blocks: int) -> None:
    print("| N | reread_every | positions followed | kept by the pipeline | per position | peak RSS of the process |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for accounts in sizes:
        for reread in (None, 1):
            kept, positions, rss = await _kept(accounts, blocks, reread)
            print(f"| {accounts:,} | {'as configured' if reread is None else reread} | {positions:,} | "
                  f"{kept / 2**20:.1f} MiB | {kept / max(positions, 1) / 1024:.1f} KiB | {rss / 1024:.0f} MiB |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--blocks", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("indexer.oracles.monitor").setLevel(logging.ERROR)  # devnet feeds have no heartbeat table
    asyncio.run(main(args.accounts, args.blocks))
