"""Acknowledging alerts and silencing deliveries over the API (both need the bearer token, as wallet changes do):
``POST /v1/alerts/{id}/ack``, ``GET/POST /v1/silences``, ``DELETE /v1/silences/{id}``."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from indexer.alerts.acks import forward_acknowledgement
from indexer.api import params, shapes
from indexer.api.auth import require_token
from indexer.api.errors import ApiError
from indexer.api.keys import SETTINGS
from indexer.api.models import AckRequest, AlertPath, NoQuery, SilenceCreate, SilencePath, SilencesQuery
from indexer.api.store import run_query
from indexer.store.alert_store import (
    SilenceRow,
    acknowledge_alert,
    add_silence,
    list_alerts,
    list_silences,
    remove_silence,
)


def silence(row: SilenceRow) -> dict[str, Any]:
    return {"id": row.id, "chain": row.chain, "market": row.market, "wallet": row.wallet,
            "starts_at": row.starts_at, "ends_at": row.ends_at, "reason": row.reason, "created_by": row.created_by}


async def ack_handler(request: web.Request) -> web.Response:
    require_token(request)
    params.query(request, NoQuery)
    alert_id = params.path(request, AlertPath).alert_id
    body = await params.body(request, AckRequest)
    now = time.time()
    row = await run_query(request.app, acknowledge_alert, alert_id=alert_id, by=body.by, now=now)
    if row is None:
        raise ApiError(404, "no such alert", alert_id=alert_id)
    if row["status"] != "open":
        raise ApiError(409, f"the alert is {row['status']}: only an open alert can be acknowledged",
                       alert_id=alert_id)
    if row["acknowledged_at"] == now:  # newly acknowledged: tell the services that paged (PagerDuty, webhooks)
        await run_query(request.app, forward_acknowledgement, settings=request.app[SETTINGS], alert_id=alert_id,
                        by=body.by, now=now)
    (full,) = await run_query(request.app, list_alerts, alert_id=alert_id)
    return web.json_response(shapes.alert(full))


async def list_handler(request: web.Request) -> web.Response:
    q = params.query(request, SilencesQuery)
    rows = await run_query(request.app, list_silences, now=time.time(), active_only=not q.all)
    return web.json_response({"items": [silence(r) for r in rows]})


async def add_handler(request: web.Request) -> web.Response:
    require_token(request)
    params.query(request, NoQuery)
    body = await params.body(request, SilenceCreate)
    if body.market is not None and body.market not in request.app[SETTINGS].markets:
        raise ApiError(404, "no such market in the configuration", market=body.market)
    now = time.time()
    row = await run_query(request.app, add_silence, chain=body.chain, market=body.market, wallet=body.wallet,
                          starts_at=now, ends_at=now + body.seconds, reason=body.reason, created_by=body.by)
    return web.json_response(silence(row), status=201)


async def remove_handler(request: web.Request) -> web.Response:
    require_token(request)
    params.query(request, NoQuery)
    silence_id = params.path(request, SilencePath).silence_id
    if not await run_query(request.app, remove_silence, silence_id=silence_id):
        raise ApiError(404, "no such silence", silence_id=silence_id)
    return web.Response(status=204)
