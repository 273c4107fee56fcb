"""Market states: what a block's positions' figures derive from.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

``market_states`` holds, per market and block, the market's part of its positions' figures (its protocol's own
record: indexes, prices, parameters) and the verdicts marking their price status. Written with
``[writes] mode = "accrued"``, under which a block stores the positions whose own inputs changed and readers derive
the others' figures at the block from their last row and this state (``indexer.history``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_states",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("market_id", sa.Integer(), sa.ForeignKey("markets.id"), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("verdicts", sa.Text(), nullable=False),
        sa.Column("chain_status", sa.String(), nullable=False),
        sa.UniqueConstraint("market_id", "block_number", name="uq_market_states_market_block"),
    )
    op.create_index("ix_market_states_chain_block", "market_states", ["chain", "block_number"])


def downgrade() -> None:
    op.drop_index("ix_market_states_chain_block", table_name="market_states")
    op.drop_table("market_states")
