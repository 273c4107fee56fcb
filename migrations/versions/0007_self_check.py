"""The runtime self-check's marks on each market.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

``checked_block``: the last block at which some of the market's positions were also read through the
protocol's own view; ``mismatch_block``: the last at which one of them disagreed with the local figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("markets", sa.Column("checked_block", sa.BigInteger(), nullable=True))
    op.add_column("markets", sa.Column("mismatch_block", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("markets") as batch:
        batch.drop_column("mismatch_block")
        batch.drop_column("checked_block")
