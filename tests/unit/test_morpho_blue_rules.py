"""Morpho Blue's integer rules, against values worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.protocols.morpho_blue import rules
from indexer.protocols.morpho_blue.rules import WAD

USDC = 10**6
ETH = 10**18
# one WETH (18 decimals) = 2000 USDC (6 decimals): 2000 * 10^(36 + 6 - 18)
WETH_IN_USDC = 2_000 * 10**24
LLTV_86 = 86 * 10**16


def test_mul_div_rounding():
    assert rules.mul_div_down(7, 3, 2) == 10  # 21 / 2 = 10.5
    assert rules.mul_div_up(7, 3, 2) == 11
    assert rules.mul_div_up(6, 3, 2) == 9  # exact: no rounding up
    assert rules.w_mul_down(3 * WAD // 2, 2 * WAD) == 3 * WAD  # 1.5 * 2
    assert rules.w_mul_down(1, WAD // 2) == 0  # 0.5 wei rounds down
    assert rules.w_div_down(1, 3 * WAD) == 0  # 1e18 / 3e18 = 0.33
    assert rules.w_div_up(1, 3 * WAD) == 1
    assert rules.w_div_down(WAD, 4 * WAD) == WAD // 4


def test_shares_with_virtual_shares_and_assets():
    # an empty market: 100 assets * (0 + 1e6) / (0 + 1) = 1e8 shares
    assert rules.to_shares_down(100, 0, 0) == rules.to_shares_up(100, 0, 0) == 10**8
    # and back: 1e8 * (100 + 1) / (1e8 + 1e6) = 1e8 * 101 / 101e6 = 100 exactly
    assert rules.to_assets_up(10**8, 100, 10**8) == rules.to_assets_down(10**8, 100, 10**8) == 100
    # 1001 assets over 1e9 shares (1000 borrowed 1:1e6, then one unit of interest); half the shares:
    # 5e8 * 1002 / (1e9 + 1e6) = 501e9 / 1.001e9 = 500.4995...
    assert rules.to_assets_down(5 * 10**8, 1001, 10**9) == 500
    assert rules.to_assets_up(5 * 10**8, 1001, 10**9) == 501
    assert rules.borrowed_assets(5 * 10**8, 1001, 10**9) == 501  # debt rounds up
    # 500 assets into that market: 500 * (1e9 + 1e6) / (1001 + 1) = 500,500,000,000 / 1002 = 499,500,998.004
    assert rules.to_shares_down(500, 1001, 10**9) == 499_500_998
    assert rules.to_shares_up(500, 1001, 10**9) == 499_500_999


def test_w_taylor_compounded_by_hand():
    # x = 1e-9 per second (1e9 in WAD) for n = 1e6 s: x*n = 0.001 (1e15)
    # second term: 1e15 * 1e15 / 2e18 = 5e11; third: 5e11 * 1e15 / 3e18 = 166,666,666.6 -> 166,666,666
    # e^0.001 - 1 = 0.0010005001667, and the sum is 0.001000500166666666
    assert rules.w_taylor_compounded(10**9, 10**6) == 10**15 + 5 * 10**11 + 166_666_666
    assert rules.w_taylor_compounded(10**9, 0) == 0
    assert rules.w_taylor_compounded(0, 10**6) == 0


def test_expected_market_balances_by_hand():
    # rate 1e10 (1e-8 per second) for 100,000 s: x*n = 0.001 again, compounded 1000500166666666 (see above)
    # interest = 1,000,000 * 1000500166666666 / 1e18 = 1000.50... -> 1000
    # fee 10 %: 1000 * 0.1 = 100 assets, priced before the interest reached the supply:
    # 100 * (2e12 + 1e6) / (2,001,000 - 100 + 1) = 200,000,100,000,000 / 2,000,901 = 99,955,020.0...
    got = rules.expected_market_balances(
        total_supply_assets=2_000_000, total_supply_shares=2 * 10**12, total_borrow_assets=1_000_000,
        total_borrow_shares=10**12, last_update=1_000, fee=10**17, borrow_rate_per_second=10**10, now=101_000,
    )  # fmt: skip
    assert got == (2_001_000, 2 * 10**12 + 99_955_020, 1_001_000, 10**12)
    assert got.total_borrow_assets == 1_001_000 and got.total_borrow_shares == 10**12

    # no fee: no new shares
    no_fee = rules.expected_market_balances(
        total_supply_assets=2_000_000, total_supply_shares=2 * 10**12, total_borrow_assets=1_000_000,
        total_borrow_shares=10**12, last_update=1_000, fee=0, borrow_rate_per_second=10**10, now=101_000,
    )  # fmt: skip
    assert no_fee == (2_001_000, 2 * 10**12, 1_001_000, 10**12)


@pytest.mark.parametrize(
    ("borrow_assets", "last_update", "now"),
    [(1_000_000, 5_000, 5_000), (0, 1_000, 101_000)],
    ids=["no time elapsed", "nothing borrowed"],
)
def test_expected_market_balances_unchanged(borrow_assets, last_update, now):
    totals = (2_000_000, 2 * 10**12, borrow_assets, borrow_assets * 10**6)
    got = rules.expected_market_balances(
        total_supply_assets=totals[0], total_supply_shares=totals[1], total_borrow_assets=totals[2],
        total_borrow_shares=totals[3], last_update=last_update, fee=rules.MAX_FEE, borrow_rate_per_second=10**10,
        now=now,
    )  # fmt: skip
    assert got == totals


def test_expected_market_balances_refuses_time_going_back():
    with pytest.raises(ValueError, match="before"):
        rules.expected_market_balances(
            total_supply_assets=1, total_supply_shares=1, total_borrow_assets=1, total_borrow_shares=1,
            last_update=10, fee=0, borrow_rate_per_second=1, now=9,
        )  # fmt: skip


def test_max_borrow_and_the_health_boundary():
    # 1 WETH at 2000 USDC: 1e18 * 2e27 / 1e36 = 2e9 (2000 USDC); * 0.86 = 1.72e9 (1720 USDC)
    assert rules.max_borrow(ETH, WETH_IN_USDC, LLTV_86) == 1_720 * USDC
    # a market whose shares are exactly 1e6 per asset: (assets + 1) / (shares + 1e6) = 1 / 1e6, so a
    # position's debt is its shares / 1e6 rounded up
    tba, tbs = 10**13, 10**19

    def healthy(collateral: int, shares: int) -> bool:
        return rules.is_healthy(
            collateral=collateral, borrow_shares=shares, total_borrow_assets=tba, total_borrow_shares=tbs,
            price=WETH_IN_USDC, lltv=LLTV_86,
        )  # fmt: skip

    exactly = 1_720 * USDC * 10**6  # debt = maxBorrow exactly: healthy
    assert rules.borrowed_assets(exactly, tba, tbs) == 1_720 * USDC
    assert healthy(ETH, exactly)
    # one wei less collateral: floor((1e18 - 1) * 2e27 / 1e36) = 1,999,999,999; * 0.86 = 1,719,999,999.14
    assert rules.max_borrow(ETH - 1, WETH_IN_USDC, LLTV_86) == 1_720 * USDC - 1
    assert not healthy(ETH - 1, exactly)
    # half a unit under: 1,719,999,999.5 rounds up to 1,720,000,000, still healthy
    assert rules.borrowed_assets(exactly - 500_000, tba, tbs) == 1_720 * USDC
    assert healthy(ETH, exactly - 500_000)
    # one share over: 1,720,000,000.000001 rounds up to 1,720,000,001 (rounded down it would pass)
    assert rules.to_assets_down(exactly + 1, tba, tbs) == 1_720 * USDC
    assert rules.borrowed_assets(exactly + 1, tba, tbs) == 1_720 * USDC + 1
    assert not healthy(ETH, exactly + 1)
    # no borrow shares: healthy even with no collateral at a zero price
    assert rules.is_healthy(
        collateral=0, borrow_shares=0, total_borrow_assets=tba, total_borrow_shares=tbs, price=0, lltv=LLTV_86
    )


def test_health_factor():
    # 1720 of 1720 USDC used: exactly 1.0; one unit more debt: 1.72e27 / 1,720,000,001 = 999,999,999,418,604,651.3
    assert rules.health_factor(ETH, WETH_IN_USDC, LLTV_86, 1_720 * USDC) == WAD
    assert rules.health_factor(ETH, WETH_IN_USDC, LLTV_86, 1_720 * USDC + 1) == 999_999_999_418_604_651
    assert rules.health_factor(ETH, WETH_IN_USDC, LLTV_86, 860 * USDC) == 2 * WAD
    assert rules.health_factor(ETH, WETH_IN_USDC, LLTV_86, 0) is None


def test_liquidation_incentive_factor():
    # LLTV 86 %: 1 / (1 - 0.3 * 0.14) = 1 / 0.958 = 1.043841336116910229...
    assert rules.liquidation_incentive_factor(LLTV_86) == 1_043_841_336_116_910_229
    # LLTV 94.5 %: 1 / (1 - 0.3 * 0.055) = 1 / 0.9835 = 1.016776817488561260...
    assert rules.liquidation_incentive_factor(945 * 10**15) == 1_016_776_817_488_561_260
    # LLTV 50 %: 1 / 0.85 = 1.176..., capped at 1.15
    assert rules.liquidation_incentive_factor(WAD // 2) == 115 * 10**16


def test_liquidation_price_by_hand():
    # 1720 USDC against 1 WETH at 86 %: the collateral must be worth 1720 / 0.86 = 2000 USDC, so 2e27
    assert rules.liquidation_price(ETH, 1_720 * USDC, LLTV_86) == WETH_IN_USDC
    # at 2e27 - 1 the collateral is worth 1,999,999,999 and maxBorrow 1,719,999,999: liquidatable
    assert rules.max_borrow(ETH, WETH_IN_USDC - 1, LLTV_86) == 1_720 * USDC - 1
    # 1 unit of debt against 3 units of collateral at LLTV 0.5: value must reach 2, so price 2e36 / 3 rounded up
    assert rules.liquidation_price(3, 1, WAD // 2) == 666_666_666_666_666_666_666_666_666_666_666_667
    assert rules.liquidation_price(ETH, 0, LLTV_86) is None  # no debt: never liquidatable
    assert rules.liquidation_price(0, 1, LLTV_86) is None  # no collateral: liquidatable at any price
    assert rules.liquidation_price(ETH, 1, 0) is None


@given(
    collateral=st.integers(1, 10**30),
    borrowed=st.integers(1, 10**30),
    lltv=st.integers(1, WAD - 1),
)
def test_liquidation_price_is_exact(collateral, borrowed, lltv):
    price = rules.liquidation_price(collateral, borrowed, lltv)
    assert price is not None and price >= 1
    # shares at exactly 1e6 per asset make the position's debt exactly ``borrowed``
    tba, tbs = borrowed, borrowed * rules.VIRTUAL_SHARES

    def healthy(p: int) -> bool:
        return rules.is_healthy(
            collateral=collateral, borrow_shares=tbs, total_borrow_assets=tba, total_borrow_shares=tbs, price=p,
            lltv=lltv,
        )  # fmt: skip

    assert rules.borrowed_assets(tbs, tba, tbs) == borrowed
    assert healthy(price)
    assert not healthy(price - 1)
    hf_at, hf_below = (rules.health_factor(collateral, p, lltv, borrowed) for p in (price, price - 1))
    assert hf_at is not None and hf_below is not None and hf_at >= WAD > hf_below
