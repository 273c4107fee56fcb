"""``python -m bench.startup``: how long the ``indexer`` command takes to start and answer, now and at a baseline
revision measured in the same run (checked out into a temporary git worktree and imported from there).

Every command runs in a fresh interpreter, as a user runs it, against an empty SQLite store at its schema, both
trees compiled to bytecode first (as pip leaves an installed wheel), the baseline's and this revision's runs
alternating; the median of ``--repeat`` runs is reported with the ratio to the
baseline.
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


def measure(baseline: str, repeat: int, config: Path | None = None) -> list[tuple[str, float | None, float | None]]:
    """``config``: a config file both sides use (default: each side's shipped default config)."""
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
            return rows
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                           capture_output=True)
            shutil.rmtree(worktree, ignore_errors=True)


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
    args = parser.parse_args(argv)
    print(render(measure(args.baseline, args.repeat, args.config), args.baseline, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
