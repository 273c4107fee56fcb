"""The block's position rows through the driver's executemany or Postgres' COPY (``indexer.store.bulk``) against
SQLAlchemy's executemany.

`indexer run`'s pipeline follows blocks of full reads (mined 12 s apart: every debt position changes) of N positions
over M markets; each block is written one way or the other, alternating, and which goes first alternates too. The
baseline is the way the writer worked before: SQLAlchemy Core's executemany for the legs, the latest positions and
Postgres' history (its ids drawn first, as now), and ``INSERT … RETURNING`` in parameter order for SQLite's
history. Timed: ``write_block`` (the block's transaction) and the whole block.

``python -m bench.bulk --borrowers 2000 --markets 10 --repeat 6`` (``--postgres``: a scratch database on a
Postgres server, as ``bench.scale`` finds one)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import indexer.pipeline.chain as chain_module
import indexer.store.writer as writer
from bench.devnet import bench_devnet
from bench.scale import _markets, _store
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.heap import HeapSchedule
from indexer.pipeline.chain import ChainPipeline

_DRIVER = (writer.executemany, writer.insert_rows, writer._append_history)


def _sqlalchemy_executemany(connection: Any, statement: Any, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        connection.execute(statement, list(rows))


def _sqlalchemy_insert(connection: Any, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        connection.execute(table.insert(), list(rows))


def _sqlalchemy_history(connection: Any, figures: list[dict[str, Any]]) -> list[int]:
    if not figures or connection.dialect.name == "postgresql":
        return _DRIVER[2](connection, figures)  # drawn ids, then the (patched) insert
    history = writer._history
    result = connection.execute(history.insert().returning(history.c.id, sort_by_parameter_order=True), figures)
    return list(result.scalars())


def _use(driver: bool) -> None:
    writer.executemany, writer.insert_rows, writer._append_history = _DRIVER if driver else (
        _sqlalchemy_executemany, _sqlalchemy_insert, _sqlalchemy_history)


async def main(borrowers: int, markets: int, repeat: int, postgres: str | None) -> None:
    heap = HeapSchedule()
    heap.start()
    timed: dict[str, float] = {}
    write_block = chain_module.write_block

    def timed_write(*args: Any, **kwargs: Any) -> int:
        started = time.perf_counter()
        try:
            return write_block(*args, **kwargs)
        finally:
            timed["write_block"] = time.perf_counter() - started

    chain_module.write_block = timed_write
    writes: dict[bool, list[float]] = {True: [], False: []}
    blocks: dict[bool, list[float]] = {True: [], False: []}
    try:
        with tempfile.TemporaryDirectory() as scratch, _store(postgres, Path(scratch)) as (database, store), \
                bench_devnet(borrowers, Path(scratch), database=database) as dev:
            rpc = JsonRpcClient(dev.url)
            pipeline = ChainPipeline(_markets(dev, markets, 1), dev.engine, "devnet", max_blocks_per_step=1,
                                     on_block=lambda chain, block, seconds: heap.settle())
            try:
                for _ in range(2):  # every position new, then its first steady block (neither timed)
                    rpc.call("anvil_mine", [hex(1), hex(12)])
                    await pipeline.step()
                for r in range(repeat):
                    for driver in (True, False) if r % 2 == 0 else (False, True):
                        _use(driver)
                        heap.sweep()
                        rpc.call("anvil_mine", [hex(1), hex(12)])
                        started = time.perf_counter()
                        await pipeline.step()
                        blocks[driver].append(time.perf_counter() - started)
                        writes[driver].append(timed["write_block"])
            finally:
                _use(True)
                await pipeline.close()
    finally:
        chain_module.write_block = write_block
        heap.stop()

    print(f"{borrowers:,} borrowers × {markets} markets = {borrowers * markets:,} positions, stored in {store}, "
          f"{repeat} blocks each way, alternating\n")
    print_ways([("write_block (the block's transaction)", writes), ("the whole block", blocks)])


def print_ways(rows: Sequence[tuple[str, Mapping[bool, list[float]]]], digits: int = 2) -> None:
    """A table of measurements taken both ways (True: through the driver), medians and spreads, and the ratio."""

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.{digits}f} s ({min(values):.{digits}f} – {max(values):.{digits}f})"

    print("| measurement | driver's executemany (Postgres: COPY) | SQLAlchemy's executemany (the baseline) | ratio |\n"
          "| --- | --- | --- | --- |")
    for name, values in rows:
        ratio = statistics.median(values[False]) / statistics.median(values[True])
        print(f"| {name} | {spread(values[True])} | {spread(values[False])} | {ratio:.2f}× |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.bulk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--borrowers", type=int, default=2_000)
    parser.add_argument("--markets", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help="store in a scratch database on a Postgres server instead of SQLite")
    args = parser.parse_args()
    logging.getLogger("indexer.oracles.monitor").setLevel(logging.ERROR)  # devnet feeds have no heartbeat table
    asyncio.run(main(args.borrowers, args.markets, args.repeat, args.postgres))
