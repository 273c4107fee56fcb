"""Renders a benchmark run as Markdown: one table, the targets met or missed, and any profiles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.runner import BenchResult, SizeResult
from bench.stats import Spread, count, rate, rate_spread, ratio, seconds, seconds_spread

NOT_YET = "not measured yet: `indexer run`'s fast path exists, but this benchmark does not drive it yet"
TARGET_REQUESTS = 100
TARGET_SPEEDUP = 20
TARGET_FLOOR = 2
TARGET_RECOMPUTE = 100_000
TARGET_PERSIST = 20_000
PER_ROW_ORM = 3_700  # anchors: SQLAlchemy per-row ORM inserts, rows/s (quoted, not measured here)


@dataclass(frozen=True)
class Figures:
    """The medians and ratios of one size, as the table and the targets use them."""

    naive: Spread
    indexer: Spread
    read: Spread
    floor: Spread
    naive_requests: int
    naive_eth_calls: int
    indexer_requests: int
    recompute: Spread  # positions per second
    sqlite: Spread  # rows per second
    postgres: Spread | None

    @property
    def speedup(self) -> float:
        return self.naive.median / self.indexer.median

    @property
    def over_floor(self) -> float:
        return self.indexer.median / self.floor.median

    @property
    def read_over_floor(self) -> float:
        return self.read.median / self.floor.median

    @property
    def fewer_requests(self) -> float:
        return self.naive_requests / self.indexer_requests

    @property
    def fewer_than_eth_calls(self) -> float:
        return self.naive_eth_calls / self.indexer_requests


def figures_of(size: SizeResult) -> Figures:
    return Figures(
        naive=Spread.of(r.wall for r in size.naive),
        indexer=Spread.of(r.wall for r in size.refresh),
        read=Spread.of(r.wall - r.write for r in size.refresh),
        floor=Spread.of(r.wall for r in size.floor),
        naive_requests=size.naive[-1].requests,
        naive_eth_calls=size.naive[-1].by_method.get("eth_call", 0),
        indexer_requests=size.refresh[-1].requests,
        recompute=Spread.of(size.recompute),
        sqlite=Spread.of(r.rows_per_second for r in size.sqlite),
        postgres=Spread.of(r.rows_per_second for r in size.postgres) if size.postgres else None)


def _methods(by_method: dict[str, int]) -> str:
    return " + ".join(f"{count(n)} {m}" for m, n in sorted(by_method.items(), key=lambda kv: -kv[1]))


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def size_rows(size: SizeResult, shock: str) -> list[str]:
    f = figures_of(size)
    n = count(size.accounts)
    last = size.refresh[-1]
    rows = [
        _row(n, "1. Refresh, naive: web3.py `getUserAccountData` loop", seconds(f.naive.median),
             seconds_spread(f.naive), f"{count(f.naive_requests)} ({_methods(size.naive[-1].by_method)})",
             "baseline"),
        _row(n, "2. Refresh, the indexer: `sync_once` read + store", seconds(f.indexer.median),
             seconds_spread(f.indexer), f"{count(f.indexer_requests)} in {count(last.http_posts)} HTTP posts",
             f"**{ratio(f.fewer_requests)} fewer requests** ({ratio(f.fewer_than_eth_calls)} fewer than the naive "
             f"eth_calls); **{ratio(f.speedup)} faster**"),
    ]
    parts: list[tuple[str, Callable[..., float]]] = [
        ("RPC: JSON-RPC round trips, JSON included", lambda r: r.rpc),
        ("building calls: `Call.of` (selector, ABI-encoded arguments)", lambda r: r.build),
        ("aggregate3 calldata encode", lambda r: r.encode),
        ("decode: aggregate3 results", lambda r: r.decode),
        ("health math", lambda r: r.health),
        ("feed verdicts + alert rules, with their DB reads", lambda r: r.judge),
        ("DB write: `write_block`", lambda r: r.write),
        ("other: plan bookkeeping, assembling snapshots, listing wallets", lambda r: r.other)]
    for label, part in parts:
        spread = Spread.of(part(r) for r in size.refresh)
        rows.append(_row(n, f"    ↳ {label}", seconds(spread.median), seconds_spread(spread), "",
                         f"{spread.median / f.indexer.median:.0%} of the refresh"))
    check = size.check
    rows += [
        _row(n, "3. The node's own limit: the indexer's requests replayed raw (one aiohttp session)",
             seconds(f.floor.median), seconds_spread(f.floor),
             f"{count(size.floor[-1].requests)} in {count(size.floor[-1].http_posts)} HTTP posts",
             f"indexer = **{f.over_floor:.2f}× the floor** (its read alone: {f.read_over_floor:.2f}×)"),
        _row(n, f"4. Local recompute, {shock} on all positions (`AaveV3Adapter.health`)",
             f"{rate(f.recompute.median)} positions/s", f"{rate_spread(f.recompute)} /s", "0",
             f"chain sample **{check.matched}/{check.sample} exact** (6 figures each, {check.exposed} holding "
             f"the asset); {count(size.below_one)} of {count(size.positions)} positions < 1 after the shock"),
        _persist_row(n, "5a. Persist, SQLite (`write_block`)", f.sqlite, size),
        _persist_row(n, "5b. Persist, Postgres (`write_block`)", f.postgres, size),
        _row(n, "6. Price update → alert stored", NOT_YET, "", "", ""),
    ]
    return rows


def _persist_row(n: str, label: str, spread: Spread | None, size: SizeResult) -> str:
    if spread is None:
        return _row(n, label, "not measured (no PostgreSQL: `--no-postgres`)", "", "", "")
    rows = size.sqlite[0].rows
    return _row(n, label, f"{rate(spread.median)} rows/s", f"{rate_spread(spread)} /s", "",
                f"{count(rows)} rows per write ({count(size.positions)} history + {count(rows - 2 * size.positions)} "
                f"asset + {count(size.positions)} position); {ratio(spread.median / PER_ROW_ORM)} the per-row ORM "
                f"figure of {count(PER_ROW_ORM)} rows/s (anchors, not measured here)")


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def target_lines(size: SizeResult) -> list[str]:
    f = figures_of(size)
    lines = [
        f"- ≥ {TARGET_REQUESTS}× fewer requests than the naive loop: {ratio(f.fewer_than_eth_calls)} fewer than its "
        f"{count(f.naive_eth_calls)} eth_calls ({ratio(f.fewer_requests)} fewer than all its "
        f"{count(f.naive_requests)} requests) → {_verdict(f.fewer_than_eth_calls >= TARGET_REQUESTS)}",
        f"- ≥ {TARGET_SPEEDUP}× faster than the naive loop: {ratio(f.speedup)} → "
        f"{_verdict(f.speedup >= TARGET_SPEEDUP)}",
        f"- within {TARGET_FLOOR}× of the node's own time: {f.over_floor:.2f}× (read alone {f.read_over_floor:.2f}×) "
        f"→ {_verdict(f.over_floor <= TARGET_FLOOR)}",
        f"- local recompute ≥ {rate(TARGET_RECOMPUTE)} positions/s: {rate(f.recompute.median)} → "
        f"{_verdict(f.recompute.median >= TARGET_RECOMPUTE)}; exact on the chain sample: "
        f"{size.check.matched}/{size.check.sample} → {_verdict(size.check.ok)}",
        f"- persist ≥ {rate(TARGET_PERSIST)} rows/s on SQLite: {rate(f.sqlite.median)} → "
        f"{_verdict(f.sqlite.median >= TARGET_PERSIST)}",
    ]
    if f.postgres is not None:
        lines.append(f"- persist ≥ {rate(TARGET_PERSIST)} rows/s on Postgres: {rate(f.postgres.median)} → "
                     f"{_verdict(f.postgres.median >= TARGET_PERSIST)}")
    lines.append(f"- price update → alert stored < 1 s: {NOT_YET}")
    return lines


def shock_label(result: BenchResult) -> str:
    config = result.config
    return f"{config.shock_symbol} {'+' if config.shock_percent > 0 else '−'}{abs(config.shock_percent)} %"


def render(result: BenchResult, command: str) -> str:
    out = [
        f"- Machine: {result.machine}" + (f"; {result.postgres_server}" if result.postgres_server else ""),
        f"- Command: `{command}`",
        f"- Load average (1 min) before / after the run: {result.load[0]:.2f} / {result.load[1]:.2f} "
        "(anvil, Python and the databases share these cores).",
        f"- Repeats: {result.config.repeat} per measurement (median, spread = min – max); every refresh pinned "
        "to a freshly mined block, naive loop, indexer and raw replay on that same block.",
    ]
    for size in result.sizes:
        out.append(f"- N = {count(size.accounts)}: devnet deployed in {seconds(size.deploy_seconds)}, "
                   f"{count(size.accounts)} borrowers seeded in {seconds(size.seed_seconds)}; the indexer's figures "
                   f"equal the naive loop's `getUserAccountData` for {count(size.parity)}/{count(size.positions)} "
                   "positions.")
    out += ["", _row("N", "measurement", "median", "spread (min – max)", "JSON-RPC requests", "vs baseline"),
            _row(*["---"] * 6)]
    for size in result.sizes:
        out += size_rows(size, shock_label(result))
    out += ["", "Targets (anchors.md):"]
    for size in result.sizes:
        out += ["", f"**N = {count(size.accounts)}**", "", *target_lines(size)]
    for size in result.sizes:
        for name, text in size.profiles.items():
            out += ["", f"Profile, N = {count(size.accounts)}, {name} (cProfile, one extra run):", "```", text, "```"]
    return "\n".join(out)


def row_labels(rendered: str) -> Sequence[str]:
    """The measurement cells of the table, for checks."""
    return [line.split("|")[2].strip() for line in rendered.splitlines()
            if line.startswith("| ") and not line.startswith("| N |")]
