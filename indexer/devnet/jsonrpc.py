"""A minimal synchronous JSON-RPC 2.0 client over urllib, with batching.

The devnet talks to a local anvil only, and seeding sends tens of thousands of requests, so this client
favours large batches (one HTTP round trip per chunk) over anything clever.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any

from indexer.devnet.errors import DevnetError, DevnetRpcError

log = logging.getLogger(__name__)

Call = tuple[str, Sequence[Any]]

# anvil accepts huge bodies with --no-request-size-limit, but other nodes cap them; chunks this size
# keep each request well under a few MB while still amortising the HTTP round trip.
DEFAULT_CHUNK = 2_000


class JsonRpcClient:
    """Sends JSON-RPC requests to one HTTP endpoint."""

    def __init__(self, url: str, *, timeout: float = 120.0, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.url = url
        self.timeout = timeout
        self.chunk_size = chunk_size
        self._next_id = 1

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One request; returns ``result`` or raises :class:`DevnetRpcError`."""
        req_id = self._take_ids(1)
        reply = self._post({"jsonrpc": "2.0", "id": req_id, "method": method, "params": list(params)})
        if not isinstance(reply, dict):
            raise DevnetError(f"{method}: unexpected JSON-RPC reply {reply!r:.200}")
        return _result_of(method, reply)

    def batch(self, calls: Iterable[Call]) -> list[Any]:
        """Many requests, sent in chunks of ``chunk_size`` per HTTP request.

        Returns the results in the order of ``calls``; the first error object raises
        :class:`DevnetRpcError` (after the whole chunk was sent, so the node did run the others).
        """
        results, errors = self.batch_raw(calls)
        for err in errors:
            if err is not None:
                raise err
        return results

    def batch_raw(self, calls: Iterable[Call]) -> tuple[list[Any], list[DevnetRpcError | None]]:
        """Like :meth:`batch` but never raises for error objects: returns (results, errors) by position."""
        calls = list(calls)
        results: list[Any] = [None] * len(calls)
        errors: list[DevnetRpcError | None] = [None] * len(calls)
        for start in range(0, len(calls), self.chunk_size):
            chunk = calls[start : start + self.chunk_size]
            first_id = self._take_ids(len(chunk))
            payload = [
                {"jsonrpc": "2.0", "id": first_id + i, "method": m, "params": list(p)} for i, (m, p) in enumerate(chunk)
            ]
            replies = self._post(payload)
            if isinstance(replies, dict):  # a node may answer a whole batch with one error object
                raise DevnetRpcError("batch", *_error_fields(replies.get("error") or {}))
            if len(replies) != len(chunk):
                raise DevnetError(f"batch of {len(chunk)} requests got {len(replies)} replies")
            for reply in replies:
                pos = start + int(reply["id"]) - first_id
                method = calls[pos][0]
                if "error" in reply and reply["error"] is not None:
                    errors[pos] = DevnetRpcError(method, *_error_fields(reply["error"]))
                else:
                    results[pos] = reply.get("result")
        return results, errors

    def _take_ids(self, count: int) -> int:
        """Reserves ``count`` consecutive request ids, so batch replies map back by arithmetic."""
        first = self._next_id
        self._next_id += count
        return first

    def _post(self, payload: Any) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise DevnetError(f"HTTP {exc.code} from {self.url}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DevnetError(f"cannot reach JSON-RPC endpoint {self.url}: {exc}") from exc
        return json.loads(raw)


def _error_fields(error: dict[str, Any]) -> tuple[int | None, str, Any]:
    return error.get("code"), str(error.get("message", "")), error.get("data")


def _result_of(method: str, reply: dict[str, Any]) -> Any:
    if reply.get("error") is not None:
        raise DevnetRpcError(method, *_error_fields(reply["error"]))
    return reply.get("result")
