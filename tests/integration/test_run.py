"""`indexer run` against the devnet: block-by-block following, same-block alerts, reorgs, clean stops."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import sqlalchemy as sa

from indexer.devnet import mine, revert, set_price, snapshot
from indexer.jobs.run import Runtime, run
from indexer.settings import RunSettings, load_settings
from indexer.store.chain_store import checkpoint
from indexer.store.models import AlertEvent, Block, PositionHistory
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from tests.fixtures.rpc_proxy import JsonRpcProxy
from tests.integration.chain_helpers import user_account_data

FAST = "poll_interval = 0.1\n"
ALL_WRITES = '[writes]\nmode = "all"\n'  # every read position written every block (the default writes changes)


def head(devnet):
    return int(devnet.rpc.call("eth_blockNumber", []), 16)


async def caught_up(engine, number, timeout=30.0):
    deadline = time.monotonic() + timeout
    while (checkpoint(engine, chain="devnet") or -1) < number:
        assert time.monotonic() < deadline, f"not at block {number} in time"
        await asyncio.sleep(0.05)


def table(engine, model, *columns):
    t = model.__table__
    with engine.connect() as conn:
        return conn.execute(sa.select(*(t.c[c] for c in columns))).all()


async def start(config, engine):
    stop = asyncio.Event()
    task = asyncio.create_task(run(config, engine, stop, dispatch=False))
    return stop, task


async def test_feed_update_raises_the_alert_in_the_same_block(devnet, chain_state, write_devnet_config, engine,
                                                             caplog):
    config = load_settings(write_devnet_config(chain=FAST))
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    stop, task = await start(config, engine)
    try:
        await caught_up(engine, head(devnet))
        before = {e for (e,) in table(engine, AlertEvent, "id")}
        set_price(devnet.url, devnet.deployment, "WETH", devnet.deployment.reserve("WETH")["price"] * 80 // 100)
        update_block = head(devnet)  # automine: the feed update is in this block
        await caught_up(engine, update_block)
        mine(devnet.url, 2)
        await caught_up(engine, update_block + 2)
    finally:
        stop.set()
        await task
    new = [(i, b, k) for i, b, k in table(engine, AlertEvent, "id", "block_number", "kind") if i not in before]
    assert new, "a 20 % WETH drop must open or escalate alerts"
    assert {b for _, b, _ in new} == {update_block}  # raised while processing the update's own block
    print(f"\n[same block] feed update block={update_block} alert blocks={sorted({b for _, b, _ in new})} "
          f"events={len(new)}")


async def test_reorg_rolls_back_to_the_common_ancestor(devnet, chain_state, write_devnet_config, engine):
    config = load_settings(write_devnet_config(chain=FAST))
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    stop, task = await start(config, engine)
    try:
        base = head(devnet)
        await caught_up(engine, base)
        saved = snapshot(devnet.url)
        set_price(devnet.url, devnet.deployment, "WETH", devnet.deployment.reserve("WETH")["price"] // 2)
        dropped_block = head(devnet)
        await caught_up(engine, dropped_block)
        dropped = [i for i, b in table(engine, AlertEvent, "id", "block_number") if b == dropped_block]
        assert dropped, "the dropped branch raised alerts"

        revert(devnet.url, saved)  # the branch with the price drop is gone
        mine(devnet.url, 3)
        new_head = head(devnet)
        await caught_up(engine, new_head)
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await task

    events = {i for (i,) in table(engine, AlertEvent, "id")}
    assert not events & set(dropped), "no alert from the dropped branch survives"
    stored = dict(table(engine, Block, "number", "hash"))
    for number in range(base, new_head + 1):
        assert stored[number] == devnet.rpc.call("eth_getBlockByNumber", [hex(number), False])["hash"]
    positions = list_positions(engine)
    assert {p.block_number for p in positions} == {new_head}
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"],
                                      [p.account for p in positions], new_head)
    assert all(onchain[p.account][5] == p.health_raw for p in positions)
    history_blocks = {b for (b,) in table(engine, PositionHistory, "block_number")}
    assert history_blocks <= set(stored)  # nothing left from blocks that are no longer stored


def _start_process(env, config):
    return subprocess.Popen([sys.executable, "-m", "indexer", "--config", str(config), "-v", "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


async def test_sigterm_leaves_whole_blocks_and_restart_continues(devnet, chain_state, write_devnet_config,
                                                                 engine):
    # every position written every block, so that a partial block would show as one with fewer rows
    config = write_devnet_config(top=ALL_WRITES, chain=FAST)
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    first = _start_process(env, config)
    try:
        await caught_up(engine, head(devnet))
        for _ in range(6):  # blocks keep coming while we stop it
            mine(devnet.url, 1)
            await asyncio.sleep(0.07)
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert "indexer stopped" in err

    positions = len(list_positions(engine))
    per_block = {}
    for (number,) in table(engine, PositionHistory, "block_number"):
        per_block[number] = per_block.get(number, 0) + 1
    stored_blocks = sorted(n for (n,) in table(engine, Block, "number"))
    assert set(per_block.values()) == {positions}, "every stored block holds every position: none is partial"
    assert sorted(per_block) == stored_blocks and checkpoint(engine, chain="devnet") == stored_blocks[-1]
    stopped_at = stored_blocks[-1]

    mine(devnet.url, 3)
    second = _start_process(env, config)
    try:
        await caught_up(engine, head(devnet))
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
    after = sorted(n for (n,) in table(engine, Block, "number"))
    assert after[: len(stored_blocks)] == stored_blocks
    assert after == list(range(after[0], after[-1] + 1)), "no block skipped"
    assert after[-1] == head(devnet) > stopped_at


async def test_run_discovers_every_seeded_borrower(devnet, chain_state, write_devnet_config, engine):
    from indexer.protocols.aave_v3.devnet.seed import liquidity_provider_address

    config = load_settings(write_devnet_config(chain=FAST, tail="discover = true\n"))  # and no wallet tracked
    stop, task = await start(config, engine)
    try:
        await caught_up(engine, head(devnet))
        found = {p.account for p in list_positions(engine)}
        mine(devnet.url, 2)  # interest accrues, blocks arrive: every position follows the head
        await caught_up(engine, head(devnet))
    finally:
        stop.set()
        await task
    seeded = {a.address for a in devnet.accounts}
    assert found == seeded | {liquidity_provider_address(0)}  # the seeding's own list, plus its liquidity provider
    positions = list_positions(engine)
    assert {p.block_number for p in positions} == {head(devnet)}
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"],
                                      [p.account for p in positions], head(devnet))
    assert all(onchain[p.account][5] == p.health_raw for p in positions)


async def test_fast_path_alerts_between_full_reads(devnet, chain_state, write_devnet_config, engine, caplog):
    config = load_settings(write_devnet_config(chain=FAST, tail="snapshot_every = 1000\n"))  # one full read
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    caplog.set_level("INFO", logger="indexer.pipeline.chain")
    stop, task = await start(config, engine)
    try:
        await caught_up(engine, head(devnet))
        before = {e for (e,) in table(engine, AlertEvent, "id")}
        set_price(devnet.url, devnet.deployment, "WETH", devnet.deployment.reserve("WETH")["price"] * 80 // 100)
        update_block = head(devnet)
        await caught_up(engine, update_block)
    finally:
        stop.set()
        await task
    assert f"block={update_block} read=fast" in caplog.text
    new = [(i, b) for i, b in table(engine, AlertEvent, "id", "block_number") if i not in before]
    assert new and {b for _, b in new} == {update_block}
    moved = [p for p in list_positions(engine) if p.block_number == update_block]
    assert moved  # the positions holding WETH, recomputed locally at the update's block
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"],
                                      [p.account for p in moved], update_block)
    for p in moved:  # cached amounts: only the interest accrued since the full read is missing
        hf = onchain[p.account][5]
        assert abs(p.health_raw - hf) <= hf // 10**6, (p.account, p.health_raw, hf)


async def test_retention_prunes_old_history_but_keeps_latest(devnet, chain_state, write_devnet_config, engine):
    from indexer.store.retention import prune

    config = load_settings(write_devnet_config(top=ALL_WRITES, chain=FAST))  # a history row per block to prune
    for account in devnet.accounts[:5]:
        add_wallet(engine, address=account.address)
    stop, task = await start(config, engine)
    try:
        await caught_up(engine, head(devnet))
        mine(devnet.url, 6)
        await caught_up(engine, head(devnet))
    finally:
        stop.set()
        await task
    latest = {p.account: p.snapshot_id for p in list_positions(engine)}
    before = sorted({b for (b,) in table(engine, PositionHistory, "block_number")})
    counts = prune(engine, chain="devnet", keep_blocks=3)
    after = sorted({b for (b,) in table(engine, PositionHistory, "block_number")})
    assert counts["history"] > 0 and counts["readings"] > 0
    below = head(devnet) - 3
    # every position's last row below the cut stays: it holds its figures from the cut until its next row
    assert after == [max(b for b in before if b < below)] + [b for b in before if b >= below]
    assert len(before) > len(after) + 1
    assert {p.account: p.snapshot_id for p in list_positions(engine)} == latest  # latest rows untouched


async def test_status_endpoints_of_a_running_indexer(devnet, chain_state, write_devnet_config, engine):
    """/healthz, /readyz (503 while a chain is behind) and /metrics of `indexer run`, on loopback."""
    import socket

    import aiohttp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = load_settings(write_devnet_config(chain=FAST)).model_copy(
        update={"run": RunSettings(listen=f"127.0.0.1:{port}")})
    for account in devnet.accounts[:5]:
        add_wallet(engine, address=account.address)
    stop, task = await start(config, engine)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 10
            while True:  # before the first block is stored the chain is behind: not ready, but healthy
                try:
                    async with http.get(f"{base}/readyz") as response:
                        early = response.status, await response.json()
                    break
                except aiohttp.ClientConnectorError:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.02)
            await caught_up(engine, head(devnet))
            await asyncio.sleep(0.3)  # the next poll sees the head it stored
            async with http.get(f"{base}/readyz") as response:
                ready = response.status, await response.json()
            async with http.get(f"{base}/healthz") as response:
                health = response.status, await response.json()
            async with http.get(f"{base}/metrics") as response:
                metrics = response.status, await response.text()
    finally:
        stop.set()
        await task
    if early[0] == 503:
        assert early[1]["status"] == "behind"
    assert ready[0] == 200 and ready[1]["status"] == "ready", ready
    assert health[0] == 200 and health[1]["chains"][0]["stored"] == head(devnet)
    assert metrics[0] == 200
    assert f'indexer_run_chain_stored_block{{chain="devnet"}} {float(head(devnet))}' in metrics[1]
    assert 'indexer_run_chain_ready{chain="devnet"} 1.0' in metrics[1]
    assert "indexer_run_block_seconds_bucket" in metrics[1]


async def test_readyz_is_503_while_a_chain_is_behind(devnet, chain_state, write_devnet_config, engine):
    config = load_settings(write_devnet_config(chain=FAST))
    runtime = Runtime(config, engine, dispatch=False)
    from indexer.pipeline.chain import ChainPipeline

    pipeline = runtime.pipelines["devnet"] = ChainPipeline(config, engine, "devnet")
    try:
        pipeline.last_head, pipeline.last_stored = 120, 100
        response = await runtime._readyz(None)  # type: ignore[arg-type]
        assert response.status == 503 and b'"behind_blocks": 20' in response.body
        pipeline.last_stored = 119
        assert (await runtime._readyz(None)).status == 200  # type: ignore[arg-type]
        runtime.states["devnet"].failing = True
        assert (await runtime._healthz(None)).status == 503  # type: ignore[arg-type]
    finally:
        await pipeline.close()


async def _runtime_behind(proxy: JsonRpcProxy, devnet, write_devnet_config, engine):
    """`indexer run`'s runtime reading the devnet through ``proxy`` (started here), one wallet tracked."""
    await proxy.start()
    config = load_settings(write_devnet_config(chain=f'poll_interval = 0.05\nrpc_urls = ["{proxy.url}"]\n'))
    add_wallet(engine, address=devnet.accounts[0].address)
    runtime = Runtime(config, engine, dispatch=False)
    stop = asyncio.Event()
    return runtime, stop, asyncio.create_task(runtime.run(stop))


async def _until(condition, task, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline and not task.done(), "the runtime did not get there"
        await asyncio.sleep(0.05)


class LyingChainId(JsonRpcProxy):
    """Answers eth_chainId with another chain's id while ``lying``; everything else goes to the node."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.lying = True
        self.lies = 0

    async def answer(self, item: dict[str, Any]) -> dict[str, Any] | None:
        if self.lying and item.get("method") == "eth_chainId":
            self.lies += 1
            return {"jsonrpc": "2.0", "id": item.get("id"), "result": "0x1"}
        return None


async def test_a_chain_that_fails_permanently_is_retried_and_resumes(devnet, chain_state, write_devnet_config,
                                                                     engine, caplog):
    """A wrong chain id is a permanent error: the chain is not read, /healthz says failing, and it is retried
    (with a long backoff, logged at ERROR each time) instead of being dropped; once the node answers right,
    the chain resumes in the same process."""
    proxy = LyingChainId(devnet.url)
    runtime, stop, task = await _runtime_behind(proxy, devnet, write_devnet_config, engine)
    try:
        await _until(lambda: proxy.lies >= 2, task)  # refused, then retried
        report = runtime.chain_report("devnet")
        assert report["failing"] and "chain id 1" in report["error"] and not report["ready"]
        assert (await runtime._healthz(None)).status == 503  # type: ignore[arg-type]
        assert checkpoint(engine, chain="devnet") is None  # nothing was read from the wrong chain
        proxy.lying = False
        await caught_up(engine, head(devnet))
        assert not runtime.chain_report("devnet")["failing"]
        assert (await runtime._healthz(None)).status == 200  # type: ignore[arg-type]
    finally:
        stop.set()
        await task
        await proxy.stop()
    failing = [r for r in caplog.records if r.levelname == "ERROR" and "chain failing" in r.getMessage()]
    assert len(failing) >= 2  # at ERROR, every time


class FaultyCalls(JsonRpcProxy):
    """eth_call answers ``fault`` (odd-length hex, or null) while ``on``; the rest goes to the node."""

    def __init__(self, upstream: str, fault: Any) -> None:
        super().__init__(upstream)
        self.fault, self.on, self.faulted = fault, True, 0

    async def answer(self, item: dict[str, Any]) -> dict[str, Any] | None:
        if self.on and item.get("method") == "eth_call":
            self.faulted += 1
            return {"jsonrpc": "2.0", "id": item.get("id"), "result": self.fault}
        return None


@pytest.mark.parametrize("fault", ["0xabc", None], ids=["odd-length hex", "null"])
async def test_run_through_a_node_answering_malformed_calls_writes_nothing_then_resumes(
        fault, devnet, chain_state, write_devnet_config, engine, caplog):  # fmt: skip
    proxy = FaultyCalls(devnet.url, fault)
    runtime, stop, task = await _runtime_behind(proxy, devnet, write_devnet_config, engine)
    try:
        await _until(lambda: proxy.faulted >= 2, task)
        report = runtime.chain_report("devnet")
        assert report["failing"] and "eth_call at block" in report["error"]
        assert checkpoint(engine, chain="devnet") is None and list_positions(engine) == []  # nothing written
        proxy.on = False
        await caught_up(engine, head(devnet))
    finally:
        stop.set()
        await task
        await proxy.stop()
    lines = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "chain failing" in r.getMessage()]
    assert lines and all("\n" not in line and "Traceback" not in line for line in lines)


class BusyOnce(JsonRpcProxy):
    """The first request gets HTTP 429 with ``Retry-After: 2``; every request's arrival time is kept."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.seen: list[float] = []

    async def refuse(self, request: Any) -> Any:
        from aiohttp import web

        self.seen.append(time.monotonic())
        if len(self.seen) == 1:
            return web.Response(status=429, text="slow down", headers={"Retry-After": "2"})
        return None


async def test_run_honours_retry_after(devnet, chain_state, write_devnet_config, engine):
    proxy = BusyOnce(devnet.url)
    await proxy.start()
    config = load_settings(write_devnet_config(chain=f'poll_interval = 0.05\nrpc_urls = ["{proxy.url}"]\n'))
    add_wallet(engine, address=devnet.accounts[0].address)
    stop, task = await start(config, engine)
    try:
        await caught_up(engine, head(devnet))
    finally:
        stop.set()
        await task
        await proxy.stop()
    assert proxy.seen[1] - proxy.seen[0] >= 2.0  # the provider was left alone as long as it asked
