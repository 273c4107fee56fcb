"""GMX v2 through the indexer, on the devnet's stand-in DataStore and Reader (our own contracts implementing the
real v2.2 Reader ABI and gmx-synthetics' contracts/position/PositionUtils.sol liquidation rules: no package ships
GMX's bytecode; see indexer/protocols/gmx_v2/devnet.py).

One anvil for the module: both markets (ETH/USD, BTC/USD) deployed and seeded through the hooks `indexer devnet up`
uses. Each test runs inside an evm snapshot. The verdict compared against is the stand-in Reader's own
``isPositionLiquidatable(..., forLiquidation = true)`` at the block the indexer read, priced from the same feeds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indexer.alerts.message import AlertMessage
from indexer.alerts.rules import severity_level
from indexer.devnet import Anvil, Deployment, stack
from indexer.devnet.abi import decode, encode_call
from indexer.devnet.calls import eth_call
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.protocols.gmx_v2 import devnet as gd
from indexer.protocols.gmx_v2.adapter import GmxV2Adapter
from indexer.protocols.registry import source_for
from indexer.settings import load_settings
from indexer.store.models import Alert, AlertEvent, Delivery, MarginChange
from indexer.store.position_store import list_positions
from indexer.store.reorg import rollback
from indexer.store.wallet_store import add_wallet
from indexer.sync import read_chain, sync_once
from indexer.types import PositionSnapshot
from tests.fixtures.db import rows
from tests.fixtures.devnet import reverting

SEEDED = 42


@dataclass
class GmxChain:
    url: str
    deployment: Deployment
    record: dict[str, Any]
    positions: list[gd.SeededPosition]
    file: Path


@pytest.fixture(scope="module")
def gmx_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GmxChain]:
    with Anvil() as node:
        deployment = stack.deploy(node.url, [GmxV2Adapter.kind])
        record = deployment.protocols[GmxV2Adapter.kind]
        positions = gd.seed_positions(node.url, record, SEEDED)
        path = tmp_path_factory.mktemp("gmx") / "devnet.json"
        deployment.to_json(path)
        yield GmxChain(node.url, deployment, record, positions, path)


@pytest.fixture
def chain(gmx_chain: GmxChain) -> Iterator[GmxChain]:
    with reverting(gmx_chain.url):
        yield gmx_chain


def _settings(tmp_path: Path, chain: GmxChain, db_url: str | None = None, tail: str = "") -> Any:
    config = tmp_path / "gmx.toml"
    config.write_text(
        f'[database]\nurl = "{db_url or f"sqlite:///{tmp_path}/gmx.db"}"\n\n[chains.devnet]\nchain_id = 31337\n'
        f'devnet = "{chain.file}"\n\n[markets.gmx]\nchain = "devnet"\nprotocol = "gmx_v2"\n'
        f'address = "devnet:GmxV2.Reader"\nstart_block = {chain.deployment.block_number}\n'
        'options = { data_store = "devnet:GmxV2.DataStore", referral_storage = "devnet:GmxV2.ReferralStorage" }\n'
        + tail)
    return load_settings(config)


def _answers(url: str, record: dict[str, Any], block: int) -> dict[str, int]:
    rpc = JsonRpcClient(url)
    out = {}
    for symbol, t in record["tokens"].items():
        raw = rpc.call(*eth_call(t["feed"], encode_call("latestRoundData()"), block))
        out[symbol] = int(decode(["uint80", "int256", "uint256", "uint256", "uint80"], raw)[1])
    return out


def _by_key(snapshots: list[PositionSnapshot]) -> dict[str, PositionSnapshot]:
    return {s.detail["position_key"]: s for s in snapshots}


def _wallets(chain: GmxChain) -> list[str]:
    return list(dict.fromkeys(p.wallet for p in chain.positions))


async def test_every_position_matches_the_readers_own_verdict(chain, tmp_path):
    settings = _settings(tmp_path, chain)
    read = await read_chain(settings, "devnet", _wallets(chain))
    found = _by_key(read.snapshots)
    assert set(found) == {p.key for p in chain.positions} and len(found) == SEEDED
    answers = _answers(chain.url, chain.record, read.block.number)
    liquidatable = 0
    for p in chain.positions:
        s = found[p.key]
        assert s.account == f"{p.wallet}:{p.key}" and s.owner == p.wallet and s.margin_mode == "isolated"
        verdict, reason, (remaining, min_usd, for_leverage) = gd.is_position_liquidatable(
            chain.url, chain.record, p, answers, read.block.number)
        assert s.health.equity == remaining, p.kind
        assert s.health.requirement == max(min_usd, for_leverage), p.kind
        assert s.health.liquidatable is verdict and s.detail["reason"] == reason, p.kind
        assert s.health.raw == max(remaining * 10**18 // max(min_usd, for_leverage), 0)
        liquidatable += verdict
        leg = s.legs[0]
        assert leg.role == ("long" if p.is_long else "short") and leg.price_key == chain.record["markets"][
            p.market]["index"]
        assert leg.terms["liquidation_px"] > 0 or p.kind == "eth_short_weth"
    assert sum(1 for p in chain.positions if not found[p.key].health.liquidatable) > 0
    print(f"\nGMX v2: {len(found)} positions, {liquidatable} liquidatable at the seeded prices")


async def test_price_move_across_a_liquidation_point_flips_exactly_the_expected(chain, tmp_path):
    settings = _settings(tmp_path, chain)
    source = source_for(settings, "gmx")
    read = await read_chain(settings, "devnet", _wallets(chain))
    found = _by_key(read.snapshots)
    weth = chain.record["tokens"]["WBTC"]  # the edge position: a 50x BTC long on WBTC collateral
    edge = next(found[p.key] for p in chain.positions if p.kind == "btc_long_wbtc_edge")
    assert not edge.health.liquidatable
    point = source.liquidation_points(edge)[weth["address"]]
    assert point.falling
    # the feed answer whose GMX price is the first one past the point (one 8-decimal step moves 1e4 units)
    answer = (point.price - 1) // (weth["multiplier"] // 10**30) if weth["multiplier"] >= 10**30 else 0
    price = gd.token_price(chain.record, "WBTC", answer)
    assert price < point.price
    assert source.health_at(edge, {weth["address"]: price}).liquidatable
    expected = {k for k, s in found.items() if weth["address"] in source.price_dependencies(s)
                and source.health_at(s, {weth["address"]: price}).liquidatable != s.health.liquidatable}
    assert edge.detail["position_key"] in expected
    gd.set_answer(chain.url, chain.record, "WBTC", answer)
    after = _by_key((await read_chain(settings, "devnet", _wallets(chain))).snapshots)
    answers = _answers(chain.url, chain.record, "latest")
    flipped = set()
    for p in chain.positions:
        verdict = gd.is_position_liquidatable(chain.url, chain.record, p, answers)[0]
        assert after[p.key].health.liquidatable is verdict, p.kind
        if verdict != found[p.key].health.liquidatable:
            flipped.add(p.key)
    assert flipped == expected
    print(f"\nGMX v2: WBTC to {answer} (one step past {point.price}) flipped {len(flipped)} positions")


async def test_a_stale_reference_feed_marks_its_positions_stale(chain, tmp_path):
    settings = _settings(tmp_path, chain)
    rpc = JsonRpcClient(chain.url)
    wbtc = chain.record["tokens"]["WBTC"]
    rpc.call("evm_increaseTime", [3 * 86_400])
    rpc.call("evm_mine")
    for symbol in ("WETH", "USDC"):  # refreshed: only WBTC's feed is left behind
        gd.set_answer(chain.url, chain.record, symbol, chain.record["tokens"][symbol]["answer"])
    read = await read_chain(settings, "devnet", _wallets(chain))
    read.assess({})
    statuses = {s.detail["gmx_market"]: set() for s in read.snapshots}
    for s in read.snapshots:
        statuses[s.detail["gmx_market"]].add(str(s.price_status))
    btc, eth = (chain.record["markets"][m]["market_token"] for m in ("BTC-USD", "ETH-USD"))
    assert statuses[btc] == {"STALE"}, statuses
    assert "STALE" not in statuses[eth], statuses
    assert any(r.address == wbtc["feed"] and r.asset == wbtc["address"] for r in read.readings)


HOOK = '[channels.hook]\nkind = "webhook"\nbase_url = "http://127.0.0.1:9/hook"\nsecret_env = "HOOK_SECRET"\n'


async def test_a_raised_factor_for_liquidation_is_stored_and_alerted_per_position(chain, tmp_path, db_url, engine,
                                                                                 monkeypatch):
    """Dynamic margin on GMX: the ETH/USD market's ``MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION`` is raised fiftyfold in
    the DataStore (GMX's controllers do it with ``Config.setUint``; the stand-in DataStore's ``setUint`` is that
    write). The next sync stores one change per ETH/USD position with the old and new factor and the health before
    (the old factor, the same prices and fees: the block is mined at the first read's timestamp) and after, which
    is the stand-in Reader's own ``isPositionLiquidatable`` figure; one `margin` alert each goes through the
    outbox; BTC/USD positions see nothing; a sync without a change adds nothing; a reorg takes it all back."""
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    settings = _settings(tmp_path, chain, db_url, tail=HOOK)
    for wallet in _wallets(chain):
        add_wallet(engine, address=wallet)
    (first,) = await sync_once(settings, engine)
    before = {p.account: p for p in list_positions(engine)}
    assert len(before) == SEEDED
    eth = {f"{p.wallet}:{p.key}": p for p in chain.positions if p.market == "ETH-USD"}
    btc = {f"{p.wallet}:{p.key}": p for p in chain.positions if p.market == "BTC-USD"}
    assert eth and btc and all(before[a].health is not None for a in eth)

    old = chain.record["markets"]["ETH-USD"]["min_collateral_factor_for_liquidation"]
    new = old * 50  # from 0.5 % of the size to 25 %: 20x leverage down to 4x
    rpc = JsonRpcClient(chain.url)
    rpc.call("evm_setNextBlockTimestamp", [first.block.timestamp])
    gd.set_factor_for_liquidation(chain.url, chain.record, "ETH-USD", new)
    (second,) = await sync_once(settings, engine)
    assert second.block.number > first.block.number and second.block.timestamp == first.block.timestamp

    changes = rows(engine, MarginChange, block_number=second.block.number)
    assert {c["account"] for c in changes} == set(eth) and len(changes) == len(eth)
    after = {p.account: p for p in list_positions(engine)}
    answers = _answers(chain.url, chain.record, second.block.number)
    flipped = 0
    for change in changes:
        account = change["account"]
        assert (change["parameter"], change["asset"]) == (
            "min_collateral_factor_for_liquidation", chain.record["markets"]["ETH-USD"]["index"])
        assert (int(change["old_value"]), int(change["new_value"])) == (old, new)
        assert change["health_before"] == before[account].health  # the old factor, the same prices and fees
        assert change["health_after"] == after[account].health < change["health_before"]
        verdict, _, (remaining, min_usd, for_leverage) = gd.is_position_liquidatable(
            chain.url, chain.record, eth[account], answers, second.block.number)
        assert after[account].health_raw == max(remaining * 10**18 // max(min_usd, for_leverage), 0)
        assert after[account].liquidatable is verdict
        flipped += verdict and not before[account].liquidatable
    assert flipped > 0  # the raise makes some positions liquidatable that were not
    assert all(after[a].health == before[a].health for a in btc)

    alerts = rows(engine, Alert, family="margin")
    assert {a["account"] for a in alerts} == set(eth)
    events = [e for e in rows(engine, AlertEvent, block_number=second.block.number)
              if e["alert_id"] in {a["id"] for a in alerts}]
    assert len(events) == len(eth) and {e["kind"] for e in events} == {"changed"}
    assert {d["event_id"] for d in rows(engine, Delivery, channel="hook")} >= {e["id"] for e in events}
    message = AlertMessage.from_json(json.loads(events[0]["message"]))
    assert message.family == "margin" and message.detail.endswith(
        f"min_collateral_factor_for_liquidation {old} → {new}")

    rpc.call("evm_mine", [])
    (third,) = await sync_once(settings, engine)  # nothing changed since: nothing new
    assert third.block.number > second.block.number
    assert len(rows(engine, MarginChange)) == len(eth)

    counts = rollback(engine, chain="devnet", ancestor=first.block.number, level_of=severity_level)
    assert counts["margin_changes"] == len(eth)
    assert rows(engine, MarginChange) == [] and rows(engine, Alert, family="margin") == []
