"""Column types on their own: bind/result conversion and DDL per dialect, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from indexer.store.types import (
    HealthDecimal,
    Uint256,
    decode_sortable_decimal,
    encode_sortable_decimal,
    quantize_health,
)
from indexer.store.views import base_to_decimal
from indexer.types import UINT256_MAX

SQLITE = sqlite.dialect()
POSTGRES = postgresql.dialect()
UINT_EDGES = [0, 1, 2**64, 2**255, UINT256_MAX]

healths = st.decimals(
    min_value=Decimal(-(10**59)), max_value=Decimal(10**59), allow_nan=False, allow_infinity=False, places=18
)


def test_ddl_per_dialect() -> None:
    assert str(Uint256().dialect_impl(POSTGRES).compile(dialect=POSTGRES)) == "NUMERIC(78, 0)"
    assert str(Uint256().dialect_impl(SQLITE).compile(dialect=SQLITE)) == "TEXT"
    assert str(HealthDecimal().dialect_impl(POSTGRES).compile(dialect=POSTGRES)) == "NUMERIC(78, 18)"
    assert str(HealthDecimal().dialect_impl(SQLITE).compile(dialect=SQLITE)) == "TEXT"


@pytest.mark.parametrize("value", UINT_EDGES)
def test_uint256_sqlite_text_round_trip(value: int) -> None:
    column_type = Uint256()
    stored = column_type.process_bind_param(value, SQLITE)
    assert stored == str(value)
    back = column_type.process_result_value(stored, SQLITE)
    assert back == value
    assert type(back) is int


def test_uint256_postgres_result_is_int() -> None:
    back = Uint256().process_result_value(Decimal(UINT256_MAX), POSTGRES)
    assert back == UINT256_MAX
    assert type(back) is int


@pytest.mark.parametrize("bad", [-1, UINT256_MAX + 1])
def test_uint256_refuses_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError, match="uint256"):
        Uint256().process_bind_param(bad, SQLITE)


@pytest.mark.parametrize("bad", [1.0, Decimal(1), "1", True])
def test_uint256_refuses_non_int(bad: object) -> None:
    with pytest.raises(TypeError):
        Uint256().process_bind_param(bad, POSTGRES)  # type: ignore[arg-type]


def test_health_keeps_18_places_exactly() -> None:
    value = Decimal("1.000000000000000001")
    for dialect in (SQLITE, POSTGRES):
        stored = HealthDecimal().process_bind_param(value, dialect)
        assert HealthDecimal().process_result_value(stored, dialect) == value


def test_health_rounds_extra_places_down_on_both_dialects() -> None:
    value = Decimal("0.9999999999999999999")  # 19 places
    expected = Decimal("0.999999999999999999")
    assert quantize_health(value) == expected
    assert decode_sortable_decimal(encode_sortable_decimal(value)) == expected
    assert quantize_health(-value) == Decimal("-1.000000000000000000")


def test_health_range_and_finiteness() -> None:
    largest = Decimal("9" * 60 + "." + "9" * 18)
    assert decode_sortable_decimal(encode_sortable_decimal(largest)) == largest
    for bad in (Decimal(10**60), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValueError):
            quantize_health(bad)
    with pytest.raises(TypeError):
        quantize_health(1.5)  # type: ignore[arg-type]


def test_sortable_text_is_fixed_width_and_readable() -> None:
    text = encode_sortable_decimal(Decimal("1.25"))
    assert text == "0" * 59 + "1." + "25" + "0" * 16
    assert len(encode_sortable_decimal(Decimal(-3))) == len(text) + 1
    assert encode_sortable_decimal(Decimal("-0")) == encode_sortable_decimal(Decimal(0))


@given(healths)
def test_sortable_text_round_trips(value: Decimal) -> None:
    assert decode_sortable_decimal(encode_sortable_decimal(value)) == value


@given(healths, healths)
def test_sortable_text_order_is_numeric_order(a: Decimal, b: Decimal) -> None:
    ea, eb = encode_sortable_decimal(a), encode_sortable_decimal(b)
    assert (ea < eb) == (a < b)
    assert (ea == eb) == (a == b)


def test_base_to_decimal_is_exact_for_wide_values() -> None:
    whole, fraction = divmod(UINT256_MAX, 10**8)
    assert base_to_decimal(UINT256_MAX, 10**8) == Decimal(f"{whole}.{fraction:08d}")
    assert base_to_decimal(150_000_000, 10**8) == Decimal("1.5")
