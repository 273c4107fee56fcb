"""A position's owner beside its account id.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

``account`` identifies a margin account on its market; ``owner`` is the wallet that holds it. They are the
same address for every position stored before this revision (lending positions, cross margin accounts); an
isolated perp position is an account of its own (``0xOwner:COIN``) owned by its wallet. Wallet filters and
labels follow ``owner``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("positions", "position_history")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("owner", sa.String(), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET owner = account"))
        with op.batch_alter_table(table) as batch:  # SQLite: the table is rebuilt with the column NOT NULL
            batch.alter_column("owner", existing_type=sa.String(), nullable=False)
    op.create_index("ix_positions_owner", "positions", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_positions_owner", table_name="positions")
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("owner")
