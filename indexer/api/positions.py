"""/v1/positions: the latest positions (filtered, sorted, paged), one position with its assets, its history."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import Engine

from indexer.api import params, shapes
from indexer.api.cursor import decode_cursor, encode_cursor
from indexer.api.errors import ApiError
from indexer.api.keys import SETTINGS
from indexer.api.models import MAX_LIMIT, HistoryQuery, NoQuery, PositionAtPath, PositionPath, PositionsQuery
from indexer.api.store import run_query, run_with_engine
from indexer.health.nearest import points_of, stored_liquidations
from indexer.health.perps import perp_lines, stored_perp_lines
from indexer.history import Figures, figures_at, history
from indexer.protocols.registry import rules_for
from indexer.risk.safety import to_be_safe
from indexer.store.position_store import PositionSort, list_positions, position_legs, positions_page
from indexer.store.views import PositionView
from indexer.types import Leg


async def list_handler(request: web.Request) -> web.Response:
    q = params.query(request, PositionsQuery)
    sort: PositionSort = q.sort
    limit = min(q.limit, MAX_LIMIT)
    rows = await run_query(
        request.app, positions_page,
        sort=sort,
        after=None if q.cursor is None else decode_cursor(q.cursor, sort),
        limit=limit + 1,
        wallet=q.wallet, chain=q.chain, protocol=q.protocol, market=q.market, margin_mode=q.margin_mode,
        side=q.side, max_health=q.max_health, min_debt=q.min_debt, price_status=q.price_status,
    )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1][0], sort) if len(rows) > limit else None
    views = [view for _, view in page]
    points = await run_query(request.app, stored_liquidations, settings=request.app[SETTINGS], views=views)
    perps = await run_query(request.app, stored_perp_lines, settings=request.app[SETTINGS], views=views)
    return web.json_response({"items": [shapes.position(view, points[view.snapshot_id], perps[view.snapshot_id])
                                        for view in views],
                              "sort": sort, "limit": limit, "next_cursor": next_cursor})


def _position_key(request: web.Request) -> tuple[str, str, str]:
    key = params.path(request, PositionPath)
    return key.chain, key.market, key.account


def _not_found(chain: str, market: str, account: str) -> ApiError:
    return ApiError(404, "no stored position for this chain, market and account", chain=chain, market=market,
                    account=account)


async def detail_handler(request: web.Request) -> web.Response:
    params.query(request, NoQuery)
    chain, market, account = _position_key(request)

    def read(engine: Engine) -> tuple[PositionView, list[Leg]] | None:
        found = list_positions(engine, account=account, chain=chain, market=market)
        if not found:
            return None
        return found[0], position_legs(engine, snapshot_id=found[0].snapshot_id)

    result = await run_with_engine(request.app, read)
    if result is None:
        raise _not_found(chain, market, account)
    view, legs = result
    rules = rules_for(request.app[SETTINGS], view.market)
    snapshot = view.snapshot(legs)
    points = points_of(view, rules, snapshot)
    point = points[0] if points else None
    body: dict[str, Any] = shapes.position(view, point, perp_lines(rules, snapshot))
    body["liquidations"] = [shapes.liquidation(p) for p in points]  # every price dependency's, nearest first
    body["legs"] = [shapes.leg(g, view.quote_unit) for g in legs]
    body["to_be_safe"] = None if rules is None else \
        to_be_safe(rules, snapshot, request.app[SETTINGS].risk.target_health).as_json()
    return web.json_response(body)


async def history_handler(request: web.Request) -> web.Response:
    q = params.query(request, HistoryQuery)
    chain, market, account = _position_key(request)
    since, until, points = q.since, q.until, q.points
    rules = rules_for(request.app[SETTINGS], market)

    def read(engine: Engine) -> Any:
        if not list_positions(engine, account=account, chain=chain, market=market):
            return None
        return history(engine, rules, chain=chain, market=market, account=account, since=since, until=until,
                       points=points)

    window = await run_with_engine(request.app, read)
    if window is None:
        raise _not_found(chain, market, account)
    return web.json_response({
        "chain": chain, "market": market, "account": account, "since": since, "until": until, "points": points,
        "total": window.total, "downsampled": window.total > len(window.rows),
        "items": [shapes.history_row(row) for row in window.rows],
    })


async def at_handler(request: web.Request) -> web.Response:
    params.query(request, NoQuery)
    key = params.path(request, PositionAtPath)
    chain, market, account, block = key.chain, key.market, key.account, key.block
    rules = rules_for(request.app[SETTINGS], market)

    def read(engine: Engine) -> Figures | None:
        return figures_at(engine, rules, chain=chain, market=market, account=account, block=block)

    figures = await run_with_engine(request.app, read)
    if figures is None:
        raise ApiError(404, "no stored row of this position at or before this block", chain=chain, market=market,
                       account=account, block=block)
    return web.json_response(shapes.position_at(figures, rules))
