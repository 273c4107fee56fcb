"""Running the dispatcher from the command line: over the database outbox, or one test message."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid

from sqlalchemy import Engine

from indexer.alerts.dispatcher import Dispatcher, MemoryOutbox, pending_delivery
from indexer.alerts.message import AlertMessage
from indexer.alerts.registry import build_channels
from indexer.errors import ConfigError
from indexer.settings import Settings

log = logging.getLogger(__name__)


async def dispatch(settings: Settings, engine: Engine, *, once: bool, poll: float, lease: float,
                   concurrency: int = 8) -> int:
    """Deliver the outbox until SIGINT/SIGTERM (or one pass with ``once``); returns rows processed. Several
    dispatchers may deliver one database's outbox at once (`indexer run`'s and this command's, on any number of
    machines): each due row is claimed by one of them (``indexer.store.outbox``). ``concurrency``: requests in
    flight (a claim takes at most four times as many rows)."""
    from indexer.store.outbox import DbOutbox

    channels = build_channels(settings.channels)
    outbox = DbOutbox(engine, pending_delivery, lease_seconds=lease)
    if once:
        async with Dispatcher(outbox, channels, concurrency=concurrency) as dispatcher:
            return await dispatcher.run_once()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Dispatcher(outbox, channels, concurrency=concurrency) as dispatcher:
        log.info("dispatcher started channels=%s concurrency=%d", ",".join(channels) or "-", concurrency)
        await dispatcher.run_forever(stop, poll_interval=poll)
        log.info("dispatcher stopped")
        return 0


def test_message(channel: str) -> AlertMessage:
    return AlertMessage(
        event_id=f"test-{uuid.uuid4().hex}", dedup_key=f"test/{channel}", kind="test", family="health",
        severity="WARN", previous_severity=None, chain="test", protocol="aave_v3", market="test-market",
        account="0x0000000000000000000000000000000000000000", wallet_label="test message", health="1.0500",
        previous_health="1.1200", collateral_value="10000.00", debt_value="8000.00", liquidation_price=None,
        block_number=0, price_status="FRESH", detail="sent by `indexer alerts test`", test=True)


async def send_test(settings: Settings, channel: str) -> tuple[bool, str]:
    channels = build_channels(settings.channels)
    if channel not in channels:
        known = ", ".join(sorted(channels)) or "none configured"
        raise ConfigError(f"no channel {channel!r} (channels: {known})")
    outbox = MemoryOutbox()
    row = outbox.add(test_message(channel), channel, now=time.time())
    async with Dispatcher(outbox, {channel: channels[channel]}) as dispatcher:
        await dispatcher.run_once()
    stored = outbox.rows[row]
    ok = stored.state == "delivered"
    detail = f"HTTP {stored.status}" if stored.status else (stored.error or stored.state)
    return ok, f"{channel}: {'delivered' if ok else stored.state} ({detail})"
