"""What the detail pages share: the HTML document around a page's body, its response (the dashboard's CSP), error
pages, and the pieces more than one page shows (a position's row, what it takes to be safe).

Every value that comes from the store or the configuration goes through ``html.escape`` here or in the page.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from html import escape

from aiohttp import web

from indexer.api.dashboard import CSP, STYLE, health_class, liquidation_cell, money, status_tag
from indexer.api.errors import ApiError, BadParameter
from indexer.api.pages.links import market_href, position_href, wallet_href
from indexer.display import health_text, short_address
from indexer.health.nearest import NearestLiquidation
from indexer.risk.safety import SafetyPlan, SafetyStep
from indexer.store.views import PositionView
from indexer.types import scaled

log = logging.getLogger(__name__)

PageHandler = Callable[[web.Request], Awaitable[web.Response]]
ERROR_TITLES = {400: "Bad request", 404: "Not found"}


def document(title: str, body: str) -> str:
    """A whole page: ``title`` is plain text (escaped here), ``body`` is markup the page escaped already."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{STYLE}</style></head>
<body><main>
<p class="muted"><a href="/">← dashboard</a></p>
{body}
</main></body></html>
"""


def page_response(title: str, body: str, *, status: int = 200) -> web.Response:
    return web.Response(text=document(title, body), status=status, content_type="text/html",
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def error_page(status: int, message: str) -> web.Response:
    title = ERROR_TITLES.get(status, "Error")
    return page_response(f"{status} {title}", f"<h1>{status} · {escape(title)}</h1><p>{escape(message)}</p>",
                         status=status)


def html_errors(handler: PageHandler) -> PageHandler:
    """A page's refusals as pages (a person followed a link, not a client): a parameter it cannot use answers a
    400 page, a refusal with a status (no such position) a page with that status. Anything else is left to the
    error middleware (a 500 without a trace)."""

    @functools.wraps(handler)
    async def page(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except BadParameter as exc:
            log.debug("page %s refused: %s", request.path, exc.message)
            return error_page(400, exc.message)
        except ApiError as exc:
            return error_page(exc.status, exc.message)

    return page


def section(title: str, content: str) -> str:
    """An ``<h2>`` (``title`` is escaped here) followed by ``content`` (markup)."""
    return f"<h2>{escape(title)}</h2>\n{content}\n"


def facts(rows: list[tuple[str, str]]) -> str:
    """A list of ``(name, markup)`` pairs; the names are escaped here."""
    return '<dl class="facts">' + "".join(f"<dt>{escape(name)}</dt><dd>{value}</dd>" for name, value in rows) + "</dl>"


def table(head: list[str], rows: list[str], *, numeric: frozenset[int] = frozenset()) -> str:
    """A scrolling table: ``head`` names (escaped here; the ``numeric`` columns right-aligned), ``rows`` markup."""
    cells = "".join(f'<th class="num">{escape(name)}</th>' if i in numeric else f"<th>{escape(name)}</th>"
                    for i, name in enumerate(head))
    return f'<div class="scroll"><table><tr>{cells}</tr>{"".join(rows)}</table></div>'


def exact(value: Decimal | None) -> str:
    """An exact figure as the API writes it (``format(value, "f")``); ``-`` for none."""
    return "-" if value is None else format(value, "f")


def link(href: str, text: str, *, title: str | None = None) -> str:
    hint = "" if title is None else f' title="{escape(title)}"'
    return f'<a href="{escape(href)}"{hint}>{escape(text)}</a>'


def account_link(view: PositionView) -> str:
    return link(position_href(view.chain, view.market, view.account), short_address(view.account), title=view.account)


def market_link(market: str) -> str:
    return link(market_href(market), market)


def owner_link(owner: str, label: str | None = None) -> str:
    return link(wallet_href(owner), label or short_address(owner), title=owner)


def position_row(view: PositionView, nearest: NearestLiquidation | None) -> str:
    """One position in a table of positions (health, account, market, collateral, debt, nearest liquidation,
    prices)."""
    return (f'<tr class="{health_class(view.health)}"><td class="num h">{escape(health_text(view.health))}</td>'
            f"<td>{account_link(view)}</td><td>{market_link(view.market)}</td>"
            f'<td class="num">{escape(money(view.collateral, view.quote))}</td>'
            f'<td class="num">{escape(money(view.debt, view.quote))}</td>'
            f"<td>{liquidation_cell(nearest)}</td><td>{status_tag(view.price_status)}</td></tr>")


POSITION_HEAD = ["health", "account", "market", "collateral", "debt", "nearest liquidation", "prices"]


def step_amount(step: SafetyStep) -> str:
    """The step's amount in whole tokens, exactly (``scaled(amount, decimals)``); empty when no amount reaches it."""
    return "" if step.amount is None else format(scaled(step.amount, step.decimals), "f")


def safety_table(plan: SafetyPlan | None, health: Decimal | None) -> str:
    """What it takes to be safe: each step on its own (repay a debt or add a collateral), its exact amount and the
    health it gives; or why there is nothing to do."""
    if plan is None:
        return '<p class="muted">The market is no longer configured: its rules are not known here.</p>'
    if health is None:
        return '<p class="muted">Nothing owed: nothing to do.</p>'
    if not plan.steps and not plan.unmodelled:
        return f'<p class="muted">Health {escape(health_text(health))} is at or above the target ' \
               f"{escape(exact(plan.target))} already.</p>"
    rows = []
    for step in plan.steps:
        amount = step_amount(step) or "no amount of this alone reaches the target"
        rounding = "the protocol's own" if step.exact else "plain units"
        rows.append(f'<tr class="step"><td>{escape(step.action)}</td>'
                    f'<td title="{escape(step.asset)}">{escape(step.symbol)}'
                    f'{"" if step.into is None else " into " + escape(step.into)}</td>'
                    f'<td class="num amount">{escape(amount)}</td>'
                    f'<td class="num">{escape(health_text(step.health_after))}</td><td>{escape(rounding)}</td></tr>')
    out = table(["do", "asset", "amount", "health after", "rounding"], rows, numeric=frozenset({2, 3}))
    if plan.unmodelled:
        out += (f'<p class="muted">No amount for {escape(", ".join(plan.unmodelled))}: the local math does not '
                "take these legs' amounts.</p>")
    return out
