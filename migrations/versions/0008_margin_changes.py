"""Margin parameters a protocol changed under a position.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

One row per (position, parameter) change found between two reads: the parameter, its old and new value in the
protocol's units, and the position's health with the old and with the new value (``indexer.risk.margin``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "margin_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("market", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(), nullable=False),
        sa.Column("parameter", sa.String(), nullable=False),
        sa.Column("asset", sa.String(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("old_value", sa.Numeric(78, 0).with_variant(sa.Text(), "sqlite"), nullable=False),
        sa.Column("new_value", sa.Numeric(78, 0).with_variant(sa.Text(), "sqlite"), nullable=False),
        sa.Column("health_before", sa.Numeric(78, 18).with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("health_after", sa.Numeric(78, 18).with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column("alert_id", sa.String(), nullable=True),
    )
    op.create_index("ix_margin_changes_chain_block", "margin_changes", ["chain", "block_number"])
    op.create_index("ix_margin_changes_market_account", "margin_changes", ["market", "account"])


def downgrade() -> None:
    op.drop_index("ix_margin_changes_market_account", table_name="margin_changes")
    op.drop_index("ix_margin_changes_chain_block", table_name="margin_changes")
    op.drop_table("margin_changes")
