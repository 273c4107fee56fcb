"""Liquity v2 through the indexer, on the devnet's stand-in (our contracts behind Liquity v2's external ABI).

One anvil for the module: ``stack.deploy(url, ["liquity_v2"])`` (two branches — WETH at MCR 110 %, wstETH at 120 % —
their Chainlink feeds and Multicall3), then about 60 troves seeded through the devnet hook: a whale on each branch,
owners with three troves across both branches and owners with one, troves opened before a redistribution (pending
gains; some applied by adding collateral) and after it, and two victims per branch liquidated; then 90 days pass, so
every trove carries interest. Every verdict of the indexer is held against the contracts' own:
``getCurrentICR(troveId, fetchPrice()) < MCR`` and ``batchLiquidateTroves([troveId])`` by eth_call at the block the
indexer read. Each test runs inside an evm snapshot.
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
from indexer.devnet.errors import DevnetError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.discovery import discover
from indexer.fastpath import moved_positions
from indexer.protocols.liquity_v2 import devnet as dv
from indexer.protocols.liquity_v2 import rules
from indexer.protocols.liquity_v2.adapter import Hint, LiquityV2Adapter
from indexer.protocols.registry import source_for
from indexer.settings import load_settings
from indexer.store.chain_store import discovered_accounts
from indexer.sync import read_chain
from indexer.types import PositionSnapshot, Role
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import assert_health_at_is_reprices

SEEDED = 60
ELAPSED = 90 * 86_400
MARKETS = {dv.WETH: "lv2_weth", dv.WSTETH: "lv2_wsteth"}
BRANCH_OF = {market: branch for branch, market in MARKETS.items()}


@dataclass
class V2Chain:
    url: str
    deployment: Deployment
    record: dv.LiquityV2Deployment
    seeded: list[tuple[str, str]]
    troves: list[dv.SeededTrove]
    file: Path
    timings: dict[str, float]

    @property
    def owners(self) -> list[str]:
        return [owner for owner, _ in self.seeded]


@pytest.fixture(scope="module")
def v2_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[V2Chain]:
    timings: dict[str, float] = {}
    with Anvil() as node:
        started = time.perf_counter()
        deployment = stack.deploy(node.url, [LiquityV2Adapter.kind])
        timings["deploy"] = time.perf_counter() - started
        started = time.perf_counter()
        seeded = stack.devnet_module(LiquityV2Adapter.kind).seed_devnet(node.url, deployment, SEEDED)
        timings["seed"] = time.perf_counter() - started
        record = dv.LiquityV2Deployment.from_dict(deployment.protocols[LiquityV2Adapter.kind])
        troves = [dv.SeededTrove(p.owner, p.branch, dv.trove_id_of(p.owner, p.owner, p.owner_index), p.kind,
                                 p.owner_kind, 0, p.debt, p.rate) for p in dv.plan_troves(SEEDED)]
        dv.elapse(node.url, record, ELAPSED)
        path = tmp_path_factory.mktemp("liquity_v2") / "devnet.json"
        deployment.to_json(path)
        yield V2Chain(node.url, deployment, record, seeded, troves, path, timings)


@pytest.fixture
def chain(v2_chain: V2Chain) -> Iterator[V2Chain]:
    with reverting(v2_chain.url):
        yield v2_chain


def _config(tmp_path: Path, chain: V2Chain, db_url: str | None = None, *, verify: bool = True,
            discover: bool = False) -> Path:
    markets = "".join(
        f'\n[markets.{market}]\nchain = "devnet"\nprotocol = "liquity_v2"\n'
        f'address = "devnet:LiquityV2.{branch}.TroveManager"\nverify_onchain = {str(verify).lower()}\n'
        f'self_check = {16 if verify else 0}\n'
        f'discover = {str(discover).lower()}\nstart_block = {chain.record.block_number}\n'
        f'options = {{ addresses_registry = "devnet:LiquityV2.{branch}.AddressesRegistry" }}\n'
        for branch, market in MARKETS.items())
    config = tmp_path / "liquity_v2.toml"
    url = db_url or f"sqlite:///{tmp_path / 'unused.db'}"  # reads only: a database URL it never opens
    config.write_text(f'[database]\nurl = "{url}"\n\n[chains.devnet]\nchain_id = 31337\ndevnet = "{chain.file}"\n'
                      f'{markets}')
    return config


def _collateral(snapshot: PositionSnapshot):
    return next(leg for leg in snapshot.legs if leg.role is Role.COLLATERAL)


def _debt(snapshot: PositionSnapshot):
    return next(leg for leg in snapshot.legs if leg.role is Role.DEBT)


def _trove_id(snapshot: PositionSnapshot) -> int:
    return int(snapshot.account.partition(":")[2])


def _by_market(snapshots: list[PositionSnapshot]) -> dict[str, list[PositionSnapshot]]:
    out: dict[str, list[PositionSnapshot]] = {market: [] for market in MARKETS.values()}
    for s in snapshots:
        out[s.market].append(s)
    return out


def _hold_against_the_contracts(chain: V2Chain, market: str, snapshots: list[PositionSnapshot],
                                block: int) -> Counter[str]:
    """Every trove's figures against getLatestTroveData, its ICR against getCurrentICR at fetchPrice()'s price, and
    its verdict against batchLiquidateTroves([id]) and ICR < MCR, all at ``block``."""
    branch = BRANCH_OF[market]
    ids = [_trove_id(s) for s in snapshots]
    price, _ = dv.fetch_price_call(chain.url, chain.record, branch, block=block)
    latest = dv.read_latest(chain.url, chain.record, branch, ids, block=block)
    icrs = dv.read_current_icr(chain.url, chain.record, branch, ids, price, block=block)
    liquidated = dv.liquidation_succeeds(chain.url, chain.record, branch, ids, block=block)
    mcr = chain.record.branch(branch).mcr
    verdicts: Counter[str] = Counter()
    for s, view, icr, liq in zip(snapshots, latest, icrs, liquidated, strict=True):
        assert (_debt(s).amount, _collateral(s).amount) == view[:2], s.account
        assert (int(s.detail["redist_debt_gain"]), int(s.detail["redist_coll_gain"]),
                int(s.detail["accrued_interest"])) == view[2:5]
        assert int(s.detail["price"]) == price and s.health.raw == icr, (s.account, s.detail)
        assert s.health.liquidatable is liq is (icr < mcr), (s.account, icr)
        assert "unverified" not in s.detail
        verdicts[f"{branch} {'liquidatable' if liq else 'safe'}"] += 1
    return verdicts


def test_deployment_and_seeding(v2_chain):
    chain = v2_chain
    print(f"\nLiquity v2 devnet timings: {chain.timings}")
    assert chain.timings["deploy"] + chain.timings["seed"] < 10
    contracts = chain.deployment.contracts
    for branch in MARKETS:
        assert {f"LiquityV2.{branch}.TroveManager", f"LiquityV2.{branch}.AddressesRegistry",
                f"LiquityV2.{branch}.PriceFeed", f"LiquityV2.{branch}.TroveNFT"} <= set(contracts)
    assert contracts["Multicall3"] and "reserves" not in chain.deployment.protocols[LiquityV2Adapter.kind]
    assert len(chain.seeded) == len({owner for owner, _ in chain.seeded})  # each owner once
    assert {kind for _, kind in chain.seeded} == set(dv.OWNER_KINDS)
    per_owner = Counter(t.owner for t in chain.troves if t.kind != "liquidated")
    assert max(per_owner.values()) == 3 and sum(1 for n in per_owner.values() if n >= 2) >= 10
    total = 0
    for branch in MARKETS:
        ids = dv.read_trove_ids(chain.url, chain.record, branch)
        mine = [t for t in chain.troves if t.branch == branch]
        assert set(ids) == {t.trove_id for t in mine if t.kind != "liquidated"}
        statuses = dv.read_status(chain.url, chain.record, branch, [t.trove_id for t in mine])
        assert all(s == (rules.TroveStatus.closedByLiquidation if t.kind == "liquidated" else rules.TroveStatus.active)
                   for t, s in zip(mine, statuses, strict=True))
        latest = dict(zip(ids, dv.read_latest(chain.url, chain.record, branch, ids), strict=True))
        kinds = {t.trove_id: t.kind for t in mine}
        gains = Counter(kinds[i] for i, v in latest.items() if v[2] > 0 and v[3] > 0)
        assert gains["early"] >= 5 and gains["fresh"] == gains["adjusted"] == 0, gains
        assert all(v[4] > 0 for v in latest.values())  # 90 days of interest on every trove
        total += len(ids)
        state = dv.read_branch(chain.url, chain.record, branch)
        assert state.shutdown_time == 0 and state.price_source == rules.PriceSource.primary
    assert total >= 50


async def test_every_trove_equals_the_trove_manager_at_several_prices(chain, tmp_path):
    """At the initial prices, then with both feeds down 8, 16 and 24 %: every trove of both branches, the indexer's
    figures, ICR and verdict against the contracts', and the self-check in agreement."""
    settings = load_settings(_config(tmp_path, chain))
    read = await read_chain(settings, "devnet", chain.owners)
    some = read.snapshots[0]
    assert some.health.quote == "USD" and some.health.quote_unit == 10**18 and some.health.decimals == 18
    assert some.margin_mode.value == "isolated" and some.owner == some.account.partition(":")[0]
    eth, steth = dv.feed_answers(chain.url, chain.record)
    verdicts: Counter[str] = Counter()
    for pct in (100, 92, 84, 76):
        if pct != 100:
            dv.set_prices(chain.url, chain.record, eth_usd=eth * pct // 100, steth_usd=steth * pct // 100)
            read = await read_chain(settings, "devnet", chain.owners)
        markets = _by_market(read.snapshots)
        assert sum(map(len, markets.values())) >= 50
        assert read.checks == {m: (len(s), 0) for m, s in markets.items()}
        for market, snapshots in markets.items():
            verdicts += _hold_against_the_contracts(chain, market, snapshots, read.block.number)
    print(f"\nverdicts: {dict(verdicts)}")
    assert all(verdicts[f"{b} {v}"] for b in MARKETS for v in ("safe", "liquidatable")), verdicts
    # the wstETH branch is keyed by the STETH-USD feed, priced through the rate; WETH by ETH-USD, directly
    weth, wsteth = (markets[MARKETS[b]][0] for b in (dv.WETH, dv.WSTETH))
    assert _collateral(weth).price_key == chain.record.eth_usd_feed and weth.detail["price_model"] == "direct"
    assert _collateral(wsteth).price_key == chain.record.steth_usd_feed
    assert int(wsteth.detail["price"]) == _collateral(wsteth).price * dv.STETH_PER_WSTETH // 10**18
    assert (weth.detail["mcr"], wsteth.detail["mcr"]) == (str(rules.MCR_WETH), str(rules.MCR_SETH))


async def test_at_each_boundary_and_one_unit_below(chain, tmp_path):
    """Per branch, troves of every sort (smallest and largest debt, pending redistribution gains, a gain applied): at
    the indexer's liquidation price the indexer, getCurrentICR and batchLiquidateTroves all say safe; one unit of
    the key feed lower, all say liquidatable. The feeds answer with 18 decimals from here on, so a price can be set to
    the unit; the boundary blocks keep the read's time, so no interest accrues in between."""
    dv.use_18_decimal_feeds(chain.url, chain.record)
    settings = load_settings(_config(tmp_path, chain))
    read = await read_chain(settings, "devnet", chain.owners)
    rpc = JsonRpcClient(chain.url)
    kinds = {t.trove_id: t.kind for t in chain.troves}
    checked: Counter[str] = Counter()
    for market, snapshots in _by_market(read.snapshots).items():
        branch = BRANCH_OF[market]
        source = source_for(settings, market)
        by_debt = sorted(snapshots, key=lambda s: _debt(s).amount)
        sample = {s.account: s for s in (by_debt[0], by_debt[-1],
                                         *[s for s in snapshots if kinds[_trove_id(s)] == "early"][:2],
                                         *[s for s in snapshots if kinds[_trove_id(s)] == "adjusted"][:1])}
        for snapshot in sample.values():
            [(key, point)] = source.liquidation_points(snapshot).items()
            assert point.falling and key == (chain.record.eth_usd_feed if branch == dv.WETH
                                             else chain.record.steth_usd_feed)
            for price, safe in ((point.price, True), (point.price - 1, False)):
                with reverting(chain.url):
                    rpc.call("evm_setNextBlockTimestamp", [read.block.timestamp])
                    if branch == dv.WETH:
                        dv.set_prices(chain.url, chain.record, eth_usd=price)
                    else:
                        dv.set_prices(chain.url, chain.record, steth_usd=price)
                    again = await read_chain(settings, "devnet", [snapshot.owner])
                    [now] = [s for s in again.snapshots if s.account == snapshot.account]
                    assert now.block.timestamp == read.block.timestamp and _collateral(now).price == price
                    assert now.health.liquidatable is not safe, (branch, kinds[_trove_id(now)], now.detail)
                    assert source.liquidation_points(now)[key].price == point.price
                    _hold_against_the_contracts(chain, market, [now], again.block.number)
                checked[f"{branch} {'safe' if safe else 'liquidatable'}"] += 1
    print(f"\nboundary checks: {dict(checked)}")
    assert all(checked[f"{b} {v}"] >= 3 for b in MARKETS for v in ("safe", "liquidatable")), checked


async def test_a_tracked_wallets_troves_are_found_without_discovery_and_kept_by_the_hint(chain, tmp_path):
    """Owners read without discovery: the first read scans each branch's trove array, later ones confirm the hint
    (NFT balances and owners) in one round; a trove opened, one received and one liquidated are all noticed."""
    settings = load_settings(_config(tmp_path, chain, verify=False))
    multi = next(t.owner for t in chain.troves if t.owner_kind == "multi")
    single = next(t.owner for t in chain.troves if t.owner_kind == "single")
    expected = {f"{t.owner}:{t.trove_id}" for t in chain.troves if t.owner in (multi, single)}
    hints: dict[str, object] = {}
    first = await read_chain(settings, "devnet", [multi, single], hints=hints)
    assert {s.account for s in first.snapshots} == expected
    assert {s.market for s in first.snapshots if s.owner == multi} == set(MARKETS.values())
    hint = hints[MARKETS[dv.WETH]]
    assert isinstance(hint, Hint) and len(hint.troves) == len(dv.read_trove_ids(chain.url, chain.record, dv.WETH))
    again = await read_chain(settings, "devnet", [multi, single], hints=hints, block=first.block.number)
    assert again.stats.by_method["eth_call"] == 1 < first.stats.by_method["eth_call"]
    assert [(s.account, s.health) for s in again.snapshots] == [(s.account, s.health) for s in first.snapshots]

    # the single owner opens a second trove; one of the multi owner's troves is handed to it; another is liquidated
    opened = dv.open_trove(chain.url, chain.record, dv.WETH, single, 7, 10 * 10**18, 5_000 * 10**18, 10**17)
    handed = next(t for t in chain.troves if t.owner == multi and t.branch == dv.WSTETH)
    dv.transfer_trove(chain.url, chain.record, dv.WSTETH, handed.trove_id, multi, single)
    victim = next(t for t in chain.troves if t.owner == multi and t.branch == dv.WETH)
    dv.set_prices(chain.url, chain.record, eth_usd=300 * 10**8)  # everything on WETH is under water
    dv.liquidate(chain.url, chain.record, dv.WETH, [victim.trove_id])
    later = await read_chain(settings, "devnet", [multi, single], hints=hints)
    now = {s.account for s in later.snapshots}
    assert f"{single}:{opened}" in now and f"{single}:{handed.trove_id}" in now
    assert f"{multi}:{handed.trove_id}" not in now and f"{multi}:{victim.trove_id}" not in now
    assert now == (expected | {f"{single}:{opened}", f"{single}:{handed.trove_id}"}) - {
        f"{multi}:{handed.trove_id}", f"{multi}:{victim.trove_id}"}
    # a hint whose layout no longer holds is noticed at the block and read afresh
    stale = {key: Hint(h.layout._replace(price_feed=chain.record.eth_usd_feed), h.troves)
             for key, h in hints.items() if isinstance(h, Hint)}
    fresh = await read_chain(settings, "devnet", [multi, single], hints=stale, block=later.block.number)
    assert [(s.account, s.health) for s in fresh.snapshots] == [(s.account, s.health) for s in later.snapshots]


async def test_oracle_failures_fallback_prices_and_a_shut_down_branch(chain, tmp_path):
    """STETH-USD going stale: the wstETH branch would fall back to ETH-USD x rate (capped by lastGoodPrice) and shut
    down — priced so before anyone calls fetchPrice, and after a fetchPrice shuts it down its interest stops at
    shutdownTime. ETH-USD going stale: both branches on lastGoodPrice, keyed by their PriceFeed. A round dated after
    the block: fetchPrice reverts, so no liquidation goes through (held)."""
    settings = load_settings(_config(tmp_path, chain))
    rpc = JsonRpcClient(chain.url)
    head = int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    eth, steth = dv.feed_answers(chain.url, chain.record)
    dv.set_feed_round(chain.url, chain.record, chain.record.steth_usd_feed, 10**6, steth, head - dv.STALENESS - 5,
                      head - dv.STALENESS - 5)
    read = await read_chain(settings, "devnet", chain.owners)
    wsteth = _by_market(read.snapshots)[MARKETS[dv.WSTETH]]
    assert {(s.detail["price_source"], s.detail["oracle_failure"], s.detail["price_model"]) for s in wsteth} == {
        ("ETHUSDxCanonical", True, "capped_rate")}
    assert _collateral(wsteth[0]).price_key == chain.record.eth_usd_feed
    _hold_against_the_contracts(chain, MARKETS[dv.WSTETH], wsteth, read.block.number)
    assert read.checks[MARKETS[dv.WSTETH]] == (len(wsteth), 0)

    dv.fetch_price(chain.url, chain.record, dv.WSTETH)  # the branch shuts down for real
    state = dv.read_branch(chain.url, chain.record, dv.WSTETH)
    assert state.shutdown_time > 0 and state.price_source == rules.PriceSource.ETHUSDxCanonical
    before = {s.account: int(s.detail["accrued_interest"]) for s in
              _by_market((await read_chain(settings, "devnet", chain.owners)).snapshots)[MARKETS[dv.WSTETH]]}
    dv.elapse(chain.url, chain.record, 30 * 86_400)
    read = await read_chain(settings, "devnet", chain.owners)
    wsteth = _by_market(read.snapshots)[MARKETS[dv.WSTETH]]
    assert all(s.detail["shut_down"] and s.detail["shutdown_time"] == state.shutdown_time for s in wsteth)
    assert {s.account: int(s.detail["accrued_interest"]) for s in wsteth} == before  # no interest after shutdown
    assert {s.detail["price_source"] for s in wsteth} == {"ETHUSDxCanonical"}
    assert not any(s.detail["oracle_failure"] for s in wsteth)
    _hold_against_the_contracts(chain, MARKETS[dv.WSTETH], wsteth, read.block.number)
    weth = _by_market(read.snapshots)[MARKETS[dv.WETH]]
    _hold_against_the_contracts(chain, MARKETS[dv.WETH], weth, read.block.number)

    # ETH-USD stale: WETH on lastGoodPrice (a new failure), keyed by its PriceFeed; wstETH on lastGoodPrice too
    head = int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    dv.set_feed_round(chain.url, chain.record, chain.record.eth_usd_feed, 10**6, eth // 2, head - dv.STALENESS,
                      head - dv.STALENESS)
    read = await read_chain(settings, "devnet", chain.owners)
    markets = _by_market(read.snapshots)
    weth = markets[MARKETS[dv.WETH]]
    assert {(s.detail["price_source"], s.detail["oracle_failure"]) for s in weth} == {("lastGoodPrice", True)}
    assert _collateral(weth[0]).price_key == chain.record.branch(dv.WETH).price_feed
    assert _collateral(weth[0]).price == dv.initial_price(dv.WETH)  # not the stale half price
    source = source_for(settings, MARKETS[dv.WETH])
    assert source.reprice(weth[0], {chain.record.eth_usd_feed: 1}).health == weth[0].health  # no feed moves it
    for market, snapshots in markets.items():
        _hold_against_the_contracts(chain, market, snapshots, read.block.number)

    # a round dated after the block: fetchPrice reverts (checked subtraction), so does every liquidation
    head = int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    dv.set_feed_round(chain.url, chain.record, chain.record.eth_usd_feed, 10**6 + 1, eth // 2, head + 3_600,
                      head + 3_600)
    read = await read_chain(settings, "devnet", chain.owners)
    weth = _by_market(read.snapshots)[MARKETS[dv.WETH]]
    assert all("fetchPrice() reverts" in s.detail["liquidation_held"] for s in weth)
    assert source.liquidation_points(weth[0]) == {}
    under = min(weth, key=lambda s: s.health.raw)
    with pytest.raises(DevnetError, match="another reason"):
        dv.liquidation_succeeds(chain.url, chain.record, dv.WETH, [_trove_id(under)], block=read.block.number)
    assert read.checks[MARKETS[dv.WETH]] == (len(weth), 0)


async def test_the_fast_path_reprices_both_branches_as_a_full_read_would(chain, tmp_path):
    settings = load_settings(_config(tmp_path, chain, verify=False))
    read = await read_chain(settings, "devnet", chain.owners)
    rpc = JsonRpcClient(chain.url)
    readings = {r.address: r for r in read.readings}
    eth, steth = dv.feed_answers(chain.url, chain.record)
    new = {chain.record.eth_usd_feed: eth * 80 // 100, chain.record.steth_usd_feed: steth * 80 // 100}
    now = [dataclasses.replace(r, answer=new[r.address], round_id=(r.round_id or 0) + 1) for r in readings.values()]
    sources = {market: source_for(settings, market) for market in MARKETS.values()}
    moved = moved_positions(sources, read.snapshots, list(readings.values()), now, read.block)
    assert len(moved) == len(read.snapshots) and any(s.health.liquidatable for s in moved)
    assert_health_at_is_reprices(sources, read.snapshots, moved, list(readings.values()), now)
    rpc.call("evm_setNextBlockTimestamp", [read.block.timestamp])  # same time: no interest in between
    dv.set_prices(chain.url, chain.record, eth_usd=new[chain.record.eth_usd_feed],
                  steth_usd=new[chain.record.steth_usd_feed])
    full = {s.account: s for s in (await read_chain(settings, "devnet", chain.owners)).snapshots}
    for fast in moved:
        again = full[fast.account]
        assert fast.health == again.health and fast.legs == again.legs, fast.account
        assert {k: fast.detail[k] for k in ("price", "icr", "tcr")} == {k: again.detail[k] for k in ("price", "icr",
                                                                                                  "tcr")}


async def test_discovery_finds_every_owner_from_the_trove_nfts(chain, tmp_path, db_url, engine):
    settings = load_settings(_config(tmp_path, chain, db_url, discover=True))
    async with RpcClient([chain.url]) as rpc:
        head = int(await rpc.call("eth_blockNumber", []), 16)
        await discover(settings, engine, chain="devnet", head=head, rpc=rpc)
    for branch, market in MARKETS.items():
        owners = {t.owner for t in chain.troves if t.branch == branch}  # the victims received theirs too
        assert set(discovered_accounts(engine, chain="devnet", market=market)) == owners
