"""The outbox claim on SQLite while another connection writes: it waits for the write lock (BEGIN IMMEDIATE)
instead of failing with "database is locked" after reading a snapshot that the writer made stale."""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy as sa

from indexer.store.db import ensure_schema, make_engine
from indexer.store.models import Alert, AlertEvent, Delivery
from indexer.store.outbox import DbOutbox
from indexer.store.types import utc_now


def _t(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


def _add(connection: sa.Connection, n: int) -> None:
    connection.execute(sa.insert(_t(Alert)), {
        "id": f"a{n}", "dedup_key": f"k{n}", "chain": "c", "market": "m", "account": f"0x{n:040x}",
        "family": "health", "severity": "WARN", "status": "open", "opened_block": 1, "updated_block": 1,
        "price_status": "FRESH"})
    connection.execute(sa.insert(_t(AlertEvent)), {
        "id": f"e{n}", "alert_id": f"a{n}", "chain": "c", "kind": "opened", "severity": "WARN", "block_number": 1,
        "block_hash": "0x01", "price_status": "FRESH", "message": "{}", "created_at": utc_now()})
    connection.execute(sa.insert(_t(Delivery)), {
        "event_id": f"e{n}", "channel": "hook", "status": "pending", "attempts": 0, "created_at": 0.0,
        "next_attempt_at": 0.0})


def test_a_claim_waits_for_a_concurrent_writer_instead_of_failing(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    ensure_schema(engine)
    with engine.begin() as connection:
        _add(connection, 1)
    holding, failures = threading.Event(), []

    def writer() -> None:  # another process's transaction: holds the write lock a while, then commits a row
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("UPDATE deliveries SET attempts = attempts")  # takes the write lock
                holding.set()
                time.sleep(0.4)
                _add(connection, 2)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(5)
    claimed = DbOutbox(engine, lambda **row: row["event_id"]).claim(now=time.time(), limit=10)
    thread.join()
    engine.dispose()
    assert not failures
    assert sorted(claimed) == ["e1", "e2"]  # it waited, then saw the writer's row too
