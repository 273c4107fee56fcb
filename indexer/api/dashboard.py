"""The dashboard at ``/``: one server-rendered page (no scripts), refreshed by a meta refresh.

Every value that comes from the store goes through ``html.escape``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import Engine

from indexer.api import params
from indexer.api.keys import CONFIG, SETTINGS
from indexer.api.models import NoQuery
from indexer.api.pages.links import market_href, position_href, wallet_href
from indexer.api.shapes import self_check_status
from indexer.api.store import run_with_engine
from indexer.display import distance_text, health_text, price_text, short_address
from indexer.health.nearest import NearestLiquidation, stored_liquidations
from indexer.health.perps import PerpLine, stored_perp_lines
from indexer.store.alert_store import list_alerts
from indexer.store.feed_store import list_oracles
from indexer.store.position_store import list_markets, list_positions
from indexer.store.summary import BUCKET_LABELS, StoreMetrics, store_metrics
from indexer.store.views import OracleView, PositionView

if TYPE_CHECKING:
    from indexer.settings import Settings

AT_RISK = Decimal("1.5")  # positions at or below this health are listed (the chart's top bucket starts here)
AT_RISK_ROWS = 25
RECENT_ALERTS = 10
BUCKET_COLOURS = ("#c62828", "#ef6c00", "#f9a825", "#7cb342", "#2e7d32", "#90a4ae")
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")

STYLE = """
:root{color-scheme:light dark;--fg:#1b1f23;--muted:#5f6b76;--bg:#fff;--line:#e3e6ea;--card:#f6f8fa}
@media(prefers-color-scheme:dark){:root{--fg:#e6e9ec;--muted:#9aa5b1;--bg:#111417;--line:#2a3036;--card:#1a1f24}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:12px}
h1{font-size:1.3em;margin:.2em 0}
h2{font-size:1.05em;margin:1.2em 0 .4em}
.muted{color:var(--muted)}
.chains{display:flex;flex-wrap:wrap;gap:6px;margin:.4em 0}
.pill{border:1px solid var(--line);border-radius:999px;padding:2px 10px;font-size:.85em}
.pill.bad{border-color:#c62828;color:#c62828}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(105px,1fr));gap:6px}
.card{background:var(--card);border-radius:8px;padding:6px 10px;font-size:.85em}
.card b{display:block;font-size:1.5em;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{font-size:.8em;color:var(--muted);font-weight:600}
td.num,th.num{text-align:right}
td.h{font-weight:700}
.liq td.h{color:#c62828}.crit td.h{color:#ef6c00}.warn td.h{color:#b28704}
.tag{font-size:.75em;padding:1px 6px;border-radius:4px;background:var(--card)}
.tag.bad{background:#c62828;color:#fff}.tag.warn{background:#f9a825;color:#000}
a{color:inherit}
svg{width:100%;height:auto;max-width:560px;display:block}
svg text{fill:currentColor;font-size:15px}
svg.chart .tick{font-size:11px}svg.chart .axis-title{font-size:12px}svg.chart .rule-label{font-size:11px}
svg.chart .grid{stroke:var(--line)}svg.chart .axis{stroke:var(--muted)}
svg.chart .rule{stroke-width:1.5;stroke-dasharray:5 3}svg.chart .bar:hover,svg.chart .marker:hover{opacity:.7}
.big{font-size:1.6em;font-weight:700}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.4em 0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
@media(max-width:640px){.wide{display:none}body{font-size:14px}th,td{padding:5px 4px}main{padding:8px}}
"""


@dataclass(frozen=True, slots=True)
class DashboardData:
    positions: list[PositionView]
    metrics: StoreMetrics
    oracles: list[OracleView]
    alerts: list[dict[str, Any]]
    unverified: list[str] = field(default_factory=list)  # markets whose self-check found a disagreement
    liquidations: dict[int, NearestLiquidation | None] = field(default_factory=dict)  # by snapshot id
    perps: dict[int, list[PerpLine]] = field(default_factory=dict)  # by snapshot id


def read_dashboard(engine: Engine, chains: list[str], settings: Settings | None = None) -> DashboardData:
    """What the page shows; with ``settings``, each at-risk position's nearest liquidation price and perps too."""
    positions = list_positions(engine, max_health=AT_RISK, limit=AT_RISK_ROWS)
    return DashboardData(
        positions=positions,
        liquidations={} if settings is None else stored_liquidations(engine, settings=settings, views=positions),
        perps={} if settings is None else stored_perp_lines(engine, settings=settings, views=positions),
        metrics=store_metrics(engine, chains=chains),
        oracles=list_oracles(engine, not_fresh=True),
        alerts=list_alerts(engine, limit=RECENT_ALERTS),
        unverified=[f"{m.chain}/{m.key}" for m in list_markets(engine)
                    if self_check_status(m.checked_block, m.mismatch_block) == "UNVERIFIED"],
    )


def _age(seconds: int | float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def money(amount: Decimal, quote: str) -> str:
    """Whole units, rounded down, for the tables (the API has the exact figures); dollars without a name."""
    return f"{int(amount):,}" if quote == "USD" else f"{int(amount):,} {quote}"


def health_class(health: Decimal | None) -> str:
    if health is None:
        return ""
    if health < 1:
        return "liq"
    if health < Decimal("1.05"):
        return "crit"
    return "warn" if health < Decimal("1.1") else ""


def status_tag(status: str) -> str:
    kind = "" if status == "FRESH" else ("warn" if status in ("STALE", "SEQUENCER_GRACE", "UNKNOWN") else "bad")
    return f'<span class="tag {kind}">{escape(status)}</span>'


def _chains(data: DashboardData, now: float, max_lag: int) -> str:
    pills = []
    for head in data.metrics.heads:
        if head.block_timestamp is None:
            pills.append(f'<span class="pill bad">{escape(head.chain)}: nothing stored yet</span>')
            continue
        age = max(0, int(now) - head.block_timestamp)
        cls = "pill bad" if age > max_lag else "pill"
        pills.append(f'<span class="{cls}">{escape(head.chain)} · block {head.block_number} · {_age(age)} ago</span>')
    return f'<div class="chains">{"".join(pills)}</div>'


def _bucket_counts(metrics: StoreMetrics) -> dict[str, int]:
    counts = dict.fromkeys(BUCKET_LABELS, 0)
    for _, _, bucket, n in metrics.health_buckets:
        counts[bucket] += n
    return counts


def _cards(data: DashboardData, counts: dict[str, int]) -> str:
    total = sum(counts.values())
    open_alerts = sum(n for *_, n in data.metrics.open_alerts)
    figures = [("positions", total), ("below 1.0", counts["<1"]), ("below 1.1", counts["<1"] + counts["1-1.05"]
               + counts["1.05-1.1"]), ("feeds not fresh", len(data.oracles)), ("open alerts", open_alerts),
               ("markets UNVERIFIED", len(data.unverified))]
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{n}</b><span class="muted">{escape(label)}</span></div>' for label, n in figures
    ) + "</div>"


def health_chart(counts: dict[str, int]) -> str:
    """An inline SVG bar chart of positions per health bucket."""
    width, height, top, bottom = 420, 190, 24, 30
    slot = width / len(BUCKET_LABELS)
    tallest = max(counts.values(), default=0) or 1
    bars = []
    for i, (label, colour) in enumerate(zip(BUCKET_LABELS, BUCKET_COLOURS, strict=True)):
        n = counts.get(label, 0)
        h = (height - top - bottom) * n / tallest
        x = i * slot + slot * 0.15
        y = height - bottom - h
        centre = i * slot + slot / 2
        name = "no debt" if label == "no_debt" else label
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{colour}" rx="3">'
            f"<title>{escape(name)}: {n}</title></rect>"
            f'<text x="{centre:.1f}" y="{y - 5:.1f}" text-anchor="middle">{n}</text>'
            f'<text x="{centre:.1f}" y="{height - 8}" text-anchor="middle">{escape(name)}</text>')
    return (f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="positions per health bucket">'
            + "".join(bars) + "</svg>")


def liquidation_cell(point: NearestLiquidation | None) -> str:
    if point is None:
        return "-"
    return escape(f"{point.symbol} {'<' if point.falling else '>'} {price_text(point.price)} "
                  f"({distance_text(point.distance)})")


def _perp_cell(lines: list[PerpLine]) -> str:
    """The largest perp of a perp account (``long 3000 BTC @ 42,000``), its others as a count; empty for lending."""
    if not lines:
        return ""
    top = lines[0]
    more = f" +{len(lines) - 1}" if len(lines) > 1 else ""
    return (f'<br><span class="muted">{escape(top.side)} {escape(format(top.size.normalize(), "f"))} '
            f'{escape(top.symbol)} @ {escape(price_text(top.mark))}{more}</span>')


def _positions_table(rows: list[PositionView], liquidations: dict[int, NearestLiquidation | None] | None = None,
                     perps: dict[int, list[PerpLine]] | None = None) -> str:
    if not rows:
        return f'<p class="muted">No position has health at or below {AT_RISK}.</p>'
    head = ('<tr><th class="num">health</th><th>account</th><th class="wide">market</th>'
            '<th class="num">collateral $</th><th class="num">debt $</th><th>liquidation</th><th>prices</th>'
            '<th class="num wide">block</th></tr>')
    body = []
    for p in rows:
        link = escape(position_href(p.chain, p.market, p.account))
        owner = escape(p.wallet_label or ("wallet" if p.owner == p.account else short_address(p.owner)))
        label = (f' <a class="muted wide" href="{escape(wallet_href(p.owner))}" title="{escape(p.owner)}">'
                 f"{owner}</a>")
        # the position's cross-protocol remarks (held from liquidation, unverified math) as tags with the reason
        marks = "".join(f' <span class="tag warn" title="{escape(note)}">{escape(note.split(":", 1)[0])}</span>'
                        for note in p.notes)
        body.append(
            f'<tr class="{health_class(p.health)}"><td class="num h">{escape(health_text(p.health))}{marks}</td>'
            f'<td><a href="{link}" title="{escape(p.account)}">{escape(short_address(p.account))}</a>{label}'
            f'{_perp_cell((perps or {}).get(p.snapshot_id, []))}</td>'
            f'<td class="wide"><a href="{escape(market_href(p.market))}">{escape(p.market)}</a></td>'
            f'<td class="num">{escape(money(p.collateral, p.quote))}</td>'
            f'<td class="num">{escape(money(p.debt, p.quote))}</td>'
            f'<td>{liquidation_cell((liquidations or {}).get(p.snapshot_id))}</td>'
            f'<td>{status_tag(p.price_status)}</td>'
            f'<td class="num wide">{p.block_number}</td></tr>')
    return f'<div class="scroll"><table>{head}{"".join(body)}</table></div>'


def _oracles_table(rows: list[OracleView]) -> str:
    if not rows:
        return '<p class="muted">Every feed is FRESH.</p>'
    head = ('<tr><th>status</th><th>asset</th><th class="num">age</th><th class="num">heartbeat</th>'
            '<th class="wide">why</th></tr>')
    body = [f"<tr><td>{status_tag(o.status)}</td><td>{escape(o.symbol or o.kind)} "
            f'<span class="muted wide">{escape(o.chain)}</span></td><td class="num">{_age(o.age)}</td>'
            f'<td class="num">{_age(o.heartbeat)}</td><td class="wide">{escape(o.reason)}</td></tr>' for o in rows]
    return f'<div class="scroll"><table>{head}{"".join(body)}</table></div>'


def _alerts_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">No alerts.</p>'
    head = ('<tr><th>severity</th><th>account</th><th class="num">health</th><th>status</th>'
            '<th class="wide">family</th><th class="num wide">block</th></tr>')
    body = []
    for a in rows:
        severe = a["status"] == "open" and a["severity"] in ("LIQUIDATABLE", "CRITICAL", "INVALID", "SEQUENCER_DOWN")
        tag = "bad" if severe else ("warn" if a["status"] == "open" else "")
        body.append(
            f'<tr><td><span class="tag {tag}">{escape(a["severity"])}</span></td>'
            f'<td title="{escape(a["account"])}">{escape(short_address(a["account"]))}</td>'
            f'<td class="num">{escape(health_text(a["health"]))}</td><td>{escape(a["status"])}</td>'
            f'<td class="wide">{escape(a["family"])}</td><td class="num wide">{a["updated_block"]}</td></tr>')
    return f'<div class="scroll"><table>{head}{"".join(body)}</table></div>'


def render(data: DashboardData, *, now: float, refresh: int, max_lag: int) -> str:
    counts = _bucket_counts(data.metrics)
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{int(refresh)}">
<title>Position health</title><style>{STYLE}</style></head>
<body><main>
<h1>Position health</h1>
{_chains(data, now, max_lag)}
{_cards(data, counts)}
<h2>At-risk positions <span class="muted">(health ≤ {AT_RISK}, riskiest first)</span></h2>
{_positions_table(data.positions, data.liquidations, data.perps)}
<h2>Health distribution</h2>
{health_chart(counts)}
<h2>Oracles not fresh</h2>
{_oracles_table(data.oracles)}
<h2>Recent alerts</h2>
{_alerts_table(data.alerts)}
<p class="muted">Generated {escape(generated)} · refreshes every {int(refresh)} s ·
<a href="/v1/positions">JSON API</a> · <a href="/metrics">metrics</a> · <a href="/openapi.json">OpenAPI</a></p>
</main></body></html>
"""


async def dashboard_handler(request: web.Request) -> web.Response:
    params.query(request, NoQuery)
    config = request.app[CONFIG]
    settings = request.app[SETTINGS]
    data = await run_with_engine(request.app, lambda engine: read_dashboard(engine, settings.all_chains, settings))
    page = render(data, now=time.time(), refresh=config.dashboard_refresh_seconds, max_lag=config.max_lag_seconds)
    return web.Response(text=page, content_type="text/html",
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})
