"""One process at scale (issue #17): N positions over M markets of one chain, `indexer run`'s pipeline.

The devnet has one real Aave v3 pool; its B = N / M seeded borrowers are tracked, and the config names M market keys
on that pool, so every market reads every borrower: N = M × B positions per block, each stored as its own row — the
read, judging and storing of N positions, with M markets' worth of bookkeeping (the protocol is the same for all).

Measured, each ``--repeat`` times on the same pipeline (median and spread):
* a block of full reads: a block mined 12 s after the last (interest accrues: every debt position changes), read,
  judged and stored (``[writes]`` as configured: ``changed``, exact, the default); once as ``indexer run`` reads it
  (nobody acted, so every account is rebuilt from what the last read kept, ``reread_every``) and once reading every
  account anew (``reread_every = 1``, the baseline), alternating, on the same pipeline;
* a feed update through the fast path (``snapshot_every`` very large): WETH moves by each ``--shock`` percent in a
  block, timed from that block existing to its alert rows committed (not detection), and to the repriced positions
  committed after them (their own transaction), then restored (not timed); each update once as ``indexer run``
  does it (the rules see only the holders the move may carry across an alert level) and once with the rules seeing
  every holder (``steady_split`` off, the baseline), alternating, on the same pipeline;
* the process's peak RSS after both.

``python -m bench.scale --borrowers 10000 --markets 10 --repeat 3`` (``--shock -20 -5``: the default; ``--accrued
0.0001`` adds a third way to the block of full reads: every account rebuilt, ``[writes] mode = "accrued"`` with that
``epsilon``; ``--postgres``
stores in a scratch database on a Postgres server instead of SQLite; ``--gc default`` leaves the garbage collector as
CPython has it, instead of ``indexer run``'s schedule, ``indexer.heap``)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from bench.alert_latency import _events_at
from bench.devnet import MARKET, BenchDevnet, bench_devnet
from bench.persist import postgres_server, postgres_version
from indexer.devnet import mine, set_price
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.postgres import create_database, drop_database
from indexer.heap import HeapSchedule
from indexer.pipeline.chain import ChainPipeline
from indexer.pipeline.changes import write_policy
from indexer.protocols.base import Accrues
from indexer.settings import MarketSettings, Settings


def _markets(dev: BenchDevnet, count: int, every: int, reread: int | None = None,
             accrued: Decimal | None = None) -> Settings:
    market = dev.settings.markets[MARKET]
    markets = {f"{MARKET}-{i}": MarketSettings(**{**market.model_dump(), "snapshot_every": every,
                                                  "reread_every": reread or market.reread_every})
               for i in range(count)}
    settings = dev.settings.model_copy(update={"markets": markets})
    if accrued is not None:
        writes = settings.writes.model_copy(update={"mode": "accrued", "epsilon": accrued})
        settings = settings.model_copy(update={"writes": writes})
    return settings


def _rereading(pipeline: ChainPipeline, settings: Settings) -> bool:
    """The pipeline's settings swapped (``reread_every`` or ``[writes]`` differ): its next full read reads every
    account anew. Where ``[writes]`` differ, the pipeline also starts over from the store, as a process started with
    that config would (its first block writes every position, the rows later blocks are measured against); returns
    whether it did."""
    restart = pipeline.writes != write_policy(settings)
    pipeline.settings = pipeline.reads.settings = settings
    pipeline.writes = write_policy(settings)
    pipeline.inputs = {key: source.inputs for key, source in pipeline.reads.sources.items()
                       if isinstance(source, Accrues)} if pipeline.writes.states else {}
    pipeline.last_complete.clear()
    if restart:
        pipeline._forget()  # memory reloaded from the store at the next block, the fast path's cache dropped
    return restart


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f} – {max(values):.2f})"


@contextlib.contextmanager
def _store(postgres: str | None, scratch: Path) -> Iterator[tuple[str | None, str]]:
    """(the database URL for the devnet, its name for the table): SQLite in ``scratch`` (None), or a scratch
    database on a Postgres server (``postgres``: a server URL, or "" for the test suite's way of finding one)."""
    if postgres is None:
        yield None, "SQLite"
        return
    with postgres_server(postgres or None, scratch) as server:
        url = create_database(server, prefix="indexer_bench_scale")
        try:
            yield url, f"Postgres {postgres_version(server)}"
        finally:
            drop_database(server, url)


async def main(borrowers: int, markets: int, repeat: int, shocks: list[int], postgres: str | None = None,
               collector: str = "run", accrued: Decimal | None = None) -> None:
    heap = HeapSchedule()  # ``indexer run``'s collector schedule (``--gc run``), or CPython's own (``--gc default``)
    if collector == "run":
        heap.start()
    try:
        await _measure(borrowers, markets, repeat, shocks, postgres, heap if collector == "run" else None, accrued)
    finally:
        heap.stop()


async def _measure(borrowers: int, markets: int, repeat: int, shocks: list[int], postgres: str | None,
                   heap: HeapSchedule | None, accrued: Decimal | None = None) -> None:
    settle = None if heap is None else (lambda chain, block, seconds: heap.settle())  # as `run`'s on_block
    with tempfile.TemporaryDirectory() as scratch, _store(postgres, Path(scratch)) as (database, store), \
            bench_devnet(borrowers, Path(scratch), database=database) as dev:
        rpc = JsonRpcClient(dev.url)
        positions = 0
        # reading what changed; every account anew; (``--accrued``) reading what changed, storing what accrues
        ways = {"changes": _markets(dev, markets, 1), "anew": _markets(dev, markets, 1, reread=1)}
        if accrued is not None:
            ways["accrued"] = _markets(dev, markets, 1, accrued=accrued)
        full: dict[str, list[float]] = {way: [] for way in ways}
        dormant: list[int] = []  # per timed accrued block, its dormant positions (not assembled)
        # (``--accrued``) a block in which WETH's feed ticks by half of epsilon, and the block after it
        ticked: dict[str, list[float]] = {"tick": [], "after": []}
        ticked_dormant: dict[str, list[int]] = {"tick": [], "after": []}
        weth = dev.deployment.reserve("WETH")["price"]
        changes = ways["changes"]
        follower = ChainPipeline(changes, dev.engine, "devnet", max_blocks_per_step=1, on_block=settle)

        async def block() -> float:
            if heap is not None:
                heap.sweep()  # where `run` would: between blocks, when due (not timed)
            rpc.call("anvil_mine", [hex(1), hex(12)])
            started = time.perf_counter()
            await follower.step()
            return time.perf_counter() - started

        async def tick(r: int) -> None:
            """WETH's feed ticks by half of epsilon (up, then back), timed in its own block, then the block after."""
            assert accrued is not None
            moved = weth + int(weth * accrued / 2) if r % 2 == 0 else weth
            if heap is not None:
                heap.sweep()
            set_price(dev.url, dev.deployment, "WETH", moved)  # mines the block the tick is in
            started = time.perf_counter()
            await follower.step()
            ticked["tick"].append(time.perf_counter() - started)
            ticked_dormant["tick"].append(follower.dormant)
            ticked["after"].append(await block())
            ticked_dormant["after"].append(follower.dormant)

        try:
            started = time.perf_counter()
            await follower.step()  # the first block: every position new (not timed as a steady block)
            first = time.perf_counter() - started
            positions = len(follower.memory.written) if follower.memory is not None else 0
            for r in range(repeat):  # the ways alternate, and which goes first too
                for way in list(ways) if r % 2 == 0 else list(reversed(ways)):
                    restarted = _rereading(follower, ways[way])
                    if way != "anew" or restarted:
                        await block()  # every account read anew, its inputs kept (not timed)
                    full[way].append(await block())
                    if way == "accrued":
                        dormant.append(follower.dormant)
                        await tick(r)
            _rereading(follower, changes)
        finally:
            await follower.close()

        set_price(dev.url, dev.deployment, "WETH", weth)  # as seeded, whatever the ticks left
        cases = [(shock, split) for shock in shocks for split in (True, False)]
        fast: dict[tuple[int, bool], list[float]] = {case: [] for case in cases}  # to the alert rows committed
        whole: dict[tuple[int, bool], list[float]] = {case: [] for case in cases}  # … the repriced positions too
        events: dict[int, int] = dict.fromkeys(shocks, 0)
        follower = ChainPipeline(_markets(dev, markets, 10**9), dev.engine, "devnet", max_blocks_per_step=1,
                                 on_block=settle)
        try:
            mine(dev.url)
            while await follower.step():  # loads memory and reads in full once (not timed)
                pass
            # the two ways alternate, and which one goes first alternates with the repeats
            for shock, split in [(shock, split != bool(r % 2)) for r in range(repeat) for shock, split in cases]:
                follower.steady_split = split  # off: the rules see every holder (the baseline, same run)
                set_price(dev.url, dev.deployment, "WETH", weth * (100 + shock) // 100)
                block = int(rpc.call("eth_blockNumber", []), 16)
                started = time.perf_counter()
                await follower.step()
                whole[shock, split].append(time.perf_counter() - started)
                if follower.alerts_committed is None or follower.alerts_committed[0] != block:
                    raise RuntimeError(f"the follower did not commit block {block}'s alert rows")
                fast[shock, split].append(follower.alerts_committed[1] - started)
                events[shock] = max(events[shock], _events_at(dev.engine, block))
                set_price(dev.url, dev.deployment, "WETH", weth)
                await follower.step()
                if heap is not None:
                    heap.sweep()  # where `run` would: between blocks, when due (not timed)
        finally:
            await follower.close()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    print(f"{borrowers:,} borrowers × {markets} markets = {positions:,} positions on one chain, {repeat} repeats "
          f"(median, min – max), stored in {store}, garbage collector scheduled as "
          f"{'`indexer run` does' if heap else 'CPython does'}; devnet seeded in {dev.seed_seconds:.1f} s\n")
    print("| measurement | seconds |\n| --- | --- |")
    print(f"| first block (every position new, not a steady block) | {first:.2f} s |")
    print(f"| a block of full reads, read + judged + stored (nobody acted: every account rebuilt) | "
          f"{_spread(full['changes'])} |")
    print(f"| … the same, every account read anew (``reread_every = 1``, the baseline, alternating with the above) | "
          f"{_spread(full['anew'])}: {statistics.median(full['anew']) / statistics.median(full['changes']):.2f}× |")
    if "accrued" in full:
        print(f"| … the same, every account rebuilt and ``[writes] mode = \"accrued\"``, ``epsilon = {accrued}`` "
              f"(alternating with the above) | {_spread(full['accrued'])}: "
              f"{statistics.median(full['changes']) / statistics.median(full['accrued']):.2f}× sooner than the first "
              f"(dormant positions, not assembled: {min(dormant):,} – {max(dormant):,} a block) |")
        for what, label in (("tick", "… the same, WETH's feed ticking by half of epsilon in the block (its holders "
                                     "compared in full, found within epsilon, rebased)"),
                            ("after", "… the block after that tick (the holders measured from their rebased reads)")):
            print(f"| {label} | {_spread(ticked[what])} (dormant: {min(ticked_dormant[what]):,} – "
                  f"{max(ticked_dormant[what]):,}) |")
    for shock in shocks:
        split, every = statistics.median(fast[shock, True]), statistics.median(fast[shock, False])
        print(f"| a WETH {shock:+d} % feed update → its alert rows committed (fast path; up to {events[shock]:,} alert "
              f"events in the block) | {_spread(fast[shock, True])} |")
        print(f"| … the same, the rules seeing every holder (the baseline, alternating with the above) | "
              f"{_spread(fast[shock, False])}: {every / split:.2f}× the split's time |")
        print(f"| the same block's repriced positions committed too (their own transaction, after the alerts) | "
              f"{_spread(whole[shock, True])} (every holder judged: {_spread(whole[shock, False])}) |")
    print(f"| peak RSS of the process | {rss / 1024:,.0f} MiB |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--borrowers", type=int, default=10_000)
    parser.add_argument("--markets", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shock", type=int, nargs="+", default=[-20, -5],
                        help="the feed updates, in percent, each timed --repeat times (default: -20 -5)")
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help="store in a scratch database on a Postgres server (URL; without one: TEST_DATABASE_URL, "
                             "else 127.0.0.1:5432, else an embedded server) instead of SQLite")
    parser.add_argument("--gc", choices=("run", "default"), default="run",
                        help="the garbage collector's schedule: `indexer run`'s (indexer.heap, the default) or "
                             "CPython's")
    parser.add_argument("--accrued", type=Decimal, default=None, metavar="EPSILON",
                        help="also time the block of full reads with [writes] mode = \"accrued\" and this epsilon")
    args = parser.parse_args()
    logging.getLogger("indexer.oracles.monitor").setLevel(logging.ERROR)  # devnet feeds have no heartbeat table
    asyncio.run(main(args.borrowers, args.markets, args.repeat, args.shock, args.postgres, args.gc, args.accrued))
