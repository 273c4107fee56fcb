"""Every route of the API, once: its method and path, its handler, the models of what it takes and answers, and
the words of its documentation. ``app.add_routes`` registers exactly these and ``openapi.document`` is generated
from them, so the two cannot drift; a handler parses its inputs with the models declared here
(``params.query``/``path``/``body`` check that the model it asks for is the one declared).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from indexer.api import dashboard, docs, health, metrics, models, openapi, positions, reads, risk, silences, wallets
from indexer.api.errors import Handler
from indexer.api.pages import market as market_page
from indexer.api.pages import position as position_page
from indexer.api.pages import wallet as wallet_page

JSON, HTML, TEXT, ASSET = "application/json", "text/html", "text/plain", "asset"


@dataclass(frozen=True)
class Reply:
    """One documented response: a JSON body of ``model``, or another kind of content."""

    description: str
    model: type[BaseModel] | None = models.Error
    media: str = JSON


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    replies: Mapping[int, Reply]
    query: type[BaseModel] = models.NoQuery
    params: type[BaseModel] | None = None  # the path's parameters
    body: type[BaseModel] | None = None
    body_required: bool = True
    body_example: dict[str, Any] | None = None
    secured: bool = False  # needs the bearer token


BAD = Reply("a parameter cannot be used (`parameter` names it)")
FAILED = Reply("internal error (details are in the server log, never in the response)")
UNAUTHORIZED = Reply("missing or wrong bearer token")
DISABLED = Reply("no token is configured on the server: changes over the API are disabled")
NO_MARKET = Reply("no such market in the configuration")
CHANGES = {401: UNAUTHORIZED, 403: DISABLED}


def _ok(description: str, model: type[BaseModel]) -> dict[int, Reply]:
    return {200: Reply(description, model), 400: BAD, 500: FAILED}


def _page(**errors: str) -> dict[int, Reply]:
    return {200: Reply("HTML page", None, HTML),
            **{int(status[1:]): Reply(f"{text} (HTML page)", None, HTML) for status, text in errors.items()},
            500: FAILED}


def _asset() -> dict[int, Reply]:
    return {200: Reply("the file", None, ASSET), 404: Reply("not a file the page uses"), 500: FAILED}


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", dashboard.dashboard_handler, "dashboard", "The dashboard (HTML)", _page()),
    Route("GET", "/positions/{chain}/{market}/{account}", position_page.position_page_handler, "positionPage",
          "One position (HTML): health history chart, legs, liquidation prices, what it takes to be safe",
          _page(s400="a path segment cannot be used", s404="no such position"), params=models.PositionPagePath),
    Route("GET", "/wallets/{address}", wallet_page.wallet_page_handler, "walletPage",
          "One wallet (HTML): its positions riskiest first, books, first liquidation, what it takes to be safe, "
          "VaR/ES over 1d", _page(s400="not an address"), params=models.AddressPath),
    Route("GET", "/markets/{market}", market_page.market_page_handler, "marketPage",
          "One market (HTML): the liquidation curve of each collateral asset, optionally with a cascade",
          _page(s400="a parameter cannot be used", s404="no such market in the configuration"),
          query=models.MarketPageQuery, params=models.MarketPagePath),
    Route("GET", "/healthz", health.healthz_handler, "health",
          "Liveness, and how old each chain's latest stored block is",
          {200: Reply("the process and the store answer", models.Health), 400: BAD,
           503: Reply("the store does not answer", models.Unavailable)}),
    Route("GET", "/readyz", health.readyz_handler, "ready",
          "Readiness: the /healthz report, 503 while a chain's data is older than `[api] max_lag_seconds`",
          {200: Reply("every chain is current", models.Health), 400: BAD,
           503: Reply("a chain is behind (the report) or the store does not answer", models.Unavailable),
           500: FAILED}),
    Route("GET", "/metrics", metrics.metrics_handler, "metrics",
          "Prometheus metrics: the store's figures at scrape time and the process's counters",
          {200: Reply("Prometheus text format", None, TEXT), 400: BAD, 500: FAILED}),
    Route("GET", "/openapi.json", openapi.openapi_handler, "openapi", "This document",
          {200: Reply("OpenAPI 3.1", None), 400: BAD, 500: FAILED}),
    Route("GET", "/docs", docs.docs_handler, "docs", "This document as a browsable reference (Swagger UI, HTML)",
          {200: Reply("HTML page", None, HTML), 400: BAD, 500: FAILED}),
    Route("GET", "/docs/ui/{name}", docs.ui_handler, "docsUi",
          "Swagger UI's files the reference page uses (from swagger-ui-py)", _asset(), params=models.DocsUiPath),
    Route("GET", "/docs/static/{name}", docs.static_handler, "docsStatic", "The reference page's start-up script",
          _asset(), params=models.DocsStaticPath),
    Route("GET", "/v1/positions", positions.list_handler, "listPositions",
          "Latest positions, riskiest first (or by debt), paged", _ok("a page of positions", models.PositionPage),
          query=models.PositionsQuery),
    Route("GET", "/v1/positions/{chain}/{market}/{account}", positions.detail_handler, "getPosition",
          "One position with its per-asset detail",
          {**_ok("the position", models.PositionDetail), 404: Reply("no such position")},
          params=models.PositionPath),
    Route("GET", "/v1/positions/{chain}/{market}/{account}/history", positions.history_handler,
          "getPositionHistory", "A position's stored snapshots in a block window, downsampled to at most `points` "
                                "rows",
          {**_ok("the history", models.History), 404: Reply("no such position")},
          query=models.HistoryQuery, params=models.PositionPath),
    Route("GET", "/v1/positions/{chain}/{market}/{account}/at/{block}", positions.at_handler, "getPositionAt",
          "A position's figures at one block: its stored row, or (`[writes] mode = \"accrued\"`) derived exactly "
          "from its last row and the market's state stored at that block",
          {**_ok("the figures", models.PositionAt), 404: Reply("no stored row at or before that block")},
          params=models.PositionAtPath),
    Route("GET", "/v1/wallets", wallets.list_handler, "listWallets", "Tracked wallets",
          _ok("tracked wallets", models.WalletList)),
    Route("POST", "/v1/wallets", wallets.add_handler, "addWallet", "Track a wallet (or update its label and levels)",
          {**_ok("updated", models.Wallet), 201: Reply("now tracked", models.Wallet), **CHANGES},
          body=models.WalletCreate, secured=True,
          body_example={"address": models.EXAMPLE_ACCOUNT, "label": "treasury", "warn": "1.3", "critical": "1.15"}),
    Route("DELETE", "/v1/wallets/{address}", wallets.remove_handler, "removeWallet", "Stop tracking a wallet",
          {204: Reply("no longer tracked", None), 400: BAD, **CHANGES, 404: Reply("not tracked"), 500: FAILED},
          params=models.AddressPath, secured=True),
    Route("GET", "/v1/alerts", reads.alerts_handler, "listAlerts",
          "Alerts, most recently updated first, with events and deliveries", _ok("alerts", models.AlertList),
          query=models.AlertsQuery),
    Route("POST", "/v1/alerts/{alert_id}/ack", silences.ack_handler, "acknowledgeAlert",
          "Acknowledge an open alert: its later de-escalations are not delivered (escalations and its resolution "
          "are)",
          {**_ok("acknowledged (or already)", models.Alert), **CHANGES, 404: Reply("no such alert"),
           409: Reply("the alert is not open")},
          params=models.AlertPath, body=models.AckRequest, body_required=False, body_example={"by": "ops"},
          secured=True),
    Route("GET", "/v1/silences", silences.list_handler, "listSilences",
          "Silences in force (all: also the ended ones)", _ok("silences", models.SilenceList),
          query=models.SilencesQuery),
    Route("POST", "/v1/silences", silences.add_handler, "addSilence",
          "Hold back the deliveries of matching events (chain, market, wallet: every one given must match) for "
          "`seconds`; they are stored with status `silenced`",
          {201: Reply("the silence", models.Silence), 400: BAD, **CHANGES, 404: NO_MARKET, 500: FAILED},
          body=models.SilenceCreate, secured=True,
          body_example={"market": "devnet-aave-v3", "seconds": 3600, "reason": "maintenance"}),
    Route("DELETE", "/v1/silences/{silence_id}", silences.remove_handler, "removeSilence", "End a silence now",
          {204: Reply("removed", None), 400: BAD, **CHANGES, 404: Reply("no such silence"), 500: FAILED},
          params=models.SilencePath, secured=True),
    Route("GET", "/v1/oracles", reads.oracles_handler, "listOracles",
          "Price feeds with the verdict on their latest reading", _ok("feeds", models.OracleList),
          query=models.OraclesQuery),
    Route("GET", "/v1/markets", reads.markets_handler, "listMarkets", "Stored markets with position counts",
          _ok("markets", models.MarketList)),
    Route("GET", "/v1/shock", risk.shock_handler, "shock",
          "What-if: move prices and recompute every stored position with its protocol's own math",
          _ok("the shocked book", models.Shock), query=models.ShockQuery),
    Route("GET", "/v1/markets/{market}/liquidation-curve", risk.curve_handler, "liquidationCurve",
          "Per collateral asset, what is seized and repaid at each price step, optionally with a cascade",
          {**_ok("the curves", models.LiquidationCurve), 404: NO_MARKET},
          query=models.CurveQuery, params=models.MarketPath),
    Route("GET", "/v1/markets/{market}/var", risk.market_var_handler, "marketVar",
          "Value at risk and expected shortfall of a market's positions",
          {**_ok("the figures, or why there are none", models.Var), 404: NO_MARKET},
          query=models.VarQuery, params=models.MarketPath),
    Route("GET", "/v1/wallets/{address}/risk", risk.wallet_risk_handler, "walletRisk",
          "A wallet's positions in one view: lowest health, books, the first liquidation, what it takes to be safe, "
          "VaR/ES", _ok("the wallet's risk", models.WalletRisk), query=models.RiskQuery, params=models.AddressPath),
)

_BY_HANDLER: dict[Handler, Route] = {route.handler: route for route in ROUTES}


def declared(request: web.Request) -> Route:
    """The route the request matched."""
    return _BY_HANDLER[request.match_info.route.handler]


def add_routes(app: web.Application) -> None:
    for route in ROUTES:
        if route.method == "GET":
            app.router.add_get(route.path, route.handler)  # and HEAD
        else:
            app.router.add_route(route.method, route.path, route.handler)
