"""Several dispatchers on one outbox (issue #17, scale-out): each due row is claimed by one of them.

First the claim itself, on SQLite and a real Postgres: three threads, each its own ``DbOutbox``, claim and settle
small batches as fast as they can until nothing is pending; no row is ever claimed twice, every alert's newest event
is delivered once and its older ones are superseded. Then three real `indexer alerts dispatch` processes against a
real loopback receiver on Postgres: every event reaches it once (no idempotency key is answered twice), and more
than one process delivers.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from indexer.store.models import Alert, AlertEvent, Delivery
from indexer.store.outbox import DbOutbox
from indexer.store.types import utc_now
from tests.integration.test_alert_dispatch_process import SlowReceiver, pending_alerts, pending_ids

ALERTS, EVENTS_PER_ALERT, THREADS = 40, 3, 3


def _t(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


def _seed(engine: sa.Engine) -> dict[str, list[str]]:
    """``ALERTS`` open alerts with ``EVENTS_PER_ALERT`` events each, one pending delivery per event; the events of
    each alert, oldest first."""
    events: dict[str, list[str]] = {}
    with engine.begin() as connection:
        for n in range(ALERTS):
            connection.execute(sa.insert(_t(Alert)), {
                "id": f"a{n}", "dedup_key": f"k{n}", "chain": "c", "market": "m", "account": f"0x{n:040x}",
                "family": "health", "severity": "WARN", "status": "open", "opened_block": 1, "updated_block": 1,
                "price_status": "FRESH"})
            for k in range(EVENTS_PER_ALERT):
                event = f"e{n}-{k}"
                connection.execute(sa.insert(_t(AlertEvent)), {
                    "id": event, "alert_id": f"a{n}", "chain": "c", "kind": "opened", "severity": "WARN",
                    "block_number": 1 + k, "block_hash": "0x01", "price_status": "FRESH", "message": "{}",
                    "created_at": utc_now()})
                connection.execute(sa.insert(_t(Delivery)), {
                    "event_id": event, "channel": "hook", "status": "pending", "attempts": 0, "created_at": 0.0,
                    "next_attempt_at": 0.0})
                events.setdefault(f"a{n}", []).append(event)
    return events


def test_concurrent_claims_never_take_a_row_twice(engine):
    events = _seed(engine)
    claimed: list[str] = []
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def dispatcher() -> None:
        outbox = DbOutbox(engine, lambda **row: (row["id"], row["event_id"]))
        try:
            start.wait()
            while batch := outbox.claim(now=time.time(), limit=2):
                claimed.extend(event for _, event in batch)
                for row_id, _ in batch:
                    outbox.delivered(row_id, status=200, now=time.time())
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    assert [e for e, n in Counter(claimed).items() if n > 1] == []  # no row claimed twice
    assert sorted(claimed) == sorted(chain[-1] for chain in events.values())  # each alert's newest, once
    d = _t(Delivery).c
    with engine.connect() as connection:
        statuses = Counter(status for (status,) in connection.execute(sa.select(d.status)))
    assert statuses == {"delivered": ALERTS, "superseded": ALERTS * (EVENTS_PER_ALERT - 1)}


def _start(env: dict[str, str], config: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "indexer", "--config", str(config), "-v", "alerts", "dispatch",
                             "--poll", "0.1", "--concurrency", "1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.one_database("postgres")
async def test_three_dispatch_processes_deliver_every_event_once(devnet, chain_state, write_devnet_config, engine,
                                                                 unused_tcp_port):
    receiver = SlowReceiver(delay=0.5)  # one process alone would take a while: the others join in
    logs: list[str] = []
    async with pending_alerts(receiver, devnet, write_devnet_config, engine, unused_tcp_port) as (env, config,
                                                                                                    events):
        assert len(events) >= 12
        processes = [_start(env, config) for _ in range(3)]
        try:
            deadline = time.monotonic() + 90
            while pending_ids(engine)[1] != {"delivered"} and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            for process in processes:
                process.send_signal(signal.SIGTERM)
                _, err = process.communicate(timeout=20)
                assert process.returncode == 0, err
                logs.append(err)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()

    assert pending_ids(engine)[1] == {"delivered"}
    assert sorted(receiver.ok) == sorted(events) and receiver.repeats == []  # each once, none sent twice
    delivering = [log.count("alert delivered") for log in logs]
    assert sum(delivering) == len(events)
    assert sum(1 for n in delivering if n) >= 2, delivering  # more than one process took part
