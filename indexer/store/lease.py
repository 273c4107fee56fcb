"""One writer per chain: a lease in the database that the process following a chain holds for its life.

* Postgres: a session advisory lock (``pg_try_advisory_lock``) on a connection kept open for the lease; the
  server releases it when that session ends, a ``kill -9`` included.
* SQLite: an exclusive ``flock`` on ``<database file>.<chain>.lease`` beside the database; the kernel
  releases it when the process dies. An in-memory database has nothing to share: the lease always holds.

``indexer run`` takes each chain's lease before following it (or waits as a hot standby and takes over when
the holder dies); ``indexer sync`` takes it for its one pass and refuses if another process holds it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text

from indexer.errors import PermanentError

log = logging.getLogger(__name__)


# the one `indexer run` per database that re-asserts the open alerts to Alertmanager (any number deliver the outbox)
OUTBOX_LEASE = "_outbox"


class LeaseHeldError(PermanentError):
    """Another process holds the chain's lease."""


def lock_key(name: str) -> int:
    """The Postgres advisory lock key of a named lease or lock (a chain): 8 bytes of a hash, as a signed 64-bit
    integer."""
    return int.from_bytes(hashlib.sha256(f"indexer-chain-lease:{name}".encode()).digest()[:8], "big", signed=True)


class ChainLease:
    def __init__(self, engine: Engine, chain: str) -> None:
        self.engine = engine
        self.chain = chain
        self.held = False
        self._connection: Connection | None = None
        self._file: IO[bytes] | None = None

    def _lock_path(self) -> Path | None:
        database = self.engine.url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        return Path(f"{database}.{self.chain}.lease")

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True when this process holds it (again)."""
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                          {"k": lock_key(self.chain)}).scalar())
            connection.commit()
            if not got:
                connection.close()
                return False
            self._connection = connection
        else:
            path = self._lock_path()
            if path is not None:
                handle = open(path, "a+b")  # noqa: SIM115 - held open for the lease's life
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    return False
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n".encode())
                handle.flush()
                self._file = handle
        self.held = True
        log.info("chain lease acquired chain=%s pid=%d", self.chain, os.getpid())
        return True

    def acquire_or_refuse(self, what: str) -> None:
        if not self.try_acquire():
            raise LeaseHeldError(f"chain {self.chain!r} is being written by another process (`indexer run`): "
                                 f"{what} refused")

    def release(self) -> None:
        if not self.held:
            return
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(self.chain)})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        self.held = False
        log.info("chain lease released chain=%s", self.chain)
