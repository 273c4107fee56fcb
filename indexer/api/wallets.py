"""/v1/wallets: the tracked addresses. Adding and removing need the bearer token (``auth.require_token``)."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from indexer.api import params, shapes
from indexer.api.auth import require_token
from indexer.api.errors import ApiError, BadParameter
from indexer.api.store import run_query
from indexer.store.wallet_store import MAX_LABEL, add_wallet, list_wallets, remove_wallet, wallet_exists

BODY_FIELDS = ("address", "label", "warn", "critical")
SMALLEST_LEVEL = Decimal("1e-18")  # levels are stored with 18 places: anything smaller would become 0
LARGEST_LEVEL = Decimal(1_000_000)


async def list_handler(request: web.Request) -> web.Response:
    params.reject_unknown(request.query, ())
    rows = await run_query(request.app, list_wallets)
    return web.json_response({"items": [shapes.wallet(w) for w in rows]})


async def add_handler(request: web.Request) -> web.Response:
    require_token(request)
    params.reject_unknown(request.query, ())
    body = await params.json_object(request)
    for name in body:
        if name not in BODY_FIELDS:
            raise BadParameter(name, f"unknown field {name!r} (allowed: {', '.join(BODY_FIELDS)})")
    if not isinstance(body.get("address"), str):
        raise BadParameter("address", "address is required: a 0x-prefixed 20-byte hex string")
    address = params.address(body["address"], "address")
    assert address is not None
    label = body.get("label")
    if label is not None and (not isinstance(label, str) or not 1 <= len(label) <= MAX_LABEL):
        raise BadParameter("label", f"label must be a string of 1 to {MAX_LABEL} characters")
    warn = params.decimal(body.get("warn"), "warn", minimum=SMALLEST_LEVEL, maximum=LARGEST_LEVEL)
    critical = params.decimal(body.get("critical"), "critical", minimum=SMALLEST_LEVEL, maximum=LARGEST_LEVEL)
    if warn is not None and critical is not None and critical > warn:
        raise BadParameter("critical", "critical must not be above warn")
    existed = await run_query(request.app, wallet_exists, address=address)
    stored = await run_query(request.app, add_wallet, address=address, label=label, warn_health=warn,
                             critical_health=critical)
    return web.json_response(shapes.wallet(stored), status=200 if existed else 201)


async def remove_handler(request: web.Request) -> web.Response:
    require_token(request)
    params.reject_unknown(request.query, ())
    address = params.address(request.match_info["address"], "address")
    assert address is not None
    if not await run_query(request.app, remove_wallet, address=address):
        raise ApiError(404, "this address is not tracked", address=address)
    return web.Response(status=204)
