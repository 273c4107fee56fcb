"""Dynamic margin on Maker, on the devnet's dss stand-in: governance raises an ilk's liquidation ratio (``mat``) with
``Spotter.file(ilk, "mat", value)`` and the indexer stores the change and alerts on it per vault.

One anvil for the module: ``stack.deploy(url, ["maker"])`` and about 60 urns over ETH-A and WBTC-C (held in the Vat,
through the CDP manager and through DSProxies; see ``indexer/protocols/maker/devnet.py``). The test runs inside an
evm snapshot. The verdicts compared against are the Vat's own figures (``Vat.ilks``, ``Vat.urns``) and ``Dog.bark``
by eth_call at the block the indexer read.
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
from indexer.protocols.maker import rules
from indexer.protocols.maker.adapter import MakerAdapter, ilk_bytes
from indexer.protocols.maker.devnet import MakerSeeded, bark_outcome, read_ilk, read_urns, seed_urns
from indexer.settings import load_settings
from indexer.store.models import Alert, AlertEvent, Delivery, MarginChange
from indexer.store.position_store import list_positions
from indexer.store.reorg import rollback
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once
from indexer.types import scaled
from tests.fixtures.db import rows
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import mine_at

SEEDED = 60
WAD, RAY = rules.WAD, rules.RAY
MARKETS = {"maker-eth-a": ("ETH-A", "ETH_A"), "maker-wbtc-c": ("WBTC-C", "WBTC_C")}
HOOK = '\n[channels.hook]\nkind = "webhook"\nbase_url = "http://127.0.0.1:9/hook"\nsecret_env = "HOOK_SECRET"\n'
RAISED = "WBTC-C"
NEW_MAT = 195 * RAY // 100  # WBTC-C's 175 % raised to 195 %: urns drawn to under 1.114 times the old ratio flip


@dataclass
class MakerChain:
    url: str
    deployment: Deployment
    record: dict[str, Any]
    seeded: list[MakerSeeded]
    file: Path

    @property
    def wallets(self) -> list[str]:
        return list(dict.fromkeys(s.wallet for s in self.seeded))

    @property
    def spotter(self) -> str:
        return str(self.deployment.contracts["Maker.Spotter"])


@pytest.fixture(scope="module")
def maker_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakerChain]:
    with Anvil() as node:
        deployment = stack.deploy(node.url, [MakerAdapter.kind])
        record = deployment.protocols[MakerAdapter.kind]
        seeded = seed_urns(node.url, record, SEEDED)
        path = tmp_path_factory.mktemp("maker-margin") / "devnet.json"
        deployment.to_json(path)
        yield MakerChain(node.url, deployment, record, seeded, path)


@pytest.fixture
def chain(maker_chain: MakerChain) -> Iterator[MakerChain]:
    with reverting(maker_chain.url):
        yield maker_chain


def _config(tmp_path: Path, chain: MakerChain, db_url: str) -> Path:
    markets = "".join(
        f'\n[markets.{key}]\nchain = "devnet"\nprotocol = "maker"\naddress = "devnet:Maker.Vat"\n'
        f'verify_onchain = false\nstart_block = {chain.deployment.block_number}\n'
        f'options = {{ ilk = "{ilk}", spotter = "devnet:Maker.Spotter", join = "devnet:Maker.JOIN_{name}", '
        f'jug = "devnet:Maker.Jug", dog = "devnet:Maker.Dog", cdp_manager = "devnet:Maker.CdpManager", '
        f'proxy_registry = "devnet:Maker.ProxyRegistry" }}\n'
        for key, (ilk, name) in MARKETS.items())
    config = tmp_path / "maker.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n\n[chains.devnet]\nchain_id = 31337\ndevnet = "{chain.file}"\n'
                      f'{markets}{HOOK}')
    return config


def _spotter_mat(chain: MakerChain, ilk: str, block: int | str = "latest") -> int:
    """``Spotter.ilks(ilk).mat`` [ray]."""
    raw = JsonRpcClient(chain.url).call(*eth_call(chain.spotter, encode_call("ilks(bytes32)", ilk_bytes(ilk)), block))
    return int(decode(["address", "uint256"], raw)[1])


async def test_a_raised_liquidation_ratio_is_stored_and_alerted_per_vault(chain, tmp_path, db_url, engine,
                                                                          monkeypatch):
    """WBTC-C's ``mat`` goes from 175 % to 195 % through ``Spotter.file`` in a block mined at the first sync's
    timestamp (nothing else moves: Maker's rate moves only on a drip, the OSM only on its own poke). The Vat's spot
    stays as the last poke set it, but the next sync's health already takes the spot a poke would file with the new
    ratio: one change per indebted WBTC-C vault (``mat``, the collateral's asset, old and new ratio), the health
    before equal to the one stored at the first sync, the health after the one stored now, and lower; urns it puts
    under 1 are held ("once the Spotter is poked"), Dog.bark still refuses them. ETH-A vaults and WBTC-C vaults owing
    nothing get nothing; one `margin` alert per affected vault goes through the outbox; a sync without a change adds
    nothing. Once the Spotter is poked the Vat's spot is ``rules.poke_spot`` at the new ratio, the stored health is
    the Vat's own ``ink * spot`` against ``art * rate`` (and the same as right after the change: it moved with the
    change, not with the poke), the held urns are liquidatable for the indexer and for Dog.bark, and no second
    change is stored. A reorg back to the first block takes the changes and their alerts away."""
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    settings = load_settings(_config(tmp_path, chain, db_url))
    for wallet in chain.wallets:
        add_wallet(engine, address=wallet)
    hints: dict[str, dict[str, object]] = {}
    (first,) = await sync_once(settings, engine, hints=hints)
    before = {p.account: p for p in list_positions(engine)}
    assert set(before) == {s.urn for s in chain.seeded}

    raised = {s.urn for s in chain.seeded if s.ilk == RAISED and s.art > 0}
    idle = {s.urn for s in chain.seeded if s.ilk == RAISED and s.art == 0}
    other = {s.urn for s in chain.seeded if s.ilk != RAISED}
    assert len(raised) >= 10 and idle and other
    assert all(before[u].health is not None for u in raised) and all(before[u].health is None for u in idle)
    spec = chain.record["ilks"][RAISED]
    old_mat = spec["mat"]
    assert _spotter_mat(chain, RAISED) == old_mat < NEW_MAT
    _, _, spot_before, _, _ = read_ilk(chain.url, chain.record, RAISED)

    # governance's Spotter.file (the deployer is a ward of the stand-in), in a block at the first read's time
    filed = mine_at(chain.url, first.block.timestamp, [{
        "from": chain.record["deployer"], "to": chain.spotter,
        "data": encode_call("file(bytes32,bytes32,uint256)", ilk_bytes(RAISED), b"mat", NEW_MAT)}])
    assert _spotter_mat(chain, RAISED, filed) == NEW_MAT
    assert read_ilk(chain.url, chain.record, RAISED, block=filed)[2] == spot_before  # no poke: the Vat's spot stays

    (second,) = await sync_once(settings, engine, hints=hints)
    assert second.block.number == filed and second.block.timestamp == first.block.timestamp

    changes = rows(engine, MarginChange, block_number=second.block.number)
    assert {c["account"] for c in changes} == raised and len(changes) == len(raised)
    after = {p.account: p for p in list_positions(engine)}
    held = set()
    for change in changes:
        urn = change["account"]
        assert (change["market"], change["parameter"], change["asset"], change["symbol"]) == (
            "maker-wbtc-c", "mat", spec["gem"], spec["symbol"])
        assert (int(change["old_value"]), int(change["new_value"])) == (old_mat, NEW_MAT)
        assert change["health_before"] == before[urn].health  # the old ratio, the same OSM value and Vat figures
        assert change["health_after"] == after[urn].health < change["health_before"]
        assert after[urn].detail["mat"] == str(NEW_MAT) and after[urn].detail["health_basis"] in ("current", "next")
        assert after[urn].health_raw == before[urn].health_raw  # the Vat's own figure has not moved yet
        if after[urn].health < 1 <= before[urn].health:
            held.add(urn)
            assert after[urn].detail["liquidation_held"].startswith("liquidatable once the Spotter is poked")
            assert not after[urn].liquidatable
            assert bark_outcome(chain.url, chain.record, RAISED, urn, block=second.block.number) == "Dog/not-unsafe"
    assert held, "the raise put no vault under 1"
    print(f"\nMaker: {RAISED} mat raised, {len(raised)} vaults changed, {len(held)} of them held under 1 until a poke")
    assert all(after[u].health == before[u].health and after[u].detail["mat"] == before[u].detail["mat"]
               for u in other)
    assert all(after[u].health is None for u in idle)

    alerts = {a["id"]: a for a in rows(engine, Alert, family="margin")}
    assert {a["account"] for a in alerts.values()} == raised and len(alerts) == len(raised)
    assert all(a["status"] == "resolved" and a["opened_block"] == second.block.number
               and a["market"] == "maker-wbtc-c" for a in alerts.values())
    assert {c["alert_id"] for c in changes} == set(alerts)
    events = [e for e in rows(engine, AlertEvent, block_number=second.block.number) if e["alert_id"] in alerts]
    assert len(events) == len(raised) and {e["kind"] for e in events} == {"changed"}
    assert {d["event_id"] for d in rows(engine, Delivery, channel="hook")} >= {e["id"] for e in events}
    message = AlertMessage.from_json(json.loads(events[0]["message"]))
    assert message.family == "margin" and message.detail == f"{spec['symbol']} mat {old_mat} → {NEW_MAT}"
    assert message.previous_health == format(before[message.account].health, "f")
    assert message.health == format(after[message.account].health, "f")

    JsonRpcClient(chain.url).call("evm_mine", [])
    (third,) = await sync_once(settings, engine, hints=hints)  # nothing changed since: nothing new
    assert third.block.number > second.block.number
    assert len(rows(engine, MarginChange)) == len(raised)
    assert len(rows(engine, Alert, family="margin")) == len(raised)

    # anyone may poke the Spotter (here a keyless keeper): the Vat's spot now carries the new ratio
    keeper = chain.record["keeper"]
    JsonRpcClient(chain.url).batch([("anvil_setBalance", [keeper, hex(10**18)]),
                                    ("anvil_impersonateAccount", [keeper])])
    poked = mine_at(chain.url, third.block.timestamp, [{
        "from": keeper, "to": chain.spotter, "data": encode_call("poke(bytes32)", ilk_bytes(RAISED))}])
    (fourth,) = await sync_once(settings, engine, hints=hints)
    assert fourth.block.number == poked
    _, rate, spot, _, _ = read_ilk(chain.url, chain.record, RAISED, block=poked)
    assert spot == rules.poke_spot(spec["price"], RAY, NEW_MAT) < spot_before
    now = {p.account: p for p in list_positions(engine)}
    urns = sorted(raised)
    for urn, (ink, art) in zip(urns, read_urns(chain.url, chain.record, RAISED, urns, block=poked), strict=True):
        assert now[urn].health_raw == ink * spot * WAD // (art * rate), urn  # the Vat's figures, floored
        assert now[urn].health == scaled(now[urn].health_raw, 18) == after[urn].health, urn
        assert now[urn].detail["health_basis"] == "vat" and "liquidation_held" not in now[urn].detail
    for urn in held:
        assert now[urn].liquidatable and bark_outcome(chain.url, chain.record, RAISED, urn, block=poked) is None
    assert len(rows(engine, MarginChange)) == len(raised)  # the poke changed no margin parameter

    counts = rollback(engine, chain="devnet", ancestor=first.block.number, level_of=severity_level)
    assert counts["margin_changes"] == len(raised)
    assert rows(engine, MarginChange) == [] and rows(engine, Alert, family="margin") == []
    assert not {e["id"] for e in events} & {d["event_id"] for d in rows(engine, Delivery)}
    assert {p.account: p.health for p in list_positions(engine)} == {u: p.health for u, p in before.items()}
