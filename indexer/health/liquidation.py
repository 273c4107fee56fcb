"""Liquidation points: the price of one dependency at which a position's health crosses 1, exactly.

A source's continuous (linear) estimate is only a bracket: protocols truncate per-leg values and averages,
which moves the crossing by a few units. The exact crossing is found by bisection on integer prices with
the protocol's own test (the source's ``healthy_at``: the same integers, fixed legs summed once), so it
agrees with the chain to the unit. Direction matters: what a position holds liquidates it when its price
falls, what it owes when its price rises.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

_WIDEN_STEPS = 256


def crossing_price(healthy: Callable[[int], bool], estimate: Fraction | int, *, falling: bool) -> int | None:
    """The last price that is not liquidatable next to one that is.

    ``falling``: liquidation comes as the price falls; returns ``p`` with ``healthy(p)`` and not
    ``healthy(p - 1)`` (None if healthy even at 0, or never healthy). Otherwise liquidation comes as the
    price rises; returns ``p`` with ``healthy(p)`` and not ``healthy(p + 1)`` (None if no price is
    healthy, or every price is). ``estimate`` (> 0) seeds the search: prices 1, 2, 4, … away from it until the
    verdict changes, then a bisection between the last two, so an estimate ``k`` units off costs about
    ``2·log2(k)`` verdicts."""
    if estimate <= 0:
        return None
    near = int(estimate)
    here = healthy(near)
    # which way the verdict changes: a falling liquidation is healthy above its crossing, a rising one below
    up = not here if falling else here
    found = _flip(healthy, near, here, up=up)
    if found is None:
        return None
    low, high = found
    return _adjacent(healthy, low, high)[1 if falling else 0]


def secant_estimate(figure: Callable[[int], int], estimate: Fraction | int, target: int, unbounded: int
                    ) -> Fraction | int:
    """A sharper start for ``crossing_price`` where the protocol's own figure (``figure``: price → health, in its
    integer units; ``unbounded`` when nothing is owed) is near-linear in the price: the secant through the figure at
    ``estimate`` and a hair away (1 part in 65,536), solved for ``target``. Only a start: the search is exact from
    any estimate; ``estimate`` itself where the secant says nothing (flat, nothing owed, or not above 0). Integers
    throughout: the secant's floor where it is at least 1 (all ``crossing_price`` takes of it), else its fraction."""
    near = int(estimate)
    if near <= 0:
        return estimate
    step = max(near >> 16, 1)
    here, there = figure(near), figure(near + step)
    if here == there or unbounded in (here, there):
        return estimate
    # near + (target − here)·step / (there − here), over a positive denominator
    numerator, denominator = near * (there - here) + (target - here) * step, there - here
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    if numerator <= 0:
        return estimate
    return numerator // denominator if numerator >= denominator else Fraction(numerator, denominator)


def _flip(healthy: Callable[[int], bool], start: int, here: bool, *, up: bool) -> tuple[int, int] | None:
    """From ``start`` (whose verdict is ``here``), prices 1, 2, 4, … above it (``up``) or below it (not under 0)
    until one has the other verdict: that price and the last one probed with ``here``'s, in price order. None when
    none has (0 reached going down; ``_WIDEN_STEPS`` doublings going up)."""
    last = start
    for step in range(_WIDEN_STEPS):
        price = start + (1 << step) if up else max(start - (1 << step), 0)
        if healthy(price) != here:
            return (last, price) if up else (price, last)
        if price == 0 and not up:
            return None
        last = price
    return None


def _adjacent(healthy: Callable[[int], bool], low: int, high: int) -> tuple[int, int]:
    """Narrow ``low < high``, whose verdicts differ, to two adjacent prices whose verdicts still differ."""
    at_low = healthy(low)
    while high - low > 1:
        mid = (low + high) // 2
        if healthy(mid) == at_low:
            low = mid
        else:
            high = mid
    return low, high
