"""Running the synchronous store queries off the event loop, on the app's own thread pool."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import Engine

from indexer.api.keys import ENGINE, EXECUTOR

T = TypeVar("T")


async def run_query(app: web.Application, query: Callable[..., T], /, **kwargs: Any) -> T:
    """``query(engine, **kwargs)`` in the app's executor."""
    call = functools.partial(query, app[ENGINE], **kwargs)
    return await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], call)


async def run_with_engine(app: web.Application, work: Callable[[Engine], T]) -> T:
    """``work(engine)`` in the app's executor: for several queries that belong together."""
    return await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], work, app[ENGINE])
