"""Acknowledged alerts and silences.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

An alert can be acknowledged (when, by whom): its later de-escalations are stored but not delivered. A silence
(chain, market and/or wallet, from ``starts_at`` to ``ends_at``, unix seconds) keeps the deliveries of matching
events from being sent: their outbox rows are written with status ``silenced``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("acknowledged_at", sa.Double(), nullable=True))
        batch.add_column(sa.Column("acknowledged_by", sa.String(), nullable=True))
    op.create_table(
        "silences",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("chain", sa.String(), nullable=True),
        sa.Column("market", sa.String(), nullable=True),
        sa.Column("wallet", sa.String(), nullable=True),
        sa.Column("starts_at", sa.Double(), nullable=False),
        sa.Column("ends_at", sa.Double(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("created_by", sa.String(), nullable=True),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])


def downgrade() -> None:
    op.drop_index("ix_silences_ends_at", table_name="silences")
    op.drop_table("silences")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("acknowledged_by")
        batch.drop_column("acknowledged_at")
