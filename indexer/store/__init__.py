"""Persistence: SQLModel tables, engines and migrations, the per-block writer and keyword-only queries."""

from indexer.store.db import current_revision, ensure_schema, make_engine, upgrade
from indexer.store.queries import (
    add_wallet,
    checkpoint,
    latest_block,
    list_positions,
    list_wallets,
    position_legs,
    remove_wallet,
)
from indexer.store.views import PositionView
from indexer.store.writer import write_block

__all__ = [
    "PositionView",
    "add_wallet",
    "checkpoint",
    "current_revision",
    "ensure_schema",
    "latest_block",
    "list_positions",
    "list_wallets",
    "make_engine",
    "position_legs",
    "remove_wallet",
    "upgrade",
    "write_block",
]
