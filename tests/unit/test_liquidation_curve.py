"""Liquidation curves and cascades (``indexer.risk.curve``) on positions built by hand, with the arithmetic in the
comments: a three-position cascade on a Morpho Blue market worked out round by round, Aave v3's one-call figures
against its own ``reprice``, a curve that never gives back what a deeper move seized, and a cascade without a
configured depth refused in one line."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.base import MarketRef
from indexer.protocols.morpho_blue.adapter import MorphoBlueAdapter
from indexer.risk.curve import (
    CurveError,
    Depth,
    Groups,
    LiquidationModel,
    cascade,
    curve_steps,
    curves_for,
    depth_for,
    parse_move,
)
from indexer.settings import CurveSettings, RiskSettings
from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

BLOCK = BlockRef(1, "0x01", 1_700_000_000)
WETH, USDC, DAI, WSTETH = ("0x" + f"{n:02x}" * 20 for n in (0xA1, 0xB2, 0xC3, 0xD4))

# -- Morpho Blue: a WETH/USDC market, LLTV 80 % -------------------------------------------------------------------
MORPHO, ORACLE = "0x" + "11" * 20, "0x" + "22" * 20
LLTV = 8 * 10**17
# Morpho prices WETH (18 decimals) in USDC (6 decimals) scaled by 1e36: 2,000 USDC = 2000 · 10^(36 + 6 − 18)
MORPHO_PRICE_DECIMALS = 36 + 6 - 18
WETH_AT_2000 = 2_000 * 10**MORPHO_PRICE_DECIMALS
morpho = MorphoBlueAdapter(MarketRef(key="weth-usdc", chain="eth", address=MORPHO,
                                     options={"market_id": "0x" + "55" * 32}))


def _blank(quote: str, unit: int) -> Health:
    return Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote=quote,
                  quote_unit=unit)


def morpho_position(account: str, weth: int, usdc: int, *, collateral: str = "WETH", loan: str = "USDC",
                    loan_decimals: int = 6, price: int = WETH_AT_2000) -> PositionSnapshot:
    """``weth`` wei of collateral against ``usdc`` loan-token units of debt, valued as Morpho does (mulDivDown by
    1e36); the health is the adapter's."""
    legs = [Leg(asset=WETH if collateral == "WETH" else WSTETH, symbol=collateral, decimals=18, role=Role.COLLATERAL,
                amount=weth, price=price, price_decimals=36 + loan_decimals - 18, price_key=ORACLE,
                value=weth * price // 10**36,
                terms={"lltv": LLTV}),
            Leg(asset=USDC, symbol=loan, decimals=loan_decimals, role=Role.DEBT, amount=usdc, price=1,
                price_decimals=0, price_key=USDC, value=usdc)]
    snapshot = PositionSnapshot(chain="eth", protocol="morpho_blue", market="weth-usdc", market_address=MORPHO,
                                account=account, block=BLOCK, legs=legs, health=_blank(loan, 10**loan_decimals),
                                detail={"market_id": "0x" + "55" * 32, "lltv": LLTV, "borrow_shares": usdc})
    return morpho.reprice(snapshot, {})


def risk(**depth: int) -> RiskSettings:
    return RiskSettings(curve=CurveSettings(depth={name: Decimal(value) for name, value in depth.items()}))


# Three borrowers. Morpho liquidates when collateral · price · 0.8 < debt (healthy at equality), so:
#   A: 10 WETH owing 14,560 USDC — liquidatable below 14,560 / 8  = 1,820 USDC per WETH
#   B: 20 WETH owing 27,200 USDC — liquidatable below 27,200 / 16 = 1,700
#   C:  5 WETH owing  6,400 USDC — liquidatable below  6,400 / 4  = 1,600
A = morpho_position("0xA", 10 * 10**18, 14_560 * 10**6)
B = morpho_position("0xB", 20 * 10**18, 27_200 * 10**6)
C = morpho_position("0xC", 5 * 10**18, 6_400 * 10**6)


def test_the_worked_three_position_cascade():
    # The quote (USDC) is in the USD group: volumes are USD at par, and the depth is ETH's (WETH's group):
    # 2,000 USD sold moves ETH 1 %, so V USD sold moves it V / (100 · 2,000) = V / 200,000 (as a fraction).
    # Start at −10 %.
    #   round 0, move −0.10:  price 2,000 · 0.90 = 1,800.  A falls (1,800 < 1,820); B, C hold (1,700, 1,600 lower).
    #            A's 10 WETH at 1,800 = 18,000 USD.  V = 18,000;  next move −0.10 − 18,000 / 200,000 = −0.19
    #   round 1, move −0.19:  price 2,000 · 0.81 = 1,620.  B falls (1,620 < 1,700); C holds (1,620 ≥ 1,600).
    #            B's 20 WETH at 1,620 = 32,400 USD.  V = 50,400;  next −0.10 − 50,400 / 200,000 = −0.352
    #   round 2, move −0.352: price 2,000 · 0.648 = 1,296. C falls (1,296 < 1,600).
    #            C's 5 WETH at 1,296 = 6,480 USD.    V = 56,880;  next −0.10 − 56,880 / 200,000 = −0.3844
    #   round 3, move −0.3844: price 2,000 · 0.6156 = 1,231.2: no one left to fall — the fixed point.
    # End: move −38.44 %, price 1,231.2 USDC; 18,000 USD liquidated at −10 %, 38,880 more from the cascade.
    result = curves_for(morpho, [C, A, B], market="weth-usdc", risk=risk(ETH=2_000), symbol="WETH",
                        cascade_from=Fraction(-1, 10))
    (curve,) = result.curves
    cascade = curve.cascade
    assert cascade is not None and cascade.converged and not cascade.floored
    assert curve.moved == "ETH" and cascade.depth.key == "ETH" and cascade.depth.unit == "USD"
    assert [r.move for r in cascade.rounds] == [Fraction(-10, 100), Fraction(-19, 100), Fraction(-352, 1000)]
    assert [r.price for r in cascade.rounds] == [p * 10**MORPHO_PRICE_DECIMALS for p in (1_800, 1_620, 1_296)]
    assert [[liq.account for liq in r.fallen] for r in cascade.rounds] == [["0xA"], ["0xB"], ["0xC"]]
    assert [r.volume for r in cascade.rounds] == [18_000, 32_400, 6_480]
    assert cascade.end == Fraction(-3844, 10_000)
    assert cascade.end_price == 12_312 * 10**(MORPHO_PRICE_DECIMALS - 1)  # 1,231.2 exactly
    assert (cascade.volume_at_start, cascade.volume_added, cascade.volume) == (18_000, 38_880, 56_880)
    # the whole position is taken: all its WETH seized and all its debt repaid (A: 10 WETH, 14,560 USDC)
    first = cascade.rounds[0].fallen[0]
    assert (first.model, first.seized, first.repaid_value) == (LiquidationModel.WHOLE_POSITION, 10 * 10**18, 14_560)

    shown = result.as_json()["curves"][0]["cascade"]
    assert (shown["end"], shown["end_price"], shown["start_price"]) == ("-0.3844", "1231.2", "1800")
    assert (shown["volume_at_start"], shown["volume_added"], shown["volume"]) == ("18000", "38880", "56880")
    assert [[p["account"] for p in r["positions"]] for r in shown["rounds"]] == [["0xA"], ["0xB"], ["0xC"]]
    # B at 1,620: health 25,920 / 27,200 = 0.95294117647058823529…, Morpho's WAD ratio floored to 18 places
    assert shown["rounds"][1]["positions"][0] == {
        "account": "0xB", "model": "whole_position", "health": "0.952941176470588235", "seized": "20",
        "seized_value": "32400", "repaid_value": "27200"}


def test_the_same_market_as_a_curve_by_hand():
    # Steps of 5 % from the defaults: A is under 1 from −10 % (1,800 < 1,820), B from −20 % (1,600 < 1,700; at
    # −15 % the price is exactly 1,700, still healthy), C from −25 % (1,500 < 1,600; at −20 % exactly 1,600).
    (curve,) = curves_for(morpho, [A, B, C], market="weth-usdc", risk=risk(), symbol="WETH").curves
    by_move = {p.move: p for p in curve.points}
    assert [p.move for p in curve.points][:3] == [0, Fraction(-5, 100), Fraction(-10, 100)]
    assert curve.points[-1].move == Fraction(-60, 100) and len(curve.points) == 13
    assert [by_move[Fraction(-m, 100)].new_accounts for m in (0, 5, 10, 15, 20, 25)] == [
        (), (), ("0xA",), (), ("0xB",), ("0xC",)]
    at_20 = by_move[Fraction(-20, 100)]
    # A and B: 30 WETH at 1,600 = 48,000 USDC seized; 14,560 + 27,200 = 41,760 repaid
    assert at_20.price == 1_600 * 10**MORPHO_PRICE_DECIMALS
    assert (at_20.cumulative.positions, at_20.cumulative.seized) == (2, 30 * 10**18)
    assert (at_20.cumulative.seized_value, at_20.cumulative.repaid_value) == (48_000, 41_760)
    # against −15 % (A alone: 10 WETH at 1,700 = 17,000): B's 20 WETH added, worth 48,000 − 17,000 = 31,000
    assert (at_20.incremental.positions, at_20.incremental.seized, at_20.incremental.seized_value) == (
        1, 20 * 10**18, 31_000)
    assert curve.model_note.startswith("upper bound")
    point = curves_for(morpho, [A, B, C], market="weth-usdc", risk=risk(), symbol="WETH").as_json()
    assert point["curves"][0]["points"][4]["cumulative"] == {
        "positions": 2, "seized": "30", "seized_value": "48000", "repaid_value": "41760"}
    assert point["curves"][0]["points"][4]["incremental"]["accounts"] == ["0xB"]


def test_a_cascade_through_a_thin_market_stops_at_zero_and_a_capped_one_says_so():
    # Depth 1 USD per 1 %: A's 18,000 USD at −10 % would move the price −0.10 − 18,000 / 100 = −180.1, floored at
    # −1 (price 0). There B and C fall with nothing left to sell (0 USD), V stays 18,000, the move stays −1: fixed.
    groups = Groups.of(RiskSettings().groups)
    thin = Depth(key="ETH", per_percent=Fraction(1), unit="USD")
    run = cascade(morpho, [A, B, C], symbol="WETH", groups=groups, start=Fraction(-1, 10), depth=thin)
    assert run.converged and run.floored and (run.end, run.end_price) == (-1, 0)
    assert [[liq.account for liq in r.fallen] for r in run.rounds] == [["0xA"], ["0xB", "0xC"]]
    assert [r.volume for r in run.rounds] == [18_000, 0]
    # the defensive cap: one round allowed, B and C still to fall — no fixed point, and the result says so
    capped = cascade(morpho, [A, B, C], symbol="WETH", groups=groups, start=Fraction(-1, 10), depth=thin,
                     max_rounds=1)
    assert not capped.converged and len(capped.rounds) == 1 and capped.end == -1


# -- Aave v3: one liquidation call -------------------------------------------------------------------------------
aave = AaveV3Adapter(MarketRef("core", "eth", "0x" + "dd" * 20))
USD = 10**8  # Aave v3 base currency: 8 decimals of USD


def aave_position(account: str, *, weth: int, dai: int = 0, usdc_debt: int) -> PositionSnapshot:
    """Whole tokens: WETH at 2,000 (LT 82.5 %, bonus 5 %), DAI at 1 (LT 80 %), a USDC debt at 1; Aave v3.0 rules."""
    def collateral(asset: str, symbol: str, amount: int, price: int, lt: int) -> Leg:
        return Leg(asset=asset, symbol=symbol, decimals=18, role=Role.COLLATERAL, amount=amount * 10**18, price=price,
                   price_decimals=8, price_key=asset, value=0,
                   terms={"liquidation_threshold": lt, "ltv": lt - 500, "liquidation_bonus": 10_500})

    legs = [collateral(WETH, "WETH", weth, 2_000 * USD, 8_250)]
    if dai:
        legs.append(collateral(DAI, "DAI", dai, USD, 8_000))
    legs.append(Leg(asset=USDC, symbol="USDC", decimals=6, role=Role.DEBT, amount=usdc_debt * 10**6, price=USD,
                    price_decimals=8, price_key=USDC, value=0))
    snapshot = PositionSnapshot(chain="eth", protocol="aave_v3", market="core", market_address="0x" + "dd" * 20,
                                account=account, block=BLOCK, legs=legs, health=_blank("USD", USD))
    return aave.reprice(snapshot, {})


def test_aave_points_are_one_call_as_reprice_records_it():
    # P: 10 WETH against 15,000 USDC: HF = 20,000 · 0.825 / 15,000 = 1.1. At −10 % (1,800): 14,850 / 15,000 = 0.99,
    #    above 0.95, so v3.0's close factor is 50 %: one call repays 7,500 USDC and seizes
    #    7,500 / 1,800 = 4.1666… WETH (floored in wei) plus the 5 % bonus: 4.374999999999999999 WETH, not all 10.
    # Q: 1 WETH and 20,000 DAI against 17,500 USDC: HF = (1,650 + 16,000) / 17,500 = 1.0086; at −10 %
    #    (1,485 + 16,000) / 17,500 = 0.9991. Its largest collateral is DAI: the call seizes DAI, no WETH, and
    #    repays half of 17,500 = 8,750 USDC.
    # R: 10 WETH against 5,000 USDC stays healthy down to −60 % (8,000 · 0.825 = 6,600 > 5,000).
    p = aave_position("0xP", weth=10, usdc_debt=15_000)
    q = aave_position("0xQ", weth=1, dai=20_000, usdc_debt=17_500)
    r = aave_position("0xR", weth=10, usdc_debt=5_000)
    (curve,) = curves_for(aave, [p, q, r], market="core", risk=risk(), symbol="WETH").curves
    assert curve.holders == 3 and curve.model_note.startswith("one liquidation call")
    for point in curve.points:
        prices = {WETH: 2_000 * USD * (1 + point.move).numerator // (1 + point.move).denominator}
        assert point.price == prices[WETH]
        for liq in point.liquidations:
            assert liq.model is LiquidationModel.ONE_CALL
            snapshot = {"0xP": p, "0xQ": q}[liq.account]
            call = aave.reprice(snapshot, prices).detail["liquidation"]
            seizes_weth = call["collateral_asset"] == WETH
            assert liq.seized == (int(call["collateral_seized"]) if seizes_weth else 0)
            assert liq.seized_value == Fraction(liq.seized * prices[WETH], 10**26)
            assert liq.repaid_value == Fraction(int(call["max_debt_to_cover"]), 10**6)  # USDC at exactly $1
    at_10 = {liq.account: liq for liq in curve.points[2].liquidations}
    assert set(at_10) == {"0xP", "0xQ"}
    assert (at_10["0xP"].seized, at_10["0xP"].repaid_value) == (4_374_999_999_999_999_999, 7_500)
    assert (at_10["0xQ"].seized, at_10["0xQ"].repaid_value) == (0, 8_750)
    # at −15 % (1,700) P's HF is 14,025 / 15,000 = 0.935 ≤ 0.95: the call may repay the whole 15,000 USDC,
    # seizing 15,000 / 1,700 · 1.05 = 9.26 WETH — still a call's figure, bounded by the 10 WETH held
    at_15 = {liq.account: liq for liq in curve.points[3].liquidations}
    assert at_15["0xP"].repaid_value == 15_000 and 9 * 10**18 < at_15["0xP"].seized < 10 * 10**18


# -- monotonicity ------------------------------------------------------------------------------------------------
morpho_st = st.lists(st.tuples(st.integers(1, 10**21), st.integers(1, 10**11)), min_size=1, max_size=6)
aave_st = st.lists(st.tuples(st.integers(1, 50), st.integers(1, 90_000)), min_size=1, max_size=5)


def _never_gives_back(curve_points) -> None:
    for before, after in zip(curve_points, curve_points[1:], strict=False):
        assert after.cumulative.seized >= before.cumulative.seized
        assert after.cumulative.positions >= before.cumulative.positions


@settings(max_examples=40, deadline=None)
@given(morpho_st)
def test_seized_never_decreases_as_the_move_deepens_on_morpho(rows):
    positions = [morpho_position(f"0x{n}", weth, usdc) for n, (weth, usdc) in enumerate(rows)]
    (curve,) = curves_for(morpho, positions, market="weth-usdc", risk=risk(), symbol="WETH").curves
    _never_gives_back(curve.points)


@settings(max_examples=25, deadline=None)
@given(aave_st)
def test_seized_never_decreases_as_the_move_deepens_on_aave(rows):
    positions = [aave_position(f"0x{n}", weth=weth, usdc_debt=debt) for n, (weth, debt) in enumerate(rows)]
    (curve,) = curves_for(aave, positions, market="core", risk=risk(), symbol="WETH").curves
    _never_gives_back(curve.points)


# -- refusals ----------------------------------------------------------------------------------------------------
def test_a_cascade_without_depth_is_refused_in_one_line():
    with pytest.raises(CurveError, match=r"^no market depth for WETH: set \[risk.curve.depth\] WETH = "
                                         r"<USD sold per 1% price move> \(or ETH for its group\)") as refused:
        curves_for(morpho, [A, B, C], market="weth-usdc", risk=risk(), symbol="WETH", cascade_from=Fraction(-1, 10))
    assert "\n" not in str(refused.value)
    # every symbol asked for: the curve is still drawn, its cascade refused with the same line
    (curve,) = curves_for(morpho, [A, B, C], market="weth-usdc", risk=risk(), cascade_from=Decimal("-0.1")).curves
    assert curve.cascade is None and curve.cascade_refused is not None
    assert curve.cascade_refused.startswith("no market depth for WETH")


def test_a_market_not_quoted_in_usd_needs_its_depth_in_the_quote():
    # A wstETH/WETH market: both in the ETH group, so the curve moves wstETH alone (a depeg); its volumes are in
    # WETH, which this module does not turn into USD: a depth in USD does not apply.
    groups = Groups.of(RiskSettings().groups)
    assert groups.moved_name("wstETH", "WETH") == "wstETH"
    with pytest.raises(CurveError, match=r"quoted in WETH, not USD.*\"wstETH/WETH\" = <WETH sold per 1% price move> "
                                         r"\(or \"ETH/WETH\" for its group\)"):
        depth_for({"ETH": Decimal(25_000_000)}, symbol="wstETH", quote="WETH", groups=groups, market="m")
    depth = depth_for({"eth/weth": Decimal(9_000)}, symbol="wstETH", quote="WETH", groups=groups, market="m")
    assert (depth.key, depth.per_percent, depth.unit) == ("eth/weth", 9_000, "WETH")
    with pytest.raises(CurveError, match="must be above 0"):
        depth_for({"WETH": Decimal(0)}, symbol="WETH", quote="USDC", groups=groups, market="m")


def test_a_curve_of_a_symbol_no_position_holds_is_refused():
    with pytest.raises(CurveError, match="no position of market 'weth-usdc' holds WBTC as collateral"):
        curves_for(morpho, [A], market="weth-usdc", risk=risk(), symbol="WBTC")


def test_steps_and_moves():
    assert curve_steps(Decimal("-0.12"), Decimal("0.05")) == [0, Fraction(-1, 20), Fraction(-1, 10),
                                                              Fraction(-12, 100)]
    assert parse_move("-10%") == parse_move(" -10 ") == Fraction(-1, 10)
    assert parse_move("-2.5%") == Fraction(-1, 40)
    with pytest.raises(CurveError, match="not a percentage"):
        parse_move("ten")
