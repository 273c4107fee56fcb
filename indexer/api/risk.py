"""Risk over the stored positions: /v1/shock (what-if moves), /v1/markets/{market}/liquidation-curve and /var, and
/v1/wallets/{address}/risk (see ``indexer.risk``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from indexer.api import params, shapes
from indexer.api.errors import ApiError, BadParameter
from indexer.api.keys import SETTINGS
from indexer.api.models import MAX_SHOCKED, AddressPath, CurveQuery, MarketPath, RiskQuery, ShockQuery, VarQuery
from indexer.api.store import run_query
from indexer.risk.curve import market_curve, parse_move
from indexer.risk.moves import MoveError, parse_moves
from indexer.risk.shock import shock_json, shock_stored
from indexer.risk.var import market_var
from indexer.risk.wallet import WalletRisk, wallet_risk


async def shock_handler(request: web.Request) -> web.Response:
    q = params.query(request, ShockQuery)
    settings = request.app[SETTINGS]
    try:
        moves = parse_moves(q.moves.split(","), settings.risk.groups)
    except MoveError as exc:
        raise BadParameter("moves", str(exc)) from None
    result = await run_query(request.app, shock_stored, settings=settings, moves=moves, wallet=q.wallet,
                             chain=q.chain, market=q.market)
    return web.json_response(shock_json(result, limit=min(q.limit, MAX_SHOCKED)))


def _known_market(request: web.Request) -> str:
    market = params.path(request, MarketPath).market
    if market not in request.app[SETTINGS].markets:
        raise ApiError(404, "no such market in the configuration", market=market)
    return market


async def curve_handler(request: web.Request) -> web.Response:
    """Per collateral asset of the market, what is liquidated at each price step; with ``cascade``, the cascade from
    that move (refused per asset, in the body, where no market depth is configured)."""
    q = params.query(request, CurveQuery)
    market = _known_market(request)
    result = await run_query(request.app, market_curve, settings=request.app[SETTINGS], market=market,
                             cascade_from=None if q.cascade is None else parse_move(q.cascade))
    body = result.as_json()
    if q.symbol is not None:
        symbol = q.symbol.lower()
        body["curves"] = [c for c in body["curves"] if c["symbol"].lower() == symbol]
    return web.json_response(body)


async def market_var_handler(request: web.Request) -> web.Response:
    q = params.query(request, VarQuery)
    market = _known_market(request)
    result = await run_query(request.app, market_var, settings=request.app[SETTINGS], market=market,
                             horizon=q.horizon)
    return web.json_response(result.as_json())


async def wallet_risk_handler(request: web.Request) -> web.Response:
    q = params.query(request, RiskQuery)
    wallet = params.path(request, AddressPath).address
    settings = request.app[SETTINGS]
    risk = await run_query(request.app, wallet_risk, settings=settings, wallet=wallet, horizon=q.horizon,
                           target=None if q.target is None else Decimal(q.target))
    return web.json_response(wallet_risk_json(risk))


def wallet_risk_json(risk: WalletRisk) -> dict[str, Any]:
    """``GET /v1/wallets/{address}/risk`` and ``indexer wallet --json``."""
    first = risk.first_liquidation
    return {
        "wallet": risk.wallet, "target": str(risk.target), "positions": len(risk.positions),
        "liquidatable": risk.liquidatable, "min_health": shapes.dec(risk.min_health),
        "books": [{"quote": b.quote, "positions": b.positions, "collateral": str(b.collateral), "debt": str(b.debt),
                   "net": str(b.net)} for b in risk.books.values()],
        "first_liquidation": None if first is None else {
            "chain": first.view.chain, "market": first.view.market, "account": first.view.account,
            **(shapes.liquidation(first.nearest) or {})},
        "items": [{**shapes.position(p.view, p.nearest, p.perps),
                   "to_be_safe": None if p.safety is None else p.safety.as_json()} for p in risk.positions],
        "var": None if risk.var is None else risk.var.as_json(),
    }
