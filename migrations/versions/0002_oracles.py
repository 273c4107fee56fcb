"""Oracle feeds and their per-block readings; the feed and round behind each asset's price.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def int256() -> sa.types.TypeEngine[object]:
    return sa.Numeric(78, 0).with_variant(sa.Text(), "sqlite")


def big_id() -> sa.types.TypeEngine[object]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "oracle_feeds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("price_id", sa.String(), nullable=True),
        sa.Column("asset", sa.String(), nullable=True),
        sa.Column("symbol", sa.String(), nullable=True),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("decimals", sa.Integer(), nullable=True),
        sa.Column("heartbeat", sa.Integer(), nullable=True),
        sa.Column("heartbeat_source", sa.String(), nullable=False),
        sa.Column("deviation", sa.Float(), nullable=True),
        sa.Column("aggregator", sa.String(), nullable=True),
        sa.Column("round_id", int256(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("chain", "key", name="uq_oracle_feeds_chain_key"),
    )
    op.create_table(
        "oracle_readings",
        sa.Column("id", big_id(), primary_key=True),
        sa.Column("feed_id", sa.Integer(), sa.ForeignKey("oracle_feeds.id"), nullable=False),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("round_id", int256(), nullable=True),
        sa.Column("answer", int256(), nullable=True),
        sa.Column("started_at", int256(), nullable=True),
        sa.Column("updated_at", int256(), nullable=True),
        sa.Column("aggregator", sa.String(), nullable=True),
        sa.Column("conf", int256(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("age", sa.BigInteger(), nullable=True),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("feed_id", "block_number", name="uq_oracle_readings_feed_block"),
    )
    op.create_index("ix_oracle_readings_chain_block", "oracle_readings", ["chain", "block_number"])
    with op.batch_alter_table("position_assets") as batch:
        batch.add_column(sa.Column("feed", sa.String(), nullable=True))
        batch.add_column(sa.Column("round_id", int256(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("position_assets") as batch:
        batch.drop_column("round_id")
        batch.drop_column("feed")
    op.drop_table("oracle_readings")
    op.drop_table("oracle_feeds")
