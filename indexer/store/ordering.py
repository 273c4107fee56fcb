"""The orders positions are listed in, defined once for the CLI, the API, the dashboard and metrics."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, TableClause, func


def larger_first(column: ColumnElement[Any], dialect: str) -> list[Any]:
    """Descending numeric order of a ``Uint256`` column (canonical decimal text on SQLite: longer is larger)."""
    if dialect == "sqlite":
        return [func.length(column).desc(), column.desc()]
    return [column.desc()]


def riskiest_first(positions: TableClause, dialect: str) -> list[Any]:
    """Lowest health first, positions owing nothing last, then larger debt first, then the row id (stable)."""
    p = positions.c
    return [p.health.asc().nulls_last(), *larger_first(p.debt_value, dialect), p.id]


def largest_debt_first(positions: TableClause, dialect: str) -> list[Any]:
    """Larger debt first, then lower health, then the row id."""
    p = positions.c
    return [*larger_first(p.debt_value, dialect), p.health.asc().nulls_last(), p.id]
