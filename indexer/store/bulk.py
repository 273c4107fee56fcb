"""Many rows through one statement with the driver's own executemany, or Postgres' COPY.

SQLAlchemy's executemany builds and type-processes a parameter set per row, which on SQLite takes about as long as
the driver's insert itself (44,000 position legs: 0.69 s against 0.46 s this way, bench/RESULTS.md). Here each
column's bind processing is looked up once per statement (the column type's own, so the stored values are the
same) and the driver gets the rows as plain tuples (or dicts, for a named paramstyle). Plain inserts into Postgres
go through ``COPY … FROM STDIN`` instead (psycopg's ``Cursor.copy``), in the same transaction: about 1.9× its
pipelined executemany for the same legs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.sql.dml import Insert

from indexer.errors import RetryableError, StoreError

Steps = list[tuple[str, Any]]  # (row key, the column type's bind processor or None), in the driver's order


def _steps(connection: Connection, table: Table, keys: Sequence[str]) -> Steps:
    """Each key's column bind processing, looked up once per statement (the type's own, variants resolved)."""
    dialect = connection.dialect
    return [(key, table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in keys]


def _values(row: Mapping[str, Any], steps: Steps) -> tuple[Any, ...]:
    return tuple(row[key] if process is None else process(row[key]) for key, process in steps)


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``rows`` (all with the same keys: ``table``'s column names) inserted into ``table``: by COPY on Postgres, by
    the driver's executemany elsewhere. The database's refusal raises ``StoreError`` (``RetryableError`` when the
    connection failed), as a statement's would."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        executemany(connection, table.insert(), table, rows)
        return
    columns = list(rows[0])
    steps = _steps(connection, table, columns)
    driver = connection.connection.driver_connection
    assert driver is not None
    dbapi = connection.dialect.loaded_dbapi
    quoted = ", ".join(f'"{name}"' for name in columns)
    try:
        with driver.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(_values(row, steps))
    except dbapi.OperationalError as exc:
        raise RetryableError(f"copying {len(rows)} rows into {table.name}: {exc}") from exc
    except dbapi.Error as exc:
        raise StoreError(f"copying {len(rows)} rows into {table.name}: {exc}") from exc


def executemany(connection: Connection, statement: Insert, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``statement`` (an insert into ``table``, an upsert included) once per row of ``rows``, which all have the
    same keys: ``table``'s column names."""
    if not rows:
        return
    columns = list(rows[0])
    compiled = statement.compile(dialect=connection.dialect, column_keys=columns)
    binds = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    keys = [compiled.binds[name].key for name in binds]
    if set(keys) != set(columns):
        raise ValueError(f"the statement binds {sorted(keys)}, the rows hold {sorted(columns)}")
    steps = _steps(connection, table, keys)
    params: list[Any] = [_values(row, steps) for row in rows]
    if not compiled.positional:  # a named paramstyle: the same values by bind name
        params = [dict(zip(binds, values, strict=True)) for values in params]
    connection.exec_driver_sql(compiled.string, params)
