"""Initial schema: markets, wallets, blocks, positions and their history, checkpoints.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Types are spelled out here rather than imported from ``indexer.store.types`` so that this revision
keeps meaning the same thing whatever those types become.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def uint256() -> sa.types.TypeEngine[object]:
    return sa.Numeric(78, 0).with_variant(sa.Text(), "sqlite")


def health_decimal() -> sa.types.TypeEngine[object]:
    return sa.Numeric(78, 18).with_variant(sa.Text(), "sqlite")


def big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def position_figures() -> list[sa.Column[object]]:
    """The columns ``positions`` and ``position_history`` share."""
    return [
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("market_id", sa.Integer(), sa.ForeignKey("markets.id"), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("health_factor_raw", uint256(), nullable=False),
        sa.Column("native_decimals", sa.Integer(), nullable=False),
        sa.Column("health", health_decimal(), nullable=True),
        sa.Column("health_float", sa.Double(), nullable=True),
        sa.Column("collateral_base", uint256(), nullable=False),
        sa.Column("debt_base", uint256(), nullable=False),
        sa.Column("base_unit", uint256(), nullable=False),
        sa.Column("liquidation_threshold", sa.Integer(), nullable=False),
        sa.Column("ltv", sa.Integer(), nullable=False),
        sa.Column("available_borrows_base", uint256(), nullable=False),
        sa.Column("price_status", sa.String(), server_default="unknown", nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "markets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("protocol", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.UniqueConstraint("chain", "key", name="uq_markets_chain_key"),
    )
    op.create_table(
        "wallets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("warn_health", health_decimal(), nullable=True),
        sa.Column("critical_health", health_decimal(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("address", name="uq_wallets_address"),
    )
    op.create_table(
        "blocks",
        sa.Column("id", big_id(), primary_key=True),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("parent_hash", sa.String(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("chain", "number", name="uq_blocks_chain_number"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("chain", "name", name="uq_checkpoints_chain_name"),
    )
    op.create_table(
        "position_history",
        sa.Column("id", big_id(), primary_key=True),
        *position_figures(),
    )
    op.create_index(
        "ix_position_history_market_account_block",
        "position_history",
        ["market_id", "account", "block_number"],
    )
    op.create_index("ix_position_history_chain_block", "position_history", ["chain", "block_number"])
    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), primary_key=True),
        *position_figures(),
        sa.Column("protocol", sa.String(), nullable=False),
        sa.Column("snapshot_id", sa.BigInteger(), sa.ForeignKey("position_history.id"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("chain", "market_id", "account", name="uq_positions_chain_market_account"),
    )
    op.create_index("ix_positions_health_float", "positions", ["health_float"])
    op.create_index("ix_positions_account", "positions", ["account"])
    op.create_table(
        "position_assets",
        sa.Column("id", big_id(), primary_key=True),
        sa.Column(
            "snapshot_id",
            sa.BigInteger(),
            sa.ForeignKey("position_history.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("asset", sa.String(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("collateral", uint256(), nullable=False),
        sa.Column("debt", uint256(), nullable=False),
        sa.Column("price", uint256(), nullable=False),
        sa.Column("price_source", sa.String(), nullable=True),
        sa.Column("collateral_base", uint256(), nullable=False),
        sa.Column("debt_base", uint256(), nullable=False),
        sa.Column("is_collateral", sa.Boolean(), nullable=False),
        sa.Column("liquidation_threshold", sa.Integer(), nullable=False),
        sa.Column("ltv", sa.Integer(), nullable=False),
    )
    op.create_index("ix_position_assets_snapshot_id", "position_assets", ["snapshot_id"])
    op.create_index("ix_position_assets_asset", "position_assets", ["asset"])


def downgrade() -> None:
    op.drop_table("position_assets")
    op.drop_table("positions")
    op.drop_table("position_history")
    op.drop_table("checkpoints")
    op.drop_table("blocks")
    op.drop_table("wallets")
    op.drop_table("markets")
