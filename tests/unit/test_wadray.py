from hypothesis import given
from hypothesis import strategies as st

from indexer.protocols.aave_math import RAY, WAD, AaveAssetInput, account_data, percent_mul, ray_mul, wad_div
from indexer.types import UINT256_MAX

u128 = st.integers(min_value=0, max_value=2**128 - 1)


def test_half_up_rounding_matches_solidity_examples():
    assert ray_mul(3, RAY // 2) == 2  # 1.5 rounds up
    assert ray_mul(1, RAY // 2 - 1) == 0  # 0.4999… rounds down
    assert wad_div(1, 3) == 333333333333333333
    assert wad_div(2, 3) == 666666666666666667
    assert percent_mul(12345, 8250) == 10185  # 10184.625 → 10185
    assert percent_mul(1, 5000) == 1  # exactly .5 rounds up


@given(u128, u128)
def test_ray_mul_is_half_up(a, b):
    exact_times_two = 2 * a * b
    result = ray_mul(a, b)
    assert 2 * result * RAY - RAY <= exact_times_two < 2 * result * RAY + RAY


def _asset(**kw):
    base = dict(amount_collateral=0, amount_debt=0, price=10**8, unit=10**18, ltv=8000,
                liquidation_threshold=8250, is_collateral=False, is_borrowing=False)
    return AaveAssetInput(**{**base, **kw})


def test_empty_account_is_infinitely_healthy():
    data = account_data([])
    assert (data.total_collateral_base, data.total_debt_base, data.health_factor) == (0, 0, UINT256_MAX)


def test_weighted_thresholds_and_health_factor_by_hand():
    # 10 ETH at $2000 (LT 82.5 %, LTV 80 %) + 5000 USDC at $1 (LT 80 %, LTV 77 %); debt 4000 USDC.
    weth = _asset(amount_collateral=10 * WAD, price=2000 * 10**8, is_collateral=True)
    usdc = _asset(amount_collateral=5000 * 10**6, amount_debt=4000 * 10**6, unit=10**6, ltv=7700,
                  liquidation_threshold=8000, is_collateral=True, is_borrowing=True)
    data = account_data([weth, usdc])
    assert data.total_collateral_base == 25000 * 10**8
    assert data.total_debt_base == 4000 * 10**8
    assert data.current_liquidation_threshold == (20000 * 8250 + 5000 * 8000) // 25000 == 8200
    assert data.ltv == (20000 * 8000 + 5000 * 7700) // 25000 == 7940
    assert data.health_factor == wad_div(percent_mul(25000 * 10**8, 8200), 4000 * 10**8) == 5125 * 10**15
    assert data.available_borrows_base == 25000 * 10**8 * 7940 // 10000 - 4000 * 10**8


def test_collateral_with_zero_liquidation_threshold_does_not_count():
    frozen = _asset(amount_collateral=WAD, price=2000 * 10**8, liquidation_threshold=0, ltv=0, is_collateral=True)
    debt = _asset(amount_debt=WAD, price=10**8, is_borrowing=True)
    data = account_data([frozen, debt])
    assert data.total_collateral_base == 0
    assert data.health_factor == 0
