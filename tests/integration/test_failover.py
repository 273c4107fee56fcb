"""Two RPC URLs, the first a loopback proxy in front of anvil that we make fail (HTTP 500, hangs, 429):
`indexer run` keeps following on the other without missing a block."""

import asyncio
import contextlib
import time

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from indexer.devnet import mine
from indexer.jobs.run import run
from indexer.settings import load_settings
from indexer.store.chain_store import checkpoint
from indexer.store.models import Block
from indexer.store.wallet_store import add_wallet


class FlakyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "ok"
        self.served = {"ok": 0, "500": 0, "hang": 0, "429": 0}
        self.released = asyncio.Event()  # set at teardown: a hung request ends then, not after its 30 s

    async def handle(self, request: web.Request) -> web.Response:
        self.served[self.mode] += 1
        if self.mode == "500":
            return web.Response(status=500, text="upstream exploded")
        if self.mode == "429":
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        if self.mode == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.released.wait(), 30)
        async with aiohttp.ClientSession() as session, session.post(self.upstream, data=await request.read(),
                                                                     headers={"Content-Type": "application/json"}) as r:
            return web.Response(status=r.status, body=await r.read(), content_type="application/json")


@pytest.mark.one_database("postgres")  # the subject is RPC failover; the store under it is the production one
async def test_failing_endpoint_is_left_behind_without_missing_a_block(devnet, chain_state, write_devnet_config,
                                                                        engine, unused_tcp_port, caplog):
    proxy = FlakyProxy(devnet.url)
    app = web.Application()
    app.router.add_post("/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    urls = f'rpc_urls = ["http://127.0.0.1:{unused_tcp_port}/key/SECRET", "{devnet.url}"]\n'
    config = load_settings(write_devnet_config(chain=urls + "poll_interval = 0.1\nrpc_timeout = 1\n"))
    for account in devnet.accounts[:10]:
        add_wallet(engine, address=account.address)
    caplog.set_level("WARNING", logger="indexer.chain.rpc")
    stop = asyncio.Event()
    task = asyncio.create_task(run(config, engine, stop, dispatch=False))
    try:
        start = int(devnet.rpc.call("eth_blockNumber", []), 16)
        for mode in ("ok", "500", "hang", "429", "ok"):
            proxy.mode = mode
            phase_end = time.monotonic() + 20
            # blocks keep coming until the proxy has really served this mode (a demoted endpoint is only
            # tried again once its cooldown is over)
            while proxy.served[mode] == 0 or time.monotonic() < phase_end - 19:
                assert time.monotonic() < phase_end, f"the proxy was never tried in mode {mode}"
                mine(devnet.url, 1)
                await asyncio.sleep(0.15)
        last = int(devnet.rpc.call("eth_blockNumber", []), 16)
        deadline = time.monotonic() + 60
        while (checkpoint(engine, chain="devnet") or 0) < last:
            assert time.monotonic() < deadline, "fell behind"
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
        proxy.released.set()  # the server's clean-up waits for its handlers
        await runner.cleanup()
    with engine.connect() as conn:
        stored = sorted(conn.execute(sa.select(Block.__table__.c.number)).scalars())
    assert stored == list(range(stored[0], last + 1)) and stored[0] <= start + 1  # no block missed
    assert proxy.served["500"] and proxy.served["hang"] and proxy.served["429"]  # it really was tried
    assert "rpc retryable failure" in caplog.text and "SECRET" not in caplog.text  # logged, key redacted
