"""/healthz: the process answers, the store answers, and how far behind each chain's stored data is."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from indexer.api import params
from indexer.api.keys import CONFIG, SETTINGS
from indexer.api.models import NoQuery
from indexer.api.store import run_query
from indexer.store.chain_store import ChainHead, chain_heads
from indexer.store.models import SYNC_CHECKPOINT

log = logging.getLogger(__name__)


def chain_status(head: ChainHead, now: float, max_lag: int) -> dict[str, Any]:
    """``behind`` when the latest stored block is older than ``max_lag`` seconds, or there is none."""
    since = None if head.block_timestamp is None else max(0, int(now) - head.block_timestamp)
    return {
        "chain": head.chain,
        "block_number": head.block_number,
        "block_hash": head.block_hash,
        "block_timestamp": head.block_timestamp,
        "seconds_since_block": since,
        "behind": since is None or since > max_lag,
        "checkpoint": head.checkpoints.get(SYNC_CHECKPOINT),
    }


async def _report(request: web.Request, *, ready: bool) -> web.Response:
    params.query(request, NoQuery)
    max_lag = request.app[CONFIG].max_lag_seconds
    try:
        heads = await run_query(request.app, chain_heads, chains=request.app[SETTINGS].all_chains)
    except SQLAlchemyError:
        log.exception("%s: the store did not answer", "readyz" if ready else "healthz")
        return web.json_response({"status": "unavailable", "error": "the database did not answer"}, status=503)
    now = time.time()
    chains = [chain_status(h, now, max_lag) for h in heads]
    behind = any(c["behind"] for c in chains)
    return web.json_response({"status": "behind" if behind else "ok", "time": int(now), "max_lag_seconds": max_lag,
                              "chains": chains}, status=503 if ready and behind else 200)


async def healthz_handler(request: web.Request) -> web.Response:
    """Liveness: 200 while the process and the store answer, whatever the data's age (a liveness probe that
    failed on old data would restart a server that is not at fault); ``status`` says ``behind``."""
    return await _report(request, ready=False)


async def readyz_handler(request: web.Request) -> web.Response:
    """Readiness: the same report, 503 while any chain's latest stored block is older than ``max_lag_seconds``
    (a load balancer then stops sending traffic to figures that are stale)."""
    return await _report(request, ready=True)
