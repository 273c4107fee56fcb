"""/v1/wallets: the tracked addresses. Adding and removing need the bearer token (``auth.require_token``)."""

from __future__ import annotations

from aiohttp import web

from indexer.api import params, shapes
from indexer.api.auth import require_token
from indexer.api.errors import ApiError
from indexer.api.models import AddressPath, NoQuery, WalletCreate
from indexer.api.store import run_query
from indexer.store.wallet_store import add_wallet, list_wallets, remove_wallet, wallet_exists


async def list_handler(request: web.Request) -> web.Response:
    params.query(request, NoQuery)
    rows = await run_query(request.app, list_wallets)
    return web.json_response({"items": [shapes.wallet(w) for w in rows]})


async def add_handler(request: web.Request) -> web.Response:
    require_token(request)
    params.query(request, NoQuery)
    body = await params.body(request, WalletCreate)
    existed = await run_query(request.app, wallet_exists, address=body.address)
    stored = await run_query(request.app, add_wallet, address=body.address, label=body.label,
                             warn_health=body.warn, critical_health=body.critical)
    return web.json_response(shapes.wallet(stored), status=200 if existed else 201)


async def remove_handler(request: web.Request) -> web.Response:
    require_token(request)
    params.query(request, NoQuery)
    address = params.path(request, AddressPath).address
    if not await run_query(request.app, remove_wallet, address=address):
        raise ApiError(404, "this address is not tracked", address=address)
    return web.Response(status=204)
