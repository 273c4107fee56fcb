"""The per-chain pipeline of `indexer run`, block by block on the devnet: what one block costs the database,
and what it keeps between blocks."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import event

from indexer.devnet import mine
from indexer.pipeline import chain as pipeline_module
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import load_settings
from indexer.store.queries import add_wallet, checkpoint


def head(devnet) -> int:
    return int(devnet.rpc.call("eth_blockNumber", []), 16)


async def test_one_block_costs_at_most_two_db_round_trips_before_its_commit(devnet, chain_state, write_devnet_config,
                                                                          engine, monkeypatch, capsys):
    settings = load_settings(write_devnet_config(tail="discover = true\n"))
    for account in devnet.accounts[:10]:
        add_wallet(engine, address=account.address, label=account.kind)
    pipeline = ChainPipeline(settings, engine, "devnet")
    statements: list[str] = []
    spans: list[tuple[int, int]] = []  # per block: statements seen when its write began, and when it returned
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, sql, *rest: statements.append(sql))
    write_block = pipeline_module.write_block

    def counted(*args, **kwargs):
        began = len(statements)
        try:
            return write_block(*args, **kwargs)
        finally:
            spans.append((began, len(statements)))

    monkeypatch.setattr(pipeline_module, "write_block", counted)
    try:
        assert await pipeline.step() == 1  # the first step loads what the store holds (and backfills discovery)
        for blocks in (1, 3):
            mine(devnet.url, blocks)
            statements.clear()
            spans.clear()
            assert await pipeline.step() == blocks
            assert checkpoint(engine, chain="devnet") == head(devnet)
            # what each block asked the database before its one transaction began
            asked = [began - (spans[i - 1][1] if i else 0) for i, (began, _) in enumerate(spans)]
            with capsys.disabled():
                print(f"\n[{engine.dialect.name}] DB statements before each block's commit: {asked}")
            assert len(asked) == blocks and all(n <= 2 for n in asked), (asked, statements)
    finally:
        await pipeline.close()


class BatchLimitProxy:
    """Passes JSON-RPC through to ``upstream`` but refuses an ``aggregate3`` of more than ``limit`` calls the way
    a node over its gas cap does; counts the refusals."""

    def __init__(self, upstream: str, limit: int) -> None:
        self.upstream, self.limit = upstream, limit
        self.refused = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/"
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        items = body if isinstance(body, list) else [body]
        answers = []
        for item in items:
            data = item["params"][0].get("data", "") if item["method"] == "eth_call" else ""
            if data.startswith("0x82ad56cb") and int(data[2 + 8 + 64: 2 + 8 + 128], 16) > self.limit:
                self.refused += 1
                answers.append({"jsonrpc": "2.0", "id": item["id"],
                                "error": {"code": -32000, "message": "out of gas: gas required exceeds allowance"}})
                continue
            assert self._session is not None
            async with self._session.post(self.upstream, json=item) as response:
                answers.append(await response.json())
        return web.json_response(answers if isinstance(body, list) else answers[0])


@pytest.fixture
async def limited(devnet):
    proxy = BatchLimitProxy(devnet.url, limit=40)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


async def test_the_learned_batch_size_survives_across_blocks(devnet, chain_state, write_devnet_config, engine,
                                                             limited):
    config = write_devnet_config(chain=f'rpc_urls = ["{limited.url}"]\n')
    settings = load_settings(config)
    for account in devnet.accounts:
        add_wallet(engine, address=account.address)
    pipeline = ChainPipeline(settings, engine, "devnet")
    try:
        await pipeline.step()
        learned, refused = pipeline.reads.reader.batch_size, limited.refused
        assert refused > 0 and learned <= 40  # the first block learned what the node accepts
        mine(devnet.url, 3)
        assert await pipeline.step() == 3
        assert limited.refused == refused and pipeline.reads.reader.batch_size == learned  # and kept it
        assert checkpoint(engine, chain="devnet") == head(devnet)
    finally:
        await pipeline.close()
