"""``GET /wallets/{address}``: one wallet's positions across markets and chains as a page — riskiest first, its
books per quote currency, the price move that first liquidates anything, what it takes to make each position safe,
and the value at risk of the whole book. The figures are ``GET /v1/wallets/{address}/risk``'s
(``indexer.risk.wallet.wallet_risk``)."""

from __future__ import annotations

import logging
from html import escape
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import Engine

from indexer.api import params
from indexer.api.dashboard import money
from indexer.api.keys import SETTINGS
from indexer.api.models import AddressPath, NoQuery
from indexer.api.pages.layout import (
    POSITION_HEAD,
    account_link,
    exact,
    facts,
    html_errors,
    market_link,
    page_response,
    position_row,
    safety_table,
    section,
    table,
)
from indexer.api.store import run_with_engine
from indexer.display import distance_text, health_text, price_text, short_address
from indexer.risk.wallet import WalletRisk, wallet_risk
from indexer.store.wallet_store import list_wallets

if TYPE_CHECKING:
    from indexer.settings import Settings

log = logging.getLogger(__name__)

HORIZON = "1d"  # the VaR horizon of the page (the API takes others)


def read_wallet(engine: Engine, *, settings: Settings, wallet: str) -> tuple[WalletRisk, str | None]:
    """The wallet's risk and its label (None when it is not tracked, or has none)."""
    risk = wallet_risk(engine, settings=settings, wallet=wallet, horizon=HORIZON)
    label = next((w.label for w in list_wallets(engine) if w.address == wallet), None)
    return risk, label


def _summary(risk: WalletRisk, label: str | None) -> str:
    named = "" if label is None else f' <span class="muted wallet-label">{escape(label)}</span>'
    rows = [("positions", str(len(risk.positions))), ("liquidatable", str(risk.liquidatable)),
            ("lowest health", escape(health_text(risk.min_health))), ("target", escape(exact(risk.target)))]
    return (f'<h1>Wallet <span title="{escape(risk.wallet)}">{escape(short_address(risk.wallet))}</span>{named}</h1>'
            f'<p class="muted">{escape(risk.wallet)}</p>' + facts(rows))


def first_liquidation(risk: WalletRisk) -> str:
    first = risk.first_liquidation
    if first is None or first.nearest is None:
        return '<p class="muted">No single price move liquidates any of its positions.</p>'
    p = first.nearest
    side = "falls to" if p.falling else "rises to"
    return (f'<p class="first-liquidation">When {escape(p.symbol)} {side} {escape(price_text(p.price))} '
            f"(a {escape(distance_text(p.distance))} move from {escape(price_text(p.current))}), "
            f"{account_link(first.view)} on {market_link(first.view.market)} is liquidatable: the first of its "
            "positions to go.</p>")


def positions_table(risk: WalletRisk) -> str:
    if not risk.positions:
        return '<p class="muted">No stored position of this wallet.</p>'
    rows = [position_row(p.view, p.nearest) for p in risk.positions]
    return table(POSITION_HEAD, rows, numeric=frozenset({0, 3, 4}))


def books_table(risk: WalletRisk) -> str:
    if not risk.books:
        return '<p class="muted">No book.</p>'
    rows = [f'<tr><td>{escape(b.quote)}</td><td class="num">{b.positions}</td>'
            f'<td class="num">{escape(money(b.collateral, b.quote))}</td>'
            f'<td class="num">{escape(money(b.debt, b.quote))}</td><td class="num">{escape(money(b.net, b.quote))}</td>'
            "</tr>" for b in risk.books.values()]
    return table(["quote", "positions", "collateral", "debt", "net"], rows, numeric=frozenset({1, 2, 3, 4}))


def safety_sections(risk: WalletRisk) -> str:
    """Per position, what it takes to bring it to the target."""
    if not risk.positions:
        return '<p class="muted">No stored position of this wallet.</p>'
    parts = []
    for p in risk.positions:
        parts.append(f'<div class="to-be-safe" data-account="{escape(p.view.account)}">'
                     f"<h3>{account_link(p.view)} on {market_link(p.view.market)} · health "
                     f"{escape(health_text(p.view.health))}</h3>{safety_table(p.safety, p.view.health)}</div>")
    return "".join(parts)


def var_block(risk: WalletRisk) -> str:
    """VaR and ES per quote currency from ``VarResult.as_json``; the reason, plainly, when there is no figure."""
    if risk.var is None:
        return '<p class="muted">No position: no value at risk.</p>'
    var = risk.var.as_json()
    if var["insufficient"]:
        return f'<p class="var-insufficient">{escape(var["insufficient"])}</p>'
    window = var["window"] or {}
    intro = (f'<p class="muted">Horizon {escape(var["horizon"])} · {var["scenarios"]} scenarios'
             f'{" from " + escape(window["first_utc"]) + " to " + escape(window["last_utc"]) if window else ""}'
             " · historical simulation and parametric (EWMA).</p>")
    rows = []
    for quote in var["quotes"]:
        rows += _var_rows(quote)
    return intro + table(["quote", "method", "level", "VaR", "ES", "health in the scenario"], rows,
                         numeric=frozenset({2, 3, 4, 5}))


def _var_rows(quote: dict[str, Any]) -> list[str]:
    rows = []
    name = quote["quote"]
    methods = [("historical", quote["historical"] or []),
               ("parametric", (quote["parametric"] or {}).get("levels", []))]
    for method, levels in methods:
        for level in levels:
            rows.append(f"<tr><td>{escape(name)}</td><td>{method}</td><td class=\"num\">{escape(level['level'])}</td>"
                        f'<td class="num">{escape(level["var"])}</td><td class="num">{escape(level["es"])}</td>'
                        f'<td class="num">{escape(level["health"] or "∞")}</td></tr>')
    if not rows:
        rows.append(f'<tr><td>{escape(name)}</td><td colspan="5" class="muted">no figure</td></tr>')
    return rows


def render_wallet(risk: WalletRisk, label: str | None) -> str:
    return (_summary(risk, label) + section("First liquidation", first_liquidation(risk))
            + section("Positions (riskiest first)", positions_table(risk))
            + section("Books per quote currency", books_table(risk))
            + section(f"What it takes to be safe (health {exact(risk.target)})", safety_sections(risk))
            + section(f"Value at risk ({HORIZON})", var_block(risk)))


@html_errors
async def wallet_page_handler(request: web.Request) -> web.Response:
    params.query(request, NoQuery)
    wallet = params.path(request, AddressPath).address
    settings = request.app[SETTINGS]
    risk, label = await run_with_engine(request.app, lambda engine: read_wallet(engine, settings=settings,
                                                                                 wallet=wallet))
    return page_response(f"Wallet {short_address(wallet)}", render_wallet(risk, label))
