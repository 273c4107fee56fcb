from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.alerts.rules import (
    Band,
    HealthLevel,
    RuleState,
    Thresholds,
    evaluate_health,
    evaluate_oracle,
    health_level,
    in_band,
    steady_band,
    within_band,
)

T = Thresholds(warn=Band(D("1.10"), D("1.15")), critical=Band(D("1.03"), D("1.06")),
               liquidatable=Band(D("1"), D("1.01")))


def walk(healths, t=T, status="FRESH"):
    state, events = RuleState(), []
    for block, h in enumerate(healths, start=1):
        state, transition = evaluate_health(state, None if h is None else D(h), block=block, price_status=status, t=t)
        if transition:
            events.append((block, transition.kind, HealthLevel(transition.level).name))
    return state, events


def test_walk_down_and_back_one_event_per_transition():
    _, events = walk(["1.5", "1.09", "1.02", "0.99", "0.98", "1.2"])
    assert events == [(2, "opened", "WARN"), (3, "escalated", "CRITICAL"), (4, "escalated", "LIQUIDATABLE"),
                      (6, "resolved", "OK")]


def test_flapping_inside_the_band_is_silent():
    _, events = walk(["1.2", "1.099", "1.11", "1.099", "1.149", "1.10", "1.1499"])
    assert events == [(2, "opened", "WARN")]


def test_leaving_needs_the_leave_level():
    _, events = walk(["1.0", "1.05", "1.059", "1.06", "1.149", "1.15"])
    assert events == [(1, "opened", "CRITICAL"), (4, "deescalated", "WARN"), (6, "resolved", "OK")]


def test_jump_straight_to_liquidatable_and_no_debt_resolves():
    _, events = walk(["2", "0.5", None])
    assert events == [(2, "opened", "LIQUIDATABLE"), (3, "resolved", "OK")]


def test_boundaries_are_strict_below_enter():
    assert health_level(D("1.10"), HealthLevel.OK, T) == HealthLevel.OK
    assert health_level(D("1.0999999999"), HealthLevel.OK, T) == HealthLevel.WARN
    assert health_level(D("1"), HealthLevel.OK, T) == HealthLevel.CRITICAL
    assert health_level(D("0.999999999999999999"), HealthLevel.OK, T) == HealthLevel.LIQUIDATABLE


def test_hold_for_n_blocks():
    held = Thresholds(T.warn, T.critical, T.liquidatable, hold_blocks=2)
    _, events = walk(["1.2", "1.02", "1.2", "1.02", "1.02", "1.02", "1.2", "1.2", "1.2"], t=held)
    # 1.02 at block 2 is interrupted at 3; seen at 4, 5, 6 → opened (CRITICAL) at 6; back up at 7 → resolved at 9
    assert events == [(6, "opened", "CRITICAL"), (9, "resolved", "OK")]


@pytest.mark.parametrize("status", ["STALE", "INVALID", "SEQUENCER_DOWN", "SEQUENCER_GRACE", "UNKNOWN"])
def test_untrusted_price_escalates_but_never_resolves(status):
    state, events = walk(["1.02"])
    assert state.level == HealthLevel.CRITICAL
    state2, transition = evaluate_health(state, D("2"), block=9, price_status=status, t=T)
    assert transition is None and state2.level == HealthLevel.CRITICAL
    state3, transition = evaluate_health(state, D("0.5"), block=9, price_status=status, t=T)
    assert transition.kind == "escalated" and state3.level == HealthLevel.LIQUIDATABLE
    _, transition = evaluate_health(state2, D("2"), block=10, price_status="FRESH", t=T)
    assert transition.kind == "resolved"


def test_oracle_family():
    state, t = evaluate_oracle(RuleState(), "STALE", True, block=1)
    assert t.kind == "opened" and state.level == 1
    state, t = evaluate_oracle(state, "INVALID", True, block=2)
    assert t.kind == "escalated"
    assert evaluate_oracle(RuleState(), "STALE", False, block=1)[1] is None  # no debt, nothing at risk
    assert evaluate_oracle(state, "FRESH", True, block=3)[1].kind == "resolved"
    assert evaluate_oracle(RuleState(), "SEQUENCER_GRACE", True, block=1)[1] is None


def test_thresholds_layer_defaults_market_and_wallet():
    from indexer.alerts.engine import thresholds
    from indexer.settings import AlertSettings

    settings = AlertSettings(markets={"risky": {"warn": {"enter": "1.25", "leave": "1.3"}, "hold_blocks": 3}})
    base = thresholds(settings, "other", (None, None))
    assert (base.warn.enter, base.warn.leave, base.hold_blocks) == (D("1.10"), D("1.15"), 0)
    market = thresholds(settings, "risky", (None, None))
    assert (market.warn.enter, market.warn.leave, market.hold_blocks) == (D("1.25"), D("1.3"), 3)
    wallet = thresholds(settings, "risky", (D("1.5"), D("1.2")))
    assert (wallet.warn.enter, wallet.warn.leave) == (D("1.5"), D("1.55"))  # the market's band width kept
    assert (wallet.critical.enter, wallet.critical.leave) == (D("1.2"), D("1.23"))
    assert health_level(D("1.4"), HealthLevel.OK, wallet) == HealthLevel.WARN


def test_bad_bands_are_refused():
    from pydantic import ValidationError

    from indexer.settings import AlertSettings

    with pytest.raises(ValidationError, match="enter ≤ leave"):
        AlertSettings(warn={"enter": "1.2", "leave": "1.1"})
    with pytest.raises(ValidationError, match="liquidatable ≤ critical ≤ warn"):
        AlertSettings(critical={"enter": "1.2", "leave": "1.3"})


def _level_by_definition(health, current, t):
    """The level the module docstring defines, level by level: the highest one whose enter line health is below,
    unless the current one (or one between) has not been left yet."""
    if health is None:
        return HealthLevel.OK
    bands = {HealthLevel.WARN: t.warn, HealthLevel.CRITICAL: t.critical, HealthLevel.LIQUIDATABLE: t.liquidatable}
    up = max([lvl for lvl, band in bands.items() if health < band.enter], default=HealthLevel.OK)
    level = current
    while level > HealthLevel.OK and health >= bands[level].leave:
        level = HealthLevel(level - 1)
    return max(level, up)


_lines = st.decimals(min_value=D("0.5"), max_value=D("2"), places=3)


@given(st.one_of(st.none(), _lines), st.sampled_from(list(HealthLevel)), st.lists(_lines, min_size=6, max_size=6))
def test_the_level_is_the_definitions_for_any_bands(health, current, lines):
    # any bands, ordered or not (a wallet's own levels can put WARN under CRITICAL): the fast lookup says what the
    # definition says
    t = Thresholds(*(Band(min(a, b), max(a, b)) for a, b in zip(lines[::2], lines[1::2], strict=True)))
    assert health_level(health, current, t) == _level_by_definition(health, current, t)


@given(st.sampled_from(list(HealthLevel)), st.lists(_lines, min_size=6, max_size=6), st.booleans(), st.data())
def test_a_health_is_in_the_steady_band_exactly_where_the_level_holds(current, lines, ordered, data):
    # the fast path leaves a position out of the block's rules when its new health is in its level's steady band:
    # that must be exactly where the definition keeps the level, for any bands (unordered, even leave < enter);
    # the health is drawn on and next to the lines too, where the band's edges are
    pairs = zip(lines[::2], lines[1::2], strict=True)
    t = Thresholds(*(Band(min(a, b), max(a, b)) if ordered else Band(a, b) for a, b in pairs))
    near = st.sampled_from(lines).flatmap(lambda line: st.sampled_from([line - D("0.001"), line, line + D("0.001")]))
    health = data.draw(st.one_of(st.none(), _lines, near))
    assert in_band(health, steady_band(current, t)) == (_level_by_definition(health, current, t) == current)


_healths = st.integers(min_value=0, max_value=4 * 10**18).map(lambda raw: D(raw).scaleb(-18))  # an Aave HF's places


@given(st.sampled_from(list(HealthLevel)), st.lists(_lines, min_size=6, max_size=6),
       st.fractions(min_value=0, max_value=Fraction(1, 10), max_denominator=10**6), st.data())
def test_a_health_within_band_keeps_its_level_through_epsilon(current, lines, epsilon, data):
    # a dormant position (the pipeline does not even assemble it) keeps its last row's health h only where every
    # health within epsilon of h keeps its level: both ends of that interval in the steady band. The health is
    # drawn next to the band's lines too, scaled by 1 ± epsilon, where the test must turn
    t = Thresholds(*(Band(min(a, b), max(a, b)) for a, b in zip(lines[::2], lines[1::2], strict=True)))
    band = steady_band(current, t)
    edges = [Fraction(line) * k for line in lines for k in (1 / (1 - epsilon), 1 / (1 + epsilon))]
    near = st.sampled_from(edges).flatmap(lambda edge: st.integers(-2, 2).map(
        lambda step: D(int(edge * 10**18) + step).scaleb(-18)))
    health = data.draw(st.one_of(st.none(), _healths, near))
    holds = within_band(band, epsilon)(health)
    if health is None:
        assert holds == in_band(None, band)
        return
    h = Fraction(health)
    lowest, highest = h * (1 - epsilon), h * (1 + epsilon)
    ends_in = all((band[0] is None or x >= band[0]) and (band[1] is None or x < band[1]) for x in (lowest, highest))
    assert holds == ends_in
