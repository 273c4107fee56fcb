"""Alert rule states, alerts, their events, and the delivery outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_states",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("market", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=True),
        sa.Column("pending_since", sa.BigInteger(), nullable=True),
        sa.Column("alert_id", sa.String(), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("chain", "market", "account", "family", name="uq_alert_states_key"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("dedup_key", sa.String(), nullable=False),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("market", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("opened_block", sa.BigInteger(), nullable=False),
        sa.Column("resolved_block", sa.BigInteger(), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.Column("price_status", sa.String(), nullable=False),
        sa.Column("health", sa.Numeric(78, 18).with_variant(sa.Text(), "sqlite"), nullable=True),
    )
    op.create_index("ix_alerts_dedup_key", "alerts", ["dedup_key"])
    op.create_index("ix_alerts_open", "alerts", ["status", "chain"])
    # one open alert per dedup key, enforced by the database
    op.create_index("uq_alerts_one_open", "alerts", ["dedup_key"], unique=True,
                    postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
    op.create_table(
        "alert_events",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("alert_id", sa.String(), sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("previous_severity", sa.String(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(), nullable=False),
        sa.Column("price_status", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])
    op.create_index("ix_alert_events_chain_block", "alert_events", ["chain", "block_number"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("event_id", sa.String(), sa.ForeignKey("alert_events.id"), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.Column("claimed_until", sa.Double(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.UniqueConstraint("event_id", "channel", name="uq_deliveries_event_channel"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("alert_events")
    op.drop_index("uq_alerts_one_open", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("alert_states")
