"""The dialect's own ``INSERT`` construct, which has ``on_conflict_do_update`` on both databases."""

from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from indexer.errors import StoreError


def upsert_insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"unsupported database dialect {connection.dialect.name}")
