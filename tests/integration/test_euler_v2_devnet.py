"""Euler v2 through the indexer, on the devnet's EVK stand-in (contracts of this project's own implementing the real
external ABI and math of the Euler Vault Kit, the Ethereum Vault Connector and the EulerRouter with Chainlink and
Pyth adapters: no package ships their bytecode; see indexer/protocols/euler_v2/devnet.py).

One anvil for the module: two controller vaults (eUSDC in USD, eWETH in WETH) and 66 sub-accounts of owners holding
one to four each, seeded through the same hooks `indexer devnet up` uses. Every verdict is compared with the devnet
contracts' own: ``accountLiquidity(account, true)`` (the two values, exactly), ``checkLiquidation`` and
``liquidate`` by eth_call. Each test runs inside an evm snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indexer.chain.rpc import RpcClient
from indexer.devnet import Anvil, Deployment, advance_time, stack
from indexer.devnet.abi import decode, encode_call
from indexer.devnet.calls import keyless_address
from indexer.devnet.errors import DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, automine_paused, send_and_mine
from indexer.discovery import discover
from indexer.protocols.euler_v2 import devnet as euler
from indexer.protocols.euler_v2 import rules
from indexer.protocols.euler_v2.adapter import EulerV2Adapter
from indexer.protocols.registry import source_for
from indexer.settings import load_settings
from indexer.store.chain_store import discovered_accounts
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from indexer.sync import read_chain, sync_once
from indexer.types import PositionSnapshot, Role
from tests.fixtures.devnet import reverting

SEEDED = 66
MARKETS = ("eUSDC", "eWETH")
_NO_DB = "sqlite:///unused.db"  # read_chain reads the chain only: the tests that store take the db_url fixture


@dataclass
class EulerChain:
    url: str
    deployment: Deployment
    record: dict[str, Any]
    seeded: list[euler.SeededEuler]
    file: Path

    def vault(self, name: str) -> str:
        return euler.vault_address(self.record, name)

    def accounts(self) -> list[str]:
        return [p.account for p in self.seeded]


@pytest.fixture(scope="module")
def euler_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EulerChain]:
    with Anvil() as node:
        deployment = stack.deploy(node.url, [EulerV2Adapter.kind])
        record = deployment.protocols[EulerV2Adapter.kind]
        seeded = euler.seed_positions(node.url, record, SEEDED)
        path = tmp_path_factory.mktemp("euler") / "devnet.json"
        deployment.to_json(path)
        yield EulerChain(node.url, deployment, record, seeded, path)


@pytest.fixture
def chain(euler_chain: EulerChain) -> Iterator[EulerChain]:
    with reverting(euler_chain.url):
        yield euler_chain


def _config(tmp_path: Path, chain: EulerChain, db_url: str, *, discover: bool = False, verify: bool = False,
            pyth_heartbeat: int | None = None, sub_accounts: bool = False) -> Path:
    feeds = ""
    if pyth_heartbeat is not None:
        price_id = chain.record["pyth_ids"]["wstETH/USD"]
        feeds = (f'\n[[chains.devnet.feeds]]\naddress = "{chain.record["pyth"]}"\nkind = "pyth"\n'
                 f'price_id = "{price_id}"\nheartbeat = {pyth_heartbeat}\n')
    markets = "".join(
        f'\n[markets.{name}]\nchain = "devnet"\nprotocol = "euler_v2"\naddress = "devnet:EulerV2.{name}"\n'
        f'discover = {str(discover).lower()}\nstart_block = {chain.deployment.block_number}\n'
        f'verify_onchain = {str(verify).lower()}\n'
        + ('options = { sub_accounts = true }\n' if sub_accounts else '') for name in MARKETS)
    config = tmp_path / "euler.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n\n[chains.devnet]\nchain_id = 31337\n'
                      f'devnet = "{chain.file}"\n{feeds}{markets}')
    return config


def _borrowers(snapshots: list[PositionSnapshot]) -> list[PositionSnapshot]:
    return [s for s in snapshots if any(leg.role is Role.DEBT for leg in s.legs)]


def _largest_collateral(s: PositionSnapshot) -> str:
    return max((leg for leg in s.legs if leg.role is Role.COLLATERAL), key=lambda leg: leg.value).asset


def _verdicts(chain: EulerChain, snapshots: list[PositionSnapshot], block: int) -> int:
    """Each position against the chain at ``block``: both values of accountLiquidity(account, true), debtOf, and the
    verdict against checkLiquidation and liquidate (by eth_call, from the market's liquidator). Returns how many are
    liquidatable."""
    liquidatable = 0
    for s in snapshots:
        vault = chain.vault(s.market)
        collateral, liability = euler.account_liquidity(chain.url, vault, s.account, block=block)
        assert (collateral, liability) == (s.health.equity, s.health.debt), s.account
        debt = next((leg.amount for leg in s.legs if leg.role is Role.DEBT), 0)
        assert euler.debt_of(chain.url, vault, s.account, block=block) == debt
        if not debt:
            continue
        violation = collateral <= liability
        assert s.health.liquidatable is violation is s.detail["liquidity"]["violation"]
        seized = _largest_collateral(s)
        if "liquidation_held" in s.detail:  # within eWETH's cool-off of its last status check: refused outright
            with pytest.raises(DevnetRpcError) as held:
                euler.check_liquidation(chain.url, chain.record, s.market, s.account, seized, block=block)
            assert euler.revert_error(held.value) == "E_LiquidationCoolOff"
            continue
        assert any(euler.check_liquidation(chain.url, chain.record, s.market, s.account, seized, block=block)) \
            is violation
        assert euler.liquidate_succeeds(chain.url, chain.record, s.market, s.account, seized, block=block) is violation
        liquidatable += violation
    return liquidatable


async def test_every_sub_account_equals_account_liquidity(chain, tmp_path):
    settings = load_settings(_config(tmp_path, chain, _NO_DB, verify=True))
    advance_time(chain.url, 6 * 3_600)  # a quarter into eWETH's ramp of the ewstETH LTV; Pyth published afresh
    euler.set_pyth_price(chain.url, chain.record, "wstETH/USD", 2_950 * 10**8)
    hints: dict[str, object] = {}
    first = await read_chain(settings, "devnet", chain.accounts(), hints=hints)
    read = await read_chain(settings, "devnet", chain.accounts(), block=first.block.number, hints=hints)
    assert [(s.account, s.health, s.legs) for s in read.snapshots] == \
        [(s.account, s.health, s.legs) for s in first.snapshots]  # the hint saves rounds, changes nothing
    assert read.stats.requests < first.stats.requests
    assert not read.unpriced
    assert len(read.snapshots) >= 60 and {s.market for s in read.snapshots} == set(MARKETS)
    assert dict(read.checks) == {m: (sum(1 for s in read.snapshots if s.market == m), 0) for m in MARKETS}
    by_account = {p.account: p for p in chain.seeded}
    for s in read.snapshots:  # accounts, owners, sub-account ids as the EVC has them
        p = by_account[s.account]
        assert (s.owner, s.detail["sub_account_id"], s.market) == (p.owner, p.sub_id, p.market)
    per_owner = Counter(s.owner for s in read.snapshots)
    assert max(per_owner.values()) >= 3 and sum(1 for n in per_owner.values() if n > 1) >= 5
    legs = [leg for s in read.snapshots for leg in s.legs]
    assert {leg.decimals for leg in legs} >= {6, 8, 18}
    assert all(leg.terms["exact_model"] for leg in legs if "exact_model" in leg.terms)
    # the nested ERC-4626 collateral: eSUSDS shares -> sUSDS shares -> USDS, above 1 USDS per share
    esusds = [leg for leg in legs if leg.asset == chain.vault("eSUSDS")]
    assert esusds and all(leg.terms["resolved_amount"] > leg.amount for leg in esusds)
    assert any(leg.terms["inverse"] for leg in legs if leg.asset == chain.vault("eUSDC"))  # ETH/USDC inverted
    # the ramping liquidation LTV is the one in force at the block, as LTVLiquidation answers it
    block = read.block.number
    ramped = [s for s in read.snapshots if s.market == "eWETH" and any(leg.asset == chain.vault("ewstETH")
                                                                        for leg in s.legs)]
    raw = JsonRpcClient(chain.url).call("eth_call", [{"to": chain.vault("eWETH"), "data": encode_call(
        "LTVLiquidation(address)", chain.vault("ewstETH"))}, hex(block)])
    on_chain = int(decode(["uint16"], raw)[0])
    config = euler.ltv_full(chain.url, chain.vault("eWETH"), chain.vault("ewstETH"), block=block)
    assert ramped and 9400 < on_chain < 9500 and config.initial_liquidation == 9500 and config.liquidation == 9300
    assert on_chain == rules.liquidation_ltv(config, read.block.timestamp)
    assert {leg.terms["ltv"] for s in ramped for leg in s.legs if leg.asset == chain.vault("ewstETH")} == {on_chain}
    # debts at the moved interest accumulator: debtOfExact rounded up
    for s in _borrowers(read.snapshots):
        exact = euler.debt_of(chain.url, chain.vault(s.market), s.account, exact=True, block=block)
        assert int(s.detail["debt"]["owed_exact"]) == exact
        assert next(leg.amount for leg in s.legs if leg.role is Role.DEBT) == rules.owed_to_assets_up(exact)
    assert _verdicts(chain, read.snapshots, block) == 0

    # prices move against the borrowers: some cross the line, not all
    for feed, factor in (("WETH/USD", 70), ("WBTC/USD", 72), ("USDS/USD", 92), ("USDC/USD", 103),
                         ("ETH/USDC", 118), ("wstETH/ETH", 85)):
        euler.set_feed_price(chain.url, chain.record, feed, chain.record["feeds"][feed]["answer"] * factor // 100)
    euler.set_pyth_price(chain.url, chain.record, "wstETH/USD", 2_950 * 10**8 * 72 // 100)
    after = await read_chain(settings, "devnet", chain.accounts())
    liquidatable = _verdicts(chain, after.snapshots, after.block.number)
    assert 0 < liquidatable < len(_borrowers(after.snapshots)), liquidatable
    assert dict(after.checks) == {m: (sum(1 for s in after.snapshots if s.market == m), 0) for m in MARKETS}


async def test_each_liquidation_price_and_one_unit_beyond(chain, tmp_path):
    """For one borrower per kind of price (8- and 18-decimal Chainlink collateral, the nested ERC-4626, the Pyth
    collateral, the debt's feed rising, the inverted ETH/USDC feed rising, the ramped wstETH/ETH collateral): at the
    indexer's liquidation price the position is no violation for the indexer, accountLiquidity, checkLiquidation and
    liquidate; one unit beyond, it is one for all four. Every block keeps the read's time (the ramp stands still)."""
    settings = load_settings(_config(tmp_path, chain, _NO_DB))
    advance_time(chain.url, 60)  # past eWETH's one-second cool-off of the seeding's status checks
    read = await read_chain(settings, "devnet", chain.accounts())
    rpc = JsonRpcClient(chain.url)
    feed_of = {v["address"]: name for name, v in chain.record["feeds"].items()}
    pyth_key = f"{chain.record['pyth']}:{chain.record['pyth_ids']['wstETH/USD']}"
    wanted = {chain.record["feeds"][f]["address"] for f in ("WETH/USD", "WBTC/USD", "USDS/USD", "USDC/USD",
                                                          "ETH/USDC", "wstETH/ETH")} | {pyth_key}
    chosen: dict[str, tuple[PositionSnapshot, Any]] = {}
    for s in sorted(_borrowers(read.snapshots), key=lambda s: s.health.debt):
        for key, point in source_for(settings, s.market).liquidation_points(s).items():
            if key in wanted and key not in chosen:
                chosen[key] = (s, point)
    assert set(chosen) == wanted
    checked = 0
    for key, (position, point) in chosen.items():
        assert point.falling is (key not in {chain.record["feeds"]["USDC/USD"]["address"],
                                            chain.record["feeds"]["ETH/USDC"]["address"]})
        beyond = point.price - 1 if point.falling else point.price + 1
        original = next(leg.price for leg in position.legs if leg.price_key == key)
        for price, healthy in ((point.price, True), (beyond, False), (original, True)):
            rpc.call("evm_setNextBlockTimestamp", [read.block.timestamp])
            if key == pyth_key:
                euler.set_pyth_price(chain.url, chain.record, "wstETH/USD", price, publish_time=read.block.timestamp)
            else:
                euler.set_feed_price(chain.url, chain.record, feed_of[key], price)
            again = await read_chain(settings, "devnet", [position.account])
            [now] = [s for s in again.snapshots if s.market == position.market]
            assert now.block.timestamp == read.block.timestamp
            assert now.health.liquidatable is not healthy, (feed_of.get(key, key), price)
            block, vault = again.block.number, chain.vault(position.market)
            collateral, liability = euler.account_liquidity(chain.url, vault, position.account, block=block)
            assert (collateral, liability) == (now.health.equity, now.health.debt)
            assert (collateral <= liability) is not healthy
            seized = _largest_collateral(now)
            assert any(euler.check_liquidation(chain.url, chain.record, position.market, position.account, seized,
                                               block=block)) is not healthy
            assert euler.liquidate_succeeds(chain.url, chain.record, position.market, position.account, seized,
                                            block=block) is not healthy
            checked += 1
    assert checked == 3 * len(wanted)


def _open(chain: EulerChain, owner: str, sub_id: int, steps: list[tuple[str, str, str, tuple[str, str] | None]]) -> int:
    rpc = JsonRpcClient(chain.url)
    rpc.batch([("anvil_setBalance", [owner, euler.ETH_FUNDING]), ("anvil_impersonateAccount", [owner])])
    nonces = NonceBook(rpc)
    txs = [Tx(step, owner, to, data, euler.CALL_GAS, nonces.take(owner), 0, expect) for step, to, data, expect in steps]
    with automine_paused(rpc):
        send_and_mine(rpc, txs, f"open sub-account {sub_id} of {owner}")
    return int(rpc.call("eth_blockNumber"), 16)


async def test_equal_values_are_liquidated_and_the_cool_off_holds(chain, tmp_path):
    """Liquidation.sol finds no violation only while collateral > liability: a sub-account whose two values are equal
    is liquidated (the indexer's health is below 1), one unit more collateral value and it is not. eWETH's
    one-second cool-off holds an account liquidation in the block of its last status check."""
    settings = load_settings(_config(tmp_path, chain, _NO_DB))
    owner = keyless_address("euler-v2", "test/equality-owner")
    account = euler.sub_account(owner, 3)
    usdc, eusdc, eweth = chain.record["tokens"]["USDC"]["address"], chain.vault("eUSDC"), chain.vault("eWETH")
    evc = chain.record["evc"]
    _open(chain, owner, 3, [
        ("mint", usdc, encode_call("mint(address,uint256)", owner, 10_000 * 10**6), None),
        ("approve", usdc, encode_call("approve(address,uint256)", eusdc, euler.UINT256_MAX), None),
        ("deposit", eusdc, encode_call("deposit(uint256,address)", 10_000 * 10**6, account), None),
        ("collateral", evc, encode_call("enableCollateral(address,address)", account, eusdc), None),
        ("controller", evc, encode_call("enableController(address,address)", account, eweth), None),
    ])
    [alone] = (await read_chain(settings, "devnet", [account])).snapshots
    leg = alone.legs[0]
    assert alone.health.requirement == 0 and leg.terms["inverse"] == 1
    feed = chain.record["feeds"]["ETH/USDC"]
    p1 = feed["answer"] * 108 // 100  # USDC worth 7.4 % less WETH: the liquidation LTV (85 %) meets what we borrow
    target = rules.ltv_adjusted(rules.out_amount(leg.terms["resolved_amount"], p1, rules.Scale(
        leg.terms["price_exp"], leg.terms["feed_exp"]), True), leg.terms["ltv"])
    borrow = encode_call("borrow(uint256,address)", target, owner)
    block = _open(chain, owner, 3, [("borrow", evc, encode_call("call(address,address,uint256,bytes)", eweth, account,
                                                                0, bytes.fromhex(borrow[2:])), None)])
    [opened] = (await read_chain(settings, "devnet", [account], block=block)).snapshots
    assert "cool-off" in opened.detail["liquidation_held"]
    with pytest.raises(DevnetRpcError) as refused:
        euler.check_liquidation(chain.url, chain.record, "eWETH", account, eusdc, block=block)
    assert euler.revert_error(refused.value) == "E_LiquidationCoolOff"

    JsonRpcClient(chain.url).call("evm_increaseTime", [1])  # past the cool-off of the borrow's status check
    euler.set_feed_price(chain.url, chain.record, "ETH/USDC", p1)
    [equal] = (await read_chain(settings, "devnet", [account])).snapshots
    block = equal.block.number
    assert euler.account_liquidity(chain.url, eweth, account, block=block) == (target, target)
    assert (equal.health.equity, equal.health.debt) == (target, target) and equal.health.liquidatable
    assert "liquidation_held" not in equal.detail and equal.detail["liquidity"]["ratio_raw"] == str(10**18)
    repay, seized = euler.check_liquidation(chain.url, chain.record, "eWETH", account, eusdc, block=block)
    assert repay == target and seized > 0  # no discount at a health of exactly 1
    assert rules.max_liquidation(target, target, target, *_whole(chain, account, block)) == (repay, seized)
    assert euler.liquidate_succeeds(chain.url, chain.record, "eWETH", account, eusdc, block=block)
    point = source_for(settings, "eWETH").liquidation_points(equal)[feed["address"]]
    assert point.price < p1 and not point.falling
    euler.set_feed_price(chain.url, chain.record, "ETH/USDC", point.price)
    [safe] = (await read_chain(settings, "devnet", [account])).snapshots
    collateral, liability = euler.account_liquidity(chain.url, eweth, account, block=safe.block.number)
    assert collateral > liability == target and not safe.health.liquidatable
    assert not euler.liquidate_succeeds(chain.url, chain.record, "eWETH", account, eusdc, block=safe.block.number)


def _whole(chain: EulerChain, account: str, block: int) -> tuple[int, int, int]:
    """(the whole eUSDC balance's quote in WETH, that balance, eWETH's maxLiquidationDiscount)."""
    balance = euler.collateral_balance(chain.url, chain.vault("eUSDC"), account, block=block)
    value = euler.router_quote(chain.url, chain.record, balance, chain.vault("eUSDC"),
                               chain.record["tokens"]["WETH"]["address"], block=block)
    return value, balance, chain.record["markets"]["eWETH"]["max_discount"]


async def test_a_stale_pyth_price_marks_positions_stale_not_failed(chain, tmp_path, db_url, engine):
    """Past the Pyth adapter's maxStaleness the router refuses to quote wstETH (accountLiquidity reverts): those
    positions are kept at the last published price, STALE, and the oracle monitor agrees when the feed is listed
    with the adapter's maxStaleness as heartbeat. A fresh price clears it."""
    settings = load_settings(_config(tmp_path, chain, db_url, pyth_heartbeat=euler.PYTH_MAX_STALENESS))
    before = await read_chain(settings, "devnet", chain.accounts())
    pyth_key = f"{chain.record['pyth']}:{chain.record['pyth_ids']['wstETH/USD']}"
    holders = {s.account: s for s in before.snapshots if any(leg.price_key == pyth_key for leg in s.legs)}
    assert holders
    advance_time(chain.url, euler.PYTH_MAX_STALENESS + 60)
    after = await read_chain(settings, "devnet", chain.accounts())
    assert not after.unpriced and len(after.snapshots) == len(before.snapshots)
    for s in after.snapshots:
        if s.account not in holders:
            assert s.price_status == "UNKNOWN" and "stale_quotes" not in s.detail  # the monitor decides when stored
            continue
        old = holders[s.account]
        assert s.price_status == "STALE" and "pull oracle needs an update" in s.detail["unverified"]
        assert [q["adapter_name"] for q in s.detail["stale_quotes"]] == ["PythOracle"]
        assert (s.health.equity, s.health.debt) == (old.health.equity, old.health.debt)  # at the last price
        with pytest.raises(DevnetRpcError) as refused:
            euler.account_liquidity(chain.url, chain.vault("eUSDC"), s.account, block=after.block.number)
        assert euler.revert_error(refused.value) == "PriceOracle_InvalidAnswer"

    for p in chain.seeded:
        add_wallet(engine, address=p.account, label=p.kind)
    (stored,) = await sync_once(settings, engine)
    statuses = {(p.market, p.account): p.price_status for p in list_positions(engine)}
    assert {statuses[("eUSDC", a)] for a in holders} == {"STALE"}
    assert stored.feeds[pyth_key].verdict.status == "STALE"

    euler.set_pyth_price(chain.url, chain.record, "wstETH/USD", 2_950 * 10**8)
    fresh = await read_chain(settings, "devnet", list(holders))
    assert all("stale_quotes" not in s.detail and s.price_status == "UNKNOWN" for s in fresh.snapshots)


async def test_discovery_finds_every_sub_account_of_each_controller(chain, tmp_path, db_url, engine):
    """ControllerStatus logs of the EVC, topic2 fixed to the vault: each market finds exactly its own sub-accounts
    (and its liquidator); tracked owners then see all their sub-accounts' positions."""
    settings = load_settings(_config(tmp_path, chain, db_url, discover=True))
    async with RpcClient([chain.url]) as rpc:
        head = int(await rpc.call("eth_blockNumber", []), 16)
        found = await discover(settings, engine, chain="devnet", head=head, rpc=rpc)
    assert found.new_accounts >= SEEDED
    for market in MARKETS:  # (the liquidators enabled their controller before the start block)
        mine = {p.account for p in chain.seeded if p.market == market}
        got = set(discovered_accounts(engine, chain="devnet", market=market))
        assert mine <= got <= mine | {chain.record["markets"][market]["liquidator"]}
    for p in chain.seeded:
        add_wallet(engine, address=p.owner, label="owner")
    (read,) = await sync_once(settings, engine)
    positions = list_positions(engine)
    assert {p.account for p in positions} >= {p.account for p in chain.seeded}
    assert {p.owner for p in positions if p.account in {s.account for s in chain.seeded}} == \
        {p.owner for p in chain.seeded}
    assert read.snapshots


async def test_tracked_owners_find_all_their_sub_accounts_without_discovery(chain, tmp_path, db_url, engine):
    """`sub_accounts = true`, no discovery: each tracked owner stands for its 256 sub-accounts, and the read finds
    every seeded sub-account of every owner on the vault that controls it (and nothing of untracked owners)."""
    settings = load_settings(_config(tmp_path, chain, db_url, sub_accounts=True))
    tracked = sorted({p.owner for p in chain.seeded})[::2]
    for owner in tracked:
        add_wallet(engine, address=owner, label="owner")
    (read,) = await sync_once(settings, engine)
    expected = {(p.market, p.account) for p in chain.seeded if p.owner in tracked}
    assert {(s.market, s.account) for s in read.snapshots} == expected
    assert len({account for _, account in expected}) > len(tracked)  # several sub-accounts per owner
    assert {p.owner for p in list_positions(engine)} == set(tracked)


async def test_interest_moves_every_debt_as_debt_of(chain, tmp_path):
    settings = load_settings(_config(tmp_path, chain, _NO_DB))
    advance_time(chain.url, 60)
    before = await read_chain(settings, "devnet", chain.accounts())
    accumulator = euler.interest_accumulator(chain.url, chain.record, "eUSDC")
    euler.set_interest_accumulator(chain.url, chain.record, "eUSDC", accumulator * 1_037 // 1_000)
    after = await read_chain(settings, "devnet", chain.accounts())
    old = {s.account: s for s in before.snapshots}
    moved = 0
    for s in _borrowers(after.snapshots):
        debt = next(leg.amount for leg in s.legs if leg.role is Role.DEBT)
        assert debt == euler.debt_of(chain.url, chain.vault(s.market), s.account, block=after.block.number)
        was = next(leg.amount for leg in old[s.account].legs if leg.role is Role.DEBT)
        moved += s.market == "eUSDC" and debt > was
    assert moved == sum(1 for s in _borrowers(after.snapshots) if s.market == "eUSDC")
    assert _verdicts(chain, after.snapshots, after.block.number) == 0
