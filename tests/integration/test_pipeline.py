"""The per-chain pipeline of `indexer run`, block by block on the devnet: what one block costs the database,
and what it keeps between blocks."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from indexer.devnet import mine, revert, set_price, snapshot
from indexer.errors import RetryableError, StoreError
from indexer.pipeline import chain as pipeline_module
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import load_settings
from indexer.store.chain_store import checkpoint
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from tests.fixtures.rpc_proxy import JsonRpcProxy, error
from tests.integration.chain_helpers import history_rows, user_account_data


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


async def test_a_write_that_fails_while_the_next_block_is_read_loses_nothing(devnet, chain_state, write_devnet_config,
                                                                             engine, monkeypatch):
    """Block B's write runs while B+1 is read. When it fails (the database went away: a retryable error), the step
    raises it, nothing of B or B+1 is stored, what memory had assumed is dropped, and the next step stores B and
    B+1 with the same figures and alert events as a pipeline that never failed (replayed on an evm snapshot)."""
    settings = load_settings(write_devnet_config(chain="poll_interval = 0.1\n"))
    for account in devnet.accounts[:12]:
        add_wallet(engine, address=account.address, label=account.kind)
    pipeline = ChainPipeline(settings, engine, "devnet", overlap=True)
    write_block = pipeline_module.write_block
    failing = {"at": None}

    def flaky(*args, **kwargs):
        if kwargs["block"].number == failing["at"]:
            raise RetryableError(f"writing block {failing['at']} on devnet: database is locked")
        return write_block(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "write_block", flaky)
    try:
        await pipeline.step()
        start = checkpoint(engine, chain="devnet")
        set_price(devnet.url, devnet.deployment, "WETH", devnet.deployment.reserve("WETH")["price"] * 75 // 100)
        mine(devnet.url, 2)  # B (the price drop), B+1, B+2
        failing["at"] = start + 1
        with pytest.raises(RetryableError, match="database is locked"):
            await pipeline.step()
        assert checkpoint(engine, chain="devnet") == start and pipeline.memory is None
        assert not table_rows(engine, start)
        failing["at"] = None
        assert await pipeline.step() == 3
        assert checkpoint(engine, chain="devnet") == head(devnet) == start + 3
        events = table_rows(engine, start)
        positions = {(p.account, p.block_number, p.health_raw) for p in list_positions(engine)}
    finally:
        await pipeline.close()
    assert events, "the price drop must raise alert events in its block"
    assert {block for block, _ in events} == {start + 1}
    assert {block for _, block, _ in positions} == {start + 3}


async def test_a_fast_path_block_commits_its_alerts_before_its_repriced_positions(devnet, chain_state,
                                                                                  write_devnet_config, engine,
                                                                                  monkeypatch):
    """Between full reads a feed update's alert rows commit with the block's checkpoint, and the repriced positions
    follow in their own transaction. When that second one fails (a full disk), the block stays stored with its
    alert events, the positions keep the figures of the last full read, and the next block is read in full without
    raising any alert a second time."""
    settings = load_settings(write_devnet_config(chain="poll_interval = 0.1\n", tail="snapshot_every = 1000\n"))
    for account in devnet.accounts[:12]:
        add_wallet(engine, address=account.address, label=account.kind)
    pipeline = ChainPipeline(settings, engine, "devnet")
    write_positions = pipeline_module.write_positions
    seen: dict[str, object] = {}

    def then_positions(*args, **kwargs):
        number = kwargs["block"].number
        seen["events when the positions began"] = table_rows(engine, number - 1)
        seen["checkpoint when the positions began"] = checkpoint(engine, chain="devnet")
        if seen.get("fail"):
            raise StoreError(f"writing the positions of block {number} on devnet: database or disk is full")
        return write_positions(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "write_positions", then_positions)
    weth = devnet.deployment.reserve("WETH")["price"]
    try:
        await pipeline.step()  # the full read the fast path starts from
        start = checkpoint(engine, chain="devnet")
        set_price(devnet.url, devnet.deployment, "WETH", weth * 90 // 100)  # block start + 1, by the fast path
        assert await pipeline.step() == 1
        events = table_rows(engine, start)
        assert events and {block for block, _ in events} == {start + 1}
        assert seen["events when the positions began"] == events  # committed before the positions were written
        assert seen["checkpoint when the positions began"] == start + 1
        repriced = {p.account: p.health_raw for p in list_positions(engine) if p.block_number == start + 1}
        assert repriced  # the positions holding WETH, stored after their alerts

        last = {p.account: (p.block_number, p.health_raw) for p in list_positions(engine)}
        set_price(devnet.url, devnet.deployment, "WETH", weth * 115 // 100)  # block start + 2: back up
        seen["fail"] = True
        with pytest.raises(StoreError, match="disk is full"):
            await pipeline.step()
        deeper = table_rows(engine, start + 1)
        assert deeper and {block for block, _ in deeper} == {start + 2}  # its alerts stand
        assert checkpoint(engine, chain="devnet") == start + 2 and pipeline.memory is None
        assert {p.account: (p.block_number, p.health_raw) for p in list_positions(engine)} == last

        seen["fail"] = False
        mine(devnet.url)  # block start + 3: read in full (nothing cached any more), no alert raised twice
        assert await pipeline.step() == 1
        assert table_rows(engine, start + 2) == []
        stored = list_positions(engine)
    finally:
        await pipeline.close()
    assert {p.block_number for p in stored} == {start + 3}
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"], [p.account for p in stored],
                                      start + 3)
    assert all(onchain[p.account][5] == p.health_raw for p in stored)  # a full read: the pool's own figures


def table_rows(engine, after: int) -> list[tuple[int, str]]:
    """(block, kind) of the alert events stored above ``after``."""
    from sqlalchemy import select

    from indexer.store.models import AlertEvent

    t = AlertEvent.__table__
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(t.c.block_number, t.c.kind).where(t.c.block_number > after))]


class BatchLimitProxy(JsonRpcProxy):
    """Refuses an ``aggregate3`` of more than ``limit`` calls the way a node over its gas cap does; counts the
    refusals."""

    def __init__(self, upstream: str, limit: int) -> None:
        super().__init__(upstream)
        self.limit = limit
        self.refused = 0

    async def answer(self, item: dict) -> dict | None:
        data = item["params"][0].get("data", "") if item["method"] == "eth_call" else ""
        if data.startswith("0x82ad56cb") and int(data[2 + 8 + 64: 2 + 8 + 128], 16) > self.limit:
            self.refused += 1
            return error(item, -32000, "out of gas: gas required exceeds allowance")
        return None


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


async def test_a_reorg_that_replaces_the_tip_at_the_same_height_is_found_within_one_poll(devnet, chain_state,
                                                                                          write_devnet_config,
                                                                                          engine):
    settings = load_settings(write_devnet_config())
    for account in devnet.accounts[:5]:
        add_wallet(engine, address=account.address)
    pipeline = ChainPipeline(settings, engine, "devnet")
    try:
        await pipeline.step()
        fork = snapshot(devnet.url)
        mine(devnet.url, 1)
        tip = head(devnet)
        assert await pipeline.step() == 1
        first = stored_hash(engine, tip)
        revert(devnet.url, fork)  # the same height again, with another block: no new block shows it
        devnet.rpc.call("evm_setNextBlockTimestamp", [int(devnet.rpc.call("eth_getBlockByNumber", ["latest", False])
                                                          ["timestamp"], 16) + 77])
        mine(devnet.url, 1)
        assert head(devnet) == tip
        replaced = devnet.rpc.call("eth_getBlockByNumber", [hex(tip), False])["hash"]
        assert replaced != first
        assert await pipeline.step() == 0  # this poll finds it and rolls the tip back
        assert checkpoint(engine, chain="devnet") == tip - 1 and stored_hash(engine, tip) is None
        assert await pipeline.step() == 1  # the next one reads the canonical block
        assert stored_hash(engine, tip) == replaced
        assert {p.block_hash for p in list_positions(engine)} == {replaced}
    finally:
        await pipeline.close()


def stored_hash(engine, number: int) -> str | None:
    from indexer.store.reorg import stored_hashes

    return stored_hashes(engine, chain="devnet", since=number).get(number)


def _as_of(history: dict[tuple[str, str, int], tuple], market: str, account: str, block: int) -> tuple | None:
    """A position's figures as of ``block``: its last stored row at or before it."""
    stored = [b for (m, a, b) in history if (m, a) == (market, account) and b <= block]
    return history[(market, account, max(stored))] if stored else None


async def test_change_only_writes_reconstruct_every_block_of_a_full_write(devnet, chain_state, write_devnet_config,
                                                                          engine, tmp_path):
    """Two pipelines follow the same blocks, one writing every position every block (``[writes] mode = "all"``),
    one only the positions whose figures changed (``mode = "changed"``, the default): two blocks at the same timestamp
    (no interest accrues, no price moves: nothing changes), a WETH price move (the positions valued in WETH change,
    the others do not), a day passing (interest: every debt position changes). For every block and every position,
    the change-only store's last row at or before that block holds exactly the full store's figures, legs and
    liquidation points, and the unchanged blocks wrote no position at all."""
    from indexer.devnet import set_price
    from indexer.store.db import make_engine, upgrade

    changed = load_settings(write_devnet_config())
    everything = load_settings(write_devnet_config(top='[writes]\nmode = "all"\n', name="all"))
    assert changed.writes.mode == "changed" and everything.writes.mode == "all"
    full_url = f"sqlite:///{tmp_path / 'full.db'}"
    upgrade(full_url)
    full = make_engine(full_url)
    for account in devnet.accounts[:16]:
        add_wallet(engine, address=account.address, label=account.kind)
        add_wallet(full, address=account.address, label=account.kind)
    pipelines = [ChainPipeline(changed, engine, "devnet"), ChainPipeline(everything, full, "devnet")]
    rpc = devnet.rpc

    async def both() -> int:
        steps = [await p.step() for p in pipelines]
        assert steps[0] == steps[1]
        return head(devnet)

    try:
        first = await both()
        stamp = int(rpc.call("eth_getBlockByNumber", [hex(first), False])["timestamp"], 16)
        for _ in range(2):  # same timestamp: nothing accrues
            rpc.call("evm_setNextBlockTimestamp", [stamp])
            rpc.call("evm_mine", [])
        idle = await both()
        rpc.call("evm_setNextBlockTimestamp", [stamp])
        set_price(devnet.url, devnet.deployment, "WETH", 1_800 * 10**8)
        moved = await both()
        rpc.call("evm_setNextBlockTimestamp", [stamp + 86_400])
        rpc.call("evm_mine", [])
        later = await both()
    finally:
        for p in pipelines:
            await p.close()
    sparse, dense = history_rows(engine), history_rows(full)
    blocks = sorted({b for (_, _, b) in dense})
    assert blocks[0] == first and blocks[-1] == later and idle in blocks and moved in blocks
    positions = {(m, a) for (m, a, _) in dense}
    assert len(positions) >= 10
    for block in blocks:
        for market, account in positions:
            assert _as_of(sparse, market, account, block) == dense.get((market, account, block)), (block, account)
    written = {b: sum(1 for (_, _, x) in sparse if x == b) for b in blocks}
    assert written[first] == len(positions)
    assert all(written[b] == 0 for b in blocks if first < b <= idle)  # nothing changed
    weth = {(m, a) for (m, a, b), row in dense.items() if b == moved and any(
        leg[0] == devnet.deployment.reserve("WETH")["asset"] for leg in row[-1])}
    assert 0 < written[moved] == len(weth) < len(positions)  # only the WETH positions moved
    assert written[later] > written[moved]  # a day of interest moves every debt position
    # the latest rows say the last block read, written or not; their figures are the full store's
    latest = {(p.market, p.account): p for p in list_positions(engine)}
    assert {p.block_number for p in latest.values()} == {later} and len(latest) == len(positions)
    for p in list_positions(full):
        mine = latest[(p.market, p.account)]
        assert (mine.health_raw, mine.health, mine.debt_value, mine.block_hash) == (
            p.health_raw, p.health, p.debt_value, p.block_hash)
    full.dispose()


async def test_liquidation_points_not_stored_are_computed_when_asked(devnet, chain_state, write_devnet_config,
                                                                     engine, tmp_path):
    """``[writes] liquidation_points = false``: the rows carry none (NULL, as rows written before they were stored),
    and readers compute the same nearest points from the stored legs as a store that keeps them holds."""
    from indexer.health.nearest import stored_liquidations
    from indexer.store.db import make_engine, upgrade

    kept = load_settings(write_devnet_config())
    computed = load_settings(write_devnet_config(top="[writes]\nliquidation_points = false\n", name="off"))
    assert kept.writes.liquidation_points and not computed.writes.liquidation_points
    other_url = f"sqlite:///{tmp_path / 'off.db'}"
    upgrade(other_url)
    other = make_engine(other_url)
    for account in devnet.accounts[:16]:
        for e in (engine, other):
            add_wallet(e, address=account.address, label=account.kind)
    pipelines = [ChainPipeline(kept, engine, "devnet"), ChainPipeline(computed, other, "devnet")]
    try:
        for p in pipelines:
            await p.step()
    finally:
        for p in pipelines:
            await p.close()
    with_points, without = list_positions(engine), list_positions(other)
    assert len(with_points) == len(without) >= 10
    assert all(v.liquidations is not None for v in with_points) and all(v.liquidations is None for v in without)
    assert sum(1 for v in with_points if v.liquidations) >= 5  # the debt positions have some

    def nearest(e, views):
        points = stored_liquidations(e, settings=kept, views=views)
        return {v.account: points[v.snapshot_id] for v in views}

    assert nearest(other, without) == nearest(engine, with_points)
    other.dispose()
