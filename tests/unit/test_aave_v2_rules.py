"""Aave v2's account math (GenericLogic, protocol-v2 1.0.1) on worked examples at its rounding boundaries, and the
adapter's questions about a position (dependencies, what-ifs, liquidation points, options)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from indexer.protocols.aave_math import WAD, AaveAccountData, account_totals, healthy_at_price
from indexer.protocols.aave_v2.adapter import AaveV2Adapter, AaveV2Options
from indexer.protocols.base import MarketRef
from indexer.types import UINT256_MAX, BlockRef, Health, Leg, PositionSnapshot, Role

DAI = "0x00000000000000000000000000000000000000D1"
WETH = "0x00000000000000000000000000000000000000E1"
GUSD = "0x00000000000000000000000000000000000000A1"
DAI_PRICE = 5 * 10**14  # wei per DAI: 2000 DAI per ETH
# 4999999999999999998000 DAI-wei at 5e14 → C = 2499999999999999999 wei (2.5 ETH less one wei);
# percentMul(C, 8000) = (C·8000 + 5000) / 10⁴ = 1999999999999999999: one wei short of a 2 ETH debt
DAI_HELD = 4_999_999_999_999_999_998_000


def account_data(table):
    return AaveAccountData(*account_totals(table))


def rows(debt: int = 2 * WAD, dai: int = DAI_HELD, dai_price: int = DAI_PRICE):
    return [(dai, 0, dai_price, 10**18, 7500, 8000), (0, debt, WAD, 10**18, 0, 0)]


def test_one_wei_short_is_still_health_one_by_the_half_up_wad_div():
    """wadDiv rounds half up: (1999999999999999999·10¹⁸ + 10¹⁸) / (2·10¹⁸) = 10¹⁸ exactly, so the pool says HF 1
    (not liquidatable: validateLiquidationCall needs HF < 1) although the exact ratio is below 1."""
    figures = account_data(rows())
    assert figures.total_collateral_base == 2_499_999_999_999_999_999
    assert (figures.current_liquidation_threshold, figures.ltv) == (8000, 7500)
    assert figures.health_factor == WAD
    # availableBorrows = percentMul(C, 7500) − D, floored at 0: (C·7500 + 5000) / 10⁴ = 1874999999999999999 < 2e18
    assert figures.available_borrows_base == 0
    # one wei more debt and it is liquidatable: 2e36 / (2e18 + 1) truncates below 10¹⁸
    assert account_data(rows(debt=2 * WAD + 1)).health_factor == WAD - 1


def test_the_liquidation_price_is_that_boundary_to_the_wei():
    """The adapter's liquidation point of DAI is exactly the price the pool still calls healthy, one wei lower not."""
    adapter = AaveV2Adapter(MarketRef("v2", "devnet", WETH, options={}))
    snapshot = _snapshot(adapter, [
        _leg(DAI, "DAI", Role.COLLATERAL, DAI_HELD, DAI_PRICE, lt=8000, ltv=7500),
        _leg(WETH, "WETH", Role.DEBT, 2 * WAD, WAD),
    ])
    assert snapshot.health.raw == WAD and not snapshot.health.liquidatable
    point = adapter.liquidation_points(snapshot)
    assert set(point) == {DAI}  # WETH is the quote itself: AaveOracle prices it at 1 ether, nothing moves it
    assert point[DAI].price == DAI_PRICE and point[DAI].falling
    assert adapter.healthy_at(snapshot, DAI)(DAI_PRICE) and not adapter.healthy_at(snapshot, DAI)(DAI_PRICE - 1)
    assert adapter.health_at(snapshot, {DAI: DAI_PRICE - 1}).raw < WAD
    assert adapter.health_at(snapshot, {WETH: 2 * WAD}).raw == WAD  # a "WETH price" moves nothing


def test_lt_zero_collateral_is_held_but_not_counted_and_no_debt_is_max_health():
    adapter = AaveV2Adapter(MarketRef("v2", "devnet", WETH, options={"quote": "ETH", "quote_decimals": 18}))
    snapshot = _snapshot(adapter, [
        _leg(GUSD, "GUSD", Role.COLLATERAL, 10_000, DAI_PRICE, decimals=2, lt=0, ltv=0),
        _leg(DAI, "DAI", Role.COLLATERAL, 2 * 10**21, DAI_PRICE, lt=8000, ltv=7500),
    ])
    assert snapshot.legs[0].value == 0 and snapshot.health.collateral == WAD
    assert snapshot.health.raw == UINT256_MAX and snapshot.health.health is None
    assert snapshot.detail["available_borrows"] == 75 * WAD // 100
    assert adapter.liquidation_points(snapshot) == {}
    moved = adapter.reprice(snapshot, {GUSD: 1, DAI: DAI_PRICE * 2})
    assert moved.legs[0].value == 0 and moved.health.collateral == 2 * WAD
    assert (moved.health.quote, moved.health.quote_unit) == ("ETH", WAD)


def test_a_usd_quoted_market_names_its_currency():
    adapter = AaveV2Adapter(MarketRef("v2-avax", "avalanche", WETH, options={"quote": "USD", "quote_decimals": 8}))
    assert (adapter.quote, adapter.quote_unit, adapter.price_decimals) == ("USD", 10**8, 8)
    with pytest.raises(ValidationError):
        AaveV2Options.model_validate({"quote": "ETH", "decimals": 18})
    with pytest.raises(ValidationError):
        AaveV2Options.model_validate({"quote": "ETH / USD"})
    assert AaveV2Options().model_dump() == {"quote": "ETH", "quote_decimals": 18}


_row = st.tuples(st.integers(0, 10**27), st.integers(0, 10**27), st.integers(1, 10**22),
                 st.sampled_from([1, 100, 10**6, 10**8, 10**18]), st.integers(0, 8000), st.integers(0, 9000))


@given(st.lists(st.tuples(_row, st.booleans()), min_size=1, max_size=6), st.integers(0, 10**22))
def test_the_cheap_question_agrees_with_the_full_figures(legs, price):
    table = [r for r, _ in legs]
    moved = [m for _, m in legs]
    repriced = [(a, d, price if m else p, u, ltv, lt) for (a, d, p, u, ltv, lt), m in zip(table, moved, strict=True)]
    assert healthy_at_price(table, moved)(price) == (account_data(repriced).health_factor >= WAD)


def _leg(asset: str, symbol: str, role: Role, amount: int, price: int, *, decimals: int = 18, lt: int = 0,
         ltv: int = 0) -> Leg:
    terms = {"liquidation_threshold": lt, "ltv": ltv} if role is Role.COLLATERAL else {}
    counted = role is Role.DEBT or lt != 0
    return Leg(asset=asset, symbol=symbol, decimals=decimals, role=role, amount=amount, price=price,
               price_decimals=18, price_key=asset, value=price * amount // 10**decimals if counted else 0, terms=terms)


def _snapshot(adapter: AaveV2Adapter, legs: list[Leg]) -> PositionSnapshot:
    blank = Health(raw=0, decimals=18, health=Decimal(0), equity=0, requirement=0, collateral=0, debt=0,
                   quote=adapter.quote, quote_unit=adapter.quote_unit)
    snapshot = PositionSnapshot(chain="devnet", protocol="aave_v2", market="v2", market_address=WETH,
                                account="0x" + "11" * 20, block=BlockRef(1, "0x", 0), legs=legs, health=blank,
                                detail={"fixed_price_asset": WETH})
    return adapter.reprice(snapshot, {})


def test_the_abi_files_give_the_v2_selectors_topics_and_reserve_layout():
    """abis/aave_v2 against the selectors and topic0s of protocols.md §1-2 and protocol-v2's ReserveData."""
    from indexer.chain.abi import load

    pool, provider = load("aave_v2", "LendingPool"), load("aave_v2", "LendingPoolAddressesProvider")
    a, b = "0x" + "11" * 20, "0x" + "22" * 20
    selectors = {
        provider.function("getLendingPool").call(a): "0261bf8b",
        provider.function("getPriceOracle").call(a): "fca513a8",
        pool.function("getReservesList").call(a): "d1946dbc",
        pool.function("getReserveData").call(a, b): "35ea6a75",
        pool.function("getUserConfiguration").call(a, b): "4417a583",
        pool.function("getReserveNormalizedIncome").call(a, b): "d15e0053",
        pool.function("getReserveNormalizedVariableDebt").call(a, b): "386497fd",
        pool.function("getUserAccountData").call(a, b): "bf92857c",
        load("aave_v2", "AaveOracle").function("getAssetPrice").call(a, b): "b3596f07",
        load("aave_v2", "AaveOracle").function("getSourceOfAsset").call(a, b): "92bf2be0",
        load("aave_v2", "ScaledBalanceToken").function("scaledBalanceOf").call(a, b): "1da24f3e",
    }
    assert {call.data[:4].hex(): want for call, want in selectors.items()} == {v: v for v in selectors.values()}
    # configuration, five uint128 indexes/rates, uint40 timestamp, four addresses, uint8 id
    assert pool.function("getReserveData").outputs == (
        "uint256", *("uint128",) * 5, "uint40", *("address",) * 4, "uint8")
    assert pool.function("getUserConfiguration").outputs == ("uint256",)
    assert pool.topic("Deposit") == "0xde6857219544bb5b7746f48ed30be6386fefc61b2f864cacf559893bf50fd951"
    assert pool.topic("Borrow") == "0xc6a898309e823ee50bac64e45ca8adba6690e99e7841c45d754e2a38e9019d9b"
    assert pool.topic("Repay") == "0x4cdde6e09bb755c9a5589ebaec640bbfedff1362d4b255ebf8339782b9942faa"
    assert pool.topic("Withdraw") == "0x3115d1449a7b732c986cba18244e897a450f61e1bb8d589cd2e69e6c8924f9f7"
    assert pool.topic("LiquidationCall") == "0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286"
