"""Value at risk and expected shortfall: a worked example on a small price history, checked by hand (the arithmetic
is in the comments), the quantile rule, the tail properties for any losses, the too-short history, and the history
reader against a real SQLite database (as-of sampling, skipped readings, the group proxy, the preferred feed)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

import pytest
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from indexer.protocols.base import MarketRef
from indexer.protocols.registry import source_class
from indexer.risk.history import (
    Series,
    VarError,
    assign_series,
    build_history,
    horizon_text,
    load_history,
    parse_horizon,
    series_from_readings,
)
from indexer.risk.moves import moved_prices
from indexer.risk.var import (
    RiskPosition,
    exposures,
    market_var,
    quantile_rank,
    scenario_moves,
    tail,
    value_at_risk,
    wallet_var,
)
from indexer.settings import DEFAULT_GROUPS, load_settings
from indexer.store.models import OracleFeed, OracleReading
from indexer.store.writer import write_block
from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

DAY = 86_400
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
USD8 = 10**8  # Aave v3's base currency unit
POOL, OWNER = "0x" + "aa" * 20, "0x" + "0e" * 20
WETH, USDC, WETH_FEED, USDC_FEED = "0x" + "e1" * 20, "0x" + "c1" * 20, "0x" + "f1" * 20, "0x" + "f2" * 20


def _rules(kind, market):
    cls = source_class(kind)
    assert cls is not None
    return cls(market)


AAVE = _rules("aave_v3", MarketRef(key="aave", chain="eth", address=POOL))
BLANK_USD = Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote="USD",
                   quote_unit=USD8)


def aave_position() -> RiskPosition:
    """10 WETH at $2,000 (LT 82.5 %) against 8,000 USDC: collateral $20,000, debt $8,000, value $12,000,
    HF 20,000 × 0.825 / 8,000 = 2.0625."""
    legs = [Leg(asset=WETH, symbol="WETH", decimals=18, role=Role.COLLATERAL, amount=10 * 10**18, price=2_000 * USD8,
                price_decimals=8, price_key=WETH, value=20_000 * USD8, feed=WETH_FEED,
                terms={"liquidation_threshold": 8_250, "ltv": 8_000}),
            Leg(asset=USDC, symbol="USDC", decimals=6, role=Role.DEBT, amount=8_000 * 10**6, price=USD8,
                price_decimals=8, price_key=USDC, value=8_000 * USD8, feed=USDC_FEED)]
    snapshot = PositionSnapshot(chain="eth", protocol="aave_v3", market="aave", market_address=POOL, account=OWNER,
                                block=BlockRef(1, "0x1", T0 + 5 * DAY), legs=legs, health=BLANK_USD)
    return RiskPosition(snapshot=AAVE.reprice(snapshot, {}), rules=AAVE)


# WETH/USD (8 decimals), one reading a grid point or more apart, with readings between that as-of must skip:
#   T0       1000      T0+3d  924    (= 880 × 1.05)
#   T0+½d    1050      T0+4d  831.6  (= 924 × 0.90)
#   T0+1d    1100      T0+5d  852.39 (= 831.6 × 1.025)
#   T0+2d−600 880  ← as of T0+2d (no reading at T0+2d itself); T0+2d+1: 870 comes after it and is ignored
WETH_READINGS = [(T0, 1_000 * USD8), (T0 + DAY // 2, 1_050 * USD8), (T0 + DAY, 1_100 * USD8),
                 (T0 + 2 * DAY - 600, 880 * USD8), (T0 + 2 * DAY + 1, 870 * USD8), (T0 + 3 * DAY, 924 * USD8),
                 (T0 + 4 * DAY, 83_160_000_000), (T0 + 5 * DAY, 85_239_000_000)]
LEVELS = (Decimal("0.6"), Decimal("0.8"), Decimal("0.9"), Decimal("0.95"), Decimal("0.99"))


def worked_history(readings=WETH_READINGS):
    weth = series_from_readings("WETH", readings, chain="eth", feed=WETH_FEED)
    assert weth is not None
    return build_history([weth], symbols={"WETH", "USDC", "USD"}, groups=DEFAULT_GROUPS, horizon=DAY)


def test_worked_example_historical_by_hand():
    history = worked_history()
    # the grid: end = T0+5d (the last reading), start = T0 (the first); n = ⌊5d / 1d⌋ = 5 non-overlapping days
    scenarios = history.scenarios
    assert scenarios.times == tuple(T0 + k * DAY for k in range(1, 6))
    assert (scenarios.first, scenarios.last) == (T0, T0 + 5 * DAY)
    # returns, P(t)/P(t−1d) − 1: 1100/1000 = +1/10, 880/1100 = −1/5, 924/880 = +1/20, 831.6/924 = −1/10,
    # 852.39/831.6 = +1/40
    assert scenarios.returns["weth"] == (Fraction(1, 10), Fraction(-1, 5), Fraction(1, 20), Fraction(-1, 10),
                                         Fraction(1, 40))
    # USDC has no series and nothing of its group (USD) has one: held fixed; USD is the unit, neither
    assert history.coverage.fixed == ("USDC",) and history.coverage.proxied == {}

    result = value_at_risk([aave_position()], history, levels=LEVELS, ewma_lambda=Decimal("0.94"), min_scenarios=5,
                           scope={"wallet": OWNER})
    assert result.insufficient is None
    (usd,) = result.quotes
    assert (usd.quote, usd.positions, usd.value, usd.health) == ("USD", 1, 12_000, Decimal("2.0625"))
    # each scenario moves WETH from $2,000 to 2000 × (1 + r): 2200, 1600, 2100, 1800, 2050, exact in 8 decimals;
    # the collateral is 10 × that, the debt stays: loss = 20,000 − 10 × price = −20,000 × r
    #   losses by day: −2000, +4000, −1000, +2000, −500
    #   sorted:        −2000, −1000, −500, +2000, +4000
    # α = 0.6:  k = ⌈0.6 × 5⌉ = ⌈3⌉ = 3 → VaR = −500 (a gain: day 5); ES = (−500 + 2000 + 4000) / 3 = 5500/3
    #           health on day 5: 20,500 × 0.825 / 8,000 = 2.1140625
    # α = 0.8:  k = 4 → VaR = 2000 (day 4); ES = (2000 + 4000) / 2 = 3000; health 18,000 × 0.825 / 8,000 = 1.85625
    # α = 0.9:  k = ⌈4.5⌉ = 5 → VaR = ES = 4000 (day 2); health 16,000 × 0.825 / 8,000 = 1.65
    # α = 0.95, 0.99: k = ⌈4.75⌉ = ⌈4.95⌉ = 5 → the same as 0.9
    got = [(h.level, h.rank, h.var, h.es, h.health, h.scenario_time) for h in usd.historical or ()]
    assert got == [
        (Decimal("0.6"), 3, -500, Fraction(5_500, 3), Decimal("2.1140625"), T0 + 5 * DAY),
        (Decimal("0.8"), 4, 2_000, 3_000, Decimal("1.85625"), T0 + 4 * DAY),
        (Decimal("0.9"), 5, 4_000, 4_000, Decimal("1.65"), T0 + 2 * DAY),
        (Decimal("0.95"), 5, 4_000, 4_000, Decimal("1.65"), T0 + 2 * DAY),
        (Decimal("0.99"), 5, 4_000, 4_000, Decimal("1.65"), T0 + 2 * DAY),
    ]
    document = result.as_json()
    first = document["quotes"][0]["historical"][0]
    assert (first["var"], first["es"], first["health"]) == ("-500.00000000", "1833.33333333", "2.114062500000000000")
    assert document["scope"] == {"wallet": OWNER} and document["horizon"] == "1d" and document["scenarios"] == 5
    assert document["series"]["WETH"]["feed"] == WETH_FEED and document["fixed"] == ["USDC"]
    assert document["window"]["first_utc"] == "2023-11-14T22:13:20Z"


def test_worked_example_ewma_by_hand():
    history = worked_history()
    result = value_at_risk([aave_position()], history, levels=(Decimal("0.6"), Decimal("0.9")),
                           ewma_lambda=Decimal("0.94"), min_scenarios=5, scope={"wallet": OWNER})
    (usd,) = result.quotes
    assert usd.parametric is not None
    # seed: the mean of r²: (0.01 + 0.04 + 0.0025 + 0.01 + 0.000625) / 5 = 0.063125 / 5 = 0.012625
    # σ² ← 0.94 σ² + 0.06 r², oldest first:
    #   r = +0.10:  0.94 × 0.012625        + 0.06 × 0.01     = 0.0118675        + 0.0006    = 0.0124675
    #   r = −0.20:  0.94 × 0.0124675       + 0.06 × 0.04     = 0.01171945       + 0.0024    = 0.01411945
    #   r = +0.05:  0.94 × 0.01411945      + 0.06 × 0.0025   = 0.013272283      + 0.00015   = 0.013422283
    #   r = −0.10:  0.94 × 0.013422283     + 0.06 × 0.01     = 0.01261694602    + 0.0006    = 0.01321694602
    #   r = +0.025: 0.94 × 0.01321694602   + 0.06 × 0.000625 = 0.0124239292588 + 0.0000375 = 0.0124614292588
    # σ = √0.0124614292588 = 0.1116307720066…
    sigma = 0.1116307720066
    assert result.volatility["WETH"] == pytest.approx(sigma, rel=1e-12)
    # exposure: the WETH collateral's $20,000 (the USDC debt is held fixed: no series) → σ_p = 2,232.615440133
    assert usd.parametric.exposures == {"WETH": pytest.approx(20_000.0)}
    assert usd.parametric.sigma == pytest.approx(20_000 * sigma, rel=1e-12)
    # z(0.6) = 0.2533471031358, φ(z) = 0.3863425334969; z(0.9) = 1.2815515655446, φ(z) = 0.1754983319325
    #   VaR 0.6 = 0.2533471031358 × 2232.615440133 = 565.626654174;  ES = 2232.615440133 × 0.3863425334969 / 0.4
    #           = 2156.385763663
    #   VaR 0.9 = 1.2815515655446 × 2232.615440133 = 2861.211812561; ES = 2232.615440133 × 0.1754983319325 / 0.1
    #           = 3918.202855900
    low, high = usd.parametric.levels
    assert (low.z, low.var, low.es) == pytest.approx((0.2533471031358, 565.626654174, 2156.385763663), rel=1e-11)
    assert (high.z, high.var, high.es) == pytest.approx((1.2815515655446, 2861.211812561, 3918.202855900), rel=1e-11)
    # the scenario at 0.9: r = −z Σw / σ_p = −z σ (one asset) = −0.1430607…: WETH at 2000 × (1 − 0.1430607),
    # health (1 − 0.1430607) × 20,000 × 0.825 / 8,000 = 1.767437…; the collateral is linear: loss ≈ VaR
    assert high.returns["WETH"] == pytest.approx(-1.2815515655446 * sigma, rel=1e-11)
    assert float(high.health or 0) == pytest.approx((1 - 1.2815515655446 * sigma) * 20_000 * 0.825 / 8_000, rel=1e-9)
    assert float(high.loss) == pytest.approx(high.var, rel=1e-9)
    document = result.as_json()["quotes"][0]["parametric"]
    assert document["levels"][1]["var"] == "2861.21181256" and document["exposures"] == {"WETH": "20000.00000000"}


def test_the_quantile_rule_is_exact():
    assert quantile_rank(Decimal("0.6"), 5) == 3  # in floats 0.6 × 5 = 3.0000000000000004 → 4
    assert quantile_rank(Decimal("0.95"), 20) == 19  # the 19th smallest of 20
    assert quantile_rank(Decimal("0.95"), 100) == 95 and quantile_rank(Decimal("0.99"), 100) == 99
    assert quantile_rank(Decimal("0.99"), 30) == 30  # ⌈29.7⌉
    losses = [Fraction(n) for n in range(20, 0, -1)]  # 20 … 1 in any order
    got = tail(losses, Decimal("0.95"))
    # sorted 1 … 20, k = 19: VaR 19, ES (19 + 20) / 2; the loss 19 is the second of the sample
    assert (got.rank, got.var, got.es, got.scenario) == (19, 19, Fraction(39, 2), 1)
    with pytest.raises(VarError):
        quantile_rank(Decimal(1), 10)


losses_st = st.lists(st.fractions(min_value=-10**9, max_value=10**9, max_denominator=10**6), min_size=1, max_size=80)
level_st = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.999"), places=3)


@given(losses_st, level_st, level_st)
def test_es_is_at_least_var_and_both_grow_with_the_level(losses, a, b):
    low, high = sorted((a, b))
    at_low, at_high = tail(losses, low), tail(losses, high)
    assert at_low.es >= at_low.var and at_high.es >= at_high.var
    assert at_high.var >= at_low.var and at_high.es >= at_low.es
    var95, var99 = tail(losses, Decimal("0.95")), tail(losses, Decimal("0.99"))
    assert var99.var >= var95.var and var95.es >= var95.var and var99.es >= var99.var


def test_too_short_a_history_gives_no_figure():
    # four days of WETH (T0 … T0+4d): four scenarios of 1d, five needed
    history = worked_history(WETH_READINGS[:-1])
    result = value_at_risk([aave_position()], history, levels=LEVELS, ewma_lambda=Decimal("0.94"), min_scenarios=5,
                           scope={"market": "aave"})
    assert result.insufficient == ("insufficient history: 4 scenarios of 1d over 2023-11-14T22:13:20Z to "
                                   "2023-11-18T22:13:20Z, need 5")
    (usd,) = result.quotes
    assert usd.historical is None and usd.parametric is None and usd.value == 12_000
    quote = result.as_json()["quotes"][0]
    assert quote["historical"] is None and quote["parametric"] is None
    # no series at all: no window either
    empty = build_history([], symbols={"WETH"}, groups={}, horizon=DAY)
    result = value_at_risk([aave_position()], empty, levels=LEVELS, ewma_lambda=Decimal("0.94"), min_scenarios=30,
                           scope={"market": "aave"})
    assert result.insufficient == "insufficient history: 0 scenarios of 1d over no stored readings in common, need 30"


def test_scenarios_are_capped_to_the_most_recent():
    # five daily scenarios (T0 … T0+5d); capped at 2, the last two are kept and the window reported is theirs
    weth = series_from_readings("WETH", WETH_READINGS, chain="eth", feed=WETH_FEED)
    assert weth is not None
    full = build_history([weth], symbols={"WETH"}, groups=DEFAULT_GROUPS, horizon=DAY).scenarios
    capped = build_history([weth], symbols={"WETH"}, groups=DEFAULT_GROUPS, horizon=DAY, max_scenarios=2).scenarios
    assert full.count == 5 and capped.count == 2
    assert capped.times == full.times[-2:] and capped.returns["weth"] == full.returns["weth"][-2:]
    assert (capped.first, capped.last) == (T0 + 3 * DAY, T0 + 5 * DAY)
    # a one-second horizon over the same five days would be 432,000 scenarios: it stays at the cap
    assert build_history([weth], symbols={"WETH"}, groups=DEFAULT_GROUPS, horizon=1,
                         max_scenarios=1_000).scenarios.count == 1_000


def test_one_return_per_symbol_never_compounded():
    # wstETH has a series of its own: it takes its own return only, not ETH's on top; weETH has none: it takes the
    # ETH group's (WETH's, the first of the group with a series); PEPE has no series and no group: held fixed
    coverage = assign_series(["wstETH", "weETH", "WETH", "PEPE", "USD"], {"weth": "WETH", "wsteth": "wstETH"},
                             DEFAULT_GROUPS)
    assert dict(coverage.series_of) == {"wsteth": "wsteth", "weeth": "weth", "weth": "weth"}
    assert coverage.proxied == {"weETH": "WETH"} and coverage.fixed == ("PEPE",)
    moves = scenario_moves({"weth": Fraction(-1, 4), "wsteth": Fraction(-1, 20)}, coverage)
    assert (moves.factor("wstETH"), moves.factor("weETH"), moves.factor("WETH")) == (
        Fraction(19, 20), Fraction(3, 4), Fraction(3, 4))
    assert moves.factor("PEPE") == moves.factor("USD") == 1


def test_exposures_count_the_quote_currency_against_the_prices_in_it():
    # Morpho WETH/USDC: 5 WETH at 2,500 USDC (quote USDC). A rise of WETH adds 12,500 USDC per unit return; a rise of
    # USDC (against USD, the feeds' unit) lowers the WETH price in USDC by as much. The debt is at par: no exposure.
    market = MarketRef(key="m", chain="eth", address=POOL, options={"market_id": "0x" + "11" * 32})
    morpho = _rules("morpho_blue", market)
    oracle, lltv = "0x" + "0c" * 20, 86 * 10**16
    legs = [Leg(asset=WETH, symbol="WETH", decimals=18, role=Role.COLLATERAL, amount=5 * 10**18, price=2_500 * 10**24,
                price_decimals=24, price_key=oracle, value=12_500 * 10**6, terms={"lltv": lltv}),
            Leg(asset=USDC, symbol="USDC", decimals=6, role=Role.DEBT, amount=9_000 * 10**6, price=1,
                price_decimals=0, price_key=USDC, value=9_000 * 10**6)]
    blank = Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote="USDC",
                   quote_unit=10**6)
    snapshot = morpho.reprice(PositionSnapshot(chain="eth", protocol="morpho_blue", market="m", market_address=POOL,
                                               account=OWNER, block=BlockRef(1, "0x1", T0), legs=legs, health=blank,
                                               detail={"lltv": lltv}), {})
    coverage = assign_series(["WETH", "USDC"], {"weth": "WETH", "usdc": "USDC"}, DEFAULT_GROUPS)
    got = exposures([RiskPosition(snapshot=snapshot, rules=morpho)], coverage, ["usdc", "weth"])
    assert got == {"USDC": [-12_500.0, 12_500.0]}
    # and the exact scenario agrees: WETH +10 %, USDC +10 % → the price in USDC does not move, no loss
    moves = scenario_moves({"weth": Fraction(1, 10), "usdc": Fraction(1, 10)}, coverage)
    assert moved_prices(morpho, snapshot, moves) == {}


def test_horizons():
    assert [parse_horizon(t) for t in ("15m", "1h", "1d", "2w", "90", "90s", " 4H ", 3_600)] == [
        900, 3_600, 86_400, 1_209_600, 90, 90, 14_400, 3_600]
    assert [horizon_text(s) for s in (900, 3_600, 86_400, 5_400, 90)] == ["15m", "1h", "1d", "90m", "90s"]
    for bad in ("", "1y", "-1d", "0h", "1.5d", 0):
        with pytest.raises(VarError):
            parse_horizon(bad)


def test_as_of_keeps_the_last_reading_at_a_block_time():
    # two readings at one block time (an L2's blocks can share one): the later holds; unchanged answers are dropped
    series = series_from_readings("X", [(10, 5), (20, 5), (30, 7), (30, 6), (40, 0), (50, 8)])
    assert isinstance(series, Series)
    assert series.points == ((10, 5), (30, 6), (50, 8)) and (series.readings, series.first, series.last) == (5, 10, 50)
    assert [series.as_of(t) for t in (9, 10, 29, 30, 49, 50, 99)] == [None, 5, 5, 6, 6, 8, 8]


# --- the history reader against a real database ----------------------------------------------------------------

ARB_WETH_FEED, WBTC_FEED, WSTETH_FEED = "0x" + "f3" * 20, "0x" + "f4" * 20, "0x" + "f5" * 20


def _store(engine, chain, key, symbol, description, readings):
    """A feed and its readings: (block_timestamp, answer, status); block numbers in time order."""
    with Session(engine) as session:
        feed = OracleFeed(chain=chain, key=key, address=key, kind="chainlink", symbol=symbol, description=description,
                          decimals=8)
        session.add(feed)
        session.commit()
        session.refresh(feed)
        assert feed.id is not None
        for number, (timestamp, answer, status) in enumerate(readings, start=1):
            session.add(OracleReading(feed_id=feed.id, chain=chain, block_number=number, block_hash=f"0x{number:x}",
                                      block_timestamp=timestamp, answer=answer, status=status, reason=""))
        session.commit()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_history_from_stored_readings(engine):
    # WETH/USD on eth: as of T0+1d the answer is 2,100 (a reading 1 s before; the one 5 s after does not count);
    # as of T0+2d it is 1,890 (STALE readings count; the INVALID one at T0+2d and the failed read are skipped)
    _store(engine, "eth", WETH_FEED, "WETH", "ETH / USD", [
        (T0, 2_000 * USD8, "FRESH"), (T0 + DAY - 1, 2_100 * USD8, "FRESH"), (T0 + DAY + 5, 9_999 * USD8, "FRESH"),
        (T0 + 2 * DAY - 10, 1_890 * USD8, "STALE"), (T0 + 2 * DAY, USD8, "INVALID"),
        (T0 + 2 * DAY + 100, None, "INVALID"), (T0 + 3 * DAY, 198_450_000_000, "FRESH")])
    # WBTC/USD: 40,000 as of T0 and T0+1d (44,000 comes 1 s after it), 41,000 at T0+2d, 42,000 at T0+3d
    _store(engine, "eth", WBTC_FEED, "WBTC", "BTC / USD", [
        (T0, 40_000 * USD8, "FRESH"), (T0 + DAY + 1, 44_000 * USD8, "FRESH"), (T0 + 2 * DAY, 41_000 * USD8, "FRESH"),
        (T0 + 3 * DAY, 42_000 * USD8, "FRESH")])
    # wstETH's only feed is in ETH (an exchange rate): not a USD price, so wstETH takes its group's series (WETH's)
    _store(engine, "eth", WSTETH_FEED, "wstETH", "wstETH / ETH", [(T0, 118 * 10**6, "FRESH"),
                                                                  (T0 + 3 * DAY, 119 * 10**6, "FRESH")])
    # another WETH feed, on arb, with a longer span: chosen unless the positions were priced by the eth one
    _store(engine, "arb", ARB_WETH_FEED, "WETH", "ETH / USD", [(T0 - DAY, 1_000 * USD8, "FRESH"),
                                                               (T0 + 3 * DAY, 1_100 * USD8, "FRESH")])
    symbols = {"WETH", "wstETH", "WBTC", "USDC", "USD"}
    history = load_history(engine, symbols=symbols, groups=DEFAULT_GROUPS, horizon=DAY,
                           preferred={("eth", WETH_FEED)})
    assert {name: (s.chain, s.feed, s.readings) for name, s in history.series.items()} == {
        "weth": ("eth", WETH_FEED, 5), "wbtc": ("eth", WBTC_FEED, 4)}
    assert history.coverage.proxied == {"wstETH": "WETH"} and history.coverage.fixed == ("USDC",)
    scenarios = history.scenarios
    # window T0 … T0+3d (both series span it), three non-overlapping days
    assert scenarios.times == (T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY) and scenarios.first == T0
    # WETH: 2100/2000 − 1 = 1/20, 1890/2100 − 1 = −1/10, 1984.5/1890 − 1 = 1/20
    # WBTC: 40000/40000 − 1 = 0, 41000/40000 − 1 = 1/40, 42000/41000 − 1 = 1/41 (the same days: joint)
    assert scenarios.returns == {"weth": (Fraction(1, 20), Fraction(-1, 10), Fraction(1, 20)),
                                 "wbtc": (Fraction(0), Fraction(1, 40), Fraction(1, 41))}
    unpreferred = load_history(engine, symbols=symbols, groups=DEFAULT_GROUPS, horizon=DAY)
    assert unpreferred.series["weth"].feed == ARB_WETH_FEED


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_wallet_and_market_var_from_the_store(engine, tmp_path):
    # the worked example, stored: the Aave position at T0+5d and the WETH feed that priced it
    config = tmp_path / "var.toml"
    config.write_text(f'[chains.eth]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n\n[markets.aave]\n'
                      f'chain = "eth"\nprotocol = "aave_v3"\naddress = "{POOL}"\n\n[risk.var]\nmin_scenarios = 5\n')
    settings = load_settings(config)
    position = aave_position()
    owner = to_checksum_address(OWNER)
    snapshot = dataclasses.replace(position.snapshot, account=owner, owner=owner)
    write_block(engine, chain="eth", block=snapshot.block, snapshots=[snapshot])
    _store(engine, "eth", WETH_FEED, "WETH", "ETH / USD", [(t, a, "FRESH") for t, a in WETH_READINGS])

    result = wallet_var(engine, settings=settings, wallet=OWNER, horizon="1d")
    document = result.as_json()
    assert document["scope"] == {"wallet": owner} and document["insufficient"] is None
    assert document["series"]["WETH"] == {"chain": "eth", "feed": WETH_FEED, "readings": 8, "first": T0,
                                          "last": T0 + 5 * DAY}
    (usd,) = document["quotes"]
    # the levels of the config (0.95, 0.99): k = 5 of 5, the worst day (−20 %), as in the worked example
    assert [(h["level"], h["var"], h["es"], h["health"]) for h in usd["historical"]] == [
        ("0.95", "4000.00000000", "4000.00000000", "1.650000000000000000"),
        ("0.99", "4000.00000000", "4000.00000000", "1.650000000000000000")]
    assert [level["level"] for level in usd["parametric"]["levels"]] == ["0.95", "0.99"]
    assert market_var(engine, settings=settings, market="aave", horizon="1d").as_json()["quotes"] == [usd]
    # twelve hours: ten scenarios over the same five days; two days: two scenarios, too few
    assert wallet_var(engine, settings=settings, wallet=OWNER, horizon="12h").history.scenarios.count == 10
    short = wallet_var(engine, settings=settings, wallet=OWNER, horizon="2d")
    assert short.insufficient == ("insufficient history: 2 scenarios of 2d over 2023-11-15T22:13:20Z to "
                                  "2023-11-19T22:13:20Z, need 5")
    with pytest.raises(VarError, match="not configured"):
        market_var(engine, settings=settings, market="nope", horizon="1d")
