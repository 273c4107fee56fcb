"""``python -m bench``: the whole benchmark in one command; prints the Markdown table (and writes it with
``--output``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import sys
from pathlib import Path

from bench.report import render
from bench.runner import BenchConfig, run_benchmark


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--accounts", type=int, nargs="+", default=[1_000, 10_000], metavar="N",
                   help="borrowers to seed, one fresh devnet per N (default: 1000 10000)")
    p.add_argument("--repeat", type=int, default=3, help="repeats of every measurement (default: 3)")
    p.add_argument("--shock", default="WETH:-20", metavar="SYMBOL:PERCENT",
                   help="price move for the local recompute (what-if) and the feed update row 6 mines "
                        "(default: WETH:-20)")
    p.add_argument("--check-sample", type=int, default=20, metavar="K",
                   help="accounts whose shocked figures are checked against the chain (default: 20)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="Multicall3 calls per aggregate3 (default: the indexer's default, 1000)")
    p.add_argument("--postgres", default=None, metavar="URL",
                   help="a PostgreSQL server's maintenance database URL (default: TEST_DATABASE_URL, else "
                        "127.0.0.1:5432, else an embedded server)")
    p.add_argument("--no-postgres", action="store_true", help="skip the Postgres persist measurement")
    p.add_argument("--profile", action="store_true", help="also print cProfile top entries of each part")
    p.add_argument("--output", type=Path, default=None, help="also write the Markdown to this file")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    symbol, _, percent = args.shock.partition(":")
    if args.repeat < 1 or any(n < 1 for n in args.accounts) or not percent.lstrip("+-").isdigit():
        _parser().error("--repeat and --accounts must be ≥ 1, --shock looks like WETH:-20")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("indexer.oracles.monitor").setLevel(logging.ERROR)  # devnet feeds have no heartbeat table
    if not args.verbose:
        logging.getLogger("indexer").setLevel(logging.ERROR)
    config = BenchConfig(accounts=tuple(args.accounts), repeat=args.repeat, shock_symbol=symbol,
                         shock_percent=int(percent), check_sample=args.check_sample,
                         postgres=not args.no_postgres, postgres_url=args.postgres, batch_size=args.batch_size,
                         profile=args.profile)
    result = asyncio.run(run_benchmark(config))
    command = shlex.join([".venv/bin/python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    text = render(result, command)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
