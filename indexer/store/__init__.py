"""Persistence by entity: the tables (``models``), one module per entity owning its reads, writes and order
(``wallet_store``, ``position_store``, ``feed_store``, ``alert_store`` with ``outbox`` for the delivery claim,
``chain_store`` with ``reorg`` and ``retention``), the block writer, the dashboard's ``summary``, engines and
migrations (``db``). Every argument after the engine is keyword-only. The store imports neither alerts nor
protocols."""

from indexer.store.chain_store import checkpoint, latest_block
from indexer.store.db import current_revision, ensure_schema, make_engine, upgrade
from indexer.store.position_store import list_positions, position_legs
from indexer.store.views import PositionView
from indexer.store.wallet_store import add_wallet, list_wallets, remove_wallet
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
