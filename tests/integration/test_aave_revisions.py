"""A market whose Pool reports a revision no Aave release has is not refused: every account is read through the
Pool's own getUserAccountData (its figures are the ones stored), the local math uses the nearest known rules,
every output says ``unverified``, and one log line at start-up names the rules applied.

The market is the devnet's real Aave v3.0 Pool behind a tiny wrapper that answers ``POOL_REVISION()`` with 99
and forwards every other call (tests/fixtures/contracts/UnknownRevisionPool.sol)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from eth_utils import to_checksum_address

from indexer.alerts.format import text
from indexer.api import shapes
from indexer.api.dashboard import read_dashboard, render
from indexer.devnet import toolchain
from indexer.devnet.abi import encode_args
from indexer.devnet.compile import SETTINGS, compile_sources
from indexer.devnet.txbatch import transact
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import load_settings
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from tests.integration.chain_helpers import user_account_data

CONTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "contracts" / "UnknownRevisionPool.sol"


def _deploy(devnet, name: str, types: list[str], args: list[str]) -> str:
    compiled = compile_sources({CONTRACT.name: CONTRACT.read_text()}, solc_dir=toolchain.solc_package_dir(),
                               settings=SETTINGS, cache_name="test-contracts")[name]
    rpc = devnet.rpc
    sender = rpc.call("eth_accounts")[0]
    tx = transact(rpc, f"deploy {name}", sender, None, compiled.bytecode + encode_args(types, args), gas=3_000_000)
    return to_checksum_address(rpc.call("eth_getTransactionReceipt", [tx])["contractAddress"])


def _unknown_revision_market(devnet) -> str:
    contracts = devnet.deployment.contracts
    pool = _deploy(devnet, "UnknownRevisionPool", ["address"], [contracts["Pool"]])
    return _deploy(devnet, "UnknownRevisionProvider", ["address", "address"], [pool, contracts["AaveOracle"]])


async def test_an_unknown_revision_is_indexed_from_the_pools_own_view_and_marked_unverified(
        chain_state, tmp_path, db_url, engine, caplog):
    devnet = chain_state
    provider = _unknown_revision_market(devnet)
    config = tmp_path / "future.toml"
    deployment = tmp_path / "devnet.json"
    devnet.deployment.to_json(deployment)
    config.write_text(f'[database]\nurl = "{db_url}"\n\n[chains.devnet]\nchain_id = 31337\ndevnet = "{deployment}"\n\n'
                      f'[markets.future]\nchain = "devnet"\nprotocol = "aave_v3"\naddress = "{provider}"\n'
                      'self_check = 0\n')
    for account in devnet.accounts:
        add_wallet(engine, address=account.address)
    pipeline = ChainPipeline(load_settings(config), engine, "devnet")
    caplog.set_level(logging.INFO, logger="indexer.protocols.aave_v3.adapter")
    try:
        read = await pipeline.sync()
    finally:
        await pipeline.close()

    # one line says which rules apply to the market, and that they are not verified
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("aave_v3 rules market=future")]
    assert len(lines) == 1 and "revision=99" in lines[0] and "rules=v3.7" in lines[0] and "verified=False" in lines[0]

    stored = {p.account: p for p in list_positions(engine)}
    assert len(stored) == len({a.address for a in devnet.accounts})
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"], list(stored), read.block.number)
    for account, p in stored.items():
        collateral, debt, _, _, _, hf = onchain[account]
        # the Pool's own figures, even where the nearest rules (v3.7 rounding) would differ from this v3.0 Pool
        assert (p.health_raw, p.collateral_value, p.debt_value) == (hf, collateral, debt)
        assert "Pool revision 99 unknown" in p.detail["unverified"]
        assert p.detail["rules"] == "v3.7"
        assert any(n.startswith("unverified: Pool revision 99") for n in shapes.position(p)["notes"])
    # the v3.7 rounding (debt rounded up) really differs from this Pool somewhere: the stored figures are the view's
    assert any("self_check" in p.detail for p in stored.values())

    # the dashboard tags the rows it lists, the reason on hover
    page = render(read_dashboard(engine, ["devnet"]), now=time.time(), refresh=30, max_lag=300)
    assert 'title="unverified: Pool revision 99 unknown' in page and ">unverified</span>" in page

    # the CLI table marks the rows and explains the mark once
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    env["INDEXER_CONFIG"] = str(config)
    out = subprocess.run([sys.executable, "-m", "indexer", "positions", "--limit", "5"], env=env,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "unverified" in out.splitlines()[4]  # a data row (title, borders and header come first)
    assert out.count("unverified: Pool revision 99 unknown") == 1
    as_json = json.loads(subprocess.run([sys.executable, "-m", "indexer", "positions", "--json"], env=env,
                                        capture_output=True, text=True, timeout=120, check=True).stdout)
    assert all(row["notes"] and row["detail"]["rules"] == "v3.7" for row in as_json)


def test_an_alert_message_carries_the_notes():
    from indexer.alerts.message import AlertMessage

    message = AlertMessage(
        event_id="e", dedup_key="k", kind="opened", family="health", severity="LIQUIDATABLE", previous_severity=None,
        chain="arbitrum", protocol="aave_v3", market="m", account="0x" + "11" * 20, wallet_label=None,
        health="0.97", previous_health=None, collateral_value="100", debt_value="90", liquidation_price=None,
        block_number=1, price_status="FRESH",
        notes=("not liquidatable yet: L2 sequencer down or in grace (PriceOracleSentinel) while HF ≥ 0.95",))
    rendered = text(AlertMessage.from_json(json.loads(json.dumps(message.to_json()))))
    assert "ⓘ not liquidatable yet: L2 sequencer down" in rendered
    assert all(len(line) <= 110 for line in rendered.splitlines())
