"""Risk over the stored positions: /v1/shock (what-if moves), /v1/markets/{market}/liquidation-curve and /var, and
/v1/wallets/{address}/risk (see ``indexer.risk``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from indexer.api import params, shapes
from indexer.api.errors import ApiError, BadParameter
from indexer.api.keys import SETTINGS
from indexer.api.store import run_query
from indexer.risk.curve import market_curve, parse_move
from indexer.risk.moves import MoveError, parse_moves
from indexer.risk.shock import shock_json, shock_stored
from indexer.risk.var import market_var
from indexer.risk.wallet import WalletRisk, wallet_risk

DEFAULT_SHOCKED = 50
MAX_SHOCKED = 500
SHOCK_PARAMETERS = ("moves", "wallet", "chain", "market", "limit")


async def shock_handler(request: web.Request) -> web.Response:
    q = request.query
    params.reject_unknown(q, SHOCK_PARAMETERS)
    settings = request.app[SETTINGS]
    text = q.get("moves")
    if not text:
        raise BadParameter("moves", "`moves` is required: NAME=PERCENT pairs, comma-separated (ETH=-25,BTC=-20)")
    try:
        moves = parse_moves(text.split(","), settings.risk.groups)
    except MoveError as exc:
        raise BadParameter("moves", str(exc)) from None
    limit = params.integer(q, "limit", default=DEFAULT_SHOCKED, minimum=1, maximum=MAX_SHOCKED, clamp=True)
    result = await run_query(request.app, shock_stored, settings=settings, moves=moves,
                             wallet=params.address(q.get("wallet"), "wallet"), chain=params.text(q, "chain"),
                             market=params.text(q, "market"))
    return web.json_response(shock_json(result, limit=limit))


HORIZON = re.compile(r"^[1-9][0-9]{0,5}[smhdwSMHDW]?$")
CASCADE = re.compile(r"^-[0-9]{1,2}(\.[0-9]{1,6})?%?$")
TARGET = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,18})?$")


def _matching(q: Mapping[str, str], name: str, pattern: re.Pattern[str], example: str, default: str | None = None
              ) -> str | None:
    value = q.get(name, default)
    if value is not None and not pattern.match(value):
        raise BadParameter(name, f"{name} {value!r} is not understood (e.g. {example})")
    return value


def _known_market(request: web.Request) -> str:
    market = params.name_value(request.match_info["market"], "market")
    if market not in request.app[SETTINGS].markets:
        raise ApiError(404, "no such market in the configuration", market=market)
    return market


async def curve_handler(request: web.Request) -> web.Response:
    """Per collateral asset of the market, what is liquidated at each price step; with ``cascade``, the cascade from
    that move (refused per asset, in the body, where no market depth is configured)."""
    q = request.query
    params.reject_unknown(q, ("symbol", "cascade"))
    market = _known_market(request)
    symbol = params.text(q, "symbol")
    cascade = _matching(q, "cascade", CASCADE, "-10%")
    result = await run_query(request.app, market_curve, settings=request.app[SETTINGS], market=market,
                             cascade_from=None if cascade is None else parse_move(cascade))
    body = result.as_json()
    if symbol is not None:
        body["curves"] = [c for c in body["curves"] if c["symbol"].lower() == symbol.lower()]
    return web.json_response(body)


async def market_var_handler(request: web.Request) -> web.Response:
    q = request.query
    params.reject_unknown(q, ("horizon",))
    market = _known_market(request)
    horizon = _matching(q, "horizon", HORIZON, "1d", default="1d")
    result = await run_query(request.app, market_var, settings=request.app[SETTINGS], market=market,
                             horizon=horizon or "1d")
    return web.json_response(result.as_json())


async def wallet_risk_handler(request: web.Request) -> web.Response:
    q = request.query
    params.reject_unknown(q, ("horizon", "target"))
    wallet = params.address(request.match_info["address"], "address")
    assert wallet is not None
    horizon = _matching(q, "horizon", HORIZON, "1d", default="1d")
    target = _matching(q, "target", TARGET, "1.5")
    settings = request.app[SETTINGS]
    risk = await run_query(request.app, wallet_risk, settings=settings, wallet=wallet, horizon=horizon or "1d",
                           target=None if target is None else Decimal(target))
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
