"""Delivers pending outbox rows to their channels: at least once, in order per alert, with backoff.

The outbox rows were written in the same transaction as the event that caused them, so a crash between
sending and recording an outcome means the row is sent again; every request carries the event id as its
idempotency key, and a receiver that already has it answers 409, which counts as delivered.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from indexer.alerts.channels.base import USER_AGENT, Channel, HttpChannel, LocalChannel
from indexer.alerts.message import AlertMessage
from indexer.alerts.sender import Outcome, RetryPolicy, Verdict, send
from indexer.metrics import DELIVERIES

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class PendingDelivery:
    id: int
    event_id: str
    channel: str
    message: AlertMessage
    attempts: int  # attempts already made
    created_at: float  # unix seconds; the retry deadline counts from here
    next_attempt_at: float


def pending_delivery(*, message: dict[str, Any], **row: Any) -> PendingDelivery:
    """A claimed outbox row (``indexer.store.outbox.DbOutbox``'s ``make``): the stored message decoded."""
    return PendingDelivery(message=AlertMessage.from_json(message), **row)


class Outbox(Protocol):
    """The deliveries table, as the dispatcher sees it. Methods are sync (the dispatcher runs them in a thread).

    ``claim`` returns due rows (``next_attempt_at <= now``), soonest first, at most ``limit``, and leases
    them so another dispatcher does not take them (a lease longer than a send's timeout, expiring so that a
    crashed dispatcher's rows come back). Per (channel, message.dedup_key): a pending row is superseded by a
    newer row of the same key (mark it so, never send it: the newer message tells the current state), and
    no row is claimed while another row of its key is leased, so one alert's events reach a channel in order.
    ``delivered``, ``retry`` and ``failed`` each record one attempt (``attempts += 1``) and end the lease.
    """

    def claim(self, *, now: float, limit: int) -> list[PendingDelivery]: ...

    def delivered(self, id: int, *, status: int, now: float) -> None: ...

    def retry(self, id: int, *, at: float, error: str, now: float) -> None: ...

    def failed(self, id: int, *, error: str, now: float) -> None: ...


def jitter_key(delivery: PendingDelivery) -> str:
    """Seeds the retry jitter of one delivery: stable across restarts, different between deliveries."""
    return f"{delivery.channel}:{delivery.event_id}"


class Dispatcher:
    """Claims due rows, sends them with at most ``concurrency`` in flight, records each outcome.

    Owns one ``aiohttp.ClientSession``: use as ``async with Dispatcher(...) as d``. Local channels (log)
    deliver in process; a row for a channel no longer configured fails.
    """

    def __init__(self, outbox: Outbox, channels: Mapping[str, Channel[Any]], *, concurrency: int = 8,
                 policy: RetryPolicy | None = None, clock: Callable[[], float] = time.time,
                 batch: int | None = None, sender: Callable[..., Awaitable[Outcome]] = send) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.outbox = outbox
        self.channels = channels
        for name in channels:  # every series from zero, so rate() and increase() see the first attempt
            for verdict in Verdict:
                DELIVERIES.labels(name, verdict.value)
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.batch = batch or 4 * concurrency
        self._limit = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._send = sender
        self._session: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()

    async def __aenter__(self) -> Dispatcher:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._concurrency), headers={"User-Agent": USER_AGENT})
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def wake(self) -> None:
        """Ask ``run_forever`` to look for rows now (e.g. right after a block's transaction committed)."""
        self._wake.set()

    async def run_once(self) -> int:
        """One pass: claim due rows, deliver them, record outcomes. Returns how many rows were processed."""
        if self._session is None:
            raise RuntimeError("use the dispatcher as `async with Dispatcher(...)`")
        rows = await asyncio.to_thread(self.outbox.claim, now=self.clock(), limit=self.batch)
        results = await asyncio.gather(*(self._process(row) for row in rows), return_exceptions=True)
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):
                log.error("alert delivery not recorded channel=%s event_id=%s error=%s: %s",
                          row.channel, row.event_id, type(result).__name__, result)
        return sum(not isinstance(r, BaseException) for r in results)

    async def run_forever(self, stop: asyncio.Event, poll_interval: float = 1.0) -> None:
        """Pass after pass until ``stop`` is set; waits ``poll_interval`` (or until ``wake``) when idle."""
        while not stop.is_set():
            self._wake.clear()
            try:
                processed = await self.run_once()
            except Exception:
                log.exception("alert dispatch pass failed")
                processed = 0
            if processed:
                continue  # rows of the same alert wait for the one before them: look again at once
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=poll_interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
                await asyncio.gather(*waiters, return_exceptions=True)

    async def _process(self, row: PendingDelivery) -> None:
        async with self._limit:
            outcome = await self._attempt(row)
        await self._record(row, outcome)

    async def _attempt(self, row: PendingDelivery) -> Outcome:
        channel = self.channels.get(row.channel)
        if channel is None:
            return Outcome(Verdict.FAILED, error=f"no alert channel named {row.channel!r} is configured")
        if isinstance(channel, LocalChannel):
            try:
                if channel.blocking:
                    await asyncio.to_thread(channel.deliver_locally, row.message)
                else:
                    channel.deliver_locally(row.message)
            except Exception as exc:
                return Outcome(Verdict.RETRY, error=f"{type(exc).__name__}: {exc}")
            return Outcome(Verdict.DELIVERED, 0)
        if not isinstance(channel, HttpChannel):
            return Outcome(Verdict.FAILED, error=f"channel {row.channel!r} can neither send nor deliver locally")
        try:
            request = channel.request(row.message)
        except Exception as exc:
            log.exception("alert request could not be built channel=%s event_id=%s", row.channel, row.event_id)
            return Outcome(Verdict.FAILED, error=f"request could not be built: {type(exc).__name__}")
        assert self._session is not None
        return await self._send(self._session, request, timeout=channel.settings.timeout)

    async def _record(self, row: PendingDelivery, outcome: Outcome) -> None:
        now, attempt = self.clock(), row.attempts + 1
        context = f"channel={row.channel} event_id={row.event_id} attempt={attempt} status={outcome.status}"
        DELIVERIES.labels(row.channel, outcome.verdict.value).inc()
        if outcome.verdict is Verdict.DELIVERED:
            await asyncio.to_thread(self.outbox.delivered, row.id, status=outcome.status or 0, now=now)
            log.info("alert delivered %s%s", context, " duplicate=true" if outcome.duplicate else "")
            return
        if outcome.verdict is Verdict.RETRY:
            at = self.policy.next_attempt_at(attempt=attempt, created_at=row.created_at, now=now,
                                             key=jitter_key(row), retry_after=outcome.retry_after)
            if at is not None:
                await asyncio.to_thread(self.outbox.retry, row.id, at=at, error=outcome.error, now=now)
                log.warning("alert delivery will retry %s in=%.2fs error=%r", context, at - now, outcome.error)
                return
            error = f"gave up after {attempt} attempts ({self._limits()}): {outcome.error}"
        else:
            error = outcome.error
        await asyncio.to_thread(self.outbox.failed, row.id, error=error, now=now)
        log.error("alert delivery failed %s error=%r", context, error)

    def _limits(self) -> str:
        limits = [f"deadline {self.policy.deadline:g}s"]
        if self.policy.max_attempts is not None:
            limits.append(f"max {self.policy.max_attempts} attempts")
        return ", ".join(limits)


@dataclass
class StoredDelivery:
    """A row of ``MemoryOutbox``. ``state``: pending, leased, delivered, failed, superseded."""

    id: int
    event_id: str
    channel: str
    message: AlertMessage
    created_at: float
    next_attempt_at: float
    attempts: int = 0
    state: str = "pending"
    status: int | None = None
    error: str = ""
    finished_at: float | None = None

    def pending(self) -> PendingDelivery:
        return PendingDelivery(self.id, self.event_id, self.channel, self.message, self.attempts,
                               self.created_at, self.next_attempt_at)


class MemoryOutbox:
    """The ``Outbox`` contract in memory, for tests: superseding, one leased row per alert and channel.
    Thread-safe, since the dispatcher calls it from worker threads."""

    def __init__(self) -> None:
        self.rows: dict[int, StoredDelivery] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, message: AlertMessage, channel: str, *, now: float) -> int:
        with self._lock:
            row = StoredDelivery(next(self._ids), message.event_id, channel, message, now, now)
            self.rows[row.id] = row
            return row.id

    def claim(self, *, now: float, limit: int) -> list[PendingDelivery]:
        with self._lock:
            newest: dict[tuple[str, str], StoredDelivery] = {}
            busy: set[tuple[str, str]] = set()
            for row in sorted(self.rows.values(), key=lambda r: r.id):
                key = (row.channel, row.message.dedup_key)
                if row.state == "leased":
                    busy.add(key)
                elif row.state == "pending":
                    if key in newest:
                        older = newest[key]
                        older.state, older.error = "superseded", f"superseded by event {row.event_id}"
                    newest[key] = row
            due = sorted((r for k, r in newest.items() if k not in busy and r.next_attempt_at <= now),
                         key=lambda r: (r.next_attempt_at, r.id))[:limit]
            for row in due:
                row.state = "leased"
            return [row.pending() for row in due]

    def delivered(self, id: int, *, status: int, now: float) -> None:
        self._finish(id, "delivered", now=now, status=status)

    def retry(self, id: int, *, at: float, error: str, now: float) -> None:
        with self._lock:
            row = self._leased(id)
            row.attempts += 1
            row.state, row.error, row.next_attempt_at = "pending", error, at

    def failed(self, id: int, *, error: str, now: float) -> None:
        self._finish(id, "failed", now=now, error=error)

    def _finish(self, id: int, state: str, *, now: float, status: int | None = None, error: str = "") -> None:
        with self._lock:
            row = self._leased(id)
            row.attempts += 1
            row.state, row.status, row.error, row.finished_at = state, status, error, now

    def _leased(self, id: int) -> StoredDelivery:
        row = self.rows[id]
        if row.state != "leased":
            raise RuntimeError(f"delivery {id} is {row.state}, not leased")
        return row
