"""One delivery attempt over HTTP, what its answer means, and when to try again.

Classification: 2xx delivered; 409 delivered too (the receiver already holds this idempotency key, so an
earlier attempt got through); 408, 429, 5xx, timeouts and connection errors are worth retrying, with any
``Retry-After`` honoured; 3xx and every other 4xx are permanent. Error texts are scrubbed of the request's
secrets (tokens in URLs, routing keys) before they leave this module.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Literal

import aiohttp

from indexer.alerts.channels.base import HttpRequest

_SECONDS = re.compile(r"\d+(\.\d+)?")
_ERROR_SNIPPET = 200


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    status: int | None = None  # HTTP status, None when no answer came
    error: str = ""
    retry_after: float | None = None  # seconds the receiver asked us to wait
    duplicate: bool = False  # 409: the receiver already had it


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (unix time): delta-seconds or an HTTP date; None if absent
    or unreadable. A date in the past means 0."""
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def classify(status: int, headers: Mapping[str, str], body: str = "", *, now: float) -> Outcome:
    """What an HTTP answer means for the delivery. Pure."""
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED, status)
    if status == 409:
        return Outcome(Verdict.DELIVERED, status, duplicate=True)
    error = f"HTTP {status}" + (f": {body}" if body else "")
    if status in (408, 429) or status >= 500:
        wait = parse_retry_after(headers.get("Retry-After"), now=now)
        if wait is None and status == 429:
            wait = _body_retry_after(body)
        return Outcome(Verdict.RETRY, status, error, retry_after=wait)
    if 300 <= status < 400:
        return Outcome(Verdict.FAILED, status, f"HTTP {status}: unexpected redirect (not followed)")
    return Outcome(Verdict.FAILED, status, error)


def _body_retry_after(body: str) -> float | None:
    """Telegram says how long to wait in the JSON body: ``{"parameters": {"retry_after": 5}}``."""
    try:
        value = json.loads(body)["parameters"]["retry_after"]
    except (ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) and value >= 0 else None


async def send(session: aiohttp.ClientSession, request: HttpRequest, *, timeout: float,
               clock: Callable[[], float] = time.time) -> Outcome:
    """One attempt. Never raises for network trouble: every failure becomes an ``Outcome``."""
    try:
        async with session.request(request.method, request.url, headers=request.headers, data=request.body,
                                   timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False) as response:
            body = "" if 200 <= response.status < 300 else await _snippet(response)
            outcome = classify(response.status, response.headers, body, now=clock())
    except TimeoutError:
        return Outcome(Verdict.RETRY, error=f"timed out after {timeout:g}s")
    except aiohttp.InvalidURL:
        return Outcome(Verdict.FAILED, error=request.redact(f"invalid URL {request.url}"))
    except aiohttp.ClientError as exc:
        return Outcome(Verdict.RETRY, error=request.redact(f"{type(exc).__name__}: {exc}"))
    return dataclasses.replace(outcome, error=request.redact(outcome.error)) if outcome.error else outcome


async def _snippet(response: aiohttp.ClientResponse) -> str:
    raw = await response.content.read(4 * _ERROR_SNIPPET)
    text = " ".join(raw.decode(errors="replace").split())
    return text if len(text) <= _ERROR_SNIPPET else text[:_ERROR_SNIPPET] + "…"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, a ``Retry-After`` floor, and a deadline from the delivery's creation.

    ``full``: the wait after attempt n is uniform in [0, min(cap, base·2^(n-1))]. ``decorrelated``: each
    wait is uniform in [base, 3 × the previous wait], capped. The random draws are seeded by ``key`` (one
    per delivery), so a delivery's schedule is reproducible across restarts while different deliveries
    spread out; decorrelated jitter replays its chain from attempt 1 instead of storing the last wait.
    """

    base: float = 2.0
    cap: float = 600.0
    deadline: float = 86_400.0
    jitter: Literal["full", "decorrelated"] = "full"
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap:
            raise ValueError("retry policy needs 0 < base <= cap")
        if self.deadline <= 0:
            raise ValueError("retry policy needs a positive deadline")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("retry policy needs max_attempts >= 1")

    def ceiling(self, attempt: int) -> float:
        """The longest wait the jitter may draw after failed attempt ``attempt`` (1-based)."""
        if self.jitter == "full":
            return min(self.cap, self.base * 2.0 ** min(attempt - 1, 64))
        return min(self.cap, self.base * 3.0 ** min(attempt, 64))

    def delay(self, attempt: int, *, key: str) -> float:
        """The wait after failed attempt ``attempt`` (1-based), before any ``Retry-After``."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        if self.jitter == "full":
            return random.Random(f"{key}#{attempt}").uniform(0.0, self.ceiling(attempt))
        rng, wait = random.Random(key), self.base
        for _ in range(attempt):
            wait = min(self.cap, rng.uniform(self.base, wait * 3))
        return wait

    def next_attempt_at(self, *, attempt: int, created_at: float, now: float, key: str,
                        retry_after: float | None = None) -> float | None:
        """When to try again after failed attempt ``attempt``, or None to give up: past ``max_attempts``,
        or when the next try would fall after ``created_at + deadline``. Never sooner than ``retry_after``."""
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return None
        wait = self.delay(attempt, key=key)
        if retry_after is not None:
            wait = max(wait, retry_after)
        at = now + wait
        return None if at > created_at + self.deadline else at
