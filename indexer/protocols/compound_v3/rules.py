"""Compound v3 (Comet) position arithmetic in exact integers, as Comet computes it.

Each function names the Solidity it mirrors; the paths are compound-finance/comet's ``contracts/``
(``CometWithExtendedAssetList.sol``, the implementation behind today's markets, and ``CometCore.sol``). Every
value is an integer in Comet's own units:

* prices are the feeds' answers, 8 decimals (``PRICE_SCALE``; Comet refuses feeds of other decimals), in
  whatever the market's base feed is denominated (USD for the USDC/USDT markets, ETH for the WETH market);
* factors (collateral factors, liquidation factor, utilization, per-second rates) are 1e18 (``FACTOR_SCALE``);
* the base indices are 1e15 (``BASE_INDEX_SCALE``); a principal is a signed amount of base "at index 1"
  (negative: a borrow).

Solidity's signed division truncates toward zero; Python's ``//`` floors, so the signed helpers below say
which one they take.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

PRICE_SCALE = 10**8  # CometCore: PRICE_SCALE, and PRICE_FEED_DECIMALS = 8
FACTOR_SCALE = 10**18  # CometCore: FACTOR_SCALE
BASE_INDEX_SCALE = 10**15  # CometCore: BASE_INDEX_SCALE
# CometConfiguration / AssetList: factors are stored as 4-digit decimals (descale 1e14)
FACTOR_DESCALE = 10**14


def trunc_div(n: int, d: int) -> int:
    """Solidity's signed ``n / d``: the quotient truncated toward zero."""
    q = abs(n) // abs(d)
    return q if (n >= 0) == (d > 0) else -q


# --- CometCore.sol: principal <-> present value


def present_value_supply(base_supply_index: int, principal: int) -> int:
    """CometCore.presentValueSupply: principal * baseSupplyIndex / BASE_INDEX_SCALE (floor)."""
    return principal * base_supply_index // BASE_INDEX_SCALE


def present_value_borrow(base_borrow_index: int, principal: int) -> int:
    """CometCore.presentValueBorrow: principal * baseBorrowIndex / BASE_INDEX_SCALE (floor)."""
    return principal * base_borrow_index // BASE_INDEX_SCALE


def present_value(principal: int, base_supply_index: int, base_borrow_index: int) -> int:
    """CometCore.presentValue: a signed principal's present value (a borrow is negative, its magnitude floored)."""
    if principal >= 0:
        return present_value_supply(base_supply_index, principal)
    return -present_value_borrow(base_borrow_index, -principal)


def principal_value_borrow(base_borrow_index: int, present: int) -> int:
    """CometCore.principalValueBorrow: the principal of a borrow of ``present``, rounded up."""
    return (present * BASE_INDEX_SCALE + base_borrow_index - 1) // base_borrow_index


# --- CometWithExtendedAssetList.sol: interest


def mul_factor(n: int, factor: int) -> int:
    """mulFactor: n * factor / FACTOR_SCALE (floor)."""
    return n * factor // FACTOR_SCALE


def accrued_borrow_index(base_borrow_index: int, borrow_rate: int, elapsed: int) -> int:
    """accruedInterestIndices, borrow side: ``baseBorrowIndex + mulFactor(baseBorrowIndex, rate * elapsed)``.

    ``borrow_rate`` is ``getBorrowRate(getUtilization())`` on the stored state (utilization uses the stored
    indices); ``elapsed`` is ``block.timestamp - lastAccrualTime`` (no change when 0)."""
    if elapsed <= 0:
        return base_borrow_index
    return base_borrow_index + mul_factor(base_borrow_index, borrow_rate * elapsed)


# --- CometWithExtendedAssetList.sol: pricing and the liquidity loop


def mul_price(n: int, price: int, from_scale: int) -> int:
    """mulPrice: n * price / fromScale (floor): an amount in ``from_scale`` units into price units."""
    return n * price // from_scale


def signed_mul_price(n: int, price: int, from_scale: int) -> int:
    """signedMulPrice: n * price / fromScale with Solidity's signed division (truncated toward zero)."""
    return trunc_div(n * price, from_scale)


def is_in_asset(assets_in: int, offset: int, reserved: int) -> bool:
    """isInAsset: bit ``offset`` of ``assetsIn`` (offsets 0–15) or of ``_reserved`` (16–23); later offsets never."""
    if offset < 16:
        return bool(assets_in >> offset & 1)
    if offset < 24:
        return bool(reserved >> (offset - 16) & 1)
    return False


def assets_held(assets_in: int, reserved: int, num_assets: int) -> list[int]:
    """The offsets the account's bitmaps name, in the order Comet's loops visit them."""
    return [i for i in range(num_assets) if is_in_asset(assets_in, i, reserved)]


class Holding(NamedTuple):
    """One collateral asset an account holds, as the liquidity loop sees it."""

    balance: int  # userCollateral[account][asset].balance
    price: int  # getPrice(priceFeed)
    scale: int  # AssetInfo.scale = 10**decimals
    factor: int  # liquidateCollateralFactor (or borrowCollateralFactor for isBorrowCollateralized)


def collateral_value(holding: Holding) -> int:
    """``mulPrice(balance, price, scale)``: the collateral's value in price units."""
    return mul_price(holding.balance, holding.price, holding.scale)


def weighted_value(holding: Holding) -> int:
    """``mulFactor(mulPrice(balance, price, scale), factor)``: what the holding adds to liquidity."""
    return mul_factor(collateral_value(holding), holding.factor)


def base_liquidity(present: int, base_price: int, base_scale: int) -> int:
    """The loop's start: ``signedMulPrice(presentValue(principal), getPrice(baseTokenPriceFeed), baseScale)``."""
    return signed_mul_price(present, base_price, base_scale)


def is_liquidatable(present: int, base_price: int, base_scale: int, holdings: Iterable[Holding]) -> bool:
    """isLiquidatable, given the account's present value (at the index the caller chooses: the view uses the
    stored one, ``absorb`` accrues first) and its holdings in offset order (liquidate factors).

    The view stops as soon as liquidity is not negative (so a later asset's price is never asked); the
    verdict is the same as comparing the full sum, which is what is computed here."""
    if present >= 0:
        return False
    liquidity = base_liquidity(present, base_price, base_scale)
    for holding in holdings:
        if liquidity >= 0:
            return False
        liquidity += weighted_value(holding)
    return liquidity < 0


def is_borrow_collateralized(present: int, base_price: int, base_scale: int, holdings: Iterable[Holding]) -> bool:
    """isBorrowCollateralized with the holdings' borrow collateral factors: ``liquidity >= 0``."""
    if present >= 0:
        return True
    liquidity = base_liquidity(present, base_price, base_scale)
    for holding in holdings:
        if liquidity >= 0:
            return True
        liquidity += weighted_value(holding)
    return liquidity >= 0


# --- the health figure (Comet has none of its own)


def borrowed_value(present: int, base_price: int, base_scale: int) -> int:
    """The borrow's value as the loop starts it: ``-signedMulPrice(presentValue, price, baseScale)`` for a
    negative present value (truncation toward zero of a negative number is the floor of its magnitude)."""
    return max(-base_liquidity(present, base_price, base_scale), 0)


def health_factor(weighted: int, borrowed: int) -> int | None:
    """``Σ weighted / borrowed`` in 1e18, floored; None when nothing is owed in price units.

    isLiquidatable is ``weighted - borrowed < 0``, i.e. ``weighted < borrowed``; for integers
    ``floor(w * 1e18 / b) < 1e18  <=>  w < b``, so this figure is below 1e18 exactly when Comet liquidates."""
    if borrowed <= 0:
        return None
    return weighted * FACTOR_SCALE // borrowed


def liquidation_incentive_value(holdings: Sequence[tuple[int, int]]) -> int:
    """absorbInternal's credit for seized collateral: Σ ``mulFactor(value, liquidationFactor)`` over (value,
    liquidationFactor) pairs, the collateral valued at the absorb's prices."""
    return sum(mul_factor(value, factor) for value, factor in holdings)


def div_price(n: int, price: int, to_scale: int) -> int:
    """divPrice: n * toScale / price (floor): a value in price units into ``to_scale`` units."""
    return n * to_scale // price
