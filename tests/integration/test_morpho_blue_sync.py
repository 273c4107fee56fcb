"""Morpho Blue through the indexer, on the real Morpho Blue 1.0.0 code (compiled from the npm sources).

One anvil for the module: the devnet's Aave market (which also puts Multicall3 in place), then Morpho Blue
deployed and seeded through the same hooks `indexer devnet up` uses, with four markets of different LLTVs and
token decimals; five days pass without any interaction, so every figure below rests on the indexer's own
interest accrual. Each test runs inside an evm snapshot.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from indexer.chain.rpc import RpcClient
from indexer.devnet import Anvil, Deployment, advance_time, stack
from indexer.devnet.abi import encode_call
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.discovery import discover
from indexer.protocols.morpho_blue import rules
from indexer.protocols.morpho_blue.adapter import MorphoBlueAdapter
from indexer.protocols.morpho_blue.devnet import (
    MARKET_PARAMS,
    MorphoDeployment,
    liquidation_succeeds,
    read_debts,
    read_market,
    read_position,
    read_prices,
    set_oracle_price,
)
from indexer.protocols.registry import source_for
from indexer.risk.moves import parse_moves
from indexer.risk.safety import to_be_safe
from indexer.risk.shock import shock_stored
from indexer.settings import load_settings
from indexer.store.chain_store import discovered_accounts
from indexer.store.position_store import list_positions, position_legs
from indexer.store.wallet_store import add_wallet
from indexer.sync import read_chain, sync_once
from indexer.types import Role
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import mine_at

SEEDED = 150
ELAPSED = 5 * 86_400 + 17


@dataclass
class MorphoChain:
    url: str
    deployment: Deployment  # the devnet file's record (each protocol under protocols)
    morpho: MorphoDeployment
    seeded: list[tuple[str, str]]
    file: Path


@pytest.fixture(scope="module")
def morpho_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MorphoChain]:
    with Anvil() as node:
        deployment = stack.deploy(node.url)
        seeded = stack.devnet_module(MorphoBlueAdapter.kind).seed_devnet(node.url, deployment, SEEDED)
        advance_time(node.url, ELAPSED)
        path = tmp_path_factory.mktemp("morpho") / "devnet.json"
        deployment.to_json(path)
        deployed = deployment.protocols[MorphoBlueAdapter.kind]
        morpho = MorphoDeployment.from_dict({k: v for k, v in deployed.items() if k != "contracts"})
        yield MorphoChain(node.url, deployment, morpho, seeded, path)


@pytest.fixture
def chain(morpho_chain: MorphoChain) -> Iterator[MorphoChain]:
    with reverting(morpho_chain.url):
        yield morpho_chain


def _config(tmp_path: Path, chain: MorphoChain, db_url: str, *, discover: bool = False) -> Path:
    markets = "".join(
        f'\n[markets.morpho-{n}]\nchain = "devnet"\nprotocol = "morpho_blue"\naddress = "devnet:Morpho"\n'
        f'discover = {str(discover).lower()}\nstart_block = {chain.morpho.block_number}\n'
        f'options = {{ market_id = "devnet:MorphoMarket.{m.collateral_symbol}/{m.loan_symbol}" }}\n'
        for n, m in enumerate(chain.morpho.markets))
    config = tmp_path / "morpho.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n\n[chains.devnet]\nchain_id = 31337\n'
                      f'devnet = "{chain.file}"\n{markets}')
    return config


def _market_key(chain: MorphoChain, market_id: str) -> str:
    return f"morpho-{[m.id for m in chain.morpho.markets].index(market_id)}"


async def test_every_position_equals_morpho_after_days_of_interest(chain, tmp_path, db_url, engine):
    settings = load_settings(_config(tmp_path, chain, db_url))
    for account, kind in chain.seeded:
        add_wallet(engine, address=account, label=kind)
    (read,) = await sync_once(settings, engine)
    by_key = {(s.detail["market_id"], s.account): s for s in read.snapshots}
    indebted = [key for key, s in by_key.items() if s.detail["borrow_shares"]]
    markets = Counter(market for market, _ in indebted)
    assert len(indebted) >= 100 and len(markets) >= 3, markets

    # debt: what Morpho's own repay takes for all the shares at this block (interest accrued inside the call)
    owed = read_debts(chain.url, chain.morpho, indebted, block=read.block.number)
    assert [by_key[key].health.debt for key in indebted] == owed
    # verdict: the indexer's unhealthy positions can be liquidated, its healthy ones cannot
    verdicts = {key: liquidation_succeeds(chain.url, chain.morpho, key[0], key[1], block=read.block.number)
                for key in indebted}
    assert {key: by_key[key].health.liquidatable for key in indebted} == verdicts
    assert 0 < sum(verdicts.values()) < len(verdicts), "the seeding has both sides of the line after 5 days"

    # what was stored is what was read: legs, health, quote and detail
    stored = {(p.detail["market_id"], p.account): p for p in list_positions(engine)}
    assert set(stored) == set(by_key)
    for key, snap in by_key.items():
        view = stored[key]
        assert (view.health_raw, view.health, view.debt_value, view.equity, view.quote) == (
            snap.health.raw, snap.health.health, snap.health.debt, snap.health.equity, snap.health.quote)
        assert position_legs(engine, snapshot_id=view.snapshot_id) == snap.legs
    some = by_key[indebted[0]]
    market = chain.morpho.market(indebted[0][0])
    assert some.health.quote == market.loan_symbol and some.health.quote_unit == 10**market.loan_decimals
    collateral = next(g for g in some.legs if g.role is Role.COLLATERAL)
    assert (collateral.price_key, collateral.price_decimals) == (
        market.oracle, 36 + market.loan_decimals - market.collateral_decimals)


async def test_within_one_unit_of_the_boundary(chain, tmp_path, db_url):
    """Per market, the indexer's liquidation price for a borrower: at that oracle price the indexer and Morpho
    both say healthy; one unit lower both say liquidatable (no block in between: the accrued state is fixed)."""
    settings = load_settings(_config(tmp_path, chain, db_url))
    accounts = [account for account, _ in chain.seeded]
    read = await read_chain(settings, "devnet", accounts)
    checked = 0
    for market in chain.morpho.markets:
        key = _market_key(chain, market.id)
        source = source_for(settings, key)
        borrowers = sorted((s for s in read.snapshots if s.market == key and s.health.debt),
                           key=lambda s: s.health.debt)
        for position in (borrowers[0], borrowers[-1]):  # the smallest and the largest debt of the market
            point = source.liquidation_points(position)[market.oracle]
            assert point.falling
            for price, healthy in ((point.price, True), (point.price - 1, False)):
                set_oracle_price(chain.url, chain.morpho, market.id, price, mine=False)
                again = await read_chain(settings, "devnet", [position.account])
                [now] = [s for s in again.snapshots if s.market == key]
                assert next(g.price for g in now.legs if g.role is Role.COLLATERAL) == price
                assert now.health.debt == position.health.debt  # same block, same accrual
                assert now.health.liquidatable is not healthy
                assert liquidation_succeeds(chain.url, chain.morpho, market.id, position.account,
                                            block=again.block.number) is not healthy
                checked += 1
            set_oracle_price(chain.url, chain.morpho, market.id, market.initial_price, mine=False)
    assert checked == 4 * len(chain.morpho.markets)



def _health_on_chain(chain: MorphoChain, market_id: str, account: str) -> int:
    """Morpho's own state after the transaction, put through ``_isHealthy``'s integers: maxBorrow / borrowed in
    WAD, floored (what the indexer stores as a Morpho position's health)."""
    market = chain.morpho.market(market_id)
    position = read_position(chain.url, chain.morpho, market_id, account)
    state = read_market(chain.url, chain.morpho, market_id)
    (price,) = read_prices(chain.url, chain.morpho, [market_id])
    borrowed = rules.to_assets_up(position.borrow_shares, state.total_borrow_assets, state.total_borrow_shares)
    max_borrow = rules.w_mul_down(rules.mul_div_down(position.collateral, price, rules.ORACLE_PRICE_SCALE),
                                  market.lltv)
    return 2**256 - 1 if not borrowed else rules.w_div_down(max_borrow, borrowed)


async def test_what_it_takes_to_be_safe_is_what_morpho_books(chain, tmp_path, db_url):
    """Repaying (or adding collateral of) the reported amount on Morpho itself brings the position to the target,
    and one unit less does not. A repayment is booked as Morpho books it (``toSharesDown`` shares burnt at the
    totals accrued over five days, the debt the shares left are worth); with a million virtual shares per asset
    that lands on the same unit as ``debt − x`` on these markets, which the chain confirms either way."""
    settings = load_settings(_config(tmp_path, chain, db_url))
    read = await read_chain(settings, "devnet", [account for account, _ in chain.seeded])
    target = Decimal("1.5")
    below = sorted((s for s in read.snapshots if s.health.health is not None and Decimal("0.9") < s.health.health
                    < target), key=lambda s: (s.market, s.health.debt))
    picked = [s for n, s in enumerate(below) if n % max(1, len(below) // 6) == 0][:6]
    assert len(picked) >= 4, len(below)
    checked = {"repay": 0, "add": 0}
    for snapshot in picked:
        market = chain.morpho.market(str(snapshot.detail["market_id"]))
        plan = to_be_safe(source_for(settings, snapshot.market), snapshot, target)
        assert plan.unmodelled == [] and {s.action for s in plan.steps} == {"repay", "add"}
        for step in plan.steps:
            assert step.exact and step.amount and step.health_after is not None and step.health_after >= target
            for amount, reaches in ((step.amount, True), (step.amount - 1, False)):
                if amount == 0:
                    continue
                call = (encode_call(f"repay({MARKET_PARAMS},uint256,uint256,address,bytes)", market.params, amount,
                                    0, snapshot.account, b"") if step.action == "repay"
                        else encode_call(f"supplyCollateral({MARKET_PARAMS},uint256,address,bytes)", market.params,
                                         amount, snapshot.account, b""))
                with reverting(chain.url):
                    mine_at(chain.url, read.block.timestamp, [
                        {"from": snapshot.account, "to": step.asset,
                         "data": encode_call("mint(address,uint256)", snapshot.account, amount)},
                        {"from": snapshot.account, "to": step.asset,
                         "data": encode_call("approve(address,uint256)", chain.morpho.morpho, 2**256 - 1)},
                        {"from": snapshot.account, "to": chain.morpho.morpho, "data": call},
                        # supplyCollateral does not accrue interest (repay does): accrue it in the same block, as
                        # the health check of Morpho's next borrow, withdrawal or liquidation would
                        {"from": snapshot.account, "to": chain.morpho.morpho,
                         "data": encode_call(f"accrueInterest({MARKET_PARAMS})", market.params)}])
                    health = _health_on_chain(chain, market.id, snapshot.account)
                assert (health >= target * 10**18) is reaches, (snapshot.account, step.action, amount, health)
            checked[step.action] += 1
    assert checked["repay"] >= 4 and checked["add"] >= 4, checked


async def test_a_shock_equals_moving_the_oracles_and_reading(chain, tmp_path, db_url, engine):
    """`indexer shock` over the stored Morpho positions equals setting each market's oracle to the shocked price
    and reading again at the same block (no interest in between), position by position, to the unit. A Morpho
    oracle prices the collateral in loan tokens, so a move of both (wstETH/WETH under ETH −25 %) cancels and a
    move of the loan token alone (USDC −3 %) moves the price the other way."""
    settings = load_settings(_config(tmp_path, chain, db_url))
    for account, kind in chain.seeded:
        add_wallet(engine, address=account, label=kind)
    (first,) = await sync_once(settings, engine)
    moves = parse_moves(["ETH=-25%", "BTC=-20%", "USDC=-3%"], settings.risk.groups)
    result = shock_stored(engine, settings=settings, moves=moves)
    assert len(result.positions) == len(first.snapshots) >= 100
    after_price: dict[str, set[int]] = {}
    for shocked in result.positions:
        for moved in shocked.prices:
            after_price.setdefault(moved.key, set()).add(moved.after)
    assert all(len(prices) == 1 for prices in after_price.values())
    by_oracle = {m.oracle: m for m in chain.morpho.markets}
    moved = {key for key, (price,) in after_price.items() if price != by_oracle[key].initial_price}
    assert len(moved) == 3, "WETH/USDC, WBTC/DAI and USDC/WETH move; wstETH/WETH moves with its loan token"
    for key, (price,) in after_price.items():
        set_oracle_price(chain.url, chain.morpho, by_oracle[key].id, price, mine=False)
    again = await read_chain(settings, "devnet", [account for account, _ in chain.seeded])
    assert again.block.number == first.block.number
    read = {(s.market, s.account): s.health for s in again.snapshots}
    crossing = 0
    for shocked in result.positions:
        health = read[(shocked.view.market, shocked.view.account)]
        assert (shocked.after.raw, shocked.after.collateral, shocked.after.debt, shocked.after.liquidatable) == (
            health.raw, health.collateral, health.debt, health.liquidatable), shocked.view.account
        crossing += shocked.crossing
    assert crossing >= 3, "the moves must take some positions under 1 for the comparison to mean anything"


async def test_discovery_finds_each_markets_accounts_by_market_id(chain, tmp_path, db_url, engine):
    """Discovery scans the one Morpho contract per market, filtered on the market id in topic1: each market
    finds exactly the accounts that hold a position in it."""
    settings = load_settings(_config(tmp_path, chain, db_url, discover=True))
    read = await read_chain(settings, "devnet", [account for account, _ in chain.seeded])
    async with RpcClient([chain.url]) as rpc:
        head = int(await rpc.call("eth_blockNumber", []), 16)
        found = await discover(settings, engine, chain="devnet", head=head, rpc=rpc)
    assert found.new_accounts == len({s.account for s in read.snapshots}) > 0
    for market in chain.morpho.markets:
        key = _market_key(chain, market.id)
        holders = {s.account for s in read.snapshots if s.market == key}
        assert holders and set(discovered_accounts(engine, chain="devnet", market=key)) == holders


def test_devnet_up_deploys_morpho_beside_aave_and_sync_indexes_both(tmp_path):
    """As a new user runs it: `indexer devnet up` with the shipped default config (its Morpho markets named by
    devnet:…), then `indexer sync` and `indexer positions --json` from another shell."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    env["INDEXER_HOME"] = str(tmp_path)  # the shipped default config: its relative paths land in the data directory
    up = subprocess.Popen([sys.executable, "-m", "indexer", "devnet", "up", "--borrowers", "12"], cwd=tmp_path,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "data" / "devnet.json").exists():
            assert up.poll() is None and time.monotonic() < deadline, "devnet up stopped or took too long"
            time.sleep(0.2)
        time.sleep(0.5)  # the file is written before the wallets are tracked
        for _ in range(50):
            synced = subprocess.run([sys.executable, "-m", "indexer", "sync"], cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=120)
            if synced.returncode == 0:
                break
            time.sleep(0.2)
        assert synced.returncode == 0, synced.stderr
        shown = subprocess.run([sys.executable, "-m", "indexer", "positions", "--json"], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=120)
        rows = json.loads(shown.stdout)
    finally:
        up.send_signal(signal.SIGTERM)
        up.communicate(timeout=30)
    protocols = Counter(r["protocol"] for r in rows)
    assert protocols["aave_v3"] >= 12 and protocols["morpho_blue"] >= 12, protocols
    assert protocols["compound_v3"] >= 12, protocols  # the default config's two devnet Comets
    assert protocols["liquity_v1"] >= 10, protocols  # and its Liquity v1 TroveManager
    assert protocols["maker"] >= 8, protocols  # and its two Maker ilks (urns of the tracked wallets and proxies)
    assert protocols["euler_v2"] >= 8, protocols  # and its two Euler vaults (every sub-account of the owners)
    assert protocols["liquity_v2"] >= 8, protocols  # and its two Liquity v2 branches (the owners' troves)
    assert protocols["gmx_v2"] >= 8, protocols  # and its GMX v2 Reader (isolated longs and shorts)
    assert protocols["synthetix_v3"] >= 8, protocols  # and its Synthetix v3 perps accounts
    morpho = [r for r in rows if r["protocol"] == "morpho_blue"]
    assert {r["market"] for r in morpho} <= {"devnet-morpho-weth-usdc", "devnet-morpho-wbtc-dai",
                                             "devnet-morpho-wsteth-weth", "devnet-morpho-usdc-weth"}
    assert all(r["quote"] in {"USDC", "DAI", "WETH"} and r["detail"]["market_id"].startswith("0x") for r in morpho)


async def test_a_position_liquidated_to_zero_closes(chain, tmp_path, db_url, engine):
    """Morpho realizes bad debt when a liquidation seizes all the collateral: the position's borrow shares go to
    0 with it. The position then leaves the latest view (history keeps its closing) and its alert resolves."""
    from indexer.devnet.abi import encode_call
    from indexer.devnet.txbatch import transact
    from indexer.pipeline.chain import ChainPipeline
    from indexer.protocols.morpho_blue.devnet import MARKET_PARAMS, read_position, read_prices, set_oracle_price
    from indexer.store.alert_store import list_alerts

    settings = load_settings(_config(tmp_path, chain, db_url))
    market = chain.morpho.markets[0]
    victim = next(account for account, _ in chain.seeded
                  if read_position(chain.url, chain.morpho, market.id, account).borrow_shares)
    add_wallet(engine, address=victim, label="victim", warn_health=Decimal(50))
    pipeline = ChainPipeline(settings, engine, "devnet")
    try:
        await pipeline.sync()
        assert victim in {p.account for p in list_positions(engine)}
        assert any(a["account"] == victim for a in list_alerts(engine, open_only=True))
        (price,) = read_prices(chain.url, chain.morpho, [market.id])
        set_oracle_price(chain.url, chain.morpho, market.id, price // 20)  # deep under water: bad debt
        seize = read_position(chain.url, chain.morpho, market.id, victim).collateral
        transact(JsonRpcClient(chain.url), "liquidate everything", chain.morpho.liquidator, chain.morpho.morpho,
                 encode_call(f"liquidate({MARKET_PARAMS},address,uint256,uint256,bytes)", market.params, victim,
                             seize, 0, b""), 2_000_000)
        after = read_position(chain.url, chain.morpho, market.id, victim)
        assert (after.collateral, after.borrow_shares) == (0, 0)  # bad debt realized: nothing left
        closed = await pipeline.sync()
    finally:
        await pipeline.close()
    assert [s.account for s in closed.closed] == [victim]
    assert victim not in {p.account for p in list_positions(engine)}
    assert not any(a["account"] == victim for a in list_alerts(engine, open_only=True))


async def test_accrued_writes_derive_every_block_of_a_full_write(chain, tmp_path, db_url, engine):
    """``[writes] mode = "accrued"`` on the real Morpho Blue: a block stores each market's state (its parameters,
    the oracle's price, the borrow totals accrued to the block) and the positions whose collateral or shares
    changed. Two pipelines follow the same blocks (half days of interest, an oracle move, a partial liquidation),
    one writing every position every block: every position's figures at every block, derived from the accrued
    store, are the full store's."""
    from indexer.devnet.abi import encode_call
    from indexer.devnet.txbatch import transact
    from indexer.history import figures_at
    from indexer.pipeline.chain import ChainPipeline
    from indexer.protocols.registry import rules_for
    from indexer.store.db import make_engine, upgrade
    from tests.integration.chain_helpers import figures_row, history_rows

    accrued_config = _config(tmp_path, chain, db_url)
    accrued_config.write_text('[writes]\nmode = "accrued"\nepsilon = 0.05\n' + accrued_config.read_text())
    accrued = load_settings(accrued_config)
    full_url = f"sqlite:///{tmp_path / 'full.db'}"
    upgrade(full_url)
    full = make_engine(full_url)
    everything = accrued.model_copy(update={"writes": accrued.writes.model_copy(update={"mode": "all"})})
    for account, kind in chain.seeded:
        for target in (engine, full):
            add_wallet(target, address=account, label=kind)
    pipelines = [ChainPipeline(accrued, engine, "devnet"), ChainPipeline(everything, full, "devnet")]
    market = chain.morpho.markets[0]
    victim = next(account for account, _ in chain.seeded
                  if read_position(chain.url, chain.morpho, market.id, account).borrow_shares)

    async def follow() -> None:
        for pipeline in pipelines:
            while await pipeline.step():
                pass

    try:
        await follow()
        advance_time(chain.url, 43_200)
        await follow()
        (price,) = read_prices(chain.url, chain.morpho, [market.id])
        set_oracle_price(chain.url, chain.morpho, market.id, price // 3)  # the victim under water
        await follow()
        seize = read_position(chain.url, chain.morpho, market.id, victim).collateral // 4
        transact(JsonRpcClient(chain.url), "liquidate a quarter", chain.morpho.liquidator, chain.morpho.morpho,
                 encode_call(f"liquidate({MARKET_PARAMS},address,uint256,uint256,bytes)", market.params, victim,
                             seize, 0, b""), 2_000_000)
        await follow()
        advance_time(chain.url, 43_200)
        await follow()
    finally:
        for pipeline in pipelines:
            await pipeline.close()
    dense, sparse = history_rows(full), history_rows(engine)
    derived = 0
    for (key, account, block), row in dense.items():
        got = figures_at(engine, rules_for(accrued, key), chain="devnet", market=key, account=account, block=block)
        assert got is not None and figures_row(got) == row, (key, block, account)
        derived += got.derived
    assert len({b for (_, _, b) in dense}) >= 5
    assert derived > len(dense) // 2 and len(sparse) < len(dense) // 2
    victim_key = _market_key(chain, market.id)
    assert len({b for (k, a, b) in sparse if (k, a) == (victim_key, victim)}) >= 2  # the liquidation wrote it
    full.dispose()
