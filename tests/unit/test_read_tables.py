"""The read paths' light tables (``indexer.store.read_tables``) name the models' columns: every column they declare
exists in the model's table with the same type, and the figure columns shared by ``positions`` and
``position_history`` are all there — so a column added to or retyped in the models, and not here, fails."""

import pytest

from indexer.store import read_tables
from indexer.store.models import Market, Position, PositionHistory, PositionLeg, Wallet

PAIRS = [(read_tables.markets, Market), (read_tables.wallets, Wallet), (read_tables.positions, Position),
         (read_tables.history, PositionHistory), (read_tables.legs, PositionLeg)]


def _kind(column):
    """The type a column is read through (a dialect variant's base: ``BigIntId`` is a BigInteger)."""
    kind = type(column.type).__name__
    return {"AutoString": "String"}.get(kind, kind)


@pytest.mark.parametrize(("light", "model"), PAIRS, ids=lambda x: getattr(x, "name", getattr(x, "__name__", "")))
def test_every_light_column_is_the_models_with_its_type(light, model):
    table = model.__table__
    assert light.name == table.name
    for column in light.columns:
        assert column.name in table.c, f"{table.name}.{column.name} is no column of the model"
        assert _kind(column) == _kind(table.c[column.name]), f"{table.name}.{column.name}"


@pytest.mark.parametrize(("light", "model"), [(read_tables.positions, Position), (read_tables.history, PositionHistory),
                                              (read_tables.legs, PositionLeg)], ids=["positions", "history", "legs"])
def test_the_position_tables_carry_every_column_of_the_model(light, model):
    assert {c.name for c in light.columns} == {c.name for c in model.__table__.columns}
