"""Accounts found by borrower discovery, per chain and market.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("market", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("first_block", sa.BigInteger(), nullable=False),
        sa.Column("last_block", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("chain", "market", "account", name="uq_market_accounts_chain_market_account"),
    )


def downgrade() -> None:
    op.drop_table("market_accounts")
