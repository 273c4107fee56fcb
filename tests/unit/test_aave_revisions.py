"""Aave v3 rules by Pool revision: worked examples that sit on each boundary where the releases differ.

Every expected figure is derived by hand in the comment beside it from the published formulas (the
revisions module's docstring names them); none is produced by the code under test."""

from __future__ import annotations

import pytest

from indexer.protocols.aave_math import account_totals
from indexer.protocols.aave_v3.adapter import AaveV3Adapter, EModeCategory, Layout, Reserve
from indexer.protocols.aave_v3.revisions import (
    V30,
    V31,
    V32,
    V33,
    V34,
    V35,
    V36,
    V37,
    collateral_balance,
    collateral_terms,
    debt_balance,
    debt_value,
    rules_for,
)
from indexer.protocols.base import MarketRef
from indexer.types import BlockRef

RAY = 10**27
WAD = 10**18


@pytest.mark.parametrize(("revision", "name"), [(1, "v3.0"), (2, "v3.0"), (3, "v3.0"), (4, "v3.1"), (5, "v3.2"),
                                                (7, "v3.3"), (8, "v3.4"), (9, "v3.5"), (10, "v3.6"), (11, "v3.7")])
def test_each_known_revision_names_its_release(revision, name):
    applied = rules_for(revision)
    assert (applied.rules.name, applied.verified) == (name, True)


def test_an_unknown_revision_takes_the_nearest_release_below_it_unverified():
    assert (rules_for(6).rules, rules_for(6).verified) == (V32, False)  # a v3.3 pre-release number
    assert (rules_for(99).rules, rules_for(99).verified) == (V37, False)
    assert "Pool revision 99 unknown" in rules_for(99).why
    assert (rules_for(0).rules, rules_for(0).verified) == (V30, False)
    # a fork names its rules: Spark's Pool reports 2 whatever it runs
    assert (rules_for(2, "v3.5").rules, rules_for(2, "v3.5").verified) == (V35, True)


def test_collateral_half_up_until_v3_4_floor_from_v3_5():
    # 3 scaled units at an index of 1.5: 4.5 units — rayMul rounds half up to 5, rayMulFloor down to 4
    assert [collateral_balance(r, 3, RAY * 3 // 2) for r in (V30, V34, V35, V37)] == [5, 5, 4, 4]


def test_debt_crosses_a_unit_from_v3_5():
    # 1,000,000 scaled units at an index one ray-unit above 1: 1,000,000.000…001 units
    assert debt_balance(V34, 10**6, RAY + 1) == 10**6  # rayMul half-up: the 1e-21 vanishes
    assert debt_balance(V35, 10**6, RAY + 1) == 10**6 + 1  # rayMulCeil: a whole unit more
    # valued at 0.99999999 per unit (6 decimals): 1,000,001 × 99,999,999 / 10⁶ = 100,000,098.999999
    assert debt_value(V34, 1_000_001, 99_999_999, 10**6) == 100_000_098
    assert debt_value(V35, 1_000_001, 99_999_999, 10**6) == 100_000_099


def test_stable_debt_counts_only_until_v3_1():
    assert debt_balance(V31, 10, RAY, stable=7) == 17
    assert debt_balance(V32, 10, RAY, stable=7) == 10


def test_the_v3_5_health_factor_liquidates_a_position_v3_4_calls_healthy():
    # collateral 10,001 base units at LT 82.5 %, debt 8,251. v3.4: percentMul(10001, 8250) =
    # (82,508,250 + 5,000) // 10⁴ = 8,251 and wadDiv(8251, 8251) = 1e18 — exactly 1, not liquidatable.
    # v3.5: wadDiv(Σ C·LT = 82,508,250, 8,251) // 10⁴ = 999,978,790,449,642,467 — under 1, liquidatable.
    rows = [(10_001, 0, 1, 1, 8_000, 8_250), (0, 8_251, 1, 1, 0, 0)]
    assert account_totals(rows, precise=False)[5] == WAD
    assert account_totals(rows, precise=True)[5] == 999_978_790_449_642_467


def test_borrowing_power_half_up_until_v3_4_floor_from_v3_5():
    # C = 10,001 at LTV 80 %: percentMul = (80,008,000 + 5,000) // 10⁴ = 8,001; percentMulFloor = 8,000
    rows = [(10_001, 0, 1, 1, 8_000, 8_250), (0, 7_000, 1, 1, 0, 0)]
    assert account_totals(rows, precise=False)[2] == 1_001
    assert account_totals(rows, precise=True)[2] == 1_000


def test_collateral_terms_by_release():
    category = (9_000, 9_300)
    # a reserve with LTV 0 in the user's category: ≤ v3.5 its LTV stays 0; v3.6+ the category's applies
    assert collateral_terms(V34, ltv=0, lt=8_000, category=category) == (0, 9_300, True)
    assert collateral_terms(V36, ltv=0, lt=8_000, category=category) == (9_000, 9_300, True)
    # ... unless the category's ltvzero bitmap zeroes it (v3.6+)
    assert collateral_terms(V36, ltv=7_500, lt=8_000, category=category, ltv_zeroed=True) == (0, 9_300, True)
    # a reserve with LT 0: ≤ v3.5 not counted even in its category; v3.6+ the category's LT, and outside a
    # category it counts in the total with weight 0
    assert collateral_terms(V35, ltv=0, lt=0, category=category) == (0, 0, False)
    assert collateral_terms(V36, ltv=0, lt=0, category=category) == (9_000, 9_300, True)
    assert collateral_terms(V35, ltv=0, lt=0) == (0, 0, False)
    assert collateral_terms(V36, ltv=0, lt=0) == (0, 0, True)
    # an isolated category zeroes the LTV of collateral outside it, from v3.7 only
    assert collateral_terms(V36, ltv=7_000, lt=7_500, isolated_outside=True) == (7_000, 7_500, True)
    assert collateral_terms(V37, ltv=7_000, lt=7_500, isolated_outside=True) == (0, 7_500, True)


def test_v3_6_counts_lt_zero_collateral_in_the_total_but_not_in_the_health_factor():
    # 1,000 at LT 80 % plus 1,000 at LT 0, debt 500. ≤ v3.5: C = 1,000, avg LT 8,000. v3.6: C = 2,000, avg LT
    # (1,000·8,000 + 1,000·0) // 2,000 = 4,000; HF = wadDiv(8,000,000, 500) // 10⁴ = 1.6 either way.
    counted_v35 = [(1_000, 0, 1, 1, 7_000, 8_000), (0, 0, 1, 1, 0, 0), (0, 500, 1, 1, 0, 0)]
    counted_v36 = [(1_000, 0, 1, 1, 7_000, 8_000), (1_000, 0, 1, 1, 0, 0), (0, 500, 1, 1, 0, 0)]
    assert account_totals(counted_v35, precise=True) == (1_000, 500, 200, 8_000, 7_000, 16 * 10**17)
    # avg LTV (7,000,000 // 2,000 = 3,500): borrowing power 700, so 200 available — the same, by design
    assert account_totals(counted_v36, precise=True) == (2_000, 500, 200, 4_000, 3_500, 16 * 10**17)


def _reserve(rid: int, *, ltv: int, lt: int, price: int = 10**8) -> Reserve:
    asset = "0x" + f"{rid + 1:02x}" * 20
    return Reserve(asset=asset, id=rid, symbol=f"T{rid}", decimals=18, ltv=ltv, liquidation_threshold=lt,
                   emode_category=0, a_token=asset, stable_debt_token="0x" + "00" * 20, variable_debt_token=asset,
                   normalized_income=RAY, normalized_debt=RAY, price=price, source=None)


def test_the_adapter_applies_v3_6_ltvzero_and_lt_zero_rules_to_a_position():
    """The same account read under v3.4 and v3.6 rules: reserve 0 (LTV 0, LT 0) and reserve 1 (in the user's
    category, its LTV zeroed by the ltvzero bitmap) as collateral, 1 unit of reserve 2 owed."""
    adapter = AaveV3Adapter(MarketRef("m", "c", "0x" + "aa" * 20))
    reserves = {0: _reserve(0, ltv=0, lt=0), 1: _reserve(1, ltv=7_000, lt=8_000), 2: _reserve(2, ltv=0, lt=8_000)}
    emodes = {1: EModeCategory(9_000, 9_300, "0x" + "00" * 20, collateral_bitmap=0b10, ltvzero_bitmap=0b10)}
    bits = (1 << 1) | (1 << 3) | (1 << 4)  # collateral 0, collateral 1, borrowing 2
    amounts = {0: {"collateral": 10**18}, 1: {"collateral": 10**18}, 2: {"variable": 10**18}}
    got = {}
    for revision in (8, 10):
        layout = Layout("0x" + "bb" * 20, "0x" + "cc" * 20, revision, 10**8, (), rules_for(revision), None)
        snapshot = adapter._snapshot("0x" + "dd" * 20, BlockRef(1, "0x", 1), layout, reserves, bits, 1, emodes,
                                     {}, amounts, {}, {}, False)
        got[revision] = (snapshot.health.collateral, snapshot.detail["liquidation_threshold"],
                         snapshot.detail["ltv"], snapshot.health.raw)
    # v3.4: reserve 0 uncounted; reserve 1 in eMode with LT 9,300 and LTV 9,000 (ltvzero does not exist yet)
    assert got[8] == (10**8, 9_300, 9_000, 93 * 10**16)
    # v3.6: reserve 0 counts (weight 0), reserve 1 LTV zeroed: C = 2e8, avg LT 4,650, LTV 0, HF still 0.93
    assert got[10] == (2 * 10**8, 4_650, 0, 93 * 10**16)


def test_close_factor_until_v3_2_half_up_half_above_0_95():
    from indexer.protocols.aave_v3.revisions import max_debt_to_cover

    common = {"reserve_debt": 1_001, "reserve_debt_base": 0, "reserve_collateral_base": 0, "total_debt_base": 0,
              "debt_price": 1, "debt_unit": 1}
    # HF 0.97: percentMul(1,001, 50 %) = (5,005,000 + 5,000) // 10⁴ = 501 (500.5 rounds up)
    assert max_debt_to_cover(V32, hf=97 * 10**16, **common) == 501
    # HF exactly 0.95 is not above the threshold: 100 %
    assert max_debt_to_cover(V32, hf=95 * 10**16, **common) == 1_001


def test_close_factor_from_v3_3_full_unless_both_sides_are_large():
    from indexer.protocols.aave_v3.revisions import max_debt_to_cover

    usd = 10**8
    big = {"reserve_debt": 2_500 * 10**6, "reserve_debt_base": 2_500 * usd, "reserve_collateral_base": 3_000 * usd,
           "total_debt_base": 4_000 * usd, "debt_price": 99_999_999, "debt_unit": 10**6}
    # both sides ≥ 2,000, HF 0.97 > 0.95, and 2,500 > half the total (2,000): half the total debt in USDC units,
    # 2,000e8 · 10⁶ // 99,999,999 = 2,000,000,020 (truncated)
    assert max_debt_to_cover(V33, hf=97 * 10**16, **big) == 2_000_000_020
    assert max_debt_to_cover(V33, hf=95 * 10**16, **big) == 2_500 * 10**6  # HF ≤ 0.95: the whole reserve debt
    small = {**big, "reserve_collateral_base": 1_999 * usd}  # the collateral side under 2,000: the whole debt
    assert max_debt_to_cover(V33, hf=97 * 10**16, **small) == 2_500 * 10**6
    minor = {**big, "total_debt_base": 6_000 * usd}  # 2,500 is not more than half of 6,000: the whole debt
    assert max_debt_to_cover(V33, hf=97 * 10**16, **minor) == 2_500 * 10**6
    # the same position under v3.2 rules: half the reserve debt
    assert max_debt_to_cover(V32, hf=97 * 10**16, **big) == 1_250 * 10**6


def test_collateral_seized_bonus_half_up_until_v3_6_floor_in_v3_7():
    from indexer.protocols.aave_v3.revisions import collateral_seized

    one = {"debt_price": 1, "debt_unit": 1, "collateral_price": 1, "collateral_unit": 1, "bonus": 10_500}
    # 10 units of debt are 10 of collateral; with a 5 % bonus 10.5: half up 11, v3.7's percentMulFloor 10
    assert collateral_seized(V36, debt_to_cover=10, balance=100, **one) == 11
    assert collateral_seized(V37, debt_to_cover=10, balance=100, **one) == 10
    assert collateral_seized(V36, debt_to_cover=10, balance=5, **one) == 5  # never more than the balance
    # 1,000 USDC against WETH at 2,000 USD: 0.5 WETH, 0.525 with a 5 % bonus
    assert collateral_seized(V32, debt_to_cover=1_000 * 10**6, debt_price=10**8, debt_unit=10**6,
                             collateral_price=2_000 * 10**8, collateral_unit=10**18, bonus=10_500,
                             balance=10**18) == 525 * 10**15
