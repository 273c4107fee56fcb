"""New heads the moment a node has them: ``eth_subscribe("newHeads")`` over a WebSocket endpoint.

A notification only wakes the chain's follower, which then reads the head and the block over its HTTP endpoints
as every poll does (the same failover, batching and pinning): the subscription decides *when* to look, never
*what* is read. Polling every ``poll_interval`` stays underneath, so a subscription that drops or an endpoint
without WebSockets costs latency, never a block. A lost subscription is retried on the next endpoint with a
capped back-off, and said in the log once per loss.

JSON-RPC over WebSocket (``eth_subscribe``/``eth_subscription``, as geth, reth, erigon and anvil serve it): the
subscribe request answers with the subscription id; each new block arrives as
``{"method": "eth_subscription", "params": {"subscription": ID, "result": {"number": "0x…", …}}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from indexer.chain.redact import redact_url
from indexer.metrics import NEW_HEADS

log = logging.getLogger(__name__)

BACKOFF_MAX = 30.0  # seconds between attempts once every endpoint has failed in turn


class SubscriptionError(Exception):
    """The endpoint refused the subscription or said something that is not a subscription's answer."""


def ws_url_for(http_url: str) -> str:
    """The WebSocket URL of a node that serves both on one port (anvil, geth's shared listener): same host, port
    and path, ``ws``/``wss`` for ``http``/``https``."""
    if http_url.startswith("https://"):
        return "wss://" + http_url[len("https://"):]
    if http_url.startswith("http://"):
        return "ws://" + http_url[len("http://"):]
    return http_url


class HeadSubscription:
    """Calls ``on_head(number)`` for every new head one of ``urls`` announces, until ``stop`` is set."""

    def __init__(self, urls: Sequence[str], *, chain: str, on_head: Callable[[int], None],
                 timeout: float = 10.0) -> None:
        if not urls:
            raise ValueError("a head subscription needs at least one WebSocket URL")
        self.urls = list(urls)
        self.chain = chain
        self.on_head = on_head
        self.timeout = timeout
        self.subscribed: str | None = None  # the endpoint (redacted) while a subscription is live

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout)) \
                as session:
            while not stop.is_set():
                url = self.urls[failures % len(self.urls)]
                try:
                    await self._follow(session, url, stop)
                    failures = 0  # the endpoint closed cleanly: start again from the first
                except (TimeoutError, aiohttp.ClientError, SubscriptionError, ValueError, OSError) as exc:
                    was = self.subscribed
                    self.subscribed = None
                    failures = 1 if was else failures + 1  # a live subscription lost: the back-off starts again
                    delay = min(BACKOFF_MAX, 0.5 * 2 ** min(failures, 8)) if failures >= len(self.urls) else 0.0
                    log.warning("new heads %s chain=%s endpoint=%s error=%s retry_in=%.1fs (polling meanwhile)",
                                "subscription lost" if was else "subscription failed", self.chain,
                                redact_url(url), _describe(exc), delay)
                    if delay:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), delay)

    async def _follow(self, session: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> None:
        async with session.ws_connect(url, heartbeat=30.0, max_msg_size=4 * 1024 * 1024) as ws:
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
                                          "params": ["newHeads"]}))
            answer = await asyncio.wait_for(ws.receive(), self.timeout)
            subscription = _subscription_id(answer)
            self.subscribed = redact_url(url)
            log.info("new heads subscribed chain=%s endpoint=%s", self.chain, self.subscribed)
            stopping = asyncio.ensure_future(stop.wait())
            try:
                while True:
                    receiving = asyncio.ensure_future(ws.receive())
                    done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    if stopping in done:
                        receiving.cancel()
                        return
                    number = _head_number(receiving.result(), subscription)
                    if number is not None:
                        NEW_HEADS.labels(self.chain).inc()
                        self.on_head(number)
            finally:
                stopping.cancel()


def _json(message: aiohttp.WSMessage) -> Any:
    if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
        raise SubscriptionError("the endpoint closed the connection")
    if message.type is aiohttp.WSMsgType.ERROR:
        raise SubscriptionError(f"connection error: {message.data}")
    if message.type is not aiohttp.WSMsgType.TEXT:
        raise SubscriptionError(f"unexpected {message.type.name} frame")
    try:
        return json.loads(message.data)
    except ValueError:
        raise SubscriptionError("the endpoint sent something that is not JSON") from None


def _subscription_id(message: aiohttp.WSMessage) -> str:
    body = _json(message)
    if not isinstance(body, dict) or body.get("id") != 1:
        raise SubscriptionError("no answer to eth_subscribe")
    if "error" in body:
        error = body["error"]
        text = error.get("message") if isinstance(error, dict) else error
        raise SubscriptionError(f"eth_subscribe refused: {str(text)[:200]}")
    result = body.get("result")
    if not isinstance(result, str) or not result:
        raise SubscriptionError("eth_subscribe answered without a subscription id")
    return result


def _head_number(message: aiohttp.WSMessage, subscription: str) -> int | None:
    """The block number of a newHeads notification of ``subscription``; None for anything else it may send."""
    body = _json(message)
    if not isinstance(body, dict) or body.get("method") != "eth_subscription":
        return None
    params = body.get("params")
    if not isinstance(params, dict) or params.get("subscription") != subscription:
        return None
    result = params.get("result")
    number = result.get("number") if isinstance(result, dict) else None
    if not isinstance(number, str) or not number.startswith("0x"):
        raise SubscriptionError("a newHeads notification without a block number")
    return int(number, 16)


def _describe(exc: BaseException) -> str:
    """The error without the URL (an API key may sit in its path or query)."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"no WebSocket there (HTTP {exc.status})"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc.os_error.strerror or type(exc.os_error).__name__}"
    if isinstance(exc, aiohttp.ClientError):
        return type(exc).__name__
    return str(exc) or type(exc).__name__
