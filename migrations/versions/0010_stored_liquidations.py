"""Liquidation points stored with each snapshot.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

``liquidations`` (JSON text) on ``position_history`` and ``positions``: every price the snapshot's health rests on,
the last price at which the position is not liquidatable (the protocol's own crossing, found when the block was
written), nearest first. NULL on rows written before this revision (and where no point could be computed): readers
compute those from the stored legs, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("position_history", "positions")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("liquidations", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("liquidations")
