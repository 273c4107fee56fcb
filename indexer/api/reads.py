"""/v1/alerts, /v1/oracles and /v1/markets: read-only views of what the indexer stored."""

from __future__ import annotations

import time

from aiohttp import web

from indexer.api import params, shapes
from indexer.api.store import run_query
from indexer.store.alert_store import list_alerts
from indexer.store.feed_store import list_oracles
from indexer.store.position_store import list_markets

DEFAULT_ALERTS = 50
MAX_ALERTS = 500


async def alerts_handler(request: web.Request) -> web.Response:
    q = request.query
    params.reject_unknown(q, ("status", "limit"))
    status = params.choice(q, "status", ("open", "all"), default="all")
    limit = params.integer(q, "limit", default=DEFAULT_ALERTS, minimum=1, maximum=MAX_ALERTS, clamp=True)
    rows = await run_query(request.app, list_alerts, open_only=status == "open", limit=limit)
    return web.json_response({"items": [shapes.alert(a) for a in rows], "status": status, "limit": limit})


async def oracles_handler(request: web.Request) -> web.Response:
    q = request.query
    params.reject_unknown(q, ("chain", "not_fresh"))
    rows = await run_query(request.app, list_oracles, chain=params.text(q, "chain"),
                           not_fresh=params.boolean(q, "not_fresh"))
    now = time.time()
    return web.json_response({"items": [shapes.oracle(o, now) for o in rows]})


async def markets_handler(request: web.Request) -> web.Response:
    params.reject_unknown(request.query, ())
    rows = await run_query(request.app, list_markets)
    return web.json_response({"items": [shapes.market(m) for m in rows]})
