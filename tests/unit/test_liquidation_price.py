from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from indexer.protocols.aave_v3.rules import AaveAssetInput, account_data
from indexer.health.liquidation import largest_collateral, linear_estimate, liquidation_price
from indexer.types import AssetPosition

WAD = 10**18


def asset(symbol, decimals, collateral, debt, price, lt=8250, is_collateral=True):
    unit = 10**decimals
    return AssetPosition(symbol, symbol, decimals, collateral, debt, price,
                         collateral * price // unit if is_collateral and lt else 0, debt * price // unit,
                         is_collateral, lt, 8000)


def hf(assets, override=None):
    return account_data(AaveAssetInput(
        a.collateral, a.debt, override if (override is not None and a.symbol == "WETH") else a.price,
        10**a.decimals, a.ltv, a.liquidation_threshold, a.is_collateral, a.debt > 0) for a in assets).health_factor


def test_by_hand_single_collateral():
    # 10 WETH at $2000, LT 82.5 %, debt 10,000 USDC → liquidation at 10000 / (10 × 0.825) = $1212.12…
    assets = [asset("WETH", 18, 10 * WAD, 0, 2000 * 10**8), asset("USDC", 6, 0, 10_000 * 10**6, 10**8, lt=0,
                                                                   is_collateral=False)]
    weth = largest_collateral(assets)
    assert weth.symbol == "WETH" and linear_estimate(assets, weth) == Fraction(10_000 * 10**8 * 10_000, 10 * 8250)


def healthy_at(assets):
    return lambda price: hf(assets, override=price) >= WAD


@given(st.integers(1, 10**6), st.integers(1, 10**8), st.integers(0, 10**4), st.integers(5_000, 9_500))
def test_liquidation_price_is_the_exact_crossing(weth_tenths, usdc_units, wbtc_thousandths, lt):
    assets = [asset("WETH", 18, weth_tenths * 10**17, 0, 2000 * 10**8, lt=lt),
              asset("WBTC", 8, wbtc_thousandths * 10**5, 0, 60_000 * 10**8, lt=7800),
              asset("USDC", 6, 0, usdc_units * 10**6, 10**8, lt=0, is_collateral=False)]
    price = liquidation_price(assets, assets[0], healthy_at(assets))
    if price is None:  # WBTC alone covers the debt: no WETH price liquidates
        assert hf(assets, override=0) >= WAD
        return
    assert hf(assets, override=price) >= WAD > hf(assets, override=price - 1)  # the protocol's own crossing
