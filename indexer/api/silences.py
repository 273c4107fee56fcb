"""Acknowledging alerts and silencing deliveries over the API (both need the bearer token, as wallet changes do):
``POST /v1/alerts/{id}/ack``, ``GET/POST /v1/silences``, ``DELETE /v1/silences/{id}``."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from aiohttp import web

from indexer.api import params, shapes
from indexer.api.auth import require_token
from indexer.api.errors import ApiError, BadParameter
from indexer.api.keys import SETTINGS
from indexer.api.store import run_query
from indexer.store.alert_store import (
    SilenceRow,
    acknowledge_alert,
    add_silence,
    list_alerts,
    list_silences,
    remove_silence,
)

MAX_TEXT = 200  # characters of a reason or a name
MAX_SILENCE_SECONDS = 366 * 86_400
SILENCE_FIELDS = ("chain", "market", "wallet", "all", "seconds", "reason", "by")


def silence(row: SilenceRow) -> dict[str, Any]:
    return {"id": row.id, "chain": row.chain, "market": row.market, "wallet": row.wallet,
            "starts_at": row.starts_at, "ends_at": row.ends_at, "reason": row.reason, "created_by": row.created_by}


def _short_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TEXT or any(ord(c) < 32 or c == "\x7f"
                                                                              for c in value):
        raise BadParameter(name, f"{name} must be 1 to {MAX_TEXT} characters, none a control character")
    return value


async def ack_handler(request: web.Request) -> web.Response:
    require_token(request)
    params.reject_unknown(request.query, ())
    body = await params.json_object(request) if request.can_read_body else {}
    for name in body:
        if name != "by":
            raise BadParameter(name, f"unknown field {name!r} (allowed: by)")
    alert_id = request.match_info["alert_id"]
    row = await run_query(request.app, acknowledge_alert, alert_id=alert_id, by=_short_text(body, "by"),
                          now=time.time())
    if row is None:
        raise ApiError(404, "no such alert", alert_id=alert_id)
    if row["status"] != "open":
        raise ApiError(409, f"the alert is {row['status']}: only an open alert can be acknowledged",
                       alert_id=alert_id)
    (full,) = await run_query(request.app, list_alerts, alert_id=alert_id)
    return web.json_response(shapes.alert(full))


async def list_handler(request: web.Request) -> web.Response:
    q = request.query
    params.reject_unknown(q, ("all",))
    rows = await run_query(request.app, list_silences, now=time.time(), active_only=not params.boolean(q, "all"))
    return web.json_response({"items": [silence(r) for r in rows]})


async def add_handler(request: web.Request) -> web.Response:
    require_token(request)
    params.reject_unknown(request.query, ())
    body = await params.json_object(request)
    for name in body:
        if name not in SILENCE_FIELDS:
            raise BadParameter(name, f"unknown field {name!r} (allowed: {', '.join(SILENCE_FIELDS)})")
    chain, market = _short_text(body, "chain"), _short_text(body, "market")
    wallet = params.address(body["wallet"], "wallet") if isinstance(body.get("wallet"), str) else None
    if body.get("wallet") is not None and wallet is None:
        raise BadParameter("wallet", "wallet must be a 0x-prefixed 20-byte hex string")
    everything = body.get("all", False)
    if not isinstance(everything, bool):
        raise BadParameter("all", "all must be true or false")
    if not (chain or market or wallet or everything):
        raise BadParameter("body", "say what to silence: chain, market, wallet (any together), or all: true")
    if market is not None and market not in request.app[SETTINGS].markets:
        raise ApiError(404, "no such market in the configuration", market=market)
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | Decimal) or not 1 <= seconds <= MAX_SILENCE_SECONDS:
        raise BadParameter("seconds", f"seconds is required: how long, 1 to {MAX_SILENCE_SECONDS}")
    now = time.time()
    row = await run_query(request.app, add_silence, chain=chain, market=market, wallet=wallet, starts_at=now,
                          ends_at=now + float(seconds), reason=_short_text(body, "reason"),
                          created_by=_short_text(body, "by"))
    return web.json_response(silence(row), status=201)


async def remove_handler(request: web.Request) -> web.Response:
    require_token(request)
    params.reject_unknown(request.query, ())
    raw = request.match_info["silence_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise BadParameter("silence_id", "a silence id is a whole number (at most 18 digits)")
    if not await run_query(request.app, remove_silence, silence_id=int(raw)):
        raise ApiError(404, "no such silence", silence_id=int(raw))
    return web.Response(status=204)
