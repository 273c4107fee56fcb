"""One writer per chain: two `indexer run` on one database (SQLite and Postgres). The second stands by; `sync`
and `run --no-wait` are refused while the first holds the chain; after a `kill -9` of the first, the standby
takes over without a missed block, and history and alert events have no duplicates."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from indexer.devnet import mine
from indexer.store.chain_store import checkpoint
from indexer.store.models import AlertEvent, Block, PositionHistory
from indexer.store.wallet_store import add_wallet


def _head(devnet) -> int:
    return int(devnet.rpc.call("eth_blockNumber", []), 16)


def _start(env, config, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "indexer", "--config", str(config), "-v", "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=sink)


async def _until(what: str, check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def _rows(engine, model, *columns):
    t = model.__table__
    with engine.connect() as connection:
        return connection.execute(sa.select(*(t.c[c] for c in columns))).all()


async def test_a_standby_takes_over_after_kill_9_without_a_gap_or_a_duplicate(devnet, chain_state,
                                                                              write_devnet_config, engine, tmp_path):
    config = write_devnet_config(chain="poll_interval = 0.1\n", top="", tail="")
    config.write_text(config.read_text().replace('[run]\nlisten = "127.0.0.1:0"\n',
                                                 '[run]\nlisten = "127.0.0.1:0"\nlease_poll = 0.2\n'))
    for account in devnet.accounts[:12]:  # some with a WARN level above their health: alerts are raised
        add_wallet(engine, address=account.address, label=account.kind, warn_health=Decimal(5))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _start(env, config, first_log)
    second = None
    try:
        await _until("the first to follow", lambda: (checkpoint(engine, chain="devnet") or -1) >= _head(devnet))
        second = _start(env, config, second_log)
        await _until("the second to stand by", lambda: "standby chain=devnet" in second_log.read_text())

        refused = subprocess.run([sys.executable, "-m", "indexer", "--config", str(config), "sync"], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "being written by another process" in refused.stderr, refused.stderr
        assert refused.stderr.strip().count("\n") == 0
        no_wait = subprocess.run([sys.executable, "-m", "indexer", "--config", str(config), "run", "--no-wait"],
                                 env=env, capture_output=True, text=True, timeout=60)
        assert no_wait.returncode != 0 and "lease held" in no_wait.stderr, no_wait.stderr

        mine(devnet.url, 3)
        await _until("the first to store them", lambda: checkpoint(engine, chain="devnet") == _head(devnet))
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        for _ in range(5):  # blocks keep coming while nobody writes, then the standby catches up
            mine(devnet.url, 1)
            await asyncio.sleep(0.05)
        await _until("the standby to catch up", lambda: checkpoint(engine, chain="devnet") == _head(devnet))
        standby = second_log.read_text()
        assert "took over chain=devnet" in standby
        # the standby read and wrote nothing while the first held the chain
        assert "block processed" not in standby.split("took over chain=devnet")[0]
        assert "block processed" in standby.split("took over chain=devnet")[1]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()

    blocks = sorted(n for (n,) in _rows(engine, Block, "number"))
    assert blocks == list(range(blocks[0], _head(devnet) + 1)), "no block missed across the takeover"
    history = Counter(_rows(engine, PositionHistory, "account", "block_number"))
    assert history and max(history.values()) == 1, "one history row per position per block"
    events = Counter(_rows(engine, AlertEvent, "alert_id", "kind", "block_number"))
    assert events and max(events.values()) == 1, "no alert event doubled"
