"""The Synthetix v3 perps adapter against the devnet's DevPerpsMarket (a stand-in for the PerpsMarketProxy of
@synthetixio/perps-market 3.13.0): one anvil per module, 12 accounts seeded (some wallets with two), each test
inside an evm snapshot. Reads go through Multicall3 at a pinned block, as the pipeline reads them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak

from indexer.chain.multicall import Call, MulticallReader, run_plans
from indexer.chain.rpc import RpcClient
from indexer.devnet import Anvil, stack, toolchain
from indexer.devnet.compile import SETTINGS, compile_sources
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.protocols.base import MarketRead, MarketRef
from indexer.protocols.synthetix_v3 import devnet as sd
from indexer.protocols.synthetix_v3.adapter import SynthetixV3Adapter
from indexer.types import BlockRef
from tests.fixtures.devnet import reverting

SEEDED = 12
W = 10**18
PKG = Path(__file__).resolve().parents[2] / "node_modules/@synthetixio/perps-market/contracts"


@dataclass
class SnxNet:
    url: str
    record: dict[str, Any]
    seeded: list[tuple[str, str]]
    timings: dict[str, float]

    @property
    def proxy(self) -> str:
        return str(self.record["contracts"][sd.PROXY])

    @property
    def wallets(self) -> list[str]:
        return list(dict.fromkeys(w for w, _ in self.seeded))


@pytest.fixture(scope="module")
def snx_net() -> Iterator[SnxNet]:
    timings: dict[str, float] = {}
    with Anvil() as node:
        started = time.perf_counter()
        deployment = stack.deploy(node.url, ["synthetix_v3"])
        timings["deploy"] = time.perf_counter() - started
        started = time.perf_counter()
        seeded = stack.devnet_module("synthetix_v3").seed_devnet(node.url, deployment, SEEDED)
        timings["seed"] = time.perf_counter() - started
        yield SnxNet(node.url, deployment.protocols["synthetix_v3"], seeded, timings)


@pytest.fixture
def net(snx_net: SnxNet) -> Iterator[SnxNet]:
    with reverting(snx_net.url):
        yield snx_net


def _block(url: str) -> int:
    return int(JsonRpcClient(url).call("eth_blockNumber"), 16)


async def _read(net: SnxNet) -> tuple[MarketRead, dict[int, tuple[Any, ...]], int]:
    """The adapter's read at the head, and the proxy's own views per account id at the same block."""
    adapter = SynthetixV3Adapter(MarketRef(key="snx", chain="devnet", address=net.proxy))
    number = _block(net.url)
    async with RpcClient([net.url]) as rpc:
        reader = MulticallReader(rpc, number)
        (read,) = await run_plans(reader, [adapter.read(net.wallets, BlockRef(number, "", 0), ChainlinkFeeds())])
        ids = [s.detail["account_id"] for s in read.snapshots]
        views = await reader.read([c for i in ids for c in (
            Call.of(net.proxy, "getAvailableMargin(uint128)", [i], ["uint128"], ("int256",), allow_failure=True),
            Call.of(net.proxy, "getRequiredMargins(uint128)", [i], ["uint128"], ("uint256",) * 3, allow_failure=True),
            Call.of(net.proxy, "canLiquidate(uint128)", [i], ["uint128"], ("bool",), allow_failure=True))])
    own = {i: tuple(views[3 * k: 3 * k + 3]) for k, i in enumerate(ids)}
    return read, own, number


def test_selectors_match_the_package_interfaces(snx_net):
    """Our ABI file and the stand-in answer the selectors the package's interfaces declare."""
    files = ["IPerpsAccountModule", "ILiquidationModule", "IPerpsMarketModule", "IGlobalPerpsMarketModule",
             "ICollateralConfigurationModule", "IMarketConfigurationModule"]
    sources = {f"contracts/interfaces/{f}.sol": (PKG / "interfaces" / f"{f}.sol").read_text() for f in files}
    # IMarketConfigurationModule names SettlementStrategy's types, whose library needs core-contracts (not shipped):
    # a stub with the same names (the selectors read here do not involve them)
    sources["contracts/storage/SettlementStrategy.sol"] = (
        "// SPDX-License-Identifier: MIT\npragma solidity >=0.8.11;\n"
        "library SettlementStrategy { enum Type { PYTH } struct Data { Type strategyType; } }\n")
    compiled = compile_sources(sources, solc_dir=toolchain.solc_package_dir(), settings=SETTINGS,
                               cache_name="synthetix-v3-interfaces")

    def sig(e: dict[str, Any]) -> str:
        return f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"

    package = {sig(e) for name, c in compiled.items() if ":" in name for e in c.abi if e["type"] == "function"}
    ours = json.loads((Path(__file__).resolve().parents[2] / "abis/synthetix_v3/PerpsMarketProxy.json").read_text())
    stand_in = {sig(e) for e in sd.compile_synthetix_v3()["DevPerpsMarket"].abi if e["type"] == "function"}
    for entry in ours:
        if entry["type"] == "function" and entry["name"] != "getAccountTokenAddress":  # the core's AccountModule
            assert sig(entry) in package, sig(entry)
            assert sig(entry) in stand_in, sig(entry)
    errors = {sig(e) for e in ours if e["type"] == "error"}
    assert errors == {"OracleDataRequired(address,bytes)"}
    wrapper = (PKG / "interfaces/external/IPythERC7412Wrapper.sol").read_text()
    assert "error OracleDataRequired(address oracleContract, bytes oracleQuery);" in wrapper
    assert keccak(text="OracleDataRequired(address,bytes)")[:4].hex() == "cf2cabdf"


def test_read_equals_the_protocols_own_views(net):
    read, own, _ = asyncio.run(_read(net))
    assert len(read.snapshots) == SEEDED
    assert read.checked == SEEDED and not read.mismatched
    owners = {s.owner for s in read.snapshots}
    assert owners == set(net.wallets) and len(owners) < SEEDED  # some wallets hold two accounts
    kinds = {kind for _, kind in net.seeded}
    assert {"long_profit", "long_loss", "short_profit", "short_loss"} <= kinds
    for snap in read.snapshots:
        available, required, can = own[snap.detail["account_id"]]
        assert snap.health.equity == available[0]
        assert snap.health.requirement == required[1]
        assert int(snap.detail["max_liquidation_reward"]) == required[2]
        assert snap.detail["can_liquidate"] == can[0] == snap.health.liquidatable
        assert snap.detail["price_verdict"] == "FRESH"
        assert snap.detail["reward_model"] == "recomputed"
        assert "unverified" not in snap.detail
        assert snap.health.raw == max(available[0], 0) * W // required[1]
        assert snap.account == f"{snap.owner}:{snap.detail['account_id']}"
        for leg in snap.legs:
            if leg.role.value in ("long", "short"):
                assert "liquidation_px" in leg.terms and "entry_px" in leg.terms


def test_price_move_flips_exactly_the_expected_accounts(net):
    read, _, _ = asyncio.run(_read(net))
    adapter = SynthetixV3Adapter(MarketRef(key="snx", chain="devnet", address=net.proxy))
    key = "synthetix_v3:devnet:ETH"
    longs = sorted((adapter.liquidation_points(s)[key].price, s.account) for s in read.snapshots
                   if key in adapter.liquidation_points(s) and adapter.liquidation_points(s)[key].falling)
    assert len(longs) >= 2
    # the highest ETH liquidation price: one wei below it that account (and its twin) flips, nobody else
    target = longs[-1][0]
    expected = {s.account for s in read.snapshots if adapter.health_at(s, {key: target - 1}).liquidatable}
    assert expected and expected < {s.account for s in read.snapshots}
    assert all(not adapter.health_at(s, {key: target}).liquidatable for s in read.snapshots)
    sd.set_price(net.url, net.record, "ETH", target - 1)
    moved, own, _ = asyncio.run(_read(net))
    assert {s.account for s in moved.snapshots if own[s.detail["account_id"]][2][0]} == expected
    assert {s.account for s in moved.snapshots if s.health.liquidatable} == expected
    sd.set_price(net.url, net.record, "ETH", target)
    back, own, _ = asyncio.run(_read(net))
    assert not any(own[s.detail["account_id"]][2][0] for s in back.snapshots)


def test_stale_price_marks_only_its_accounts_stale(net):
    """BTC's price past its tolerance: every view needing it reverts OracleDataRequired. The accounts holding BTC have
    no figure at this block, so the read reports them stale (the pipeline keeps their stored figures, marked STALE,
    and never takes them for closed); every other account reads on, FRESH, equal to the proxy's own views."""
    fresh, _, _ = asyncio.run(_read(net))
    holders = {s.account for s in fresh.snapshots if any(leg.symbol == "BTC" for leg in s.legs)}
    sd.set_stale(net.url, net.record, "BTC", True)
    read, own, _ = asyncio.run(_read(net))
    assert holders and set(read.stale) == holders
    assert {s.account for s in read.snapshots} | set(read.stale) == {s.account for s in fresh.snapshots}  # nobody lost
    for snap in read.snapshots:
        available = own[snap.detail["account_id"]][0]
        assert snap.detail["price_verdict"] == "FRESH"
        assert snap.health.equity == available[0]
