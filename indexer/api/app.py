"""The aiohttp application: routes, middlewares, and one cleanup context per resource it owns.

Resources (each created and closed by its own ``cleanup_ctx`` entry, in this order and reversed on exit):
the thread pool the store queries run on, then the SQLAlchemy engine. The Prometheus registry is a plain
object that reads the engine at scrape time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from indexer.api import metrics
from indexer.api.config import ApiConfig, api_config
from indexer.api.cors import cors_middleware
from indexer.api.errors import Handler, error_middleware
from indexer.api.keys import CONFIG, ENGINE, EXECUTOR, REGISTRY, SETTINGS
from indexer.api.routes import add_routes
from indexer.settings import Settings
from indexer.store.db import ensure_schema, make_engine

MAX_BODY_BYTES = 64 * 1024


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path, status, size, seconds. Never the query string or the headers (a
    token someone put in a URL must not land in a log)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %d %s %.4fs", request.method, request.path, response.status,
                         response.body_length, time)


async def _executor_ctx(app: web.Application) -> AsyncIterator[None]:
    executor = ThreadPoolExecutor(max_workers=app[CONFIG].worker_threads, thread_name_prefix="api-store")
    app[EXECUTOR] = executor
    try:
        yield
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


async def _engine_ctx(app: web.Application) -> AsyncIterator[None]:
    engine = make_engine(app[SETTINGS].database_url, pool_size=app[CONFIG].worker_threads)
    try:
        await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], ensure_schema, engine)
        app[ENGINE] = engine
        yield
    finally:
        engine.dispose()


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def make_app(settings: Settings, *, config: ApiConfig | None = None) -> web.Application:
    """The API for ``settings``' database; ``config`` defaults to ``api_config(settings)`` (env + settings)."""
    app = web.Application(middlewares=[_security_headers, cors_middleware, error_middleware],
                          client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[CONFIG] = config or api_config(settings)
    app[REGISTRY] = metrics.make_registry(lambda: app[ENGINE], settings.all_chains, sorted(settings.channels),
                                          position_series=settings.api.position_series)
    app.cleanup_ctx.append(_executor_ctx)
    app.cleanup_ctx.append(_engine_ctx)
    add_routes(app)
    return app


def serve(settings: Settings, *, host: str, port: int, announce: Callable[[str], None] = print) -> None:
    """Run the API until SIGINT/SIGTERM (aiohttp's ``run_app`` handles the signals and the clean-up)."""
    app = make_app(settings)
    if app[CONFIG].token is None:
        announce(f"no API token in ${app[CONFIG].token_env}: POST/DELETE /v1/wallets are disabled")
    web.run_app(app, host=host, port=port, print=lambda text: announce(text.strip()), access_log_class=AccessLogger)
