"""The neutral position model: legs instead of Aave-shaped asset rows, protocol detail as JSON.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

``position_assets`` (one row per Aave reserve, collateral and debt side by side) becomes
``position_legs`` (one row per collateral or debt leg, with its role, price key and risk terms). On
``positions`` and ``position_history`` the Aave columns become neutral figures: the protocol's health
integer (``health_raw``/``health_decimals``), ``equity`` against ``requirement``, gross
``collateral_value``/``debt_value`` in ``quote`` units, ``margin_mode``, and ``detail`` (LT, LTV and
available borrows move there). Every row stored before this revision is an Aave v3 position quoted in
USD; its equity is ``percentMul(collateral, avgLT)``, as the health factor's numerator.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5_000


def uint256() -> sa.types.TypeEngine[object]:
    return sa.Numeric(78, 0).with_variant(sa.Text(), "sqlite")


def int256() -> sa.types.TypeEngine[object]:
    return sa.Numeric(78, 0).with_variant(sa.Text(), "sqlite")


def big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _wide(value: int, sqlite: bool) -> Any:
    return str(value) if sqlite else value


def _percent_mul(value: int, bps: int) -> int:
    return (value * bps + 5_000) // 10_000


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    op.create_table(
        "position_legs",
        sa.Column("id", big_id(), primary_key=True),
        sa.Column("snapshot_id", sa.BigInteger(), sa.ForeignKey("position_history.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("asset", sa.String(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("amount", uint256(), nullable=False),
        sa.Column("price", uint256(), nullable=False),
        sa.Column("price_decimals", sa.Integer(), nullable=False),
        sa.Column("price_key", sa.String(), nullable=False),
        sa.Column("value", uint256(), nullable=False),
        sa.Column("feed", sa.String(), nullable=True),
        sa.Column("round_id", uint256(), nullable=True),
        sa.Column("price_time", sa.BigInteger(), nullable=True),
        sa.Column("terms", sa.Text(), nullable=False),  # JSON, as text
    )
    op.create_index("ix_position_legs_snapshot_id", "position_legs", ["snapshot_id"])
    op.create_index("ix_position_legs_asset", "position_legs", ["asset"])
    _move_assets(bind, sqlite)
    op.drop_index("ix_position_assets_snapshot_id", table_name="position_assets")
    op.drop_index("ix_position_assets_asset", table_name="position_assets")
    op.drop_table("position_assets")
    for table in ("position_history", "positions"):
        _neutral_figures(bind, table, sqlite)


def _move_assets(bind: sa.Connection, sqlite: bool) -> None:
    assets = sa.table("position_assets", *(sa.column(n) for n in (
        "id", "snapshot_id", "asset", "symbol", "decimals", "collateral", "debt", "price", "price_source", "feed",
        "round_id", "collateral_base", "debt_base", "is_collateral", "liquidation_threshold", "ltv")))
    legs = sa.table("position_legs", *(sa.column(n) for n in (
        "snapshot_id", "asset", "symbol", "decimals", "role", "amount", "price", "price_decimals", "price_key",
        "value", "feed", "round_id", "terms")))
    last = 0
    while True:
        rows = bind.execute(sa.select(assets).where(assets.c.id > last).order_by(assets.c.id).limit(_BATCH)).all()
        if not rows:
            return
        out = []
        for r in rows:
            common = {"snapshot_id": r.snapshot_id, "asset": r.asset, "symbol": r.symbol, "decimals": r.decimals,
                      "price": r.price, "price_decimals": 8, "price_key": r.price_source or r.asset, "feed": r.feed,
                      "round_id": r.round_id}
            if r.is_collateral:
                out.append({**common, "role": "collateral", "amount": r.collateral, "value": r.collateral_base,
                            "terms": json.dumps({"liquidation_threshold": r.liquidation_threshold, "ltv": r.ltv},
                                                separators=(",", ":"))})
            if int(r.debt) or int(r.debt_base):
                out.append({**common, "role": "debt", "amount": r.debt, "value": r.debt_base, "terms": "{}"})
        if out:
            bind.execute(legs.insert(), out)
        last = rows[-1].id


def _neutral_figures(bind: sa.Connection, table: str, sqlite: bool) -> None:
    with op.batch_alter_table(table) as batch:
        batch.alter_column("health_factor_raw", new_column_name="health_raw")
        batch.alter_column("native_decimals", new_column_name="health_decimals")
        batch.alter_column("collateral_base", new_column_name="collateral_value")
        batch.alter_column("debt_base", new_column_name="debt_value")
        batch.alter_column("base_unit", new_column_name="quote_unit")
        batch.add_column(sa.Column("equity", int256(), nullable=True))
        batch.add_column(sa.Column("requirement", uint256(), nullable=True))
        batch.add_column(sa.Column("quote", sa.String(), nullable=False, server_default="USD"))
        batch.add_column(sa.Column("margin_mode", sa.String(), nullable=False, server_default="cross"))
        batch.add_column(sa.Column("detail", sa.Text(), nullable=True))  # JSON, as text
    rows_table = sa.table(table, *(sa.column(n) for n in (
        "id", "collateral_value", "debt_value", "liquidation_threshold", "ltv", "available_borrows_base",
        "equity", "requirement", "detail")))
    last = 0
    while True:
        rows = bind.execute(sa.select(rows_table.c.id, rows_table.c.collateral_value, rows_table.c.debt_value,
                                      rows_table.c.liquidation_threshold, rows_table.c.ltv,
                                      rows_table.c.available_borrows_base)
                            .where(rows_table.c.id > last).order_by(rows_table.c.id).limit(_BATCH)).all()
        if not rows:
            break
        for r in rows:
            bind.execute(rows_table.update().where(rows_table.c.id == r.id).values(
                equity=_wide(_percent_mul(int(r.collateral_value), r.liquidation_threshold), sqlite),
                requirement=r.debt_value,
                detail=json.dumps({"liquidation_threshold": r.liquidation_threshold, "ltv": r.ltv,
                                   "available_borrows": int(r.available_borrows_base)}, separators=(",", ":"))))
        last = rows[-1].id
    with op.batch_alter_table(table) as batch:
        batch.alter_column("equity", existing_type=int256(), nullable=False)
        batch.alter_column("requirement", existing_type=uint256(), nullable=False)
        batch.alter_column("detail", existing_type=sa.Text(), nullable=False)
        batch.alter_column("quote", existing_type=sa.String(), server_default=None)
        batch.alter_column("margin_mode", existing_type=sa.String(), server_default=None)
        batch.drop_column("liquidation_threshold")
        batch.drop_column("ltv")
        batch.drop_column("available_borrows_base")


def downgrade() -> None:
    raise NotImplementedError("0005 moves data into a new shape; restore a backup taken before upgrading")
