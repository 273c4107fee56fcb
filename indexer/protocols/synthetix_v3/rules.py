"""Synthetix v3 perps margin arithmetic in exact integers, as ``@synthetixio/perps-market`` 3.13.0 computes it.

Paths are the package's ``contracts/``. Every figure is 18-decimal fixed point (USD values, prices, sizes,
ratios). ``mulDecimal``/``divDecimal`` are core-contracts' DecimalMath (``x * y / 1e18``, ``x * 1e18 / y``) with
Solidity's division: truncation toward zero, also for signed values (the core-contracts package is a
devDependency of perps-market and is not shipped with it).

An account is liquidatable when ``requiredMaintenanceMargin + liquidationReward > availableMargin``
(storage/PerpsAccount.sol l.189-211, ``isEligibleForLiquidation``). The view ``getRequiredMargins`` already adds
the reward to both margins (modules/PerpsAccountModule.sol l.217-219; the interface says so too,
interfaces/IPerpsAccountModule.sol l.125), so with ``R = getRequiredMargins().requiredMaintenanceMargin``
the account is liquidatable exactly when ``availableMargin < R``: ``MH = availableMargin / R``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

UNIT = 10**18


def trunc_div(n: int, d: int) -> int:
    """Solidity's ``n / d``: truncated toward zero."""
    q = abs(n) // abs(d)
    return q if (n >= 0) == (d > 0) else -q


def mul_decimal(x: int, y: int) -> int:
    """DecimalMath.mulDecimal (uint or int): ``x * y / UNIT``, truncated toward zero."""
    return trunc_div(x * y, UNIT)


def div_decimal(x: int, y: int) -> int:
    """DecimalMath.divDecimal: ``x * UNIT / y``, truncated toward zero."""
    return trunc_div(x * UNIT, y)


def ceil_divide(a: int, b: int) -> int:
    """MathUtil.ceilDivide (utils/MathUtil.sol l.51-54): 0 when ``b`` is 0."""
    if b == 0:
        return 0
    return a // b + (1 if a % b else 0)


class MarketParams(NamedTuple):
    """One perps market's configuration, as its views return it."""

    skew_scale: int  # getFundingParameters
    initial_margin_ratio: int  # getLiquidationParameters: initialMarginRatioD18
    minimum_initial_margin_ratio: int  # ... minimumInitialMarginRatioD18
    maintenance_margin_scalar: int  # ... maintenanceMarginScalarD18
    flag_reward_ratio: int  # ... flagRewardRatioD18
    minimum_position_margin: int  # ... minimumPositionMargin
    max_liquidation_in_window: int  # maxLiquidationAmountInWindow (see ``max_liquidation_amount_in_window``)


def max_liquidation_amount_in_window(maker_fee: int, taker_fee: int, skew_scale: int, multiplier: int,
                                     seconds: int) -> int:
    """PerpsMarketConfiguration.maxLiquidationAmountInWindow (storage/PerpsMarketConfiguration.sol l.93-99):
    ``(maker + taker).mulDecimal(skewScale).mulDecimal(multiplier) * maxSecondsInLiquidationWindow``."""
    return mul_decimal(mul_decimal(maker_fee + taker_fee, skew_scale), multiplier) * seconds


def number_of_liquidation_windows(size_abs: int, params: MarketParams) -> int:
    """PerpsMarketConfiguration.numberOfLiquidationWindows (l.101-106)."""
    return ceil_divide(size_abs, params.max_liquidation_in_window)


def required_margins(size: int, price: int, params: MarketParams) -> tuple[int, int]:
    """PerpsMarketConfiguration.calculateRequiredMargins (l.115-146): (initial, maintenance) of one position.

    ``impactOnSkew = |size|.divDecimal(skewScale)`` (0 without a skew scale); ``imr = impact.mulDecimal(
    initialMarginRatio) + minimumInitialMarginRatio``; ``mmr = imr.mulDecimal(maintenanceMarginScalar)``;
    each margin is ``notional.mulDecimal(ratio) + minimumPositionMargin`` with
    ``notional = |size|.mulDecimal(price)``."""
    if size == 0:
        return 0, 0
    size_abs = abs(size)
    impact = 0 if params.skew_scale == 0 else div_decimal(size_abs, params.skew_scale)
    imr = mul_decimal(impact, params.initial_margin_ratio) + params.minimum_initial_margin_ratio
    mmr = mul_decimal(imr, params.maintenance_margin_scalar)
    notional = mul_decimal(size_abs, price)
    return (mul_decimal(notional, imr) + params.minimum_position_margin,
            mul_decimal(notional, mmr) + params.minimum_position_margin)


def flag_reward(size: int, price: int, params: MarketParams) -> int:
    """PerpsMarketConfiguration.calculateFlagReward (l.108-113) of ``|size|.mulDecimal(price)``
    (PerpsAccount.sol l.511-512)."""
    return mul_decimal(mul_decimal(abs(size), price), params.flag_reward_ratio)


class Guards(NamedTuple):
    """getKeeperRewardGuards (interfaces/IGlobalPerpsMarketModule.sol l.115-123)."""

    min_keeper_reward_usd: int
    min_keeper_profit_ratio: int
    max_keeper_reward_usd: int
    max_keeper_scaling_ratio: int


def keeper_reward(guards: Guards, rewards: int, cost: int, available_margin: int) -> int:
    """GlobalPerpsMarketConfiguration.keeperReward (storage/GlobalPerpsMarketConfiguration.sol l.116-155):
    ``min(max(minCap, rewards + cost), maxCap)``; ``minCap = max(cost + minKeeperRewardUsd,
    cost.mulDecimal(minKeeperProfitRatio + 1))``; ``maxCap = maxKeeperRewardUsd`` when the margin is 0, else
    ``min(margin.mulDecimal(maxKeeperScalingRatio), maxKeeperRewardUsd)``."""
    min_cap = max(cost + guards.min_keeper_reward_usd, mul_decimal(cost, guards.min_keeper_profit_ratio + UNIT))
    max_cap = (guards.max_keeper_reward_usd if available_margin == 0
               else min(mul_decimal(available_margin, guards.max_keeper_scaling_ratio), guards.max_keeper_reward_usd))
    return min(max(min_cap, rewards + cost), max_cap)


class RewardTerms(NamedTuple):
    """What the account's liquidation reward rests on besides its positions' notionals: the global guards, the
    collateral reward ratio, the account's undiscounted collateral value, and the keeper costs (flag +
    liquidate, and the extra-window cost ``keeperReward(0, liquidateCost, 0) * (windows - 1)``), which come from
    a gas-price oracle node and do not move with prices."""

    guards: Guards
    collateral_reward_ratio: int
    collateral_value: int  # getTotalCollateralValue(useDiscount = false): totalCollateralValue(accountId)
    cost: int  # flag + liquidate keeper costs
    windows_cost: int


def liquidation_reward(positions: Iterable[tuple[int, int, MarketParams]], terms: RewardTerms) -> int:
    """PerpsAccount.getKeeperRewardsAndCosts + getPossibleLiquidationReward (storage/PerpsAccount.sol l.486-547):
    ``keeperReward(max(Σ flag rewards, collateral reward), cost, collateralValue) + windowsCost``; 0 without
    positions (getAccountRequiredMargins l.451-454). ``positions``: (size, price, params)."""
    listed = list(positions)
    if not listed:
        return 0
    flags = sum(flag_reward(size, price, params) for size, price, params in listed)
    collateral_reward = mul_decimal(terms.collateral_value, terms.collateral_reward_ratio)
    return keeper_reward(terms.guards, max(flags, collateral_reward), terms.cost, terms.collateral_value) \
        + terms.windows_cost


def account_required(positions: Sequence[tuple[int, int, MarketParams]], terms: RewardTerms) -> tuple[int, int, int]:
    """getRequiredMargins (modules/PerpsAccountModule.sol l.197-220): (initial + reward, maintenance + reward,
    reward), summing calculateRequiredMargins over the open positions (PerpsAccount.sol l.439-484)."""
    if not positions:
        return 0, 0, 0
    initial = maintenance = 0
    for size, price, params in positions:
        i, m = required_margins(size, price, params)
        initial += i
        maintenance += m
    reward = liquidation_reward(positions, terms)
    return initial + reward, maintenance + reward, reward


def price_pnl(size: int, price: int, entry: int) -> int:
    """Position.getPnl's price part (storage/Position.sol l.85-86): ``size.mulDecimal(price - entry)``."""
    return mul_decimal(size, price - entry)


def entry_price(size: int, price: int, pnl: int) -> int | None:
    """An entry price (``latestInteractionPrice``, not readable through a view) that gives ``price_pnl == pnl``
    at ``price``: exact for ``|size| >= 1e18`` (one entry answers); for smaller sizes several do and every one
    gives the same pnl at ``price`` (another price may differ by at most 1 wei). None when no integer fits."""
    if size == 0:
        return None
    guess = price - trunc_div(pnl * UNIT, size)
    for entry in sorted(range(guess - 2, guess + 3), key=lambda e: abs(e - guess)):
        if price_pnl(size, price, entry) == pnl:
            return entry
    return None


def available_margin(collateral: int, pnls: Iterable[int], debt: int) -> int:
    """PerpsAccount.getAvailableMargin (storage/PerpsAccount.sol l.406-415): discounted collateral value +
    Σ position pnl (price pnl + accrued funding − charged interest, Position.sol l.66-91) − debt."""
    return collateral + sum(pnls) - debt


def liquidatable(available: int, required_maintenance_with_reward: int) -> bool:
    """isEligibleForLiquidation (PerpsAccount.sol l.210): ``maintenance + reward > availableMargin``."""
    return required_maintenance_with_reward > available


def health_raw(available: int, required: int) -> int | None:
    """``available / required`` in WAD, floored; 0 when the margin is negative; None without a requirement.
    Below 1e18 exactly when ``available < required`` (the protocol's verdict) for integers."""
    if required <= 0:
        return None
    return max(available, 0) * UNIT // required
