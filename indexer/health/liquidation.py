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


def crossing_price(healthy: Callable[[int], bool], estimate: Fraction, *, falling: bool) -> int | None:
    """The last price that is not liquidatable next to one that is.

    ``falling``: liquidation comes as the price falls; returns ``p`` with ``healthy(p)`` and not
    ``healthy(p - 1)`` (None if healthy even at 0, or never healthy). Otherwise liquidation comes as the
    price rises; returns ``p`` with ``healthy(p)`` and not ``healthy(p + 1)`` (None if no price is
    healthy, or every price is). ``estimate`` (> 0) seeds the bracket."""
    if estimate <= 0:
        return None
    near = int(estimate)
    if falling:
        low, high = 0, near + near // 1000 + 2
        for _ in range(_WIDEN_STEPS):
            if healthy(high):
                break
            low, high = high, high * 2
        else:
            return None
        if healthy(low):
            return None if low == 0 else low
        return _adjacent(healthy, low, high)[1]
    low, high = max(near - near // 1000 - 2, 0), near + near // 1000 + 2
    if not healthy(low):
        if not healthy(0):
            return None
        low = 0  # the estimate was above the crossing: start from the bottom
    for _ in range(_WIDEN_STEPS):
        if not healthy(high):
            break
        low, high = high, high * 2
    else:
        return None
    return _adjacent(healthy, low, high)[0]


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
