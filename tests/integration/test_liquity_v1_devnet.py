"""Liquity v1 through the indexer, on the devnet's stand-in (our contracts behind Liquity v1's external ABI).

One anvil for the module: ``stack.deploy(url, ["liquity_v1"])`` (the stand-in, its Chainlink ETH/USD feed and
Multicall3), then 60 troves seeded through the devnet hook: a whale, troves opened before a redistribution
(pending rewards; some applied by an adjustment), troves opened after it, two liquidated victims and a
Stability Pool deposit of 60,000 LUSD. Every verdict of the indexer is held against the contract's own:
``getCurrentICR(borrower, price) < MCR`` in normal mode and ``liquidate(borrower)`` by eth_call at the block the
indexer read, in normal and recovery mode. Each test runs inside an evm snapshot.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from indexer.chain.rpc import RpcClient
from indexer.devnet import Anvil, Deployment, stack
from indexer.devnet.abi import create_address, encode_args
from indexer.devnet.compile import compile_dev_contracts
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import transact
from indexer.discovery import discover
from indexer.fastpath import moved_positions
from indexer.protocols.liquity_v1 import rules
from indexer.protocols.liquity_v1.adapter import ETH, Layout, LiquityV1Adapter
from indexer.protocols.liquity_v1.devnet import (
    FEED_DECIMALS,
    KINDS,
    STABILITY_POOL_DEPOSIT,
    LiquityDeployment,
    fetch_price,
    liquidation_succeeds,
    read_current_icr,
    read_entire_debt_and_coll,
    read_feed_answer,
    read_system,
    read_tcr,
    read_trove_status,
    set_eth_price,
    set_feed_round,
)
from indexer.protocols.registry import source_for
from indexer.settings import load_settings
from indexer.store.chain_store import discovered_accounts
from indexer.sync import read_chain
from indexer.types import PositionSnapshot, Role
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import assert_health_at_is_reprices

SEEDED = 60
MARKET = "liquity"
INITIAL_PRICE = 2_500 * 10**18


@dataclass
class LiquityChain:
    url: str
    deployment: Deployment
    liquity: LiquityDeployment
    seeded: list[tuple[str, str]]
    file: Path
    timings: dict[str, float]

    @property
    def accounts(self) -> list[str]:
        return [account for account, _ in self.seeded]


@pytest.fixture(scope="module")
def liquity_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiquityChain]:
    timings: dict[str, float] = {}
    with Anvil() as node:
        started = time.perf_counter()
        deployment = stack.deploy(node.url, [LiquityV1Adapter.kind])
        timings["deploy"] = time.perf_counter() - started
        started = time.perf_counter()
        seeded = stack.devnet_module(LiquityV1Adapter.kind).seed_devnet(node.url, deployment, SEEDED)
        timings["seed"] = time.perf_counter() - started
        path = tmp_path_factory.mktemp("liquity") / "devnet.json"
        deployment.to_json(path)
        liquity = LiquityDeployment.from_dict(deployment.protocols[LiquityV1Adapter.kind])
        yield LiquityChain(node.url, deployment, liquity, seeded, path, timings)


@pytest.fixture
def chain(liquity_chain: LiquityChain) -> Iterator[LiquityChain]:
    with reverting(liquity_chain.url):
        yield liquity_chain


def _no_db(tmp_path: Path) -> str:
    """Reads only: the config needs a database URL it never opens."""
    return f"sqlite:///{tmp_path / 'unused.db'}"


def _config(tmp_path: Path, chain: LiquityChain, db_url: str, *, verify: bool = True, discover: bool = False) -> Path:
    config = tmp_path / "liquity.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n\n[chains.devnet]\nchain_id = 31337\ndevnet = "{chain.file}"\n\n'
        f'[markets.{MARKET}]\nchain = "devnet"\nprotocol = "liquity_v1"\naddress = "devnet:LiquityV1.TroveManager"\n'
        f'verify_onchain = {str(verify).lower()}\ndiscover = {str(discover).lower()}\n'
        f'start_block = {chain.liquity.block_number}\n')
    return config


def _use_18_decimal_feed(chain: LiquityChain, price: int) -> None:
    """The feed answers with 18 decimals from here on, so a price can be set to the unit of Liquity's own
    18-decimal price: the DevPriceFeed code (decimals is an immutable) is swapped for one built with 18 and two
    fresh rounds at ``price`` are written (the stored 8-decimal rounds would mean nothing at 18)."""
    rpc = JsonRpcClient(chain.url)
    code = compile_dev_contracts()["DevPriceFeed"].bytecode
    sender = chain.liquity.deployer
    address = create_address(sender, int(rpc.call("eth_getTransactionCount", [sender, "pending"]), 16))
    transact(rpc, "deploy an 18-decimal DevPriceFeed", sender, None,
             code + encode_args(("uint8", "string", "int256"), (18, "ETH / USD", price)), 3_000_000)
    rpc.call("anvil_setCode", [chain.liquity.feed, rpc.call("eth_getCode", [address, "latest"])])
    set_eth_price(chain.url, chain.liquity, price)


async def _read(settings, accounts: list[str]) -> tuple[list[PositionSnapshot], int, tuple[int, int]]:
    read = await read_chain(settings, "devnet", accounts)
    return ([s for s in read.snapshots if s.market == MARKET], read.block.number,
            read.checks.get(MARKET, (0, 0)))


def _collateral(snapshot: PositionSnapshot):
    return next(leg for leg in snapshot.legs if leg.role is Role.COLLATERAL)


def _debt(snapshot: PositionSnapshot):
    return next(leg for leg in snapshot.legs if leg.role is Role.DEBT)


async def _check_verdicts(chain: LiquityChain, settings, price_answer: int) -> Counter[str]:
    """Every trove read at the block after the feed says ``price_answer`` (8 decimals): the indexer's figures equal
    the TroveManager's, and its verdict equals liquidate() by eth_call (and getCurrentICR < MCR in normal mode)."""
    set_eth_price(chain.url, chain.liquity, price_answer)
    snapshots, block, (checked, disagreed) = await _read(settings, chain.accounts)
    assert checked == len(snapshots) and disagreed == 0
    price = price_answer * 10 ** (18 - FEED_DECIMALS)
    accounts = [s.account for s in snapshots]
    icrs = read_current_icr(chain.url, chain.liquity, accounts, price, block=block)
    entire = read_entire_debt_and_coll(chain.url, chain.liquity, accounts, block=block)
    tcr, recovery = read_tcr(chain.url, chain.liquity, price, block=block)
    verdicts: Counter[str] = Counter()
    for snapshot, icr, trove in zip(snapshots, icrs, entire, strict=True):
        assert _collateral(snapshot).price == price and snapshot.detail["price_source"] == "chainlink"
        assert (snapshot.health.raw, _debt(snapshot).amount, _collateral(snapshot).amount) == (icr, trove.debt,
                                                                                                trove.coll)
        assert (int(snapshot.detail["pending_debt"]), int(snapshot.detail["pending_coll"])) == trove[2:]
        assert int(snapshot.detail["tcr"]) == tcr and (snapshot.detail["mode"] == "recovery") is recovery
        liquidated = liquidation_succeeds(chain.url, chain.liquity, snapshot.account, block=block)
        assert snapshot.health.liquidatable is liquidated, (snapshot.account, snapshot.detail)
        if not recovery:
            assert liquidated is (icr < rules.MCR)
            assert snapshot.detail["threshold"] == str(rules.MCR)
        verdicts[f"{snapshot.detail['mode']} {'liquidatable' if liquidated else 'safe'}"] += 1
    return verdicts


def test_deployment_and_seeding(liquity_chain):
    chain = liquity_chain
    print(f"\nLiquity v1 devnet timings: {chain.timings}")
    assert chain.timings["deploy"] + chain.timings["seed"] < 60
    assert {"LiquityV1.TroveManager", "LiquityV1.PriceFeed", "LiquityV1.ETHUSDFeed"} <= set(chain.deployment.contracts)
    assert chain.deployment.contracts["Multicall3"]
    assert {kind for _, kind in chain.seeded} == set(KINDS)
    statuses = read_trove_status(chain.url, chain.liquity, chain.accounts)
    active = [a for a, s in zip(chain.accounts, statuses, strict=True) if s == rules.TroveStatus.active]
    assert len(active) >= 50
    assert all(s == rules.TroveStatus.closedByLiquidation for (_, kind), s in zip(chain.seeded, statuses, strict=True)
               if kind == "liquidated")
    entire = read_entire_debt_and_coll(chain.url, chain.liquity, chain.accounts)
    pending = {kind: sum(1 for (_, k), t in zip(chain.seeded, entire, strict=True) if k == kind and t.pending_debt)
               for kind in KINDS}
    assert pending["pending_rewards"] >= 10 and pending["fresh"] == pending["adjusted"] == 0
    system = read_system(chain.url, chain.liquity)
    assert system.stability_pool == STABILITY_POOL_DEPOSIT and system.trove_owners == len(active)
    assert (system.last_good_price, system.price_feed_status) == (INITIAL_PRICE, 0)
    debts = [t.debt for t, s in zip(entire, statuses, strict=True) if s == rules.TroveStatus.active]
    assert min(debts) <= STABILITY_POOL_DEPOSIT < max(debts)  # some troves are covered by the pool, some not


async def test_every_trove_equals_the_trove_manager(chain, tmp_path):
    """At the initial price, then at prices through normal mode into recovery mode (TCR < 150 %), where
    covered troves under the TCR become liquidatable too."""
    settings = load_settings(_config(tmp_path, chain, _no_db(tmp_path)))
    snapshots, _, _ = await _read(settings, chain.accounts)
    some = snapshots[0]
    assert some.health.quote == "USD" and some.health.quote_unit == 10**18 and some.health.decimals == 18
    assert _collateral(some).asset == ETH and _collateral(some).price_key == chain.liquity.feed
    assert _debt(some).asset == chain.liquity.lusd_token and _debt(some).price == 1
    assert some.detail["price_feed"] == chain.liquity.price_feed
    assert some.detail["chainlink_answer"] == str(2_500 * 10**8)

    verdicts: Counter[str] = Counter()
    for answer in (2_500, 1_450, 1_300, 1_150, 1_000, 800):
        verdicts += await _check_verdicts(chain, settings, answer * 10**FEED_DECIMALS)
    print(f"\nverdicts: {dict(verdicts)}")
    assert verdicts["normal safe"] and verdicts["normal liquidatable"]
    assert verdicts["recovery safe"] and verdicts["recovery liquidatable"]


async def test_boundaries_in_normal_and_recovery_mode(chain, tmp_path):
    """Per trove, the indexer's liquidation point: at that price the indexer and liquidate() both say safe, one
    unit lower both say liquidatable (the feed then answers with 18 decimals: a price to the unit of Liquity's).
    Boundaries of three kinds: the MCR line in normal mode; the price at which the system enters recovery mode,
    for a trove under the system's ratio whose debt the pool covers; the MCR line inside recovery mode."""
    _use_18_decimal_feed(chain, INITIAL_PRICE)
    settings = load_settings(_config(tmp_path, chain, _no_db(tmp_path)))
    source = source_for(settings, MARKET)
    snapshots, _, _ = await _read(settings, chain.accounts)
    system = read_system(chain.url, chain.liquity)
    recovery_from = rules.min_price_for_cr(system.coll, system.debt, rules.CCR)  # TCR >= CCR from this price up
    kinds: dict[str, list[tuple[PositionSnapshot, int]]] = {}
    for snapshot in snapshots:
        point = source.liquidation_points(snapshot)[chain.liquity.feed]
        assert point.falling
        kind = ("normal, MCR" if point.price > recovery_from else
                "recovery starts" if point.price == recovery_from else "recovery, MCR")
        kinds.setdefault(kind, []).append((snapshot, point.price))
    assert set(kinds) == {"normal, MCR", "recovery starts", "recovery, MCR"}, {k: len(v) for k, v in kinds.items()}
    print(f"\nboundary kinds: { {k: len(v) for k, v in kinds.items()} }")

    checked = Counter()
    for kind, troves in kinds.items():
        by_debt = sorted(troves, key=lambda t: _debt(t[0]).amount)
        sample = {id(t): t for t in (by_debt[0], by_debt[-1], *[t for t in troves
                                                              if int(t[0].detail["pending_debt"])][:2])}
        for snapshot, boundary in sample.values():
            for price, safe in ((boundary, True), (boundary - 1, False)):
                set_eth_price(chain.url, chain.liquity, price)
                [now], block, _ = await _read(settings, [snapshot.account])
                assert _collateral(now).price == price and now.health.raw == rules.compute_cr(
                    _collateral(snapshot).amount, _debt(snapshot).amount, price)
                assert now.health.liquidatable is not safe, (kind, now.detail)
                assert liquidation_succeeds(chain.url, chain.liquity, snapshot.account, block=block) is not safe
                (icr,) = read_current_icr(chain.url, chain.liquity, [snapshot.account], price, block=block)
                _, recovery = read_tcr(chain.url, chain.liquity, price, block=block)
                assert (now.detail["mode"] == "recovery") is recovery
                if not recovery:
                    assert (icr < rules.MCR) is not safe
                checked[f"{kind} {'recovery' if recovery else 'normal'} {'safe' if safe else 'liquidatable'}"] += 1
    print(f"boundary checks: {dict(checked)}")
    assert checked["recovery starts normal safe"] and checked["recovery starts recovery liquidatable"]
    assert checked["recovery, MCR recovery safe"] and checked["recovery, MCR recovery liquidatable"]
    assert checked["normal, MCR normal safe"] and checked["normal, MCR normal liquidatable"]


async def test_stale_chainlink_and_a_price_feed_off_chainlink_use_last_good_price(chain, tmp_path):
    """Chainlink frozen (older than PriceFeed.TIMEOUT) with the status still chainlinkWorking, then the status
    moved off Chainlink by fetchPrice: both times the price a liquidation uses is lastGoodPrice, and the
    indexer's verdict follows it, not the feed's answer."""
    settings = load_settings(_config(tmp_path, chain, _no_db(tmp_path)))
    source = source_for(settings, MARKET)
    (round_id, _) = read_feed_answer(chain.url, chain.liquity)
    head = JsonRpcClient(chain.url).call("eth_getBlockByNumber", ["latest", False])
    stale = int(head["timestamp"], 16) - rules.TIMEOUT - 60
    low = 700 * 10**FEED_DECIMALS  # every trove would be under MCR at this price
    set_feed_round(chain.url, chain.liquity, round_id + 1, low, stale, stale)
    set_feed_round(chain.url, chain.liquity, round_id + 2, low, stale, stale)
    for expected_status in (0, rules.PriceFeedStatus.usingTellorChainlinkFrozen):
        snapshots, block, _ = await _read(settings, chain.accounts)
        assert snapshots
        for snapshot in snapshots:
            assert snapshot.detail["price_feed_status"] == expected_status
            assert snapshot.detail["price_source"] == "last_good_price" and "price_note" in snapshot.detail
            assert _collateral(snapshot).price == INITIAL_PRICE
            assert snapshot.detail["chainlink_answer"] == str(low)
        for snapshot in snapshots[:10]:
            assert liquidation_succeeds(chain.url, chain.liquity, snapshot.account, block=block) is (
                snapshot.health.liquidatable)
        if expected_status == 0:
            fetch_price(chain.url, chain.liquity)  # PriceFeed: Chainlink frozen -> usingTellorChainlinkFrozen
            set_eth_price(chain.url, chain.liquity, low)  # fresh again, but the PriceFeed no longer follows it
        else:
            some = snapshots[0]
            assert source.liquidation_points(some) == {}
            assert source.healthy_at(some, chain.liquity.feed)(1) is not some.health.liquidatable
            assert source.reprice(some, {chain.liquity.feed: 1}).health == some.health
    assert read_system(chain.url, chain.liquity).last_good_price == INITIAL_PRICE


async def test_the_fast_path_reprices_as_a_full_read_would(chain, tmp_path):
    settings = load_settings(_config(tmp_path, chain, _no_db(tmp_path), verify=False))
    read = await read_chain(settings, "devnet", chain.accounts)
    cached = [s for s in read.snapshots if s.market == MARKET]
    [before] = [r for r in read.readings if r.address == chain.liquity.feed]
    assert before.asset == ETH
    new_answer = 1_300 * 10**FEED_DECIMALS
    now = [dataclasses.replace(before, answer=new_answer, round_id=(before.round_id or 0) + 2)]
    moved = moved_positions({MARKET: source_for(settings, MARKET)}, cached, [before], now, read.block)
    assert len(moved) == len(cached)
    assert_health_at_is_reprices({MARKET: source_for(settings, MARKET)}, cached, moved, [before], now)
    set_eth_price(chain.url, chain.liquity, new_answer)
    full, _, _ = await _read(settings, chain.accounts)
    by_account = {s.account: s for s in full}
    assert any(s.detail["mode"] == "recovery" for s in moved)
    for fast in moved:
        again = by_account[fast.account]
        assert fast.health == again.health and fast.legs[0].price == again.legs[0].price
        assert {k: fast.detail[k] for k in ("mode", "rule", "threshold", "icr", "tcr")} == {
            k: again.detail[k] for k in ("mode", "rule", "threshold", "icr", "tcr")}


async def test_a_later_read_speculates_on_the_addresses_and_a_wrong_hint_costs_a_retry(chain, tmp_path):
    """With the previous read's addresses as hint, the system, the PriceFeed, the pool and the feed go out in one
    round (three without); a hint that no longer holds is noticed at the block and read afresh."""
    settings = load_settings(_config(tmp_path, chain, _no_db(tmp_path), verify=False))
    hints: dict[str, object] = {}
    first = await read_chain(settings, "devnet", chain.accounts, hints=hints)
    layout = hints[MARKET]
    assert layout == Layout(chain.liquity.price_feed, chain.liquity.stability_pool, chain.liquity.lusd_token,
                            chain.liquity.feed)
    again = await read_chain(settings, "devnet", chain.accounts, hints=hints, block=first.block.number)
    assert again.stats.by_method["eth_call"] < first.stats.by_method["eth_call"]
    assert [(s.health, s.legs) for s in again.snapshots] == [(s.health, s.legs) for s in first.snapshots]
    stale: dict[str, object] = {MARKET: Layout(chain.liquity.price_feed, chain.liquity.stability_pool,
                                               chain.liquity.lusd_token, chain.liquity.default_pool)}
    fresh = await read_chain(settings, "devnet", chain.accounts, hints=stale, block=first.block.number)
    assert [(s.health, s.legs) for s in fresh.snapshots] == [(s.health, s.legs) for s in first.snapshots]
    assert stale[MARKET] == layout


async def test_discovery_finds_every_trove_from_borrower_operations(chain, tmp_path, db_url, engine):
    settings = load_settings(_config(tmp_path, chain, db_url, discover=True))
    async with RpcClient([chain.url]) as rpc:
        head = int(await rpc.call("eth_blockNumber", []), 16)
        found = await discover(settings, engine, chain="devnet", head=head, rpc=rpc)
    assert found.new_accounts == len(chain.accounts)
    assert set(discovered_accounts(engine, chain="devnet", market=MARKET)) == set(chain.accounts)
