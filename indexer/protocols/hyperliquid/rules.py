"""Hyperliquid's margin math, exact: decimal strings to integers, margin tiers, maintenance, margin health.

Units. USDC amounts have 6 decimals (micro-USD). A perp's size has ``szDecimals`` places and its price at most
``6 - szDecimals`` (the venue's tick and lot rules, "Tick and lot size" in its API docs), so size × price is
exactly micro-USD: every figure here is an integer, and maintenance (a rate of 1 / (2 · max leverage) times a
notional) an exact fraction of a micro-USD.

Maintenance (the venue's "Margin tiers" page): ``maintenance = notional × rate(tier) − deduction(tier)`` with
``rate(n) = 1 / (2 · maxLeverage(n))`` (half the initial margin at the tier's max leverage),
``deduction(0) = 0`` and ``deduction(n) = deduction(n−1) + lowerBound(n) · (rate(n) − rate(n−1))``; the tier is
the last whose lower bound the notional reaches. Margin tables come from ``meta`` (``marginTables``); a table
id below 50 is a single tier whose max leverage is the id.

Liquidation (the venue's "Liquidations" page): an account (cross) or an isolated position is liquidatable
when its equity falls below its maintenance margin. Cross equity is the cross account value: cash
(``totalRawUsd`` of ``crossMarginSummary``) plus Σ size × mark of the cross positions (signed size); an isolated
position's equity is its own ``rawUsd`` plus size × mark. The venue does not publish how it rounds its
internal sums; the recomputation keeps maintenance as an exact fraction and compares without rounding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from indexer.errors import RetryableError

USD_DECIMALS = 6
PERP_PRICE_DECIMALS = 6  # a perp price has at most 6 - szDecimals places
SINGLE_TIER_IDS = 50  # margin table ids below this are one tier at max leverage = id


class VenueDataError(RetryableError):
    """The venue answered something that does not fit its documented shapes (the next poll asks again)."""


def _decimal(text: Any, what: str) -> Decimal:
    """A finite decimal from the venue's string, never through float."""
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise VenueDataError(f"{what}: {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise VenueDataError(f"{what}: {text!r} is not a finite number")
    return value


def units(text: Any, places: int, *, what: str) -> int:
    """The decimal string ``text`` as an integer of ``10**-places`` units, exactly; raises if it has more places
    (never through float: ``"0.1"`` is 100000 micro-USD, not 100000.00000000001)."""
    scaled = _decimal(text, what).scaleb(places)
    if scaled != scaled.to_integral_value():
        raise VenueDataError(f"{what}: {text!r} has more than {places} decimal places")
    return int(scaled)


def exact(text: Any, *, what: str) -> Fraction:
    """A decimal string as an exact fraction (for figures the venue prints at any precision, e.g. liquidationPx)."""
    return Fraction(_decimal(text, what))


@dataclass(frozen=True, slots=True)
class Tier:
    lower_bound: int  # notional in micro-USD from which the tier applies
    max_leverage: int


def tiers_of(table_id: int, tables: Mapping[int, Sequence[Tier]]) -> tuple[Tier, ...]:
    if table_id < SINGLE_TIER_IDS:
        return (Tier(0, table_id),)
    try:
        return tuple(tables[table_id])
    except KeyError:
        raise VenueDataError(f"margin table {table_id} is not in the venue's meta") from None


def margin_tables(meta: Mapping[str, Any]) -> dict[int, tuple[Tier, ...]]:
    """``meta.marginTables`` (``[[id, {"marginTiers": [{"lowerBound", "maxLeverage"}, …]}], …]``) by id."""
    tables: dict[int, tuple[Tier, ...]] = {}
    for entry in meta.get("marginTables") or []:
        table_id, table = entry
        tiers = tuple(Tier(units(t["lowerBound"], USD_DECIMALS, what=f"margin table {table_id} lowerBound"),
                           int(t["maxLeverage"])) for t in table["marginTiers"])  # fmt: skip
        if not tiers or tiers[0].lower_bound != 0 or any(t.max_leverage <= 0 for t in tiers):
            raise VenueDataError(f"margin table {table_id} has no tier from 0 or a non-positive leverage")
        tables[int(table_id)] = tiers
    return tables


def maintenance(notional: int, tiers: Sequence[Tier]) -> Fraction:
    """The maintenance margin of a position of ``notional`` micro-USD (absolute), exactly."""
    rate = deduction = Fraction(0)
    for n, tier in enumerate(tiers):
        tier_rate = Fraction(1, 2 * tier.max_leverage)
        if n == 0:
            rate, deduction = tier_rate, Fraction(0)
            continue
        if notional < tier.lower_bound:
            break
        deduction += tier.lower_bound * (tier_rate - rate)
        rate = tier_rate
    return abs(notional) * rate - deduction


@dataclass(frozen=True, slots=True)
class PerpPosition:
    """One position as the venue reports it, in integers: ``size`` signed (long > 0) in 10**-sz_decimals units,
    ``mark`` in 10**-(6 - sz_decimals) USD, ``raw_usd`` (isolated only) in micro-USD."""

    coin: str
    size: int
    sz_decimals: int
    mark: int
    tiers: tuple[Tier, ...]
    raw_usd: int = 0

    @property
    def price_decimals(self) -> int:
        return PERP_PRICE_DECIMALS - self.sz_decimals

    def notional(self, mark: int | None = None) -> int:
        """Signed size × mark, micro-USD."""
        return self.size * (self.mark if mark is None else mark)

    def maintenance(self, mark: int | None = None) -> Fraction:
        return maintenance(abs(self.notional(mark)), self.tiers)


def equity(cash: int, positions: Iterable[PerpPosition], marks: Mapping[str, int] | None = None) -> int:
    """Cash plus Σ signed size × mark, micro-USD."""
    marks = marks or {}
    return cash + sum(p.notional(marks.get(p.coin)) for p in positions)


def requirement(positions: Iterable[PerpPosition], marks: Mapping[str, int] | None = None) -> Fraction:
    marks = marks or {}
    return sum((p.maintenance(marks.get(p.coin)) for p in positions), Fraction(0))


def healthy(cash: int, positions: Sequence[PerpPosition], marks: Mapping[str, int] | None = None) -> bool:
    """Not liquidatable: equity at or above maintenance (the venue liquidates below it)."""
    return equity(cash, positions, marks) >= requirement(positions, marks)


def estimate_crossing(cash: int, positions: Sequence[PerpPosition], coin: str) -> Fraction:
    """A first guess at the mark of ``coin`` where equity meets maintenance, the others fixed, each position
    held at its current tier's rate: the bracket the exact search starts from."""
    target = next(p for p in positions if p.coin == coin)
    others = [p for p in positions if p.coin != coin]
    fixed = cash + sum(p.notional() for p in others) - requirement(others)
    rate = target.maintenance() / abs(target.notional()) if target.notional() else Fraction(0)
    # fixed + size·m = |size|·m·rate  →  m = -fixed / (size - |size|·rate)
    slope = target.size - abs(target.size) * rate
    if slope == 0:
        return Fraction(0)
    guess = -Fraction(fixed) / slope
    return guess if guess > 0 else Fraction(target.mark)
