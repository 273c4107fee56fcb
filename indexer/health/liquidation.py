"""Liquidation prices: the price of one asset at which the protocol's own health figure crosses 1.

The linear estimate (Σ C_i·LT_i = 10⁴·Σ D_i, solved for one price) is only a bracket: the protocol
truncates per-asset values and, on Aave ≤ v3.4, the *average* liquidation threshold to whole basis
points, which moves the crossing by up to ~1/LT. The exact crossing is found by bisection on integer
prices with the protocol's own health test (the adapter's ``healthy_at``: the same integers, fixed assets
summed once), so it agrees with the chain to the unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

from indexer.protocols.aave_v3.wadray import PERCENTAGE_FACTOR
from indexer.types import AssetPosition


def largest_collateral(assets: Sequence[AssetPosition]) -> AssetPosition | None:
    counted = [a for a in assets if a.is_collateral and a.liquidation_threshold and a.collateral_base > 0]
    return max(counted, key=lambda a: a.collateral_base, default=None)


def linear_estimate(assets: Sequence[AssetPosition], asset: AssetPosition) -> Fraction | None:
    """Continuous solution for ``asset``'s price (base units per whole token) at health 1; None when no
    price of that asset alone can bring health to 1 from above."""
    rest_lt = sum(a.collateral_base * a.liquidation_threshold for a in assets
                  if a is not asset and a.is_collateral and a.liquidation_threshold)
    rest_debt = sum(a.debt_base for a in assets if a is not asset)
    own_lt = asset.liquidation_threshold if asset.is_collateral else 0
    slope = asset.collateral * own_lt - PERCENTAGE_FACTOR * asset.debt
    gap = PERCENTAGE_FACTOR * rest_debt - rest_lt
    if slope <= 0 or gap <= 0:
        return None
    return Fraction(gap * 10**asset.decimals, slope)


def liquidation_price(assets: Sequence[AssetPosition], asset: AssetPosition,
                      healthy: Callable[[int], bool]) -> int | None:
    """The integer price of ``asset`` at which the position turns healthy (``healthy(price)``: health ≥ 1, or
    no debt) with the price one unit lower liquidatable, every other price fixed; None if no such crossing
    exists."""
    estimate = linear_estimate(assets, asset)
    if estimate is None:
        return None
    low, high = 0, int(estimate * Fraction(1001, 1000)) + 2
    for _ in range(64):  # widen until healthy at ``high`` (a few steps at most)
        if healthy(high):
            break
        low, high = high, high * 2
    else:
        return None
    if healthy(low):
        return None if low == 0 else low
    while high - low > 1:  # invariant: liquidatable at low, healthy at high
        mid = (low + high) // 2
        if healthy(mid):
            high = mid
        else:
            low = mid
    return high
