"""Running the dispatcher from the command line: over the database outbox, or one test message."""

from __future__ import annotations

import asyncio
import contextlib
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


async def dispatch(settings: Settings, engine: Engine, *, once: bool, poll: float, lease: float) -> int:
    """Deliver the outbox until SIGINT/SIGTERM (or one pass with ``once``); returns rows processed. One
    dispatcher per database: with another one running (`indexer run`'s or this command's), ``once`` refuses
    and the long-running form waits for it to end."""
    from indexer.store.lease import OUTBOX_LEASE, ChainLease
    from indexer.store.outbox import DbOutbox

    channels = build_channels(settings.channels)
    outbox = DbOutbox(engine, pending_delivery, lease_seconds=lease)
    holder = ChainLease(engine, OUTBOX_LEASE)
    stop = asyncio.Event()
    try:
        if once:
            holder.acquire_or_refuse("delivering the outbox")
            async with Dispatcher(outbox, channels) as dispatcher:
                return await dispatcher.run_once()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if not holder.try_acquire():
            log.warning("standby: another dispatcher delivers the outbox; taking over when it stops")
            while not stop.is_set() and not holder.try_acquire():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(poll, 0.5))
            if stop.is_set():
                return 0
        async with Dispatcher(outbox, channels) as dispatcher:
            log.info("dispatcher started channels=%s", ",".join(channels) or "-")
            await dispatcher.run_forever(stop, poll_interval=poll)
            log.info("dispatcher stopped")
            return 0
    finally:
        holder.release()


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
