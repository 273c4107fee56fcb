"""Maker (dss) through the indexer, on the devnet's stand-in (our contracts behind dss's external ABI and math).

One anvil for the module: ``stack.deploy(url, ["maker"])`` (Vat, Spotter, Jug, Dog, Clipper, Vow, two OSMs, GemJoins,
the CDP manager, DSProxy registry, Multicall3), then 60 urns over two ilks — ETH-A (WETH, 18 decimals, mat 145 %) and
WBTC-C (WBTC, 8 decimals through the join's ``dec``, mat 175 %) — held in the Vat directly, through the CDP manager
and through a DSProxy + the CDP manager (some proxies holding three cdps over both ilks); some at exactly the dust,
which is raised after; three days then pass without a drip. Every verdict is held against the contracts' own:
``ink * spot < art * rate`` from ``Vat.urns``/``Vat.ilks`` and ``Dog.bark`` by eth_call at the block the indexer read.
Each test runs inside an evm snapshot.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indexer.chain.rpc import RpcClient
from indexer.devnet import Anvil, Deployment, advance_time, revert, snapshot, stack
from indexer.devnet.abi import encode_call
from indexer.devnet.chain import CANONICAL_MULTICALL3
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import transact
from indexer.discovery import discover
from indexer.protocols.maker import rules
from indexer.protocols.maker.adapter import MakerAdapter, ilk_bytes
from indexer.protocols.maker.devnet import (
    ILKS,
    KINDS,
    RAISED_DUST,
    MakerSeeded,
    bark_outcome,
    block_timestamp,
    drip,
    empty_urn,
    file_clipper,
    file_dog,
    osm_whitelist,
    read_ilk,
    read_jug,
    read_urns,
    seed_urns,
    set_osm,
)
from indexer.protocols.registry import source_for
from indexer.settings import load_settings
from indexer.store.chain_store import discovered_accounts
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from indexer.sync import read_chain, sync_once
from indexer.types import PositionSnapshot, Role
from tests.fixtures.devnet import reverting

SEEDED = 60
ELAPSED = 3 * 86_400
WAD, RAY, RAD = rules.WAD, rules.RAY, rules.RAD
MARKETS = {"maker-eth-a": ("ETH-A", "ETH_A"), "maker-wbtc-c": ("WBTC-C", "WBTC_C")}
MARKET_OF = {ilk: key for key, (ilk, _) in MARKETS.items()}


@dataclass
class MakerChain:
    url: str
    deployment: Deployment
    record: dict[str, Any]
    seeded: list[MakerSeeded]
    from_hook: list[tuple[str, str]]
    file: Path
    timings: dict[str, float]

    @property
    def wallets(self) -> list[str]:
        return list(dict.fromkeys(s.wallet for s in self.seeded))

    def of(self, ilk: str) -> list[MakerSeeded]:
        return [s for s in self.seeded if s.ilk == ilk]


@pytest.fixture(scope="module")
def maker_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakerChain]:
    timings: dict[str, float] = {}
    with Anvil() as node:
        started = time.perf_counter()
        deployment = stack.deploy(node.url, [MakerAdapter.kind])
        timings["deploy"] = time.perf_counter() - started
        record = deployment.protocols[MakerAdapter.kind]
        before = snapshot(node.url)
        started = time.perf_counter()
        from_hook = stack.devnet_module(MakerAdapter.kind).seed_devnet(node.url, deployment, SEEDED)
        timings["seed_devnet"] = time.perf_counter() - started
        revert(node.url, before)
        started = time.perf_counter()
        seeded = seed_urns(node.url, record, SEEDED)
        timings["seed"] = time.perf_counter() - started
        advance_time(node.url, ELAPSED)  # no drip: the Vat's stored rate now trails the one a drip would set
        path = tmp_path_factory.mktemp("maker") / "devnet.json"
        deployment.to_json(path)
        yield MakerChain(node.url, deployment, record, seeded, from_hook, path, timings)


@pytest.fixture
def chain(maker_chain: MakerChain) -> Iterator[MakerChain]:
    with reverting(maker_chain.url):
        yield maker_chain


def _config(tmp_path: Path, chain: MakerChain, db_url: str | None = None, *, verify: bool = True,
            discover: bool = False) -> Path:
    markets = "".join(
        f'\n[markets.{key}]\nchain = "devnet"\nprotocol = "maker"\naddress = "devnet:Maker.Vat"\n'
        f'verify_onchain = {str(verify).lower()}\ndiscover = {str(discover).lower()}\n'
        f'start_block = {chain.deployment.block_number}\n'
        f'options = {{ ilk = "{ilk}", spotter = "devnet:Maker.Spotter", join = "devnet:Maker.JOIN_{name}", '
        f'jug = "devnet:Maker.Jug", dog = "devnet:Maker.Dog", cdp_manager = "devnet:Maker.CdpManager", '
        f'proxy_registry = "devnet:Maker.ProxyRegistry" }}\n'
        for key, (ilk, name) in MARKETS.items())
    config = tmp_path / "maker.toml"
    url = db_url or f"sqlite:///{tmp_path / 'unused.db'}"  # reads only: a database URL the config needs, never opened
    config.write_text(f'[database]\nurl = "{url}"\n\n'
                      f'[chains.devnet]\nchain_id = 31337\ndevnet = "{chain.file}"\n{markets}')
    return config


async def _read(settings, accounts: list[str]) -> tuple[dict[str, PositionSnapshot], int, dict[str, tuple[int, int]]]:
    read = await read_chain(settings, "devnet", accounts)
    return {s.account: s for s in read.snapshots}, read.block.number, dict(read.checks)


def _now_liquidatable(snapshot: PositionSnapshot) -> bool:
    """The indexer's verdict for this block: under the line and nothing holding the liquidation back."""
    return snapshot.health.liquidatable and "liquidation_held" not in snapshot.detail


def _check_against_the_vat_and_the_dog(chain: MakerChain, snapshots: dict[str, PositionSnapshot],
                                       block: int) -> Counter[str]:
    """Each urn's figures equal the Vat's at the block; the Vat's own line and Dog.bark agree with the indexer."""
    verdicts: Counter[str] = Counter()
    for ilk in (spec.name for spec in ILKS):
        urns = [s.urn for s in chain.of(ilk) if s.urn in snapshots]
        art_all, rate, spot, _, dust = read_ilk(chain.url, chain.record, ilk, block=block)
        for urn, (ink, art) in zip(urns, read_urns(chain.url, chain.record, ilk, urns, block=block), strict=True):
            snap = snapshots[urn]
            d = snap.detail
            assert (int(d["ink"]), int(d["art"]), int(d["rate"]), int(d["spot"]), int(d["dust"])) == (
                ink, art, rate, spot, dust)
            unsafe = ink * spot < art * rate
            assert (snap.health.raw < WAD) is unsafe, (urn, d)
            outcome = bark_outcome(chain.url, chain.record, ilk, urn, block=block)
            assert d["bark"] == outcome, (urn, d["bark"], outcome)
            assert _now_liquidatable(snap) is (outcome is None), (urn, d)
            verdicts[f"{ilk} {'liquidatable' if outcome is None else 'safe'}"] += 1
    return verdicts


def test_deployment_and_seeding(maker_chain):
    chain = maker_chain
    print(f"\nMaker devnet timings: { {k: round(v, 3) for k, v in chain.timings.items()} }")
    assert chain.timings["seed"] < 5 and chain.timings["deploy"] < 60  # deploy: solc on a cold .build cache
    contracts = chain.deployment.contracts
    assert {"Maker.Vat", "Maker.Spotter", "Maker.Dog", "Maker.CdpManager", "Maker.ProxyRegistry", "Maker.PIP_ETH",
            "Maker.PIP_WBTC", "Maker.JOIN_ETH_A", "Maker.JOIN_WBTC_C", "Multicall3"} <= set(contracts)
    assert not chain.deployment.reserves
    assert {ilk: info["dec"] for ilk, info in chain.record["ilks"].items()} == {"ETH-A": 18, "WBTC-C": 8}
    assert len({s.urn for s in chain.seeded}) == len(chain.seeded) >= SEEDED
    assert {s.kind for s in chain.seeded} == set(KINDS)
    assert len(chain.of("WBTC-C")) >= 10 and len(chain.of("ETH-A")) >= 30
    # the devnet hook answers each wallet once (the address to track), with its kind
    assert len(chain.from_hook) == len({w for w, _ in chain.from_hook}) == len(chain.wallets)
    # the join's dec: 8-decimal WBTC is locked as wad; the dust urns sit under the raised floor
    for s in chain.of("WBTC-C")[:5]:
        [(ink, _)] = read_urns(chain.url, chain.record, "WBTC-C", [s.urn])
        assert ink == s.amount * 10**10
    _, rate, _, _, dust = read_ilk(chain.url, chain.record, "ETH-A")
    assert dust == RAISED_DUST
    dusty = [s for s in chain.seeded if s.kind == "dust"]
    assert dusty and all(art * rate < dust for _, art in read_urns(chain.url, chain.record, "ETH-A",
                                                                   [s.urn for s in dusty]))


async def test_every_urn_equals_the_vat_and_the_dog_as_prices_fall(chain, tmp_path):
    """Tracked wallets only: every seeded urn is found (through its proxy and the CDP manager where it has one), its
    owner is the wallet, its figures are the Vat's, and its verdict is the Vat's line and Dog.bark's, at five price
    levels; the self-check's barks all agree."""
    settings = load_settings(_config(tmp_path, chain))
    snapshots, block, checks = await _read(settings, chain.wallets)
    assert set(snapshots) == {s.urn for s in chain.seeded}
    for s in chain.seeded:
        snap = snapshots[s.urn]
        assert snap.owner == s.wallet and snap.market == MARKET_OF[s.ilk]
        assert snap.detail["held_through"] == {"proxy": "ds_proxy", "proxy_multi": "ds_proxy",
                                               "manager": "cdp_manager"}.get(s.kind, "vat")
        assert snap.detail["cdp"] == s.cdp and snap.detail["proxy"] == s.proxy
        coll = next(g for g in snap.legs if g.role is Role.COLLATERAL)
        assert coll.price_key == chain.record["ilks"][s.ilk]["pip"] and coll.asset == chain.record["ilks"][s.ilk]["gem"]
        if s.kind == "no_debt":
            assert snap.health.health is None and snap.detail["bark"] == "Dog/not-unsafe"
    some = snapshots[chain.of("ETH-A")[0].urn]
    assert some.health.quote == "DAI" and some.health.quote_unit == RAD
    assert checks == {key: (sum(1 for s in chain.seeded if s.ilk == ilk), 0) for key, (ilk, _) in MARKETS.items()}

    verdicts: Counter[str] = Counter()
    verdicts += _check_against_the_vat_and_the_dog(chain, snapshots, block)
    for eth, btc in ((2_000, 48_000), (1_750, 42_000), (1_500, 36_000), (1_200, 30_000)):
        set_osm(chain.url, chain.record, "ETH-A", eth * WAD)
        set_osm(chain.url, chain.record, "WBTC-C", btc * WAD)
        snapshots, block, checks = await _read(settings, chain.wallets)
        assert all(mismatched == 0 for _, mismatched in checks.values())
        verdicts += _check_against_the_vat_and_the_dog(chain, snapshots, block)
    print(f"\nverdicts: {dict(verdicts)}")
    for ilk in ("ETH-A", "WBTC-C"):
        assert verdicts[f"{ilk} liquidatable"] and verdicts[f"{ilk} safe"]


async def test_one_unit_either_side_of_each_liquidation_price(chain, tmp_path):
    """Per ilk, urns of every kind (smallest and largest debt, the dust urns, proxied and manager urns): at the
    indexer's liquidation price the urn is safe for the indexer, the Vat and Dog.bark; one unit lower all three say
    liquidatable. The OSM's value is set to the wei (current and next), then the Spotter poked."""
    settings = load_settings(_config(tmp_path, chain, verify=False))
    snapshots, _, _ = await _read(settings, chain.wallets)
    checked: Counter[str] = Counter()
    for ilk in ("ETH-A", "WBTC-C"):
        source = source_for(settings, MARKET_OF[ilk])
        owing = sorted((s for s in chain.of(ilk) if s.kind != "no_debt"), key=lambda s: s.art)
        sample = {s.urn: s for s in (owing[0], owing[-1], *[s for s in owing if s.kind == "dust"][:2],
                                     next(s for s in owing if s.kind.startswith("proxy")),
                                     next(s for s in owing if s.kind == "manager"),
                                     next(s for s in owing if s.kind == "direct"))}
        for urn, seeded in sample.items():
            [(pip, point)] = source.liquidation_points(snapshots[urn]).items()
            assert point.falling and pip == chain.record["ilks"][ilk]["pip"]
            for price, safe in ((point.price, True), (point.price - 1, False)):
                set_osm(chain.url, chain.record, ilk, price)
                [now], block, _ = await _one(settings, seeded, urn)
                _, rate, spot, _, _ = read_ilk(chain.url, chain.record, ilk, block=block)
                [(ink, art)] = read_urns(chain.url, chain.record, ilk, [urn], block=block)
                assert spot == rules.poke_spot(price, RAY, chain.record["ilks"][ilk]["mat"])
                assert (ink * spot >= art * rate) is safe
                assert now.health.liquidatable is not safe and _now_liquidatable(now) is not safe, (ilk, now.detail)
                assert (bark_outcome(chain.url, chain.record, ilk, urn, block=block) is None) is not safe
                checked[f"{ilk} {seeded.kind} {'safe' if safe else 'liquidatable'}"] += 1
    print(f"\nboundary checks: {dict(checked)}")
    assert sum(checked.values()) >= 2 * 8
    assert checked["ETH-A dust safe"] and checked["ETH-A dust liquidatable"]


async def _one(settings, seeded: MakerSeeded, urn: str) -> tuple[list[PositionSnapshot], int, dict[str, Any]]:
    snapshots, block, checks = await _read(settings, [seeded.wallet])
    return [snapshots[urn]], block, checks


async def test_a_worse_next_price_holds_then_the_osm_delivers_it(chain, tmp_path):
    """The OSM's current value stays, its next one is 35 % lower: urns safe at the Vat's spot but not at the next
    price show as liquidatable with ``liquidation_held`` (Dog.bark still refuses them); once an hour has passed the
    real OSM.poke makes the next value current, Spotter.poke files it, and Dog.bark liquidates exactly those."""
    settings = load_settings(_config(tmp_path, chain, verify=False))
    current = chain.record["ilks"]["ETH-A"]["price"]
    following = current * 65 // 100
    set_osm(chain.url, chain.record, "ETH-A", current, following)
    snapshots, block, _ = await _read(settings, chain.wallets)
    eth = {s.urn: snapshots[s.urn] for s in chain.of("ETH-A")}
    held = {u: s for u, s in eth.items() if s.detail.get("liquidation_held")}
    assert held and len(held) < len(eth)
    next_from = block_timestamp(chain.url, block) // 3600 * 3600 + 3600
    for urn, snap in held.items():
        assert snap.health.liquidatable and snap.health.raw >= WAD and snap.detail["health_basis"] == "next"
        assert int(snap.detail["health_raw_next"]) < WAD and snap.detail["osm"]["next_from"] == next_from
        assert snap.detail["liquidation_held"].startswith("liquidatable at the OSM's next price from ")
        assert bark_outcome(chain.url, chain.record, "ETH-A", urn, block=block) == "Dog/not-unsafe"
    _check_against_the_vat_and_the_dog(chain, snapshots, block)

    # an hour on: the next price is due (anyone may poke the OSM, then the Spotter)
    rpc = JsonRpcClient(chain.url)
    rpc.call("evm_setNextBlockTimestamp", [next_from])
    rpc.call("evm_mine")
    snapshots, block, _ = await _read(settings, chain.wallets)
    assert all(snapshots[u].detail["liquidation_held"].startswith("liquidatable at the OSM's next price, due since")
               for u in held)
    src = chain.record["ilks"]["ETH-A"]["src"]
    keeper = chain.record["keeper"]  # anyone: OSM.poke and Spotter.poke are permissionless
    rpc.call("anvil_setBalance", [keeper, hex(10**18)])
    transact(rpc, "OSM.poke", keeper, chain.record["ilks"]["ETH-A"]["pip"], encode_call("poke()"))
    transact(rpc, "Spotter.poke", keeper, chain.deployment.contracts["Maker.Spotter"],
             encode_call("poke(bytes32)", ilk_bytes("ETH-A")))
    snapshots, block, _ = await _read(settings, chain.wallets)
    assert read_ilk(chain.url, chain.record, "ETH-A", block=block)[2] == rules.poke_spot(
        following, RAY, chain.record["ilks"]["ETH-A"]["mat"])
    assert int(snapshots[next(iter(held))].detail["osm"]["current"]) == following
    assert int(snapshots[next(iter(held))].detail["osm"]["next"]) == int(rpc.call("eth_call", [
        {"to": src, "data": encode_call("read()")}, "latest"]), 16)  # the source's value is the next one now
    for urn in held:
        assert _now_liquidatable(snapshots[urn])
        assert bark_outcome(chain.url, chain.record, "ETH-A", urn, block=block) is None
    _check_against_the_vat_and_the_dog(chain, snapshots, block)


async def test_the_verdict_is_at_the_stored_rate_and_a_drip_moves_it(chain, tmp_path):
    """Three days without a drip: detail shows the rate a drip would set (Jug's rpow) above the stored one. At an
    urn's liquidation price (stored rate) Dog.bark refuses it — bark does not drip — although the dripped figure
    is under 1; after Jug.drip the stored rate is that figure and bark liquidates it."""
    settings = load_settings(_config(tmp_path, chain, verify=False))
    snapshots, block, _ = await _read(settings, chain.wallets)
    urn = max((s for s in chain.of("ETH-A") if s.kind == "direct"), key=lambda s: s.art)
    snap = snapshots[urn.urn]
    duty, rho, base = read_jug(chain.url, chain.record, "ETH-A", block=block)
    stored = int(snap.detail["rate"])
    dripped = rules.drip_rate(stored, duty=duty, base=base, rho=rho, now=block_timestamp(chain.url, block))
    assert int(snap.detail["rate_dripped"]) == dripped > stored
    source = source_for(settings, MARKET_OF["ETH-A"])
    [point] = source.liquidation_points(snap).values()
    set_osm(chain.url, chain.record, "ETH-A", point.price)
    snapshots, block, _ = await _read(settings, [urn.wallet])
    now = snapshots[urn.urn]
    assert not now.health.liquidatable and int(now.detail["health_raw_dripped"]) < WAD
    assert bark_outcome(chain.url, chain.record, "ETH-A", urn.urn, block=block) == "Dog/not-unsafe"
    dripped_at = drip(chain.url, chain.record, "ETH-A")
    snapshots, block, _ = await _read(settings, [urn.wallet])
    after = snapshots[urn.urn]
    # Jug.drip stored exactly what rules.drip_rate (jug.sol's rpow, each product rounded half up) computes
    assert int(after.detail["rate"]) == rules.drip_rate(stored, duty=duty, base=base, rho=rho,
                                                        now=block_timestamp(chain.url, dripped_at)) > stored
    assert after.health.liquidatable and _now_liquidatable(after)
    assert bark_outcome(chain.url, chain.record, "ETH-A", urn.urn, block=block) is None


async def test_the_dogs_limits_dust_and_breaker(chain, tmp_path):
    """Unsafe urns the Dog still refuses, each predicted and held: no room (dirt up to hole), a room so small that a
    partial auction would be dusty, a room that cuts a big urn short (partial, goes through) while a dust urn is
    taken whole, and the Clipper's breaker. Every prediction equals Dog.bark by eth_call."""
    settings = load_settings(_config(tmp_path, chain, verify=False))
    snapshots, _, _ = await _read(settings, chain.wallets)
    dust_urn = next(s for s in chain.of("ETH-A") if s.kind == "dust")
    [point] = source_for(settings, MARKET_OF["ETH-A"]).liquidation_points(snapshots[dust_urn.urn]).values()
    set_osm(chain.url, chain.record, "ETH-A", point.price - 1)  # the dust urn and most others under water
    snapshots, block, _ = await _read(settings, chain.wallets)
    unsafe = [s for s in chain.of("ETH-A") if snapshots[s.urn].health.raw < WAD]
    assert len(unsafe) >= 5 and dust_urn in unsafe
    assert snapshots[dust_urn.urn].detail["below_dust"] is True
    take = snapshots[dust_urn.urn].detail["bark_take"]
    assert take["dart"] == str(dust_urn.art) and take["partial"] is False
    _check_against_the_vat_and_the_dog(chain, snapshots, block)

    big = max(unsafe, key=lambda s: s.art)
    _, rate, _, _, _ = read_ilk(chain.url, chain.record, "ETH-A")
    debt = big.art * rate
    reasons: Counter[str] = Counter()
    for hole in (debt // 3, RAISED_DUST // 2, 0):  # partial / dusty auction / limit hit (hole 0 <= dirt 0)
        file_dog(chain.url, chain.record, "hole", hole, ilk="ETH-A")
        snapshots, block, _ = await _read(settings, chain.wallets)
        big_now = snapshots[big.urn]
        outcome = bark_outcome(chain.url, chain.record, "ETH-A", big.urn, block=block)
        assert big_now.detail["bark"] == outcome
        reasons[outcome or "ok"] += 1
        if outcome is None:
            assert big_now.detail["bark_take"]["partial"] is True and "liquidation_held" not in big_now.detail
        else:
            assert big_now.detail["liquidation_held"] == f"Dog.bark reverts at this block: {rules.explain(outcome)}"
        _check_against_the_vat_and_the_dog(chain, snapshots, block)
    assert reasons == {"ok": 1, "Dog/dusty-auction-from-partial-liquidation": 1, "Dog/liquidation-limit-hit": 1}

    file_dog(chain.url, chain.record, "hole", 100_000_000 * RAD, ilk="ETH-A")
    file_clipper(chain.url, chain.record, "ETH-A", "stopped", 1)
    snapshots, block, _ = await _read(settings, chain.wallets)
    assert snapshots[big.urn].detail["bark"] == "Clipper/stopped-incorrect"
    assert not _now_liquidatable(snapshots[big.urn])
    _check_against_the_vat_and_the_dog(chain, snapshots, block)


async def test_self_check_barks_and_an_unreadable_osm(chain, tmp_path):
    """With verify_onchain every urn is also sent Dog.bark in a last Multicall3 round: all agree, also when many are
    liquidatable (and earlier barks in the round use up room). Without Multicall3 on the OSM's whitelist the next
    price is unknown and the collateral is priced at the value the Vat's spot implies."""
    settings = load_settings(_config(tmp_path, chain))
    set_osm(chain.url, chain.record, "ETH-A", 1_300 * WAD)
    read = await read_chain(settings, "devnet", chain.wallets)
    assert read.checks["maker-eth-a"][1] == 0 and read.checks["maker-eth-a"][0] >= len(chain.of("ETH-A")) - 2
    assert not any("unverified" in s.detail for s in read.snapshots)

    osm_whitelist(chain.url, chain.record, "ETH-A", CANONICAL_MULTICALL3, allowed=False)
    snapshots, block, _ = await _read(settings, chain.wallets)
    some = snapshots[next(s.urn for s in chain.of("ETH-A") if s.kind == "direct")]
    assert "OSM/contract-not-whitelisted" in some.detail["osm"]["error"]
    assert some.detail["osm"]["current"] is None and some.detail["price_source"] == "implied_by_spot"
    coll = next(g for g in some.legs if g.role is Role.COLLATERAL)
    assert coll.price == 1_300 * WAD and some.detail["health_basis"] == "vat"
    _check_against_the_vat_and_the_dog(chain, snapshots, block)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_discovery_finds_every_urn_and_sync_stores_them_by_owner(chain, tmp_path, db_url, engine):
    settings = load_settings(_config(tmp_path, chain, db_url, verify=False, discover=True))
    async with RpcClient([chain.url]) as rpc:
        head = int(await rpc.call("eth_blockNumber", []), 16)
        found = await discover(settings, engine, chain="devnet", head=head, rpc=rpc)
    assert found.new_accounts == len(chain.seeded)
    for key, (ilk, _) in MARKETS.items():
        assert set(discovered_accounts(engine, chain="devnet", market=key)) == {s.urn for s in chain.of(ilk)}
    # read through discovery alone: an urn handler is its own owner; with the wallets too, the wallet owns it
    alone = await read_chain(settings, "devnet", [s.urn for s in chain.seeded])
    proxied = {s.urn: s for s in chain.seeded if s.proxy}
    assert all(p.owner == p.account for p in alone.snapshots if p.account in proxied)
    for s in chain.seeded:
        add_wallet(engine, address=s.wallet, label=s.kind)
    (read,) = await sync_once(settings, engine)
    assert len(read.snapshots) == len(chain.seeded)
    assert {p.account: p.owner for p in read.snapshots} == {s.urn: s.wallet for s in chain.seeded}
    multi = next(s.wallet for s in chain.seeded if s.kind == "proxy_multi")
    stored = list_positions(engine, wallet=multi)
    assert {p.account for p in stored} == {s.urn for s in chain.seeded if s.wallet == multi} and len(stored) == 3


async def test_an_urn_emptied_through_its_wallet_is_closed(chain, tmp_path):
    """A proxied urn and a manager urn are found through their wallets, not asked for: when their holders repay and
    free everything, the next read (with the previous read's hint) closes their stored positions; the read after
    that no longer mentions them. An urn in the Vat itself is asked for, so the pipeline closes it as usual."""
    settings = load_settings(_config(tmp_path, chain, verify=False))
    proxied = next(s for s in chain.seeded if s.kind == "proxy")
    managed = next(s for s in chain.seeded if s.kind == "manager")
    direct = next(s for s in chain.seeded if s.kind == "direct")
    wallets = [proxied.wallet, managed.wallet, direct.wallet]
    hints: dict[str, object] = {}
    first = await read_chain(settings, "devnet", wallets, hints=hints)
    assert {s.account for s in first.snapshots} == {proxied.urn, managed.urn, direct.urn}
    for seeded in (proxied, managed, direct):
        empty_urn(chain.url, chain.record, seeded)
        assert read_urns(chain.url, chain.record, seeded.ilk, [seeded.urn]) == [(0, 0)]
    second = await read_chain(settings, "devnet", wallets, hints=hints)
    assert {s.account for s in second.snapshots if s.closed} == {proxied.urn, managed.urn}
    assert all(not s.legs and s.health.health is None for s in second.snapshots)
    third = await read_chain(settings, "devnet", wallets, hints=hints)
    assert third.snapshots == []
