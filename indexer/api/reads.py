"""/v1/alerts, /v1/oracles and /v1/markets: read-only views of what the indexer stored."""

from __future__ import annotations

import time

from aiohttp import web

from indexer.api import params, shapes
from indexer.api.models import MAX_ALERTS, AlertsQuery, NoQuery, OraclesQuery
from indexer.api.store import run_query
from indexer.store.alert_store import list_alerts
from indexer.store.feed_store import list_oracles
from indexer.store.position_store import list_markets


async def alerts_handler(request: web.Request) -> web.Response:
    q = params.query(request, AlertsQuery)
    limit = min(q.limit, MAX_ALERTS)
    rows = await run_query(request.app, list_alerts, open_only=q.status == "open", limit=limit)
    return web.json_response({"items": [shapes.alert(a) for a in rows], "status": q.status, "limit": limit})


async def oracles_handler(request: web.Request) -> web.Response:
    q = params.query(request, OraclesQuery)
    rows = await run_query(request.app, list_oracles, chain=q.chain, not_fresh=q.not_fresh)
    now = time.time()
    return web.json_response({"items": [shapes.oracle(o, now) for o in rows]})


async def markets_handler(request: web.Request) -> web.Response:
    params.query(request, NoQuery)
    rows = await run_query(request.app, list_markets)
    return web.json_response({"items": [shapes.market(m) for m in rows]})
