"""``python -m bench.startup``: how long the ``indexer`` command takes to start and answer, now and at a baseline
revision measured in the same run (checked out into a temporary git worktree and imported from there).

Every command runs in a fresh interpreter, as a user runs it, against an empty SQLite store at its schema, both
trees compiled to bytecode first (as pip leaves an installed wheel), the baseline's and this revision's runs
alternating; the median of ``--repeat`` runs is reported with the ratio to the
baseline.

``--stored N`` adds a row for ``indexer positions`` over a store holding N Aave v3 positions of one Ethereum market
(a WETH collateral, a USDC debt, spread healths), each side's store filled by that side's own code
(``write_block``, with the liquidation points where that revision's pipeline stores them), so the row measures what
a user with a filled store waits for: the query, the nearest liquidation prices, the table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS: tuple[tuple[str, ...], ...] = (("--help",), ("--version",), ("positions",), ("wallets", "list"),
                                         ("oracles",))
STORED_MARKET = "aave-v3-ethereum"
STORED_CONFIG = f"""
[chains.ethereum]
chain_id = 1
rpc_urls = ["http://127.0.0.1:9"]

[markets.{STORED_MARKET}]
chain = "ethereum"
protocol = "aave_v3"
address = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"
"""
# run by each side's interpreter with its own code on its path: N positions written as its pipeline would
FILL = """
import sys
from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.base import MarketRef
from indexer.store.db import make_engine, upgrade
from indexer.store.writer import write_block
from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

url, count, market = sys.argv[1], int(sys.argv[2]), sys.argv[3]
upgrade(url)
adapter = AaveV3Adapter(MarketRef(market, "ethereum", "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"))
weth, usdc = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
block = BlockRef(21_000_000, "0x" + "ab" * 32, 1_730_000_000)
blank = Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote="USD",
               quote_unit=10**8)
snapshots = []
for i in range(count):
    account = "0x" + format(0x1000 + i, "040x")
    coll = 10**18 * (1 + i % 40)
    debt = 10**6 * (1 + i % 40) * (1_000 + 97 * (i % 13))
    legs = [Leg(asset=weth, symbol="WETH", decimals=18, role=Role.COLLATERAL, amount=coll, price=2_000 * 10**8,
                price_decimals=8, price_key=weth, value=coll * 2_000 * 10**8 // 10**18,
                terms={"liquidation_threshold": 8_250, "ltv": 8_000}),
            Leg(asset=usdc, symbol="USDC", decimals=6, role=Role.DEBT, amount=debt, price=10**8, price_decimals=8,
                price_key=usdc, value=debt * 10**8 // 10**6)]
    snapshots.append(adapter.reprice(PositionSnapshot(chain="ethereum", protocol="aave_v3", market=market,
                                                      market_address=adapter.market.address, account=account,
                                                      block=block, legs=legs, health=blank), {}))
try:
    from indexer.health.nearest import encode_points
    extra = {"liquidations": encode_points({market: adapter}, snapshots)}
except ImportError:  # a revision that computes them when asked
    extra = {}
write_block(make_engine(url), chain="ethereum", block=block, snapshots=snapshots, **extra)
"""


def _clean_env() -> dict[str, str]:
    dropped = ("INDEXER_CONFIG", "INDEXER_HOME", "DATABASE_URL", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("INDEXER__")}


def _once(args: list[str], env: dict[str, str], cwd: Path) -> float | None:
    """Wall seconds of one run of ``args``; None when it fails (the command does not exist at that revision)."""
    started = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, timeout=120)
    return time.perf_counter() - started if done.returncode == 0 else None


def _pair(args: list[str], sides: tuple[tuple[dict[str, str], Path], tuple[dict[str, str], Path]],
          repeat: int) -> tuple[float | None, float | None]:
    """Median wall seconds of ``args`` on each side, the runs alternating (before, after, before, …) so the
    machine's drift during the measurement hits both alike."""
    runs: tuple[list[float | None], list[float | None]] = ([], [])
    for _ in range(repeat):
        for side, (env, cwd) in enumerate(sides):
            runs[side].append(_once(args, env, cwd))
    medians = [None if any(t is None for t in times) else statistics.median(t for t in times if t is not None)
               for times in runs]
    return medians[0], medians[1]


def measure(baseline: str, repeat: int, config: Path | None = None,
            stored: int = 0) -> list[tuple[str, float | None, float | None]]:
    """``config``: a config file both sides use (default: each side's shipped default config). ``stored``: also
    ``indexer positions`` over that many stored positions (its own config and stores)."""
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        scratch = Path(tmp)
        worktree = scratch / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), baseline],
                       check=True, capture_output=True)
        try:
            # the baseline: its own code (PYTHONPATH), its config and ./data relative to its checkout
            old_env = {**_clean_env(), "PYTHONPATH": str(worktree)}
            new_env = {**_clean_env(), "INDEXER_HOME": str(scratch / "home"), "PYTHONPATH": str(ROOT)}
            if config is not None:
                for env in (old_env, new_env):
                    env["INDEXER_CONFIG"] = str(config.resolve())
            for tree in (worktree, ROOT):  # bytecode as an installed wheel has it (pip compiles at install), even
                # where PYTHONDONTWRITEBYTECODE is set: otherwise every run would compile each module it imports
                subprocess.run([python, "-m", "compileall", "-q", str(tree / "indexer")], check=True,
                               capture_output=True, timeout=300)
            for env, cwd in ((old_env, worktree), (new_env, scratch)):
                subprocess.run([python, "-m", "indexer", "db", "upgrade"], env=env, cwd=cwd, check=True,
                               capture_output=True, timeout=300)
            rows = []
            for command in COMMANDS:
                args = [python, "-m", "indexer", *command]
                before, after = _pair(args, ((old_env, worktree), (new_env, scratch)), repeat)
                rows.append((" ".join(("indexer", *command)), before, after))
            if stored:
                rows.append((f"indexer positions ({stored:,} stored)",
                             *_stored_pair(scratch, old_env, worktree, new_env, stored, repeat)))
            return rows
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                           capture_output=True)
            shutil.rmtree(worktree, ignore_errors=True)


def _stored_pair(scratch: Path, old_env: dict[str, str], worktree: Path, new_env: dict[str, str], stored: int,
                 repeat: int) -> tuple[float | None, float | None]:
    """``indexer positions`` over ``stored`` positions, each side's store filled by its own code."""
    config = scratch / "stored.toml"
    config.write_text(STORED_CONFIG)
    sides = []
    for name, env, cwd in (("old", old_env, worktree), ("new", new_env, scratch)):
        url = f"sqlite:///{scratch / f'stored-{name}.db'}"
        side_env = {**env, "INDEXER_CONFIG": str(config), "DATABASE_URL": url}
        subprocess.run([sys.executable, "-c", FILL, url, str(stored), STORED_MARKET], env=side_env, cwd=cwd,
                       check=True, capture_output=True, timeout=600)
        sides.append((side_env, cwd))
    args = [sys.executable, "-m", "indexer", "positions"]
    return _pair(args, (sides[0], sides[1]), repeat)


def render(rows: list[tuple[str, float | None, float | None]], baseline: str, repeat: int) -> str:
    head = git_head()
    lines = [f"Start-up, median of {repeat} runs: baseline {baseline} against {head} (same run, same machine)", "",
             "| command | baseline (s) | now (s) | now / baseline |", "| --- | --- | --- | --- |"]
    for name, before, after in rows:
        ratio = f"{after / before:.2f}" if before and after else "-"
        lines.append(f"| `{name}` | {'n/a' if before is None else f'{before:.3f}'} | "
                     f"{'failed' if after is None else f'{after:.3f}'} | {ratio} |")
    return "\n".join(lines)


def git_head() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "HEAD"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--baseline", default="1cfd65b", help="the revision to compare with (default: 1cfd65b)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per command (default: 7)")
    parser.add_argument("--config", type=Path, default=None,
                        help="a config file for both sides (default: the shipped default, every protocol in it)")
    parser.add_argument("--stored", type=int, default=0, metavar="N",
                        help="also `indexer positions` over N stored positions (default: 0, no such row)")
    args = parser.parse_args(argv)
    print(render(measure(args.baseline, args.repeat, args.config, args.stored), args.baseline, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
