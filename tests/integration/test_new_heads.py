"""New heads over WebSocket: `indexer run` follows a block the moment the node announces it (anvil serves
``eth_subscribe("newHeads")`` on its HTTP port), and falls back to polling when no subscription can be had.

Real anvil (the session devnet), real SQLite and Postgres; the poll interval is set far above what the test waits,
so a block stored in time can only have been woken by the subscription.
"""

from __future__ import annotations

import asyncio
import logging
import time

from indexer.devnet import mine
from indexer.jobs.run import run
from indexer.settings import load_settings
from indexer.store.chain_store import checkpoint
from indexer.store.wallet_store import add_wallet

SLOW_POLL = 60.0  # seconds: no poll happens within any wait below


def head(devnet) -> int:
    return int(devnet.rpc.call("eth_blockNumber", []), 16)


async def stored(engine, number: int, timeout: float) -> float:
    """Seconds until the chain's checkpoint reaches ``number``; fails after ``timeout``."""
    started = time.monotonic()
    while (checkpoint(engine, chain="devnet") or -1) < number:
        assert time.monotonic() - started < timeout, f"block {number} not stored within {timeout} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_a_new_block_is_followed_at_once_without_waiting_for_the_poll(devnet, chain_state, write_devnet_config,
                                                                           engine, caplog):
    caplog.set_level(logging.INFO, logger="indexer")
    settings = load_settings(write_devnet_config(chain=f"poll_interval = {SLOW_POLL}\n"))
    assert settings.ws_urls("devnet") == [settings.rpc_urls("devnet")[0].replace("http://", "ws://")]
    for account in devnet.accounts[:10]:
        add_wallet(engine, address=account.address, label=account.kind)
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, engine, stop, dispatch=False))
    try:
        await stored(engine, head(devnet), 30)  # the first step runs at start
        deadline = time.monotonic() + 10
        while "new heads subscribed chain=devnet" not in caplog.text:
            assert time.monotonic() < deadline, "no subscription"
            await asyncio.sleep(0.02)
        waits = []
        for _ in range(3):
            mine(devnet.url, 1)
            waits.append(await stored(engine, head(devnet), SLOW_POLL / 4))
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert max(waits) < SLOW_POLL / 4
    print(f"\n[new heads] block stored {', '.join(f'{w:.3f}' for w in waits)} s after it was mined "
          f"(poll interval {SLOW_POLL:.0f} s)")


async def test_without_a_websocket_endpoint_it_polls_and_says_so(devnet, chain_state, write_devnet_config, engine,
                                                                caplog):
    caplog.set_level(logging.INFO, logger="indexer")
    # a closed port: the subscription fails, polling every 0.2 s carries on
    settings = load_settings(write_devnet_config(chain='poll_interval = 0.2\nws_urls = ["ws://127.0.0.1:9/k3y"]\n'))
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, engine, stop, dispatch=False))
    try:
        await stored(engine, head(devnet), 30)
        mine(devnet.url, 2)
        await stored(engine, head(devnet), 10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    lines = [r.getMessage() for r in caplog.records if "new heads" in r.getMessage()]
    assert lines and all("subscription failed chain=devnet endpoint=ws://127.0.0.1:9/…" in line and
                         "cannot connect" in line and "polling meanwhile" in line for line in lines)
    assert "k3y" not in caplog.text  # the URL's path is never logged


def test_subscribe_heads_off_or_configured_endpoints(write_devnet_config):
    off = load_settings(write_devnet_config(chain="subscribe_heads = false\n"))
    assert off.ws_urls("devnet") == []
    given = load_settings(write_devnet_config(chain='ws_urls = ["wss://node.example/ws"]\n'))
    assert given.ws_urls("devnet") == ["wss://node.example/ws"]


async def test_a_dropped_or_refused_subscription_is_retried_and_said(caplog):
    """A loopback WebSocket server (aiohttp): the first connection is refused (an error answer), the second
    announces one head and drops, the third keeps announcing; every head reaches the callback."""
    from aiohttp import WSMsgType, web

    from indexer.chain.newheads import HeadSubscription

    connections = 0

    async def node(request: web.Request) -> web.WebSocketResponse:
        nonlocal connections
        connections += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        message = await ws.receive()
        assert message.type is WSMsgType.TEXT and '"eth_subscribe"' in message.data
        if connections == 1:
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no subscriptions"}})
        else:
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "result": "0xab"})
            for number in (10, 11) if connections == 2 else (12, 13, 14):
                await ws.send_json({"jsonrpc": "2.0", "method": "eth_subscription",
                                    "params": {"subscription": "0xab", "result": {"number": hex(number)}}})
            if connections > 2:
                await ws.receive()  # until the client goes
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", node)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    caplog.set_level(logging.INFO, logger="indexer")
    heads: list[int] = []
    stop = asyncio.Event()
    subscription = HeadSubscription([f"ws://127.0.0.1:{port}/"], chain="devnet", on_head=heads.append)
    task = asyncio.create_task(subscription.run(stop))
    try:
        deadline = time.monotonic() + 20
        while heads[-1:] != [14]:
            assert time.monotonic() < deadline, heads
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await runner.cleanup()
    assert heads == [10, 11, 12, 13, 14] and connections == 3
    text = caplog.text
    assert "subscription failed chain=devnet" in text and "eth_subscribe refused: no subscriptions" in text
    assert "subscription lost chain=devnet" in text and text.count("new heads subscribed chain=devnet") == 2
