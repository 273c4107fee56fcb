from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from indexer.health.liquidation import crossing_price
from indexer.protocols.aave_math import AaveAssetInput, account_data, linear_estimate

WAD = 10**18


def row(decimals, collateral, debt, price, lt=8250):
    """An ``account_totals`` row: (collateral, debt, price, unit, ltv, lt)."""
    return (collateral, debt, price, 10**decimals, 8000, lt)


def hf(rows, weth_price=None):
    return account_data(AaveAssetInput(c, d, weth_price if (weth_price is not None and n == 0) else p, u, ltv, lt,
                                       c > 0, d > 0) for n, (c, d, p, u, ltv, lt) in enumerate(rows)).health_factor


def test_by_hand_single_collateral():
    # 10 WETH at $2000, LT 82.5 %, debt 10,000 USDC → liquidation at 10000 / (10 × 0.825) = $1212.12…
    rows = [row(18, 10 * WAD, 0, 2000 * 10**8), row(6, 0, 10_000 * 10**6, 10**8, lt=0)]
    estimate = linear_estimate(rows, [True, False])
    assert estimate is not None and estimate.falling
    assert estimate.price == Fraction(10_000 * 10**8 * 10_000 * 10**18, 10 * WAD * 8250)


def test_by_hand_debt_asset_rises():
    # 10 WETH at $2000 (LT 82.5 %) against 5 WBTC-worth of debt at $1,000: the debt price liquidates when
    # 5·p ≥ 20,000 × 0.825, i.e. above $3,300.
    rows = [row(18, 10 * WAD, 0, 2000 * 10**8), row(8, 0, 5 * 10**8, 1000 * 10**8, lt=0)]
    estimate = linear_estimate(rows, [False, True])
    assert estimate is not None and not estimate.falling and estimate.price == 3300 * 10**8
    price = crossing_price(lambda p: hf([rows[0], (0, 5 * 10**8, p, 10**8, 8000, 0)]) >= WAD, estimate.price,
                           falling=False)
    assert price == 3300 * 10**8  # exactly at $3,300 the HF is 1.0 (still healthy); one unit more is not


@given(st.integers(1, 10**6), st.integers(1, 10**8), st.integers(0, 10**4), st.integers(5_000, 9_500))
def test_liquidation_price_is_the_exact_crossing(weth_tenths, usdc_units, wbtc_thousandths, lt):
    rows = [row(18, weth_tenths * 10**17, 0, 2000 * 10**8, lt=lt),
            row(8, wbtc_thousandths * 10**5, 0, 60_000 * 10**8, lt=7800),
            row(6, 0, usdc_units * 10**6, 10**8, lt=0)]
    estimate = linear_estimate(rows, [True, False, False])
    price = None if estimate is None else crossing_price(lambda p: hf(rows, p) >= WAD, estimate.price, falling=True)
    if price is None:  # WBTC alone covers the debt: no WETH price liquidates
        assert hf(rows, 0) >= WAD
        return
    assert hf(rows, price) >= WAD > hf(rows, price - 1)  # the protocol's own crossing


@given(st.lists(st.tuples(st.integers(-10**30, 10**30), st.integers(1, 10**30)), max_size=8))
def test_points_order_by_their_exact_relative_move(moves):
    # the nearest point first, by the exact ratio move / price (equals keep their order): what sorting on Fractions
    # gives, without building one per point
    from indexer.health.nearest import _by_relative_move

    points = [(move, price, index) for index, (move, price) in enumerate(moves)]
    assert sorted(points, key=_by_relative_move) == sorted(points, key=lambda p: Fraction(p[0], p[1]))


@given(st.integers(1, 10**12), st.integers(-10**9, 10**9), st.integers(1, 10**9), st.integers(0, 3 * WAD))
def test_the_secant_start_is_the_floor_of_the_exact_secant(near, slope, intercept_scale, target):
    # the secant's start in integers: where the exact (Fraction) secant is at least 1, its floor; where it is in
    # (0, 1), itself; where it says nothing or is not above 0, the estimate
    from indexer.health.liquidation import secant_estimate

    def figure(price):
        return intercept_scale * WAD // 10**6 + slope * price

    step = max(near >> 16, 1)
    here, there = figure(near), figure(near + step)
    start = secant_estimate(figure, near, target, unbounded=-1)
    if here == there:
        assert start == near
        return
    exact = near + Fraction((target - here) * step, there - here)
    if exact <= 0:
        assert start == near
    elif exact < 1:
        assert start == exact
    else:
        assert start == int(exact) and isinstance(start, int)
