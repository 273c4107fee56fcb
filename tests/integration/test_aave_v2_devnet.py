"""Aave v2 on its real bytecode (@aave/protocol-v2 1.0.1): the indexer's figures equal the LendingPool's own
``getUserAccountData`` to the unit, for every seeded position, after days of interest and after a price move.

One anvil for the module: the Aave v2 market deployed through the devnet stack (with the shared services:
Multicall3 …), 240 positions seeded (stable and variable debt, several collaterals, some near HF 1), then nine
days pass. Each test runs inside an evm snapshot.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from indexer.chain.rpc import RpcClient
from indexer.devnet import Anvil, Deployment, advance_time, stack
from indexer.devnet.abi import encode_call
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.discovery import discover
from indexer.fastpath import moved_positions
from indexer.history import figures_at
from indexer.oracles.reading import FeedReading
from indexer.pipeline.chain import ChainPipeline, ChainReader
from indexer.protocols.aave_v2.adapter import AaveV2Adapter, Layout
from indexer.protocols.aave_v2.devnet import SeededV2, aave_v2_record, seed_positions, set_asset_price
from indexer.protocols.registry import rules_for, source_for
from indexer.risk.safety import to_be_safe
from indexer.settings import load_settings
from indexer.store.chain_store import discovered_accounts
from indexer.store.db import make_engine, upgrade
from indexer.store.position_store import list_positions, position_legs
from indexer.store.wallet_store import add_wallet
from indexer.sync import read_chain, sync_once
from indexer.types import UINT256_MAX, PositionSnapshot, Role
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import (
    assert_health_at_is_reprices,
    figures_row,
    history_rows,
    mine_at,
    user_account_data,
)

SEEDED = 240
DAYS = 9 * 86_400 + 123
WAD = 10**18


@dataclass
class V2Chain:
    url: str
    deployment: Deployment
    record: dict[str, Any]
    seeded: list[SeededV2]
    file: Path
    timings: dict[str, float]

    @property
    def accounts(self) -> list[str]:
        return [a.address for a in self.seeded]

    def asset(self, symbol: str) -> dict[str, Any]:
        return next(a for a in self.record["assets"] if a["symbol"] == symbol)


@pytest.fixture(scope="module")
def v2_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[V2Chain]:
    with Anvil() as node:
        started = time.perf_counter()
        deployment = stack.deploy(node.url, [AaveV2Adapter.kind])
        deployed = time.perf_counter()
        record = aave_v2_record(deployment)
        seeded = seed_positions(node.url, record, SEEDED)
        timings = {"deploy": deployed - started, "seed": time.perf_counter() - deployed}
        path = tmp_path_factory.mktemp("aave-v2") / "devnet.json"
        deployment.to_json(path)
        yield V2Chain(node.url, deployment, record, seeded, path, timings)


@pytest.fixture
def chain(v2_chain: V2Chain) -> Iterator[V2Chain]:
    with reverting(v2_chain.url):
        yield v2_chain


def _config(tmp_path: Path, chain: V2Chain, db_url: str = "sqlite://", *, verify: bool = False,
            discover: bool = False, top: str = "", name: str = "aave-v2") -> Path:
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'{top}\n[database]\nurl = "{db_url}"\n\n[chains.devnet]\nchain_id = 31337\ndevnet = "{chain.file}"\n\n'
        '[markets.devnet-aave-v2]\nchain = "devnet"\nprotocol = "aave_v2"\n'
        'address = "devnet:AaveV2.LendingPoolAddressesProvider"\n'
        f'verify_onchain = {str(verify).lower()}\ndiscover = {str(discover).lower()}\n'
        f'start_block = {chain.deployment.block_number}\n'
        'options = { quote = "ETH", quote_decimals = 18 }\n')
    return config


def _figures(snapshot: PositionSnapshot) -> tuple[int, ...]:
    """The snapshot's figures in getUserAccountData's order."""
    h, d = snapshot.health, snapshot.detail
    return h.collateral, h.debt, d["available_borrows"], d["liquidation_threshold"], d["ltv"], h.raw


async def _parity(chain: V2Chain, tmp_path: Path) -> dict[str, PositionSnapshot]:
    """Reads every seeded account through the indexer and asserts each equals the pool's view at that block."""
    settings = load_settings(_config(tmp_path, chain))
    read = await read_chain(settings, "devnet", chain.accounts)
    by_account = {s.account: s for s in read.snapshots}
    assert set(by_account) == set(chain.accounts) and not read.unpriced
    onchain = await user_account_data(chain.url, chain.record["pool"], chain.accounts, read.block.number)
    differ = {a: (_figures(s), onchain[a]) for a, s in by_account.items() if _figures(s) != tuple(onchain[a])}
    assert not differ, f"{len(differ)} positions differ from getUserAccountData, e.g. {next(iter(differ.items()))}"
    for snapshot in by_account.values():
        assert (snapshot.health.quote, snapshot.health.quote_unit) == ("ETH", WAD)
        assert all(leg.price_decimals == 18 for leg in snapshot.legs)
    return by_account


def test_the_seeding_covers_every_kind_quickly(v2_chain):
    """Deploy and seed are one JSON-RPC batch each phase: well under the ~2 s the default devnet can afford."""
    kinds = Counter(a.kind for a in v2_chain.seeded)
    assert set(kinds) == {"variable", "stable", "multi", "supply_only", "near_liquidation"}, kinds
    assert v2_chain.timings["deploy"] < 10 and v2_chain.timings["seed"] < 10, v2_chain.timings
    stable = [a for a in v2_chain.seeded if any(mode == 1 for _, _, mode in a.borrows)]
    variable = [a for a in v2_chain.seeded if any(mode == 2 for _, _, mode in a.borrows)]
    both_modes_one_asset = [a for a in v2_chain.seeded if len({s for s, _, _ in a.borrows}) < len(a.borrows)]
    assert len(stable) >= 50 and len(variable) >= 50 and both_modes_one_asset
    assert sum(len(a.deposits) - len(a.disabled) >= 2 for a in v2_chain.seeded) >= 40
    assert any(a.disabled for a in v2_chain.seeded) and any("GUSD" in a.deposits for a in v2_chain.seeded)


async def test_parity_right_after_seeding_with_positions_near_one(chain, tmp_path):
    by_account = await _parity(chain, tmp_path)
    near = [s for s in by_account.values() if s.account in
            {a.address for a in chain.seeded if a.kind == "near_liquidation"}]
    assert near and all(WAD <= s.health.raw < WAD * 105 // 100 for s in near)
    # the LT-0 GUSD deposits and the deposits turned off are held but not counted
    gusd = chain.asset("GUSD")["asset"]
    held_gusd = [g for s in by_account.values() for g in s.legs if g.asset == gusd and g.role is Role.COLLATERAL]
    assert held_gusd and all(g.amount > 0 and g.value == 0 for g in held_gusd)
    for account in (a for a in chain.seeded if a.disabled):
        legs = by_account[account.address].legs
        assert not any(g.symbol in account.disabled and g.role is Role.COLLATERAL for g in legs)


async def test_parity_after_days_of_interest_and_a_price_move(chain, tmp_path):
    before = await _parity(chain, tmp_path)
    advance_time(chain.url, DAYS)  # and mines a block: every index and stable balance grows to it
    after = await _parity(chain, tmp_path)
    grew = [a for a, s in after.items() if s.health.debt > before[a].health.debt]
    assert len(grew) >= 150, len(grew)
    stable = [s for s in after.values() if any(int(m["stable"]) for m in s.detail["debt_by_rate_mode"].values())]
    assert len(stable) >= 50
    # a price move: LINK falls 12 %, WBTC rises 6 % in ETH (WETH stays 1 ether by definition)
    for symbol, factor in (("LINK", 0.88), ("WBTC", 1.06)):
        set_asset_price(chain.url, chain.record, symbol, int(chain.asset(symbol)["price"] * factor))
    moved = await _parity(chain, tmp_path)
    link = chain.asset("LINK")["asset"]
    assert any(g.asset == link and g.price == int(chain.asset("LINK")["price"] * 0.88)
               for s in moved.values() for g in s.legs)
    assert any(s.health.liquidatable for s in moved.values()), "the price move takes someone under 1"



async def test_what_it_takes_to_be_safe_is_what_the_pool_books(chain, tmp_path):
    """Nine days of interest later, repaying variable debt (or depositing collateral) of the reported amount on the
    real LendingPool brings ``getUserAccountData``'s health factor to the target, and one unit less does not: a
    deposit mints ``rayDiv(amount, index)`` scaled aTokens and a repayment burns as many debt tokens, each rounded
    half up, and the balance is their ``rayMul`` (the generic ``amount ± x`` lands a unit off at some indexes)."""
    advance_time(chain.url, DAYS)
    settings = load_settings(_config(tmp_path, chain))
    read = await read_chain(settings, "devnet", chain.accounts)
    source = source_for(settings, "devnet-aave-v2")
    target = Decimal("1.5")
    below = sorted((s for s in read.snapshots if s.health.health is not None and 1 <= s.health.health < target
                    and any(g.role is Role.DEBT and g.terms.get("scaled") for g in s.legs)),
                   key=lambda s: s.health.raw)
    picked = below[:: max(1, len(below) // 6)][:6]
    assert len(picked) >= 4, len(below)
    pool, checked = chain.record["pool"], {"repay": 0, "add": 0}
    for snapshot in picked:
        plan = to_be_safe(source, snapshot, target)
        variable = {g.asset for g in snapshot.legs if g.role is Role.DEBT and g.terms.get("scaled")}
        for step in plan.steps:
            if step.action == "repay" and step.asset not in variable:
                continue  # a stable-only debt: a variable repayment would revert
            assert step.exact and step.amount and step.health_after is not None and step.health_after >= target
            for amount, reaches in ((step.amount, True), (step.amount - 1, False)):
                if amount == 0:
                    continue
                call = (encode_call("repay(address,uint256,uint256,address)", step.asset, amount, 2,
                                    snapshot.account) if step.action == "repay"
                        else encode_call("deposit(address,uint256,address,uint16)", step.asset, amount,
                                         snapshot.account, 0))
                with reverting(chain.url):
                    mine_at(chain.url, read.block.timestamp, [
                        {"from": snapshot.account, "to": step.asset, "data": encode_call("mint(uint256)", amount)},
                        {"from": snapshot.account, "to": step.asset,
                         "data": encode_call("approve(address,uint256)", pool, UINT256_MAX)},
                        {"from": snapshot.account, "to": pool, "data": call}])
                    block = int(JsonRpcClient(chain.url).call("eth_blockNumber", []), 16)
                    hf = (await user_account_data(chain.url, pool, [snapshot.account], block))[snapshot.account][5]
                assert (hf >= target * WAD) is reaches, (snapshot.account, step.action, step.symbol, amount, hf)
            checked[step.action] += 1
    assert checked["repay"] >= 3 and checked["add"] >= 3, checked


async def test_the_pools_own_view_agrees_in_the_self_check(chain, tmp_path):
    """verify_onchain: every account is also read through getUserAccountData in the same rounds; none differs."""
    advance_time(chain.url, DAYS)
    settings = load_settings(_config(tmp_path, chain, verify=True))
    read = await read_chain(settings, "devnet", chain.accounts)
    assert read.checks["devnet-aave-v2"] == (SEEDED, 0)
    assert all("self_check" not in s.detail for s in read.snapshots)
    assert len(read.snapshots) == SEEDED


async def test_a_later_read_speculates_on_the_layout_and_a_wrong_one_costs_a_retry(chain, tmp_path) -> None:
    """With the previous read's layout as hint, the entry points and the first round go out together (two eth_calls
    of Multicall3 instead of four); a hint that no longer holds is noticed at the block and read afresh."""
    settings = load_settings(_config(tmp_path, chain))
    hints: dict[str, object] = {}
    first = await read_chain(settings, "devnet", chain.accounts, hints=hints)
    layout = hints["devnet-aave-v2"]
    assert isinstance(layout, Layout) and layout.pool == chain.record["pool"] and layout.weth == chain.record["weth"]
    advance_time(chain.url, 86_400)
    again = await read_chain(settings, "devnet", chain.accounts, hints=hints)
    assert again.stats.by_method["eth_call"] < first.stats.by_method["eth_call"]
    stale: dict[str, object] = {"devnet-aave-v2": layout._replace(assets=layout.assets[:-1])}
    fresh = await read_chain(settings, "devnet", chain.accounts, hints=stale, block=again.block.number)
    assert [_figures(s) for s in fresh.snapshots] == [_figures(s) for s in again.snapshots]
    assert stale["devnet-aave-v2"] == layout


async def test_liquidation_points_are_the_pools_boundary(chain, tmp_path):
    """For a near-liquidation borrower, the indexer's last safe price of its collateral: the pool's own HF is ≥ 1
    there and < 1 one wei lower (set on the real feed at the same chain time, read at the same block as the
    indexer)."""
    settings = load_settings(_config(tmp_path, chain))
    source = source_for(settings, "devnet-aave-v2")
    near = [a for a in chain.seeded if a.kind == "near_liquidation" and "WETH" not in a.deposits]
    read = await read_chain(settings, "devnet", [a.address for a in near])
    checked = 0
    for position in read.snapshots[:3]:
        (collateral,) = [g for g in position.legs if g.role is Role.COLLATERAL]
        point = source.liquidation_points(position)[collateral.asset]
        assert point.falling and point.price < collateral.price
        for price, healthy in ((point.price, True), (point.price - 1, False)):
            # the new price lands at the read block's time: no interest accrues between the two, so the pool is
            # asked about the very position the point was computed for
            JsonRpcClient(chain.url).call("evm_setNextBlockTimestamp", [read.block.timestamp])
            set_asset_price(chain.url, chain.record, collateral.symbol, price)
            again = await read_chain(settings, "devnet", [position.account])
            (now,) = again.snapshots
            pool = await user_account_data(chain.url, chain.record["pool"], [position.account], again.block.number)
            assert _figures(now) == tuple(pool[position.account])
            assert (pool[position.account][5] >= WAD) is healthy and now.health.liquidatable is not healthy
            checked += 1
        # the price goes back at the same time too (a later block would make the next position's time go backwards)
        JsonRpcClient(chain.url).call("evm_setNextBlockTimestamp", [read.block.timestamp])
        set_asset_price(chain.url, chain.record, collateral.symbol, chain.asset(collateral.symbol)["price"])
    assert checked == 6


async def test_sync_stores_the_positions(chain, tmp_path, db_url, engine):
    settings = load_settings(_config(tmp_path, chain, db_url))
    for account in chain.seeded:
        add_wallet(engine, address=account.address, label=f"aave_v2:{account.kind}")
    (read,) = await sync_once(settings, engine)
    stored = {p.account: p for p in list_positions(engine)}
    assert set(stored) == set(chain.accounts) and len(read.snapshots) == SEEDED
    for snapshot in read.snapshots:
        view = stored[snapshot.account]
        assert (view.protocol, view.quote, view.health_raw, view.debt_value, view.equity) == (
            "aave_v2", "ETH", snapshot.health.raw, snapshot.health.debt, snapshot.health.equity)
        assert position_legs(engine, snapshot_id=view.snapshot_id) == snapshot.legs
    weth_only = [s for s in read.snapshots if all(g.symbol == "WETH" for g in s.legs)]
    assert weth_only and all(s.price_status == "FRESH" for s in weth_only)  # 1 ether by definition: nothing to judge
    assert all(s.health.raw == UINT256_MAX for s in read.snapshots if not s.health.debt)


async def test_discovery_finds_every_account_from_the_pools_events(chain, tmp_path, db_url, engine):
    settings = load_settings(_config(tmp_path, chain, db_url, discover=True))
    async with RpcClient([chain.url]) as rpc:
        head = int(await rpc.call("eth_blockNumber", []), 16)
        found = await discover(settings, engine, chain="devnet", head=head, rpc=rpc)
    discovered = set(discovered_accounts(engine, chain="devnet", market="devnet-aave-v2"))
    assert set(chain.accounts) <= discovered and found.new_accounts == len(discovered)


async def test_the_fast_path_takes_only_this_markets_own_feeds(chain, tmp_path):
    """A new answer of this market's own LINK feed reprices its LINK holders at the answer AaveOracle returns; a
    reading of any other feed naming the same asset (another market's, in another currency) moves nothing."""
    settings = load_settings(_config(tmp_path, chain))
    reader = ChainReader(settings, "devnet")
    try:
        source = reader.sources["devnet-aave-v2"]
        link = chain.asset("LINK")
        read = await reader.read(await reader.header(), {"devnet-aave-v2": chain.accounts})
        cached = [s for s in read.snapshots if s.market == "devnet-aave-v2"]
        holders = {s.account for s in cached if any(leg.asset == link["asset"] for leg in s.legs)}
        assert holders
        before = [r for r in read.readings if r.address == link["feed"]]
        assert before and before[0].asset == link["asset"]
        halved = dataclasses.replace(before[0], answer=link["price"] // 2)
        foreign = FeedReading(address=chain.asset("DAI")["aggregator"], kind="chainlink", answer=10**8,
                              asset=link["asset"])
        sources = {"devnet-aave-v2": source}
        assert moved_positions(sources, cached, [*before, dataclasses.replace(foreign, answer=1)], [*before, foreign],
                               read.block) == []
        moved = moved_positions(sources, cached, before, [halved], read.block)
        assert {s.account for s in moved} == holders
        assert_health_at_is_reprices(sources, cached, moved, before, [halved])
        assert all(leg.price == link["price"] // 2 for s in moved for leg in s.legs if leg.asset == link["asset"])
        assert source.price_from_feed(dataclasses.replace(halved, answer=0)) is None
    finally:
        await reader.close()


async def test_accrued_writes_derive_every_block_of_a_full_write(chain, tmp_path, db_url, engine):
    """``[writes] mode = "accrued"`` on the real LendingPool: two pipelines follow the same blocks (half days of
    interest, a price move), one writing every position every block. Every position's figures at every block,
    derived from the accrued store's last row and the block's market state, are the full store's; the positions
    owing a stable debt (compounding at its own rate) are written at every block instead."""
    accrued = load_settings(_config(tmp_path, chain, db_url, top='[writes]\nmode = "accrued"\nepsilon = 0.01\n'))
    full_url = f"sqlite:///{tmp_path / 'full.db'}"
    upgrade(full_url)
    full = make_engine(full_url)
    everything = load_settings(_config(tmp_path, chain, full_url, top='[writes]\nmode = "all"\n', name="all"))
    for account in chain.seeded:
        for target in (engine, full):
            add_wallet(target, address=account.address, label=f"aave_v2:{account.kind}")
    pipelines = [ChainPipeline(accrued, engine, "devnet"), ChainPipeline(everything, full, "devnet")]
    try:
        for move in range(4):
            for pipeline in pipelines:
                while await pipeline.step():
                    pass
            if move == 1:  # LINK falls 12 % in ETH
                set_asset_price(chain.url, chain.record, "LINK", int(chain.asset("LINK")["price"] * 0.88))
            else:
                advance_time(chain.url, 43_200)
    finally:
        for pipeline in pipelines:
            await pipeline.close()
    dense = history_rows(full)
    rules = rules_for(accrued, "devnet-aave-v2")
    derived: dict[str, int] = {}
    stable = set()
    for (market, account, block), row in dense.items():
        got = figures_at(engine, rules, chain="devnet", market=market, account=account, block=block)
        assert got is not None and figures_row(got) == row, (block, account)
        derived[account] = derived.get(account, 0) + got.derived
        if any(leg.terms.get("stable") for leg in got.snapshot.legs):
            stable.add(account)
            assert not got.derived
    assert len({b for (_, _, b) in dense}) >= 4 and len(stable) >= 50
    # every position owing no stable debt was derived at some block rather than written: after half a day of
    # interest at least (the 12 % LINK move writes its holders, beyond epsilon)
    assert all(derived[account] for account in derived.keys() - stable) and len(derived.keys() - stable) >= 50
    full.dispose()
