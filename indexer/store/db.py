"""Engines and schema revisions.

SQLite connections get WAL, foreign keys and a busy timeout, and SQLAlchemy (not the ``sqlite3``
module) emits ``BEGIN``, so every ``engine.begin()`` block is one real SQLite transaction.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from indexer.errors import ConfigError, StoreError
from indexer.paths import shipped

if TYPE_CHECKING:  # Alembic is imported when migrations run, not on every start-up (`indexer positions`)
    from alembic.config import Config

log = logging.getLogger(__name__)

# The newest migration's revision: what ``ensure_schema`` checks a database against without loading Alembic and
# every migration script (tests/unit/test_store_schema_head.py fails when a migration is added and this is not).
SCHEMA_HEAD = "0011"

SQLITE_BUSY_TIMEOUT_MS = 10_000


_SCHEME_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # two letters at least: not a drive letter


def database_url(url_or_path: str | Path | URL) -> URL:
    """Parse a database URL; a bare filesystem path means a SQLite file.

    ``postgresql://`` without a driver is taken to mean psycopg 3, the driver the project ships.
    """
    if isinstance(url_or_path, URL):
        url = url_or_path
    elif isinstance(url_or_path, Path):
        url = URL.create("sqlite", database=str(url_or_path.expanduser()))
    elif "://" not in url_or_path:
        if _SCHEME_LIKE.match(url_or_path):  # `postgresql:/…`: a mistyped URL, not a file to create
            scheme = url_or_path.split(":", 1)[0]
            raise ConfigError(f"database URL {scheme}:… is malformed (expected {scheme}://…)")
        url = URL.create("sqlite", database=str(Path(url_or_path).expanduser()))
    else:
        try:
            url = make_url(url_or_path)
        except ArgumentError:
            raise ConfigError(f"database URL {url_or_path.split('://', 1)[0]}://… is malformed") from None
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"database URL {url.drivername}://… is not supported: use sqlite:///PATH or "
                          "postgresql://USER@HOST:PORT/DB")
    return url


def _sqlite_file(url: URL) -> Path | None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, see _on_sqlite_begin
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        tables = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables or "alembic_version" in tables:  # a file of someone else's is left as it is (refused later)
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    # ``sqlite_immediate``: a transaction that reads and then writes takes the write lock up front, so a
    # concurrent writer makes it wait (busy_timeout) instead of failing its write with "database is locked"
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str | Path | URL, **kwargs: Any) -> Engine:
    """Create an engine for a SQLite file (URL or bare path) or a Postgres URL.

    The parent directory of a SQLite file is created if missing. ``kwargs`` go to ``create_engine``.
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at ``migrations/``; no ``alembic.ini`` is needed.

    With ``connection``, migrations run on it (inside its transaction).
    """
    from alembic.config import Config

    migrations = shipped("migrations")
    if not migrations.is_dir():
        raise StoreError(f"migrations not found at {migrations}: the package is incomplete (reinstall it)")
    config = Config()
    config.set_main_option("script_location", str(migrations))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The head of the migration scripts, as Alembic reads them (``SCHEMA_HEAD`` must equal it)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no migrations found in {shipped('migrations')}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision, or ``None`` for a database never migrated."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        revisions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(revisions) > 1:
        raise StoreError(f"database has several migration heads ({', '.join(sorted(revisions))})")
    return revisions[0] if revisions else None


def upgrade(url_or_engine: str | Path | URL | Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` in one transaction."""
    engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
    try:
        with engine.connect() as connection:
            # A migration that rebuilds a table on SQLite (Alembic's batch mode: copy, drop, rename) must not
            # have foreign keys enforced while it runs, and the pragma is a no-op inside a transaction; the
            # keys are checked before the migration commits instead.
            raw = connection.connection.driver_connection if connection.dialect.name == "sqlite" else None
            if raw is not None:
                raw.execute("PRAGMA foreign_keys = OFF")
            try:
                from alembic import command

                with connection.begin():
                    command.upgrade(alembic_config(connection), revision)
                    if raw is not None and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                        raise StoreError(f"migrating to {revision} would break {len(broken)} foreign keys "
                                         f"(first: {tuple(broken[0])}); nothing was changed")
            finally:
                if raw is not None:
                    raw.execute("PRAGMA foreign_keys = ON")
    finally:
        if engine is not url_or_engine:
            engine.dispose()
    log.info("database schema upgraded to %s", revision)


def ensure_schema(engine: Engine) -> None:
    """Make sure the database is at the head revision.

    A brand-new empty database is upgraded on the spot. Anything else that is not at head raises
    ``StoreError``: an older revision (run ``indexer db upgrade``), an unknown one (a newer indexer
    wrote it), or tables without any migration history.
    """
    head = SCHEMA_HEAD
    current = current_revision(engine)
    if current == head:
        return
    if current is None:
        existing = inspect(engine).get_table_names()
        if existing:
            raise StoreError(
                f"database has tables ({', '.join(sorted(existing))}) but no migration history; "
                "point the indexer at an empty database"
            )
        log.info("empty database: creating schema")
        upgrade(engine)
        return
    from alembic.script import ScriptDirectory

    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current in known:
        raise StoreError(
            f"database schema is at revision {current}, this indexer needs {head}: run `indexer db upgrade`"
        )
    raise StoreError(f"database schema is at unknown revision {current} (written by a newer indexer?)")


def snapshot_connection(engine: Engine) -> Connection:
    """A connection whose statements in one transaction see one snapshot (Postgres: REPEATABLE READ;
    SQLite in WAL mode does so already)."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    return connection
