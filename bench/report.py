"""Renders a benchmark run as Markdown: one table, the targets met or missed, and any profiles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.alert_latency import AlertRun
from bench.follow import FollowRun
from bench.runner import BenchResult, SizeResult
from bench.stats import Spread, count, rate, rate_spread, ratio, seconds, seconds_spread

TARGET_REQUESTS = 100
TARGET_SPEEDUP = 20
TARGET_FLOOR = 2
TARGET_RECOMPUTE = 100_000
TARGET_PERSIST = 20_000
PER_ROW_ORM = 3_700  # anchors: SQLAlchemy per-row ORM inserts, rows/s (quoted, not measured here)
TARGET_ALERT_SECONDS = 1.0  # price update → alert stored
TARGET_ALERT_POSITIONS = 10_000  # … for this many tracked positions
TARGET_FOLLOW_SPEEDUP = 50  # issue #17: a block as `indexer run` follows it against the naive loop


@dataclass(frozen=True)
class Figures:
    """The medians and ratios of one size, as the table and the targets use them."""

    naive: Spread
    peer: Spread  # Multicall3 + eth-abi, nothing stored
    indexer: Spread
    read: Spread
    floor: Spread
    naive_requests: int
    naive_eth_calls: int
    indexer_requests: int
    recompute: Spread  # positions per second
    sqlite: Spread  # rows per second
    postgres: Spread | None
    alert_fast: Spread  # seconds, feed update's block → its alert rows committed
    alert_full: Spread  # the same through a full read of every position (row 6's baseline)

    @property
    def speedup(self) -> float:
        return self.naive.median / self.indexer.median

    @property
    def over_peer(self) -> float:
        """The indexer's refresh (read, judge, store) over the peer's read alone: < 1 is faster."""
        return self.indexer.median / self.peer.median

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

    @property
    def alert_speedup(self) -> float:
        return self.alert_full.median / self.alert_fast.median


def figures_of(size: SizeResult) -> Figures:
    return Figures(
        naive=Spread.of(r.wall for r in size.naive),
        peer=Spread.of(r.wall for r in size.peer),
        indexer=Spread.of(r.wall for r in size.refresh),
        read=Spread.of(r.wall - r.write for r in size.refresh),
        floor=Spread.of(r.wall for r in size.floor),
        naive_requests=size.naive[-1].requests,
        naive_eth_calls=size.naive[-1].by_method.get("eth_call", 0),
        indexer_requests=size.refresh[-1].requests,
        recompute=Spread.of(size.recompute),
        sqlite=Spread.of(r.rows_per_second for r in size.sqlite),
        postgres=Spread.of(r.rows_per_second for r in size.postgres) if size.postgres else None,
        alert_fast=Spread.of(r.seconds for r in size.alerts.fast),
        alert_full=Spread.of(r.seconds for r in size.alerts.full))


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
        _row(n, "1b. Refresh, peer: `getUserAccountData` batched through Multicall3 `aggregate3` (eth-abi decoding, "
                "one JSON-RPC batch), nothing stored", seconds(f.peer.median), seconds_spread(f.peer),
             f"{count(size.peer[-1].requests)} in {count(size.peer[-1].http_posts)} HTTP post",
             f"{ratio(f.naive.median / f.peer.median)} faster than the naive loop; figures equal its for "
             f"{count(size.peer_parity)}/{count(size.positions)}"),
        _row(n, "2. Refresh, the indexer: `sync_once` read + store (market layout known from the previous "
                "refresh, as in `indexer run`)", seconds(f.indexer.median),
             seconds_spread(f.indexer), f"{count(f.indexer_requests)} in {count(last.http_posts)} HTTP posts "
             f"(a process's first read: {count(size.first_requests)})",
             f"**{ratio(f.fewer_requests)} fewer requests** ({ratio(f.fewer_than_eth_calls)} fewer than the naive "
             f"eth_calls); **{ratio(f.speedup)} faster**; {f.over_peer:.2f}× the peer's time (which stores nothing)"),
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
        _row(n, f"4. Local recompute, {shock} on all positions (`AaveV3Adapter.health_at`)",
             f"{rate(f.recompute.median)} positions/s", f"{rate_spread(f.recompute)} /s", "0",
             f"chain sample **{check.matched}/{check.sample} exact** (6 figures each, {check.exposed} holding "
             f"the asset); {count(size.below_one)} of {count(size.positions)} positions < 1 after the shock"),
        _persist_row(n, "5a. Persist, SQLite (`write_block`)", f.sqlite, size),
        _persist_row(n, "5b. Persist, Postgres (`write_block`)", f.postgres, size),
        *_alert_rows(n, shock, f, size),
        *_follow_rows(n, f, size),
    ]
    return rows


@dataclass(frozen=True)
class Follow:
    """The medians of one series of row 7 and their ratios to the naive loop (row 1, same run), to the peer and to
    the raw replay (both at the series' own blocks)."""

    block: Spread
    read: Spread
    peer: Spread
    floor: Spread
    speedup: float  # the naive loop's refresh over a followed block

    @classmethod
    def of(cls, runs: Sequence[FollowRun], naive: Spread) -> Follow:
        block = Spread.of(r.seconds for r in runs)
        return cls(block, Spread.of(r.read for r in runs), Spread.of(r.peer.wall for r in runs),
                   Spread.of(r.floor.wall for r in runs), naive.median / block.median)

    @property
    def over_peer(self) -> float:
        return self.block.median / self.peer.median

    @property
    def over_floor(self) -> float:
        return self.block.median / self.floor.median

    @property
    def read_over_floor(self) -> float:
        return self.read.median / self.floor.median


def _follow_cells(runs: Sequence[FollowRun], follow: Follow, positions: int) -> tuple[str, str, str, str]:
    last = runs[-1]
    dormant = sorted(r.dormant for r in runs)
    return (seconds(follow.block.median), seconds_spread(follow.block),
            f"{count(last.requests)} in {count(last.http_posts)} HTTP posts",
            f"**{ratio(follow.speedup)} faster than the naive loop** (row 1); **{follow.over_peer:.2f}× the peer's "
            f"time** at the same blocks ({seconds(follow.peer.median)}); {follow.over_floor:.2f}× the raw replay of "
            f"its own requests ({seconds(follow.floor.median)}; its read alone {follow.read_over_floor:.2f}×); "
            f"dormant: {count(dormant[0])} – {count(dormant[-1])} of {count(positions)}")


def _follow_rows(n: str, f: Figures, size: SizeResult) -> list[str]:
    following = size.follow
    acted = following.active[-1].acted if following.active else 0
    return [
        _row(n, "7. Following the chain: a new block 12 s after the last, nobody acted, `indexer run`'s pipeline "
                f"with `[writes] mode = \"accrued\"`, `epsilon = {following.epsilon}` (the block's logs read, "
                "accounts rebuilt, dormant ones not assembled; every figure derivable exactly from the store)",
             *_follow_cells(following.quiet, Follow.of(following.quiet, f.naive), size.positions)),
        _row(n, f"    7b. … a block in which {count(acted)} accounts ({following.share:.0%} of them) each borrowed one "
                "unit more",
             *_follow_cells(following.active, Follow.of(following.active, f.naive), size.positions)),
        _row(n, "    7c. … a quiet block with `[writes]` as by default (`changed`, exact: every position assembled "
                "and compared with its row)",
             *_follow_cells(following.changed, Follow.of(following.changed, f.naive), size.positions)),
    ]


def _events(runs: Sequence[AlertRun]) -> str:
    got = sorted({r.events for r in runs})
    return count(got[0]) if len(got) == 1 else f"{count(got[0])} – {count(got[-1])}"


def _alert_rows(n: str, shock: str, f: Figures, size: SizeResult) -> list[str]:
    fast, full = size.alerts.fast, size.alerts.full
    return [
        _row(n, f"6. Price update → alert stored: a block with a {shock} feed update → its alert rows committed, "
                "`indexer run`'s pipeline (`ChainPipeline`), fast path", seconds(f.alert_fast.median),
             seconds_spread(f.alert_fast), count(fast[-1].requests),
             f"**{ratio(f.alert_speedup)} faster** than the full read; {_events(fast)} alert events in that block"),
        _row(n, "    ↳ baseline: the same pipeline, full read of every position in that block",
             seconds(f.alert_full.median), seconds_spread(f.alert_full), count(full[-1].requests),
             f"{_events(full)} alert events in that block"),
    ]


def _persist_row(n: str, label: str, spread: Spread | None, size: SizeResult) -> str:
    if spread is None:
        return _row(n, label, "not measured (no PostgreSQL: `--no-postgres`)", "", "", "")
    rows = size.sqlite[0].rows
    return _row(n, label, f"{rate(spread.median)} rows/s", f"{rate_spread(spread)} /s", "",
                f"{count(rows)} rows per write ({count(size.positions)} history + {count(rows - 2 * size.positions)} "
                f"leg + {count(size.positions)} position); {ratio(spread.median / PER_ROW_ORM)} the per-row ORM "
                f"figure of {count(PER_ROW_ORM)} rows/s (anchors, not measured here)")


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def target_lines(size: SizeResult) -> list[str]:
    f = figures_of(size)
    lines = [
        f"- ≥ {TARGET_REQUESTS}× fewer requests than the naive loop: {ratio(f.fewer_than_eth_calls)} fewer than its "
        f"{count(f.naive_eth_calls)} eth_calls ({ratio(f.fewer_requests)} fewer than all its "
        f"{count(f.naive_requests)} requests) → {_verdict(f.fewer_than_eth_calls >= TARGET_REQUESTS)}; a "
        f"process's first read ({count(size.first_requests)} requests): "
        f"{ratio(f.naive_eth_calls / size.first_requests)} fewer",
        f"- ≥ {TARGET_SPEEDUP}× faster than the naive loop: {ratio(f.speedup)} → "
        f"{_verdict(f.speedup >= TARGET_SPEEDUP)}",
        f"- faster than the Multicall3 peer baseline while storing every position: {f.over_peer:.2f}× its time → "
        f"{_verdict(f.over_peer < 1)}",
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
    lines.append(_alert_target(f, size))
    lines += _follow_targets(f, size)
    return lines


def _follow_targets(f: Figures, size: SizeResult) -> list[str]:
    """Issue #17's refresh targets, for a block as `indexer run` follows it (row 7: nobody acted; 7b: some did)."""
    quiet, active = (Follow.of(size.follow.quiet, f.naive), Follow.of(size.follow.active, f.naive))
    return [
        f"- following a block (row 7 / 7b), ≥ {TARGET_FOLLOW_SPEEDUP}× faster than the naive loop: "
        f"{ratio(quiet.speedup)} / {ratio(active.speedup)} → "
        f"{_verdict(min(quiet.speedup, active.speedup) >= TARGET_FOLLOW_SPEEDUP)}",
        f"- following a block (row 7 / 7b), faster than the Multicall3 peer at the same block: "
        f"{quiet.over_peer:.2f}× / {active.over_peer:.2f}× its time → "
        f"{_verdict(max(quiet.over_peer, active.over_peer) < 1)}",
        f"- following a block (row 7 / 7b), within {TARGET_FLOOR}× of the raw replay of its own requests (the read "
        f"within 1.5×): {quiet.over_floor:.2f}× / {active.over_floor:.2f}× (read {quiet.read_over_floor:.2f}× / "
        f"{active.read_over_floor:.2f}×) → {_verdict(max(quiet.over_floor, active.over_floor) <= TARGET_FLOOR)}"
        + ("" if max(quiet.read_over_floor, active.read_over_floor) <= 1.5 else " (read: **missed**)"),
    ]


def _alert_target(f: Figures, size: SizeResult) -> str:
    head = f"- price update → alert stored < {TARGET_ALERT_SECONDS:g} s: {seconds(f.alert_fast.median)} (fast path"
    if not all(r.events for r in size.alerts.fast):
        return f"{head}; but no alert event in the feed update's block, so no alert was stored) → **missed**"
    if size.accounts != TARGET_ALERT_POSITIONS:
        return (f"{head}, N = {count(size.accounts)}; the target is for {count(TARGET_ALERT_POSITIONS)} "
                "tracked positions, not judged at this N)")
    return f"{head}) → {_verdict(f.alert_fast.median < TARGET_ALERT_SECONDS)}"


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
        "- Row 6 runs last on each devnet (it mines feed updates and stores blocks): per series one pipeline of "
        "`indexer run` catches up with a full read (not timed); per repeat a feed update is mined and timed from "
        "the moment its block exists to that block's alert rows committed, then the price is restored in the "
        "next block (not timed). The baseline series does the same with a full read of every position per "
        "block.",
        "- Row 7 runs before row 6 (it mines blocks, one of them with borrows, and stores them): per series one "
        "pipeline of `indexer run` catches up and follows three blocks (not timed); per repeat a block is mined and "
        "timed from its existence to it stored (head detection included), then the peer reads every account at "
        "that block and the pipeline's own requests for it are replayed raw. The naive loop's figure is row 1's.",
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
