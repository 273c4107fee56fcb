"""The benchmark end to end at toy size (N = 50, one repeat) on its own anvil: every row is there, and
the relations that must hold do (fewer requests than the naive loop, exact recompute, the feed
update's alert rows committed with its own block, by the fast path and by the full read)."""

import pytest

from bench.report import figures_of, render, row_labels
from bench.runner import BenchConfig, run_benchmark

pytestmark = pytest.mark.postgres

ROWS = ("1. Refresh, naive", "1b. Refresh, peer", "2. Refresh, the indexer", "3. The node's own limit",
        "4. Local recompute", "5a. Persist, SQLite", "5b. Persist, Postgres", "6. Price update → alert stored",
        "7. Following the chain", "7b. … a block in which", "7c. … a quiet block")


async def test_benchmark_at_toy_size_prints_every_row_with_sane_figures(pg_server_url):
    result = await run_benchmark(BenchConfig(accounts=(50,), repeat=1, postgres_url=pg_server_url))
    text = render(result, "python -m bench --accounts 50 --repeat 1")

    labels = row_labels(text)
    for row in ROWS:
        assert sum(1 for label in labels if label.startswith(row)) == 1, (row, labels)
    (row6,) = [line.split("|") for line in text.splitlines() if "| 6. Price update → alert stored" in line]
    assert row6[3].strip().endswith(("µs", "ms", " s")), row6  # a measured figure, not a placeholder
    assert "cores" in result.machine and "RAM" in result.machine
    assert result.postgres_server and result.postgres_server.startswith("PostgreSQL")

    (size,) = result.sizes
    f = figures_of(size)
    (naive,), (refresh,), (floor,) = size.naive, size.refresh, size.floor
    assert size.positions == 50
    assert size.parity == 50, "the indexer's figures must equal getUserAccountData for every account"
    assert size.peer_parity == 50, "the Multicall3 peer's figures must equal the naive loop's"
    (peer,) = size.peer
    assert (peer.requests, peer.http_posts) == (1, 1)  # 50 accounts: one aggregate3 batch
    assert naive.by_method.get("eth_call") == 50
    assert 0 < f.indexer_requests < f.naive_eth_calls
    # the repeats reuse the market's layout from the first read: its two entry-point round trips are gone
    assert refresh.by_method["eth_call"] == size.first_requests - 2 - 2, (refresh.by_method, size.first_requests)
    assert floor.requests == refresh.requests and floor.http_posts == refresh.http_posts
    # wall times are not compared here: at 50 accounts and one repeat they are a few hundred ms and swing with
    # the machine's load (a CI run saw the indexer at 0.279 s beside the naive loop at 0.265 s); the speed
    # relations are measured by `./dev bench` at 1,000+ accounts and recorded in bench/RESULTS.md
    parts = (refresh.rpc, refresh.build, refresh.encode, refresh.decode, refresh.health, refresh.write)
    assert all(p > 0 for p in parts), parts  # the instrumentation still reaches the indexer's code
    assert sum(parts) + refresh.judge <= refresh.wall

    assert size.check.ok, size.check.mismatches
    assert size.check.sample == 20 and size.check.exposed > 0
    assert f.recompute.median > 0
    assert size.postgres is not None
    for run in (*size.sqlite, *size.postgres):
        assert run.rows > 2 * size.positions and run.rows_per_second > 0

    alerts = size.alerts
    assert (alerts.symbol, alerts.percent) == ("WETH", -20)
    assert len(alerts.fast) == len(alerts.full) == 1
    for run in (*alerts.fast, *alerts.full):
        assert run.stored == run.block, "the timed step must store the block that carries the feed update"
        assert run.events > 0, "the feed update must commit alert rows in its own block"
        assert run.seconds > 0 and run.requests > 0
    assert not any(r.full for r in alerts.fast), "the fast path must not read every position"
    assert all(r.full for r in alerts.full)
    assert alerts.fast[0].events == alerts.full[0].events, "both paths raise the same alerts for the same move"
    assert alerts.fast[0].requests < alerts.full[0].requests
    assert f.alert_fast.median > 0 and f.alert_speedup > 0
    assert "price update → alert stored < 1 s: " in text and "the target is for 10,000" in text

    following = size.follow
    assert [len(following.changed), len(following.quiet), len(following.active)] == [1, 1, 1]
    for run in (*following.changed, *following.quiet, *following.active):
        assert run.floor.requests == run.requests and run.floor.http_posts == run.http_posts
        assert 0 < run.read < run.seconds and run.peer.wall > 0
        assert len(run.peer.figures) == 50
    assert following.changed[0].dormant == 0, "written as changed, every position is assembled"
    assert following.quiet[0].dormant > 0, "storing what accrues, a quiet block leaves positions unassembled"
    (active,) = following.active
    assert active.acted == 1 and active.dormant <= size.positions - active.acted, "an account that acted is read"
    assert "following a block (row 7 / 7b)" in text
