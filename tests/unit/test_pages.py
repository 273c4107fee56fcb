"""Pure pieces of the detail pages: the SVG charts (ticks, scales, what is drawn, what is escaped) and the VaR block
of the wallet page with and without figures (the figures from the worked example of ``test_var``)."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.api.charts import HEIGHT, LEFT, RIGHT, TOP, WIDTH, Axis, Point, Rule, bar_chart, line_chart, nice_ticks
from indexer.api.pages.links import market_href, position_href, wallet_href
from indexer.api.pages.market import move_text
from indexer.api.pages.wallet import var_block
from indexer.risk.var import value_at_risk
from indexer.risk.wallet import WalletRisk
from tests.unit.test_var import LEVELS, OWNER, aave_position, worked_history

HOSTILE = "<script>alert(1)</script>"


def coordinates(svg: str) -> list[tuple[float, float]]:
    (points,) = re.findall(r'<polyline class="series" points="([^"]*)"', svg)
    return [(float(x), float(y)) for x, y in (pair.split(",") for pair in points.split())]


@given(st.floats(-1e9, 1e9), st.floats(-1e9, 1e9))
def test_ticks_are_round_and_cover_the_range(a, b):
    ticks = nice_ticks(a, b)
    low, high = min(a, b), max(a, b)
    slack = 1e-6 * max(high - low, 1e-9)  # the ends may miss the range by a rounding error of the step
    assert ticks[0] <= low + slack and ticks[-1] >= high - slack
    assert 2 <= len(ticks) <= 12 and ticks == sorted(ticks)
    step = ticks[1] - ticks[0]
    assert {round((y - x) / step, 6) for x, y in zip(ticks, ticks[1:], strict=False)} == {1}  # evenly spaced
    assert round(step / 10 ** math.floor(math.log10(step) + 1e-9), 6) in (1, 2, 5)  # by 1, 2 or 5 × 10^k


def test_nice_ticks_examples():
    assert nice_ticks(0.93, 1.21) == [0.9, 1.0, 1.1, 1.2, 1.3]
    assert nice_ticks(-60, 0, 5) == [-60, -40, -20, 0]
    assert nice_ticks(5, 5) == [4.5, 5.0, 5.5]  # a single value gets room around it
    with pytest.raises(ValueError):
        nice_ticks(0, math.inf)


def test_line_chart_draws_every_point_in_order_within_the_plot_and_escapes_its_labels():
    points = [Point(100, 1.2, HOSTILE), Point(101, math.inf, "nothing owed"), Point(103, 0.8, "c"),
              Point(104, 40.0, "far")]
    svg = line_chart(points, title=HOSTILE, x_axis=Axis("block <b>"), y_axis=Axis("health", cap=3.0),
                     rules=[Rule("y", 1.0, "liquidation & line")])
    drawn = coordinates(svg)
    assert len(drawn) == len(points) and [x for x, _ in drawn] == sorted(x for x, _ in drawn)
    assert all(LEFT <= x <= WIDTH - RIGHT and TOP <= y <= HEIGHT for x, y in drawn)
    assert drawn[1][1] == drawn[3][1] == min(y for _, y in drawn)  # inf and 40 drawn at the top (the cap)
    assert drawn[2][1] > drawn[0][1]  # a lower health is drawn lower (y grows downwards)
    assert svg.count('<circle class="marker"') == 4 and "<script" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "liquidation &amp; line" in svg and "block &lt;b&gt;" in svg


def test_line_chart_of_one_point_and_of_many():
    assert len(coordinates(line_chart([Point(7, 1.0)], title="t", x_axis=Axis("x"), y_axis=Axis("y")))) == 1
    many = line_chart([Point(i, i % 7) for i in range(500)], title="t", x_axis=Axis("x"), y_axis=Axis("y"))
    assert len(coordinates(many)) == 500 and "<circle" not in many  # no marker per point past MAX_MARKERS


def test_bar_chart_has_a_bar_per_step_from_zero_and_its_rules():
    steps = [0, -5, -10, -15, -20]
    values = [0.0, 10.0, 10.0, 250.0, 400.0]
    svg = bar_chart([Point(s, v, f"{s}%") for s, v in zip(steps, values, strict=True)], title="curve",
                    x_axis=Axis("move"), y_axis=Axis("seized"),
                    rules=[Rule("x", -12.5, "round 0"), Rule("x", -13.1, "end", colour="#000")])
    bars = re.findall(r'<rect class="bar" x="([^"]+)" y="([^"]+)" width="([^"]+)" height="([^"]+)"', svg)
    assert len(bars) == len(steps)
    heights = [float(h) for *_, h in bars]
    assert heights[0] == 0 and heights[1] == heights[2] < heights[3] < heights[4]
    bottoms = {round(float(y) + float(h), 1) for _, y, _, h in bars}
    assert len(bottoms) == 1  # every bar stands on the zero line
    assert svg.count('<line class="rule"') == 2 and ">round 0<" in svg and 'fill="#000"' in svg


def test_links_quote_each_path_segment():
    assert position_href("eth", "aave v3/main", "0xAb:ETH") == "/positions/eth/aave%20v3%2Fmain/0xAb:ETH"
    assert wallet_href("0xAb") == "/wallets/0xAb" and market_href("m?x=<1>") == "/markets/m%3Fx%3D%3C1%3E"


def test_move_text():
    assert [move_text(m) for m in ("0", "-0.05", "-0.1", "-0.101715", "-1")] == ["0%", "-5%", "-10%", "-10.17%",
                                                                               "-100%"]


def test_var_block_shows_the_figures_or_only_why_there_are_none():
    history = worked_history()
    result = value_at_risk([aave_position()], history, levels=LEVELS, ewma_lambda=Decimal("0.94"), min_scenarios=5,
                           scope={"wallet": OWNER})
    block = var_block(WalletRisk(wallet=OWNER, target=Decimal("1.5"), var=result))
    rows = re.findall(r"<tr><td>USD</td><td>(historical|parametric)</td>(.*?)</tr>", block)
    assert len(rows) == 2 * len(LEVELS)
    historical = [re.findall(r'<td class="num">([^<]*)</td>', cells) for kind, cells in rows if kind == "historical"]
    document = result.as_json()["quotes"][0]["historical"]
    assert historical == [[h["level"], h["var"], h["es"], h["health"]] for h in document]
    assert "5 scenarios from 2023-11-14T22:13:20Z to" in block and "insufficient" not in block

    short = value_at_risk([aave_position()], history, levels=LEVELS, ewma_lambda=Decimal("0.94"), min_scenarios=30,
                          scope={"wallet": OWNER})
    assert short.insufficient
    block = var_block(WalletRisk(wallet=OWNER, target=Decimal("1.5"), var=short))
    assert block == f'<p class="var-insufficient">{short.insufficient}</p>'
    assert "No position" in var_block(WalletRisk(wallet=OWNER, target=Decimal("1.5")))
