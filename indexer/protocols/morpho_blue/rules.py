"""Morpho Blue's position arithmetic in exact integers, as @morpho-org/morpho-blue 1.0.0 computes it.

Every value is a uint256 held in a plain int; each function names the Solidity it mirrors (paths are under
the package's ``src/``) and rounds the way that code does. Division by zero raises ZeroDivisionError where
Solidity would revert.
"""

from __future__ import annotations

from typing import NamedTuple

# libraries/MathLib.sol
WAD = 10**18
# libraries/ConstantsLib.sol
ORACLE_PRICE_SCALE = 10**36
LIQUIDATION_CURSOR = 3 * 10**17
MAX_LIQUIDATION_INCENTIVE_FACTOR = 115 * 10**16
MAX_FEE = 25 * 10**16
# libraries/SharesMathLib.sol
VIRTUAL_SHARES = 10**6
VIRTUAL_ASSETS = 1


# --- libraries/MathLib.sol


def mul_div_down(x: int, y: int, d: int) -> int:
    """MathLib.mulDivDown: x * y / d, rounded down."""
    return x * y // d


def mul_div_up(x: int, y: int, d: int) -> int:
    """MathLib.mulDivUp: (x * y + (d - 1)) / d."""
    return (x * y + (d - 1)) // d


def w_mul_down(x: int, y: int) -> int:
    """MathLib.wMulDown: x * y / WAD, rounded down."""
    return mul_div_down(x, y, WAD)


def w_div_down(x: int, y: int) -> int:
    """MathLib.wDivDown: x * WAD / y, rounded down."""
    return mul_div_down(x, WAD, y)


def w_div_up(x: int, y: int) -> int:
    """MathLib.wDivUp: x * WAD / y, rounded up."""
    return mul_div_up(x, WAD, y)


def w_taylor_compounded(x: int, n: int) -> int:
    """MathLib.wTaylorCompounded: e^(x*n) - 1 in WAD, by the first three Taylor terms.

    ``x`` is a per-second rate in WAD and ``n`` a number of seconds.
    """
    first = x * n
    second = mul_div_down(first, first, 2 * WAD)
    third = mul_div_down(second, first, 3 * WAD)
    return first + second + third


# --- libraries/SharesMathLib.sol (virtual shares and assets)


def to_shares_down(assets: int, total_assets: int, total_shares: int) -> int:
    """SharesMathLib.toSharesDown."""
    return mul_div_down(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_shares_up(assets: int, total_assets: int, total_shares: int) -> int:
    """SharesMathLib.toSharesUp."""
    return mul_div_up(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_assets_down(shares: int, total_assets: int, total_shares: int) -> int:
    """SharesMathLib.toAssetsDown."""
    return mul_div_down(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


def to_assets_up(shares: int, total_assets: int, total_shares: int) -> int:
    """SharesMathLib.toAssetsUp."""
    return mul_div_up(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


# --- interest: libraries/periphery/MorphoBalancesLib.sol (the same steps as Morpho.sol _accrueInterest)


class MarketBalances(NamedTuple):
    total_supply_assets: int
    total_supply_shares: int
    total_borrow_assets: int
    total_borrow_shares: int


def expected_market_balances(
    *,
    total_supply_assets: int,
    total_supply_shares: int,
    total_borrow_assets: int,
    total_borrow_shares: int,
    last_update: int,
    fee: int,
    borrow_rate_per_second: int,
    now: int,
) -> MarketBalances:
    """MorphoBalancesLib.expectedMarketBalances: a market's totals once interest is accrued up to ``now``.

    ``borrow_rate_per_second`` is what the market's IRM answers to ``borrowRateView(marketParams, market)``
    for the stored (not yet accrued) market; pass 0 for a market without an IRM. The fee recipient's
    shares are included in the total supply shares. Morpho.sol ``_accrueInterest`` lands on the same
    totals: where it does not skip (no borrows) the interest and fee shares it adds are zero.
    """
    elapsed = now - last_update
    if elapsed < 0:
        raise ValueError(f"now ({now}) is before the market's last update ({last_update})")
    if elapsed == 0 or total_borrow_assets == 0:
        return MarketBalances(total_supply_assets, total_supply_shares, total_borrow_assets, total_borrow_shares)
    interest = w_mul_down(total_borrow_assets, w_taylor_compounded(borrow_rate_per_second, elapsed))
    total_borrow_assets += interest
    total_supply_assets += interest
    if fee != 0:
        fee_amount = w_mul_down(interest, fee)
        # the supply already holds the whole interest, fee included: shares are priced without the fee
        total_supply_shares += to_shares_down(fee_amount, total_supply_assets - fee_amount, total_supply_shares)
    return MarketBalances(total_supply_assets, total_supply_shares, total_borrow_assets, total_borrow_shares)


# --- health: Morpho.sol _isHealthy


def borrowed_assets(borrow_shares: int, total_borrow_assets: int, total_borrow_shares: int) -> int:
    """A position's debt in loan-token units as _isHealthy counts it: its shares rounded up to assets."""
    return to_assets_up(borrow_shares, total_borrow_assets, total_borrow_shares)


def max_borrow(collateral: int, price: int, lltv: int) -> int:
    """_isHealthy's maxBorrow: collateral.mulDivDown(price, ORACLE_PRICE_SCALE).wMulDown(lltv).

    ``price`` is the oracle's: one collateral unit in loan units, scaled by 1e36 (token decimals included).
    """
    return w_mul_down(mul_div_down(collateral, price, ORACLE_PRICE_SCALE), lltv)


def is_healthy(
    *,
    collateral: int,
    borrow_shares: int,
    total_borrow_assets: int,
    total_borrow_shares: int,
    price: int,
    lltv: int,
) -> bool:
    """Morpho.sol _isHealthy; a position with no borrow shares is healthy whatever its collateral and price."""
    if borrow_shares == 0:
        return True
    return max_borrow(collateral, price, lltv) >= borrowed_assets(
        borrow_shares, total_borrow_assets, total_borrow_shares
    )


def health_factor(collateral: int, price: int, lltv: int, borrowed: int) -> int | None:
    """maxBorrow / borrowed in WAD, rounded down; None without debt.

    Morpho itself has no health factor; this one is >= WAD exactly when _isHealthy holds, because
    floor(m * WAD / b) >= WAD  <=>  m >= b for integers.
    """
    if borrowed == 0:
        return None
    return w_div_down(max_borrow(collateral, price, lltv), borrowed)


def liquidation_price(collateral: int, borrowed: int, lltv: int) -> int | None:
    """The smallest oracle price at which the position is healthy: at ``price - 1`` it can be liquidated.

    None when there is no debt (never liquidatable) or no collateral or a zero LLTV (liquidatable at any
    price). Closed form, from floor(floor(c * p / S) * L / W) >= B  <=>  p >= ceil(ceil(B * W / L) * S / c)
    (S the oracle scale, W = WAD), then checked against max_borrow itself (a step of one either way at most).
    """
    if borrowed == 0 or collateral == 0 or lltv == 0:
        return None
    quoted = mul_div_up(borrowed, WAD, lltv)  # the smallest collateral value (loan units) that is enough
    price = mul_div_up(quoted, ORACLE_PRICE_SCALE, collateral)
    if max_borrow(collateral, price, lltv) < borrowed:
        price += 1
    elif max_borrow(collateral, price - 1, lltv) >= borrowed:
        price -= 1
    if max_borrow(collateral, price, lltv) < borrowed or max_borrow(collateral, price - 1, lltv) >= borrowed:
        raise ArithmeticError(f"no exact liquidation price near {price} for {collateral=} {borrowed=} {lltv=}")
    return price


# --- liquidation: Morpho.sol liquidate


def liquidation_incentive_factor(lltv: int) -> int:
    """min(MAX_LIQUIDATION_INCENTIVE_FACTOR, WAD / (WAD - LIQUIDATION_CURSOR * (WAD - lltv))) in WAD."""
    return min(
        MAX_LIQUIDATION_INCENTIVE_FACTOR,
        w_div_down(WAD, WAD - w_mul_down(LIQUIDATION_CURSOR, WAD - lltv)),
    )
