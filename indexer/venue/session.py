"""One HTTP venue's session: ``POST {url}/info`` with JSON bodies, paced by the venue's request weights.

Venues publish a budget of request weight per minute (Hyperliquid: 1200 per IP, each info request weighing 2
to 60); the session keeps a token bucket of that size and waits before a request that would overdraw it, so
a large account set is spread over time instead of being refused. A 429 or a 5xx answer is retried after a
pause (up to ``retries`` times; a 429 waits at least its ``Retry-After`` and empties the bucket, so the poll goes
on at the budget's steady rate); a refused connection or a timeout is ``RpcUnavailableError`` (the pipeline
retries later); an answer that is not JSON is ``RpcResponseError``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from indexer.chain.redact import redact_url
from indexer.errors import RpcResponseError, RpcUnavailableError
from indexer.plans import drive
from indexer.protocols.base import VenuePlan, VenueRequest

log = logging.getLogger(__name__)



@dataclass
class VenueStats:
    requests: int = 0
    weight: int = 0
    waited: float = 0.0  # seconds spent waiting for the weight budget
    by_type: dict[str, int] = field(default_factory=dict)
    throttled: int = 0  # 429 answers: each drains the budget, so the requests after it go slower

    def copy(self) -> VenueStats:
        return VenueStats(self.requests, self.weight, self.waited, dict(self.by_type), self.throttled)


class WeightBudget:
    """A token bucket of ``per_minute`` weight, refilled continuously; ``take`` waits until it can pay."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.tokens = float(per_minute)
        self.rate = per_minute / 60.0
        self.stamp = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, weight: int) -> float:
        async with self.lock:
            waited = 0.0
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= weight:
                    self.tokens -= weight
                    return waited
                pause = (weight - self.tokens) / self.rate
                waited += pause
                await asyncio.sleep(pause)

    def drain(self) -> None:
        """Spend what is left: the venue said we are over its limit, so the next requests wait for the refill
        (they go out at the budget's steady rate instead of in a burst)."""
        self.tokens, self.stamp = 0.0, time.monotonic()


def _retry_after(header: str | None) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds; a date or junk counts as none), at most a minute."""
    try:
        return min(max(float(header or 0), 0.0), 60.0)
    except ValueError:
        return 0.0


class VenueSession:
    def __init__(self, name: str, url: str, *, timeout: float = 10.0, weight_per_minute: int = 1200,
                 concurrency: int = 8, retries: int = 3) -> None:  # fmt: skip
        self.name = name
        self.url = url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.budget = WeightBudget(weight_per_minute)
        self.slots = asyncio.Semaphore(concurrency)
        self.retries = retries
        self.stats = VenueStats()
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def info(self, request: VenueRequest) -> Any:
        """The venue's answer to one ``/info`` body."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        kind = str(request.body.get("type", "?"))
        for attempt in range(self.retries + 1):
            self.stats.waited += await self.budget.take(request.weight)
            self.stats.requests += 1
            self.stats.weight += request.weight
            self.stats.by_type[kind] = self.stats.by_type.get(kind, 0) + 1
            async with self.slots:
                try:
                    async with self._session.post(f"{self.url}/info", json=dict(request.body)) as response:
                        status, text = response.status, await response.text()
                        retry_after = response.headers.get("Retry-After")
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    said = " ".join(str(exc).split())  # one line: aiohttp's parse errors span several
                    raise RpcUnavailableError(f"venue {self.name!r} at {redact_url(self.url)} did not answer "
                                              f"{kind}: {type(exc).__name__}: {said}") from None
            if status == 429 or status >= 500:
                if attempt < self.retries:
                    pause = min(2.0**attempt, 10.0)
                    if status == 429:  # over the venue's limit: wait as told, and spend the budget's reserve too
                        pause = max(pause, _retry_after(retry_after))
                        self.budget.drain()
                        self.stats.throttled += 1
                    log.warning("venue busy venue=%s type=%s status=%d retry_in=%.1fs", self.name, kind, status, pause)
                    await asyncio.sleep(pause)
                    continue
                raise RpcUnavailableError(f"venue {self.name!r} answered {kind} with HTTP {status} "
                                          f"{self.retries + 1} times")
            if status != 200:
                raise RpcResponseError(f"venue {self.name!r} refused {kind}: HTTP {status}: "
                                       f"{' '.join(text[:200].split())}")
            try:
                return json.loads(text)
            except ValueError:
                raise RpcResponseError(f"venue {self.name!r} answered {kind} with something that is not JSON: "
                                       f"{text[:80]!r}") from None
        raise AssertionError("unreachable")


async def run_venue_plans(session: VenueSession, plans: Sequence[VenuePlan[Any]]) -> list[Any]:
    """Drive every plan round by round; each round's requests of all plans go out together (paced)."""

    async def send(requests: list[VenueRequest]) -> list[Any]:
        return list(await asyncio.gather(*(session.info(r) for r in requests)))

    return await drive(plans, send)
