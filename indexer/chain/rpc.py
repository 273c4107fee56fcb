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
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from indexer.chain.redact import redact_url
from indexer.errors import CallRevertedError, RpcResponseError, RpcUnavailableError
from indexer.types import BlockRef

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

    def count(self, payload: list[dict[str, Any]]) -> None:
        self.http_posts += 1
        self.requests += len(payload)
        for item in payload:
            self.by_method[item["method"]] = self.by_method.get(item["method"], 0) + 1


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


class RpcClient:
    """One chain's JSON-RPC endpoint(s).

    Failover across several URLs and retry with backoff: a request that fails with a retryable error on
    one endpoint goes to the next; when every endpoint failed ``attempts`` times, RpcUnavailableError.
    """

    def __init__(self, urls: list[str], *, timeout: float = 30.0, attempts: int = 3,
                 backoff: float = 0.25) -> None:
        if not urls:
            raise ValueError("at least one RPC URL is required")
        self.urls = list(urls)
        self.stats = RpcStats()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
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
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _post(self, url: str, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.stats.count(payload)
        body = json.dumps(payload if len(payload) > 1 else payload[0], separators=(",", ":")).encode()
        try:
            # A file-like body is streamed; aiohttp warns that big raw-bytes bodies can block the loop.
            async with self._http().post(url, data=io.BytesIO(body), headers=_JSON) as response:
                if response.status == 429 or response.status >= 500:
                    raise RpcUnavailableError(f"HTTP {response.status} from {redact_url(url)}")
                if response.status != 200:
                    raise RpcResponseError(f"HTTP {response.status} from {redact_url(url)}")
                data = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
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
            for url in self.urls:
                try:
                    items = await self._post(url, payload)
                    return self._match(payload, items, url)
                except RpcUnavailableError as exc:
                    last = exc
                    log.warning("rpc retryable failure endpoint=%s attempt=%d error=%s",
                                redact_url(url), attempt + 1, exc)
            await asyncio.sleep(self._backoff * 2**attempt)
        assert last is not None
        raise last

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
