"""/v1/shock: what-if price moves over the stored positions (see ``indexer.risk.shock``)."""

from __future__ import annotations

from aiohttp import web

from indexer.api import params
from indexer.api.errors import BadParameter
from indexer.api.keys import SETTINGS
from indexer.api.store import run_query
from indexer.risk.moves import MoveError, parse_moves
from indexer.risk.shock import shock_json, shock_stored

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
