"""``GET /positions/{chain}/{market}/{account}``: one position as a page — its health history, its legs, where each
price it rests on liquidates it, and what it takes to be safe. The figures are the API's
(``/v1/positions/{chain}/{market}/{account}`` and its ``/history``), read from the store the same way."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import Engine

from indexer.api import params, shapes
from indexer.api.charts import Axis, Point, Rule, line_chart
from indexer.api.dashboard import money, status_tag
from indexer.api.errors import ApiError
from indexer.api.keys import SETTINGS
from indexer.api.models import DEFAULT_POINTS, NoQuery, PositionPagePath
from indexer.api.pages.layout import (
    exact,
    facts,
    html_errors,
    market_link,
    owner_link,
    page_response,
    safety_table,
    section,
    table,
)
from indexer.api.store import run_with_engine
from indexer.display import distance_text, health_text, price_text, short_address
from indexer.health.nearest import NearestLiquidation, points_of
from indexer.health.perps import PerpLine, perp_lines
from indexer.history import history
from indexer.protocols.registry import rules_for
from indexer.risk.safety import SafetyPlan, to_be_safe
from indexer.store.position_store import HistoryWindow, list_positions, position_legs
from indexer.store.views import PositionView, base_to_decimal
from indexer.types import Leg

if TYPE_CHECKING:
    from indexer.settings import Settings

log = logging.getLogger(__name__)

HEALTH_CAP = 3.0  # the chart's y axis stops here: a health of 40 would flatten everything near the line


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionPage:
    """What the page shows; ``points``, ``plan`` and ``perps`` are empty / None for a market no longer configured
    (``configured`` False)."""

    view: PositionView
    legs: list[Leg]
    history: HistoryWindow
    points: list[NearestLiquidation]  # every price dependency's liquidation point, nearest first
    plan: SafetyPlan | None
    perps: list[PerpLine]
    configured: bool


def read_position(engine: Engine, *, settings: Settings, chain: str, market: str, account: str
                  ) -> PositionPage | None:
    """The stored position with its legs and history (downsampled as the API's default), and what its protocol's
    rules say of it; None when no such position is stored."""
    found = list_positions(engine, account=account, chain=chain, market=market)
    if not found:
        return None
    view = found[0]
    legs = position_legs(engine, snapshot_id=view.snapshot_id)
    rules = rules_for(settings, view.market)
    window = history(engine, rules, chain=chain, market=market, account=account, points=DEFAULT_POINTS)
    snapshot = view.snapshot(legs)
    return PositionPage(
        view=view, legs=legs, history=window, configured=rules is not None,
        points=points_of(view, rules, snapshot),
        plan=None if rules is None else to_be_safe(rules, snapshot, settings.risk.target_health),
        perps=perp_lines(rules, snapshot))


def _summary(page: PositionPage) -> str:
    v = page.view
    if v.liquidatable:
        verdict = ' <span class="tag bad">LIQUIDATABLE</span>'
    elif v.health is not None and v.health < 1:
        verdict = ' <span class="tag warn">under 1, held: not liquidatable yet</span>'
    else:
        verdict = ""
    health = (f'<span class="big">{escape(health_text(v.health))}</span> '
              f'<span class="muted">exact <span class="exact-health">{escape(exact(v.health))}</span></span>{verdict}')
    rows = [("health", health), ("prices", status_tag(v.price_status)),
            ("market", f'{market_link(v.market)} <span class="muted">{escape(v.protocol)} on {escape(v.chain)}</span>'),
            ("owner", owner_link(v.owner, v.wallet_label) + ("" if v.wallet_label is None else
                                                             f' <span class="muted">{escape(v.owner)}</span>')),
            ("margin", escape(v.margin_mode)),
            ("collateral", escape(money(v.collateral, v.quote))), ("debt", escape(money(v.debt, v.quote))),
            ("equity", escape(money(base_to_decimal(v.equity, v.quote_unit), v.quote))),
            ("requirement", escape(money(base_to_decimal(v.requirement, v.quote_unit), v.quote))),
            ("block", f'{v.block_number} <span class="muted">{escape(v.block_hash)}</span>')]
    rows += [("note", escape(note)) for note in v.notes]
    return (f'<h1>Position <span title="{escape(v.account)}">{escape(short_address(v.account))}</span></h1>'
            f'<p class="muted">{escape(v.account)}</p>' + facts(rows))


def history_chart(window: HistoryWindow) -> str:
    """Health per stored snapshot (or block derived from one), by block; nothing owed is drawn at the top."""
    if not window.rows:
        return '<p class="muted">No stored history.</p>'
    points = [Point(x=float(row.block_number), y=math.inf if row.health is None else float(row.health),
                    tip=f"block {row.block_number} · health {health_text(row.health)} · {row.price_status}"
                        + (f" · derived from block {row.stored_block}" if row.derived else ""))
              for row in window.rows]
    chart = line_chart(points, title="health by block", x_axis=Axis("block", tick_text=lambda v: f"{int(v):,}"),
                       y_axis=Axis("health", cap=HEALTH_CAP), rules=[Rule("y", 1.0, "liquidation line")])
    shown = f"{len(window.rows)} snapshots" if window.total == len(window.rows) else \
        f"{len(window.rows)} of {window.total} snapshots, evenly spaced"
    return f'{chart}<p class="muted">{escape(shown)}; above {HEALTH_CAP:g} drawn at the top.</p>'


def legs_table(view: PositionView, legs: list[Leg]) -> str:
    """Each leg with the API's exact figures (``shapes.leg``): amount, price and value in the position's quote."""
    if not legs:
        return '<p class="muted">No legs: the position holds and owes nothing.</p>'
    rows = []
    for g in legs:
        shape = shapes.leg(g, view.quote_unit)
        source = g.feed or ("venue" if g.price_time is not None else "protocol")
        shown = short_address(source) if source.startswith("0x") else source
        rows.append(f'<tr class="leg"><td title="{escape(g.asset)}">{escape(g.symbol)}</td><td>{escape(g.role.value)}'
                    f'</td><td class="num">{escape(shape["amount"])}</td><td class="num">{escape(shape["price"])}</td>'
                    f'<td class="num">{escape(shape["value"])}</td><td>{escape(g.price_key)}</td>'
                    f'<td title="{escape(source)}">{escape(shown)}</td></tr>')
    return table(["asset", "role", "amount", "price", f"value ({view.quote})", "price key", "price from"], rows,
                 numeric=frozenset({2, 3, 4}))


def points_table(page: PositionPage) -> str:
    """Each price the position rests on: the last price at which it is not liquidatable, the others held fixed."""
    if not page.configured:
        return '<p class="muted">The market is no longer configured: its rules are not known here.</p>'
    if not page.points:
        return '<p class="muted">No single price liquidates it (nothing owed, or no reachable point).</p>'
    rows = []
    for i, p in enumerate(page.points):
        nearest = ' <span class="tag warn">nearest</span>' if i == 0 else ""
        rows.append(f'<tr class="point"><td>{escape(p.symbol)}{nearest}</td><td>{escape(p.key)}</td>'
                    f"<td>{'below' if p.falling else 'above'}</td>"
                    f'<td class="num" title="{escape(exact(p.price))}">{escape(price_text(p.price))}</td>'
                    f'<td class="num" title="{escape(exact(p.current))}">{escape(price_text(p.current))}</td>'
                    f'<td class="num">{escape(distance_text(p.distance))}</td></tr>')
    return table(["asset", "price key", "liquidates", "price", "now", "move"], rows, numeric=frozenset({3, 4, 5}))


def perps_table(lines: list[PerpLine], quote: str) -> str:
    rows = [f"<tr><td>{escape(line.side)}</td><td>{escape(line.symbol)}</td>"
            f'<td class="num">{escape(exact(line.size))}</td><td class="num">{escape(price_text(line.mark))}</td>'
            f'<td class="num">{escape("-" if line.entry is None else price_text(line.entry))}</td>'
            f'<td class="num">{escape("-" if line.pnl is None else money(line.pnl, quote))}</td>'
            f'<td class="num">{escape("-" if line.liquidation is None else price_text(line.liquidation))}</td></tr>'
            for line in lines]
    return table(["side", "asset", "size", "mark", "entry", "unrealized PnL", "liquidation"], rows,
                 numeric=frozenset({2, 3, 4, 5, 6}))


def render_position(page: PositionPage) -> str:
    target = exact(page.plan.target) if page.plan is not None else "-"
    body = (_summary(page) + section("Health history", history_chart(page.history))
            + section("Legs", legs_table(page.view, page.legs)))
    if page.perps:
        body += section("Perps", perps_table(page.perps, page.view.quote))
    body += section("Liquidation prices", points_table(page))
    body += section(f"What it takes to be safe (health {target})", safety_table(page.plan, page.view.health))
    return body


def _key(request: web.Request) -> tuple[str, str, str]:
    key = params.path(request, PositionPagePath)
    return key.chain, key.market, key.account


@html_errors
async def position_page_handler(request: web.Request) -> web.Response:
    params.query(request, NoQuery)
    chain, market, account = _key(request)
    settings = request.app[SETTINGS]
    page = await run_with_engine(request.app, lambda engine: read_position(
        engine, settings=settings, chain=chain, market=market, account=account))
    if page is None:
        raise ApiError(404, f"No stored position of {account} on {market} ({chain}).")
    return page_response(f"Position {short_address(page.view.account)} · {page.view.market}", render_position(page))
