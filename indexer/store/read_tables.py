"""The tables the position reads select from, as light SQLAlchemy table clauses: each column's name and type (its
result processing: wide integers, exact health, JSON), without SQLModel and the declarative models.

``models`` defines the schema (and migrations follow it); importing SQLModel and building those classes costs a
short command more than anything else it does. So the read paths that short commands and the API share
(``position_store``) name their columns here, and
``tests/unit/test_read_tables.py`` checks every column against the model's: same name, same type.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnClause, Double, Integer, String, TableClause, column, table

from indexer.store.types import HealthDecimal, Int256, JsonText, Uint256, UtcDateTime


def _columns(*spec: tuple[str, Any]) -> list[ColumnClause[Any]]:
    return [column(name, kind) for name, kind in spec]


def _figures() -> list[ColumnClause[Any]]:
    """``models.PositionFigures``: what a snapshot says of a position (``positions`` and ``position_history``)."""
    return _columns(
        ("chain", String), ("market_id", Integer), ("account", String), ("owner", String),
        ("block_number", BigInteger), ("block_hash", String), ("block_timestamp", BigInteger),
        ("health_raw", Uint256), ("health_decimals", Integer), ("health", HealthDecimal), ("health_float", Double),
        ("equity", Int256), ("requirement", Uint256), ("collateral_value", Uint256), ("debt_value", Uint256),
        ("quote", String), ("quote_unit", Uint256), ("margin_mode", String), ("detail", JsonText),
        ("price_status", String), ("liquidations", JsonText))


markets: TableClause = table("markets", *_columns(
    ("id", Integer), ("chain", String), ("key", String), ("protocol", String), ("address", String),
    ("checked_block", BigInteger), ("mismatch_block", BigInteger)))
wallets: TableClause = table("wallets", *_columns(("id", Integer), ("address", String), ("label", String)))
positions: TableClause = table("positions", *_figures(), *_columns(
    ("id", Integer), ("protocol", String), ("snapshot_id", BigInteger), ("updated_at", UtcDateTime)))
history: TableClause = table("position_history", *_figures(), *_columns(("id", BigInteger)))
legs: TableClause = table("position_legs", *_columns(
    ("id", BigInteger), ("snapshot_id", BigInteger), ("asset", String), ("symbol", String), ("decimals", Integer),
    ("role", String), ("amount", Uint256), ("price", Uint256), ("price_decimals", Integer), ("price_key", String),
    ("value", Uint256), ("feed", String), ("round_id", Uint256), ("price_time", BigInteger), ("terms", JsonText)))
states: TableClause = table("market_states", *_columns(
    ("id", BigInteger), ("chain", String), ("market_id", Integer), ("block_number", BigInteger), ("state", JsonText),
    ("verdicts", JsonText), ("chain_status", String)))
blocks: TableClause = table("blocks", *_columns(
    ("id", BigInteger), ("chain", String), ("number", BigInteger), ("hash", String), ("parent_hash", String),
    ("timestamp", BigInteger)))
