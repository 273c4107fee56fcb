"""Storing what accrues (``[writes] mode = "accrued"``), on the real Aave v3.0 Pool of the session devnet: a block
stores the market's state (indexes, prices, parameters) and only the positions whose own inputs changed or whose
figures moved more than ``epsilon``; ``indexer.history.figures_at`` derives every other block's figures, and
``indexer.history.history`` the position's series over every block. Two
pipelines follow the same blocks, one writing every position every block (``mode = "all"``): at every block, every
position's derived figures — health, legs, price status, detail, liquidation points — are the full store's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from indexer.api.app import make_app
from indexer.api.config import ApiConfig
from indexer.devnet import advance_time, set_price
from indexer.history import figures_at, history
from indexer.pipeline.chain import ChainPipeline
from indexer.protocols.registry import rules_for
from indexer.settings import load_settings
from indexer.store.db import make_engine, upgrade
from indexer.store.models import MarketState
from indexer.store.wallet_store import add_wallet
from tests.integration.chain_helpers import figures_row, history_rows, latest_rows, stored
from tests.integration.test_read_what_changed import Actions, steps

MARKET = "devnet-aave-v3"


async def test_accrued_writes_derive_every_block_of_a_full_write(devnet, chain_state, write_devnet_config, engine,
                                                                 tmp_path):
    accrued_config = write_devnet_config(top='[writes]\nmode = "accrued"\nepsilon = 0.01\n')
    accrued = load_settings(accrued_config)
    everything = load_settings(write_devnet_config(top='[writes]\nmode = "all"\n', name="all"))
    full_url = f"sqlite:///{tmp_path / 'full.db'}"
    upgrade(full_url)
    full = make_engine(full_url)
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
        add_wallet(full, address=account.address, label=account.kind)
    sparse_pipeline = ChainPipeline(accrued, engine, "devnet")
    dense_pipeline = ChainPipeline(everything, full, "devnet")
    # the same accrued writes, every position compared figure by figure (no drift bound, ``Drifts``)
    compared_url = f"sqlite:///{tmp_path / 'compared.db'}"
    upgrade(compared_url)
    compared = make_engine(compared_url)
    for account in devnet.accounts:
        add_wallet(compared, address=account.address, label=account.kind)
    compared_pipeline = ChainPipeline(accrued, compared, "devnet")
    compared_pipeline.drifts = {}
    act = Actions(devnet)
    heads: list[int] = []
    spared: list[int] = []
    dormant: list[int] = []  # positions the sparse pipeline did not even assemble (``ChainPipeline._rest``)
    reused: list[int] = []  # … of them, those it found dormant in the block before and asked only their growth

    async def follow() -> None:
        await steps(dense_pipeline, sparse_pipeline, compared_pipeline)
        heads.append(int(devnet.rpc.call("eth_blockNumber", []), 16))
        assert sparse_pipeline.memory is not None
        spared.append(sparse_pipeline.memory.spared)
        dormant.append(sparse_pipeline.dormant)
        reused.append(sparse_pipeline.memory.reused)
        assert compared_pipeline.dormant == 0
    singles = devnet.accounts_of("single")
    try:
        await follow()
        # half a day of interest: every debt moves, by less than epsilon (the feeds' heartbeat is a day: a feed
        # turning STALE is a change of status, written whatever epsilon)
        advance_time(devnet.url, 43_200)
        await follow()

        borrower = singles[0]  # borrows a thousandth more of what it owes: within epsilon, but it acted
        ((symbol, owed), *_) = borrower.borrows.items()
        act.send(borrower.address, act.pool, "borrow(address,uint256,uint256,uint16,address)",
                 devnet.deployment.reserve(symbol)["asset"], owed // 1000, 2, 0, borrower.address)
        supplier = singles[1]  # supplies one unit of its collateral
        ((symbol, _), *_) = supplier.supplies.items()
        asset = act.fund(supplier.address, symbol, 1)
        act.send(supplier.address, act.pool, "supply(address,uint256,address,uint16)", asset, 1, supplier.address, 0)
        await follow()

        act.collateral_off_and_emode()
        advance_time(devnet.url, 3_600)
        await follow()

        weth = devnet.deployment.reserve("WETH")  # −12 %: every WETH holder moves by more than epsilon
        set_price(devnet.url, devnet.deployment, "WETH", weth["price"] * 88 // 100)
        await follow()
        advance_time(devnet.url, 43_200)  # more interest, nobody acting; every feed answers again (the same prices:
        for reserve in devnet.deployment.reserves:  # fresh again, the market's steady part as it was)
            price = weth["price"] * 88 // 100 if reserve["symbol"] == "WETH" else reserve["price"]
            set_price(devnet.url, devnet.deployment, reserve["symbol"], price)
        await follow()
        # a wallet's own WARN line put where its health is now (it has been falling with its interest): the next
        # block's interest carries it across by far less than epsilon. It must not stay dormant: its row's health
        # is within epsilon of the line, so its alert level's band does not hold through epsilon
        rows = history_rows(full)
        falling = [(account, rows[(MARKET, account, heads[-1])][0]) for account in (a.address for a in devnet.accounts)
                   if (MARKET, account, heads[-2]) in rows and (MARKET, account, heads[-1]) in rows
                   and 12 * 10**17 < rows[(MARKET, account, heads[-1])][0] < rows[(MARKET, account, heads[-2])][0]]
        assert falling
        watched, line = falling[0][0], Decimal(falling[0][1]).scaleb(-18)
        kind = next(a.kind for a in devnet.accounts if a.address == watched)
        for target in (engine, full, compared):
            add_wallet(target, address=watched, label=kind, warn_health=line)
        advance_time(devnet.url, 43_200)
        await follow()
        warned_at = heads[-1]
        # a month of interest, every feed answering again after it; then most of a day more, nobody acting: the
        # positions dormant in the block before are asked only their indexes' growth again (``ChainMemory.resting``
        # keeps what it found there), and those whose growth leaves their headroom are woken, compared, some written
        advance_time(devnet.url, 30 * 86_400)
        for reserve in devnet.deployment.reserves:
            price = weth["price"] * 88 // 100 if reserve["symbol"] == "WETH" else reserve["price"]
            set_price(devnet.url, devnet.deployment, reserve["symbol"], price)
        await follow()
        advance_time(devnet.url, 23 * 3_600)  # (every feed still FRESH)
        await follow()
    finally:
        await sparse_pipeline.close()
        await dense_pipeline.close()
        await compared_pipeline.close()

    dense, sparse = history_rows(full), history_rows(engine)
    # the drift bound spared the comparison of positions that only accrued, and wrote exactly the same rows
    assert spared[1] > 10
    assert history_rows(compared) == sparse
    # positions that only accrued, whose alert levels held through epsilon, were not even assembled: the same rows,
    # latest rows, alert events and states as the pipeline that assembles and compares every one of them
    assert dormant[1] > 10 and dormant[-1] > 10
    assert dormant[4] > 10  # the block WETH fell 12 %: the positions holding no WETH rested all the same
    # in the last block most of them were dormant in the block before, with nothing but the indexes moved since:
    # only their growth was asked again (``ChainMemory.resting``), and they stored the same as above
    assert reused[-1] > 10 and reused[-1] <= dormant[-1]
    assert stored(compared) == stored(engine)
    assert latest_rows(compared) == latest_rows(engine)
    # … and the watched wallet crossed its line in the last block: judged (its WARN opened), not left dormant
    assert dense[(MARKET, watched, warned_at)][0] < line.scaleb(18)
    warned = [e for e in stored(engine)["events"] if e[0].endswith(f"/{watched}/health") and e[1] == warned_at]
    assert [e[2:4] for e in warned] == [("opened", "WARN")], warned
    compared.dispose()
    blocks = sorted({b for (_, _, b) in dense})
    assert len(heads) == 9 and set(heads) <= set(blocks)
    rules = rules_for(accrued, MARKET)
    derived = 0
    example = None  # a derived position with a debt and a liquidation point, for the API
    for (market, account, block), row in dense.items():
        got = figures_at(engine, rules, chain="devnet", market=market, account=account, block=block)
        assert got is not None and figures_row(got) == row, (block, account)
        derived += got.derived
        if got.derived and got.liquidations and got.snapshot.health.debt and block == heads[-1]:
            example = (account, got)
    # most of the figures were derived, and the blocks stored far fewer rows than the full write
    assert derived > len(dense) // 2
    # the history series (``indexer.history.history``): every block of the full store, with its figures
    in_series = 0
    for account in sorted({a for (_, a, _) in dense}):
        mine = sorted((b, row) for (_, a, b), row in dense.items() if a == account)
        window = history(engine, rules, chain="devnet", market=MARKET, account=account, points=1000)
        assert window.total == len(mine)
        assert [(r.block_number, r.health_raw, r.health, r.collateral_value, r.debt_value, r.price_status)
                for r in window.rows] == [(b, row[0], row[1], row[4], row[5], row[6]) for b, row in mine], account
        in_series += sum(r.derived for r in window.rows)
        sampled = history(engine, rules, chain="devnet", market=MARKET, account=account, points=2)
        assert sampled.total == len(mine) and [r.block_number for r in sampled.rows] == (
            [mine[0][0], mine[-1][0]] if len(mine) > 1 else [mine[0][0]])
    assert in_series == derived
    written = {b: sum(1 for (_, _, x) in sparse if x == b) for b in blocks}
    assert written[heads[0]] == sum(1 for (_, _, x) in dense if x == heads[0])
    assert written[heads[1]] == 0  # interest alone: nothing written, every debt position derived ...
    moved = [k for k in dense if k[2] == heads[1] and dense[k] != dense.get((k[0], k[1], heads[0]))]
    assert len(moved) > 10  # ... though a day of interest moved their figures
    acted = {a for (_, a, b) in sparse if heads[1] < b <= heads[2]}
    assert {borrower.address, supplier.address} <= acted
    with engine.connect() as connection:
        states = connection.execute(sa.select(MarketState.__table__.c.block_number)).scalars().all()
    assert sorted(states) == blocks
    full.dispose()

    # the API answers the derived figures: GET /v1/positions/{chain}/{market}/{account}/at/{block}
    assert example is not None
    account, got = example
    client = TestClient(TestServer(make_app(accrued, config=ApiConfig(token="t" * 32)), host="127.0.0.1"))
    await client.start_server()
    try:
        response = await client.get(f"/v1/positions/devnet/{MARKET}/{account}/at/{heads[-1]}")
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["derived"] is True and body["stored_block"] == got.stored_block < heads[-1]
        assert body["health_raw"] == str(dense[(MARKET, account, heads[-1])][0])
        assert [leg["amount_raw"] for leg in body["legs"]] == [
            str(leg[2]) for leg in dense[(MARKET, account, heads[-1])][-1]]
        assert body["liquidations"][0]["price_key"] == got.liquidations[0]["key"]
        missing = await client.get(f"/v1/positions/devnet/{MARKET}/{account}/at/{heads[0] - 1}")
        assert missing.status == 404
        # …/history: the derived blocks in the series too
        response = await client.get(f"/v1/positions/devnet/{MARKET}/{account}/history?since={heads[1]}")
        assert response.status == 200, await response.text()
        items = (await response.json())["items"]
        assert [i["block_number"] for i in items] == [b for b in blocks if b >= heads[1]]
        assert [i["health_raw"] for i in items] == [str(dense[(MARKET, account, b)][0]) for b in blocks
                                                    if b >= heads[1]]
        assert items[-1]["derived"] is True and items[-1]["stored_block"] == got.stored_block
        at_route = body
    finally:
        await client.close()

    # the CLI: `indexer positions --wallet A --at BLOCK` (JSON: the route's body; the table says where figures come
    # from), and a block before any row of it
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    env["INDEXER_CONFIG"] = str(accrued_config)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "indexer", "positions", "--wallet", account, *args], env=env,
                              capture_output=True, text=True, timeout=120, check=True)

    assert json.loads(cli("--at", str(heads[-1]), "--json").stdout) == [at_route]
    table = cli("--at", str(heads[-1])).stdout
    assert f"Positions at block {heads[-1]:,}" in table and f"derived from {got.stored_block}" in table
    early = cli("--at", str(heads[0] - 1))
    assert "1 of 1 selected positions have no row at or before block" in early.stderr
