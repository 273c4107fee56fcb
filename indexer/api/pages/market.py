"""``GET /markets/{market}``: a market's liquidation curves as a page — per collateral asset, the value its positions
would have seized as its price falls step by step and, with ``?cascade=-10``, the cascade from that move (its
rounds and where it stops, marked on the chart) or why none was run. The figures are
``GET /v1/markets/{market}/liquidation-curve``'s (``indexer.risk.curve.market_curve``), drawn from its JSON shape."""

from __future__ import annotations

import logging
from decimal import ROUND_DOWN, Decimal
from html import escape
from typing import Any

from aiohttp import web

from indexer.api import params
from indexer.api.charts import Axis, Point, Rule, bar_chart, plain_number
from indexer.api.dashboard import money
from indexer.api.errors import ApiError
from indexer.api.keys import SETTINGS
from indexer.api.models import MarketPagePath, MarketPageQuery
from indexer.api.pages.layout import facts, html_errors, page_response, section, table
from indexer.api.store import run_query
from indexer.display import money_text, price_text
from indexer.risk.curve import market_curve, parse_move

log = logging.getLogger(__name__)

END_COLOUR = "#6a1b9a"


def move_text(move: str) -> str:
    """A relative move (``-0.1``) as a percentage with at most two places, toward zero (``-10%``)."""
    percent = (Decimal(move) * 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return f"{format(percent.normalize(), 'f')}%"


def _price(text: str) -> str:
    return price_text(Decimal(text))


def curve_chart(curve: dict[str, Any]) -> str:
    """Cumulative seized value (in the quote) per price step, one bar per step; the cascade's rounds and its end
    as vertical lines."""
    quote = curve["quote"]
    points = [Point(x=float(Decimal(p["move"]) * 100), y=float(Decimal(p["cumulative"]["seized_value"])),
                    tip=f"{move_text(p['move'])} · price {_price(p['price'])} · {p['cumulative']['positions']} "
                        f"positions · seized {money(Decimal(p['cumulative']['seized_value']), quote)}")
              for p in curve["points"]]
    rules = []
    run = curve["cascade"]
    if run is not None:
        rules += [Rule("x", float(Decimal(r["move"]) * 100), f"round {r['round']} · {move_text(r['move'])}")
                  for r in run["rounds"]]
        rules.append(Rule("x", float(Decimal(run["end"]) * 100),
                          f"end {move_text(run['end'])} · {_price(run['end_price'])}", colour=END_COLOUR))
    return bar_chart(points, title=f"{curve['symbol']}: value seized as {curve['moved']} falls",
                     x_axis=Axis(f"move of {curve['moved']}", tick_text=lambda v: f"{plain_number(v)}%"),
                     y_axis=Axis(f"seized, cumulative ({quote})"), rules=rules)


def points_table(curve: dict[str, Any]) -> str:
    quote = curve["quote"]
    rows = [f'<tr class="step"><td class="num">{escape(move_text(p["move"]))}</td>'
            f'<td class="num">{escape(_price(p["price"]))}</td>'
            f'<td class="num">{p["cumulative"]["positions"]}</td><td class="num">{p["incremental"]["positions"]}</td>'
            f'<td class="num">{escape(_price(p["cumulative"]["seized"]))}</td>'
            f'<td class="num">{escape(money(Decimal(p["cumulative"]["seized_value"]), quote))}</td>'
            f'<td class="num">{escape(money(Decimal(p["cumulative"]["repaid_value"]), quote))}</td></tr>'
            for p in curve["points"]]
    return table(["move", "price", "positions", "new", f"seized ({curve['symbol']})", f"seized ({quote})",
                  f"repaid ({quote})"], rows, numeric=frozenset(range(7)))


def cascade_block(curve: dict[str, Any], asked: bool) -> str:
    """The cascade's rounds and end, or the sentence saying why it was refused; nothing when none was asked."""
    if curve["cascade_refused"]:
        return f'<p class="cascade-refused">Cascade refused: {escape(curve["cascade_refused"])}</p>'
    run = curve["cascade"]
    if run is None:
        return "" if not asked else '<p class="muted">No cascade.</p>'
    unit = run["volume_unit"]
    ending = "the fixed point" if run["converged"] else "capped before a fixed point"
    if run["floored"]:
        ending += "; the sales pushed the price to zero (the linear model ran out)"
    summary = facts([
        ("from", f"{escape(move_text(run['start']))} · {escape(_price(run['start_price']))}"),
        ("to", f'<span class="cascade-end">{escape(move_text(run["end"]))} · {escape(_price(run["end_price"]))}'
               f"</span> ({escape(ending)})"),
        ("depth", f"{escape(money_text(Decimal(run['depth']), unit))} per 1% ({escape(run['depth_key'])})"),
        ("sold", escape(money_text(Decimal(run["volume"]), unit)))])
    rows = [f'<tr class="round"><td class="num">{r["round"]}</td><td class="num">{escape(move_text(r["move"]))}</td>'
            f'<td class="num">{escape(_price(r["price"]))}</td><td class="num">{len(r["positions"])}</td>'
            f'<td class="num">{escape(money(Decimal(r["volume"]), unit))}</td></tr>' for r in run["rounds"]]
    return summary + table(["round", "move", "price", "positions", f"sold ({unit})"], rows,
                           numeric=frozenset(range(5)))


def curve_section(curve: dict[str, Any], asked: bool) -> str:
    moved = "" if curve["moved"] == curve["symbol"] else f" (moves {curve['moved']})"
    intro = (f'<p class="muted">{curve["holders"]} positions hold it · values in {escape(curve["quote"])} · '
             f'{escape(curve["model_note"])}</p>')
    return (f'<section class="curve" data-symbol="{escape(curve["symbol"])}">'
            f"<h2>{escape(curve['symbol'])}{escape(moved)}</h2>{intro}{curve_chart(curve)}"
            f"{cascade_block(curve, asked)}{points_table(curve)}</section>")


def render_market(body: dict[str, Any], asked: bool) -> str:
    head = (f'<h1>Market {escape(body["market"])}</h1><p class="muted">{escape(body["protocol"])} · '
            f'{body["positions"]} stored positions · liquidation curves: what is seized as one collateral\'s price '
            "falls, the others held fixed</p>")
    if not body["curves"]:
        return head + section("Curves", '<p class="muted">No stored position holds collateral.</p>')
    return head + "".join(curve_section(curve, asked) for curve in body["curves"])


@html_errors
async def market_page_handler(request: web.Request) -> web.Response:
    cascade = params.query(request, MarketPageQuery).cascade
    settings = request.app[SETTINGS]
    market = params.path(request, MarketPagePath).market
    if market not in settings.markets:
        raise ApiError(404, f"No market {market!r} in the configuration.")
    result = await run_query(request.app, market_curve, settings=settings, market=market,
                             cascade_from=None if cascade is None else parse_move(cascade))
    return page_response(f"Market {market}", render_market(result.as_json(), cascade is not None))
