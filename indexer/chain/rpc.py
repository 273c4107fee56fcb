"""JSON-RPC over HTTP: single and batched requests, counted, with errors classified.

Retry and failover live here (the provider layer), never in callers. Every call that reads state takes
an explicit block number; nothing reads "latest" except the head lookup.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from indexer.chain.redact import redact_url
from indexer.errors import CallRevertedError, RpcResponseError, RpcUnavailableError
from indexer.metrics import RPC_REQUESTS, RPC_SECONDS
from indexer.types import BlockRef

if TYPE_CHECKING:  # aiohttp is imported with the first request, not by every command that loads a protocol
    import aiohttp

log = logging.getLogger(__name__)

_JSON = {"Content-Type": "application/json"}
# JSON-RPC error codes / messages that mean "busy, try later" rather than "your request is wrong".
_RETRYABLE_CODES = {-32005, -32603, -32000, 429}
_RETRYABLE_WORDS = ("rate limit", "too many requests", "timeout", "timed out", "overload", "busy", "capacity")


@dataclass
class RpcStats:
    """Counts JSON-RPC requests (one per element of a batch) and HTTP round trips."""

    requests: int = 0
    http_posts: int = 0
    by_method: dict[str, int] = field(default_factory=dict)

    def copy(self) -> RpcStats:
        return RpcStats(self.requests, self.http_posts, dict(self.by_method))

    def since(self, earlier: RpcStats) -> RpcStats:
        """What was counted after ``earlier`` (a ``copy`` of these stats taken then)."""
        return RpcStats(self.requests - earlier.requests, self.http_posts - earlier.http_posts,
                        {m: n - earlier.by_method.get(m, 0) for m, n in self.by_method.items()
                         if n != earlier.by_method.get(m, 0)})

    def count(self, payload: list[dict[str, Any]]) -> None:
        self.http_posts += 1
        self.requests += len(payload)
        for item in payload:
            self.by_method[item["method"]] = self.by_method.get(item["method"], 0) + 1


MAX_RETRY_AFTER = 120.0  # longer asks are honoured up to this, then the endpoint is tried again


def retry_after(value: str | None) -> float | None:
    """Seconds from an HTTP ``Retry-After`` header: a number of seconds or an HTTP date (None if absent or
    unreadable)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _is_retryable(error: dict[str, Any]) -> bool:
    message = str(error.get("message", "")).lower()
    if "revert" in message or "execution reverted" in message:
        return False
    return error.get("code") in _RETRYABLE_CODES and any(w in message for w in _RETRYABLE_WORDS)


def _raise_for_error(error: dict[str, Any], method: str, where: str) -> None:
    message = str(error.get("message", "unknown error"))
    if "revert" in message.lower():
        raise CallRevertedError(f"{method} reverted on {where}: {message}")
    if _is_retryable(error):
        raise RpcUnavailableError(f"{method} failed on {where}: {message}")
    raise RpcResponseError(f"{method} failed on {where}: {message}")


@dataclass
class Endpoint:
    """One URL and how it has behaved: a health score in (0, 1], and a cooldown after failures."""

    url: str
    score: float = 1.0
    failures: int = 0  # consecutive
    cooldown_until: float = 0.0
    asked_until: float = 0.0  # the endpoint's own Retry-After, as a monotonic time
    requests: int = 0
    errors: int = 0

    @property
    def name(self) -> str:
        return redact_url(self.url)


def _client_error() -> type[Exception]:
    import aiohttp

    return aiohttp.ClientError


def _count(endpoint: str, payload: list[dict[str, Any]], outcome: str) -> None:
    for item in payload:
        RPC_REQUESTS.labels(endpoint, item["method"], outcome).inc()


class RpcClient:
    """One chain's JSON-RPC endpoint(s).

    Failover across several URLs: each request goes to the healthiest endpoint not cooling down; a
    retryable failure (connection error, timeout, HTTP 429/5xx, overload errors) lowers that endpoint's
    score, puts it in a growing cooldown and moves the request to the next one. When every endpoint failed
    ``attempts`` times, RpcUnavailableError. ``demote`` benches an endpoint from outside (a lagging head).
    """

    def __init__(self, urls: list[str], *, timeout: float = 30.0, attempts: int = 3,
                 backoff: float = 0.25) -> None:
        if not urls:
            raise ValueError("at least one RPC URL is required")
        self.urls = list(urls)
        self.endpoints = [Endpoint(u) for u in urls]
        self.stats = RpcStats()
        self._timeout_seconds = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RpcClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_seconds))
        return self._session

    async def _post(self, url: str, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.stats.count(payload)
        endpoint = redact_url(url)
        started = time.perf_counter()
        try:
            items = await self._exchange(url, payload)
        except RpcUnavailableError:
            _count(endpoint, payload, "unavailable")
            raise
        except RpcResponseError:
            _count(endpoint, payload, "bad_response")
            raise
        finally:
            RPC_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
        failed = {item.get("id") for item in items if item.get("error") is not None}
        for item in payload:
            RPC_REQUESTS.labels(endpoint, item["method"], "error" if item["id"] in failed else "ok").inc()
        return items

    async def _exchange(self, url: str, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = json.dumps(payload if len(payload) > 1 else payload[0], separators=(",", ":")).encode()
        try:
            # A file-like body is streamed; aiohttp warns that big raw-bytes bodies can block the loop.
            async with self._http().post(url, data=io.BytesIO(body), headers=_JSON) as response:
                if response.status == 429 or response.status >= 500:
                    wait = retry_after(response.headers.get("Retry-After"))
                    raise RpcUnavailableError(
                        f"HTTP {response.status} from {redact_url(url)}"
                        + (f" (Retry-After {wait:g}s)" if wait is not None else ""), retry_after=wait)
                if response.status != 200:
                    raise RpcResponseError(f"HTTP {response.status} from {redact_url(url)}")
                data = await response.json(content_type=None)
        except (TimeoutError, _client_error(), OSError) as exc:
            raise RpcUnavailableError(
                f"cannot reach RPC {redact_url(url)}: {type(exc).__name__} {exc}".strip()) from None
        except ValueError:
            raise RpcResponseError(f"RPC {redact_url(url)} answered with something that is not JSON") from None
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(i, dict) for i in items):
            raise RpcResponseError(f"RPC {redact_url(url)} answered with a malformed JSON-RPC body")
        return items

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Send calls as one JSON-RPC batch; results in order. Errors raise (classified)."""
        if not calls:
            return []
        payload = [{"jsonrpc": "2.0", "id": next(self._ids), "method": m, "params": p} for m, p in calls]
        last: Exception | None = None
        for attempt in range(self._attempts):
            for endpoint in self._ordered():
                endpoint.requests += 1
                try:
                    items = await self._post(endpoint.url, payload)
                    result = self._match(payload, items, endpoint.url)
                except RpcUnavailableError as exc:
                    last = exc
                    self._failed(endpoint, exc.retry_after)
                    log.warning("rpc retryable failure endpoint=%s attempt=%d score=%.2f error=%s",
                                endpoint.name, attempt + 1, endpoint.score, exc)
                    continue
                endpoint.failures = 0
                endpoint.score = min(1.0, endpoint.score * 0.8 + 0.2)
                return result
            if attempt + 1 < self._attempts:
                # every endpoint failed; one that said when to come back (Retry-After) is given that long
                now = time.monotonic()
                asked = [e.asked_until - now for e in self.endpoints if e.asked_until > now]
                await asyncio.sleep(max([self._backoff * 2**attempt, *(min(a, MAX_RETRY_AFTER) for a in asked)]))
        assert last is not None
        raise last

    def _ordered(self) -> list[Endpoint]:
        now = time.monotonic()
        ready = sorted((e for e in self.endpoints if e.cooldown_until <= now), key=lambda e: -e.score)
        cooling = sorted((e for e in self.endpoints if e.cooldown_until > now), key=lambda e: e.cooldown_until)
        return ready + cooling

    def _failed(self, endpoint: Endpoint, retry_after: float | None = None) -> None:
        endpoint.errors += 1
        endpoint.failures += 1
        endpoint.score = max(0.01, endpoint.score * 0.5)
        pause = min(60.0, self._backoff * 2**endpoint.failures)
        if retry_after is not None:
            pause = max(pause, min(retry_after, MAX_RETRY_AFTER))
            endpoint.asked_until = time.monotonic() + pause
        endpoint.cooldown_until = time.monotonic() + pause

    def demote(self, url: str, seconds: float, why: str) -> None:
        for endpoint in self.endpoints:
            if endpoint.url == url:
                endpoint.cooldown_until = max(endpoint.cooldown_until, time.monotonic() + seconds)
                endpoint.score = max(0.01, endpoint.score * 0.5)
                log.warning("rpc endpoint demoted endpoint=%s seconds=%.0f reason=%s", endpoint.name, seconds, why)

    async def heads(self) -> dict[str, int | None]:
        """Each endpoint's own head (None where it did not answer), one request per endpoint."""
        async def one(endpoint: Endpoint) -> int | None:
            try:
                items = await self._post(endpoint.url, [{"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber",
                                                         "params": []}])
                return int(items[0]["result"], 16)
            except (RpcUnavailableError, RpcResponseError, KeyError, ValueError, TypeError) as exc:
                self._failed(endpoint)
                log.warning("rpc retryable failure endpoint=%s request=eth_blockNumber score=%.2f error=%s",
                            endpoint.name, endpoint.score, exc)
                return None
        answers = await asyncio.gather(*(one(e) for e in self.endpoints))
        return {e.url: h for e, h in zip(self.endpoints, answers, strict=True)}

    def _match(self, payload: list[dict[str, Any]], items: list[dict[str, Any]], url: str) -> list[Any]:
        by_id = {item.get("id"): item for item in items}
        results = []
        for request in payload:
            item = by_id.get(request["id"])
            if item is None:
                raise RpcResponseError(f"RPC {redact_url(url)} left request {request['method']} unanswered")
            if "error" in item:
                _raise_for_error(item["error"] or {}, request["method"], redact_url(url))
            if "result" not in item:
                raise RpcResponseError(f"RPC {redact_url(url)} answered {request['method']} with no result")
            results.append(item["result"])
        return results

    async def call(self, method: str, params: list[Any]) -> Any:
        return (await self.batch([(method, params)]))[0]

    async def chain_id(self) -> int:
        return int(await self.call("eth_chainId", []), 16)

    async def block(self, number: int | str = "latest") -> BlockRef:
        tag = hex(number) if isinstance(number, int) else number
        header = await self.call("eth_getBlockByNumber", [tag, False])
        if not header:
            raise RpcResponseError(f"block {number} not found")
        return BlockRef(number=int(header["number"], 16), hash=header["hash"],
                        timestamp=int(header["timestamp"], 16), parent_hash=header["parentHash"])
