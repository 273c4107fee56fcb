"""`indexer run`: the long-running process. The only module that imports APScheduler.

One asyncio loop: per chain a head-following job (every ``poll_interval`` seconds, never overlapping
itself), and the alert dispatcher. On stop the scheduler stops starting jobs, the block in progress
finishes (its transaction commits whole or not at all), and the dispatcher drains its current pass.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from indexer.alerts.dispatcher import Dispatcher
from indexer.alerts.registry import build_channels
from indexer.errors import PermanentError, RetryableError
from indexer.follow import ChainFollower
from indexer.settings import Settings
from indexer.store.outbox import DbOutbox
from indexer.store.retention import prune

log = logging.getLogger(__name__)


async def run(settings: Settings, engine: object, stop: asyncio.Event, *, dispatch: bool = True) -> None:
    chains = sorted({m.chain for m in settings.markets.values()})
    followers = {chain: ChainFollower(settings, engine, chain) for chain in chains}
    scheduler = AsyncIOScheduler()
    failures: dict[str, int] = dict.fromkeys(chains, 0)

    async def follow(chain: str) -> None:
        follower = followers[chain]
        try:
            processed = await follower.step()
            if failures[chain]:
                log.warning("rpc recovered chain=%s after_failures=%d", chain, failures[chain])
            failures[chain] = 0
            if processed:
                log.debug("follow chain=%s processed=%d", chain, processed)
        except RetryableError as exc:
            failures[chain] += 1
            delay = min(60.0, settings.chains[chain].poll_interval * 2 ** failures[chain])
            log.warning("rpc unavailable chain=%s failures=%d retry_in=%.1fs error=%s", chain, failures[chain],
                        delay, exc)
            scheduler.get_job(f"follow:{chain}").modify(next_run_time=_in(delay))
        except PermanentError as exc:
            log.error("chain stopped chain=%s error=%s", chain, exc)
            scheduler.remove_job(f"follow:{chain}")

    for chain in chains:
        scheduler.add_job(follow, "interval", args=[chain], seconds=settings.chains[chain].poll_interval,
                          id=f"follow:{chain}", max_instances=1, coalesce=True, next_run_time=datetime.now())
    if settings.retention.history_blocks:
        async def prune_all() -> None:
            for chain in chains:
                await asyncio.to_thread(prune, engine, chain=chain,  # type: ignore[arg-type]
                                        keep_blocks=settings.retention.history_blocks)

        scheduler.add_job(prune_all, "interval", seconds=settings.retention.interval, id="prune",
                          max_instances=1, coalesce=True)
    scheduler.start()
    log.info("indexer running chains=%s", ",".join(chains))
    dispatcher_task = None
    channels = build_channels(settings.channels)
    if dispatch and channels:
        dispatcher_task = asyncio.create_task(_dispatch(engine, channels, stop))
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        for follower in followers.values():
            follower.stopping = True
            async with follower.lock:  # the block in progress finishes (or was never started)
                await follower.close()
        if dispatcher_task is not None:
            await dispatcher_task
        log.info("indexer stopped " + " ".join(f"{c}={f.last_stored}" for c, f in followers.items()))


async def _dispatch(engine: object, channels: dict, stop: asyncio.Event) -> None:
    async with Dispatcher(DbOutbox(engine), channels) as dispatcher:  # type: ignore[arg-type]
        await dispatcher.run_forever(stop, poll_interval=0.5)


def _in(seconds: float) -> datetime:
    from datetime import timedelta

    return datetime.now() + timedelta(seconds=seconds)
