"""Column types that keep on-chain numbers exact on both SQLite and Postgres.

Postgres has a wide enough ``NUMERIC``. SQLite does not: a column declared ``NUMERIC`` converts large
values to REAL, so on SQLite these types are stored as TEXT. Health values use a fixed-width text form
on SQLite so that plain string comparison and ``ORDER BY`` agree with numeric order there too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, Numeric, Text
from sqlalchemy.types import TypeDecorator, TypeEngine

from indexer.types import UINT256_MAX

HEALTH_INT_DIGITS = 60  # enough for any uint256 WAD figure (2**256 / 1e18 < 1e60)
HEALTH_FRAC_DIGITS = 18
_HEALTH_QUANTUM = Decimal(1).scaleb(-HEALTH_FRAC_DIGITS)
_HEALTH_LIMIT = Decimal(10) ** HEALTH_INT_DIGITS
_WIDE = Context(prec=HEALTH_INT_DIGITS + HEALTH_FRAC_DIGITS + 10, rounding=ROUND_FLOOR)
_NINES_COMPLEMENT = str.maketrans("0123456789", "9876543210")

BigIntId = BigInteger().with_variant(Integer(), "sqlite")
"""Primary key type for large tables: BIGINT on Postgres, INTEGER (the rowid alias) on SQLite."""


class _WideInt(TypeDecorator[int]):
    """A 256-bit integer stored exactly: ``NUMERIC(78, 0)`` on Postgres, canonical decimal TEXT elsewhere."""

    impl = Text
    cache_ok = True
    low: int
    high: int
    label: str

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if type(value) is not int:
            raise TypeError(f"{self.label} takes an int, got {type(value).__name__}")
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} is outside the {self.label.lower()} range")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class Uint256(_WideInt):
    """An unsigned 256-bit integer. Binding anything but an ``int`` in ``[0, 2**256 - 1]`` raises (``bool``
    too). On SQLite equal values compare equal but do not sort numerically (sort by ``length(col), col``)."""

    cache_ok = True
    low, high, label = 0, UINT256_MAX, "Uint256"


class Int256(_WideInt):
    """A signed 256-bit integer (oracle answers are ``int256``)."""

    cache_ok = True
    low, high, label = -(2**255), 2**255 - 1, "Int256"


def quantize_health(value: Decimal) -> Decimal:
    """Round ``value`` down to 18 decimal places, the precision health is stored with.

    Raises ``ValueError`` for a non-finite value or one with more than 60 integer digits.
    """
    if not isinstance(value, Decimal):
        raise TypeError(f"health must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"health must be finite, got {value}")
    # Below, copy_abs() rather than abs(): abs() rounds to the default context's 28 digits.
    try:
        quantized = value.quantize(_HEALTH_QUANTUM, context=_WIDE)
    except InvalidOperation as exc:
        raise ValueError(f"health {value} is out of range") from exc
    if quantized.copy_abs() >= _HEALTH_LIMIT:
        raise ValueError(f"health {value} is out of range")
    return quantized if quantized else quantized.copy_abs()


def encode_sortable_decimal(value: Decimal) -> str:
    """Fixed-width text whose string order is the numeric order.

    Non-negative values are zero-padded (``000…001.250000000000000000``); negative values are a ``-``
    followed by the nines' complement of the padded magnitude, so they sort before all non-negative ones
    and among themselves in numeric order.
    """
    quantized = quantize_health(value)
    magnitude = f"{quantized.copy_abs():0{HEALTH_INT_DIGITS + HEALTH_FRAC_DIGITS + 1}f}"
    if quantized < 0:
        return "-" + magnitude.translate(_NINES_COMPLEMENT)
    return magnitude


def decode_sortable_decimal(text: str) -> Decimal:
    if text.startswith("-"):  # copy_negate(), unlike unary minus, never rounds
        return Decimal(text[1:].translate(_NINES_COMPLEMENT)).copy_negate()
    return Decimal(text)


class HealthDecimal(TypeDecorator[Decimal]):
    """An exact decimal with 18 places and up to 60 integer digits (normalized health, thresholds).

    ``NUMERIC(78, 18)`` on Postgres; fixed-width sortable TEXT on SQLite. Values with more than 18
    places are rounded down (toward lower health, the conservative side) identically on both.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(HEALTH_INT_DIGITS + HEALTH_FRAC_DIGITS, HEALTH_FRAC_DIGITS))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return quantize_health(value)
        return encode_sortable_decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, str):
            return decode_sortable_decimal(value)
        return quantize_health(Decimal(value))


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp; SQLite's naive values come back marked as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs a timezone-aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


# one encoder for every value: json.dumps with options builds a new one per call
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode


class JsonText(TypeDecorator[Any]):
    """A JSON document stored as TEXT on every dialect (a protocol's detail record, a leg's terms): written
    compact, read back as Python values, integers of any size exact. Not the dialects' JSON types: nothing
    queries inside it, and SQLAlchemy's batched INSERT … RETURNING keeps working with a plain TEXT column."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else _COMPACT_JSON(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
