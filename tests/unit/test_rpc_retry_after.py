"""An endpoint that answers 429 with ``Retry-After`` is left alone that long before the request is retried
(a real loopback HTTP server standing in for the provider)."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
from aiohttp import web

from indexer.chain.rpc import RpcClient, retry_after
from indexer.errors import RpcUnavailableError


@pytest.fixture
async def provider():
    seen: list[float] = []
    answers: list[web.Response] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(time.monotonic())
        if answers:
            return answers.pop(0)
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": "0x7a69"})

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/", seen, answers
    await runner.cleanup()


async def test_retry_after_is_honoured_before_the_retry(provider):
    url, seen, answers = provider
    answers.append(web.Response(status=429, text="slow down", headers={"Retry-After": "2"}))
    async with RpcClient([url], backoff=0.01) as rpc:
        assert await rpc.call("eth_chainId", []) == "0x7a69"
    assert len(seen) == 2 and seen[1] - seen[0] >= 2.0  # not the 10 ms backoff


async def test_a_provider_that_keeps_refusing_is_unavailable_and_says_when(provider):
    url, seen, answers = provider
    answers.extend(web.Response(status=503, headers={"Retry-After": "1"}) for _ in range(2))
    async with RpcClient([url], attempts=2, backoff=0.01) as rpc:
        with pytest.raises(RpcUnavailableError, match="Retry-After 1s") as raised:
            await rpc.call("eth_chainId", [])
    assert raised.value.retry_after == 1.0 and seen[1] - seen[0] >= 1.0


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("7") == 7.0
    assert retry_after(None) is None and retry_after("soon") is None
    later = retry_after(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 28 <= later <= 31
