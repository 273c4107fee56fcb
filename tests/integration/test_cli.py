"""The real `indexer` console script against the devnet: happy path and every kind of bad input.

Bad input must give one readable line on stderr, a non-zero exit, and leave the database as it was.
"""

import json
import socket
import subprocess
import sys
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

import indexer.store.models  # noqa: F401  (registers the tables)
from indexer.store.db import make_engine
from indexer.store.wallet_store import add_wallet


def run(env, *args, config=None):
    cmd = [sys.executable, "-m", "indexer", *(["--config", str(config)] if config else []), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def row_counts(url):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for t in SQLModel.metadata.sorted_tables}
    finally:
        engine.dispose()


def one_error_line(result):
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def synced(devnet, chain_state, cli_env, db_url):
    """Two tracked wallets (added in process: `wallets add` has tests of its own), synced once through the CLI."""
    engine = make_engine(db_url)
    try:
        for account in devnet.accounts[:2]:
            add_wallet(engine, address=account.address, label=account.kind)
    finally:
        engine.dispose()
    result = run(cli_env, "sync")
    assert result.returncode == 0, result.stderr
    return row_counts(db_url)


def test_positions_json_shape(devnet, synced, cli_env):
    result = run(cli_env, "positions", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["account"] for r in rows} == {a.address for a in devnet.accounts[:2]}
    for r in rows:
        assert {"chain", "protocol", "market", "account", "block_number", "block_hash", "health_raw", "health",
                "collateral_value", "debt_value", "quote", "equity", "requirement", "detail", "margin_mode",
                "price_status"} <= set(r)
        assert r["chain"] == "devnet" and r["protocol"] == "aave_v3" and r["market"] == "devnet-aave-v3"
        assert r["quote"] == "USD" and r["margin_mode"] == "cross" and r["detail"]["pool_revision"] == "1"
        assert isinstance(r["health_raw"], str) and int(r["health_raw"]) > 0
        assert "E" not in r["collateral_value"] + r["debt_value"] and len(r["debt_value"].split(".")[1]) == 8
        raw = int(r["health_raw"])
        if raw == 2**256 - 1:
            assert r["health"] is None
        else:
            assert Decimal(r["health"]) == Decimal(raw).scaleb(-18)  # exact, no float on the way
    table = run(cli_env, "positions")
    assert table.returncode == 0 and "Positions, riskiest first" in table.stdout


@pytest.mark.parametrize("args,message", [
    (("wallets", "add", "0x1234"), "is not an address"),
    (("wallets", "add", "0xCA11bde05977b3631167028862bE2a173976CA11"), "invalid EIP-55 checksum"),
    (("wallets", "remove", "0x000000000000000000000000000000000000dEaD"), "is not tracked"),
    (("positions", "--wallet", "not-an-address"), "is not an address"),
    (("sync", "--chain", "mainnet"), "unknown chain 'mainnet'"),
])
def test_bad_arguments(synced, cli_env, db_url, args, message):
    assert message in one_error_line(run(cli_env, *args))
    assert row_counts(db_url) == synced


def _config(tmp_path, db_url, chain_extra="", market_address="devnet:PoolAddressesProvider", devnet_file=None,
            protocol="aave_v3", market_extra="", name="bad"):
    path = tmp_path / f"{name}.toml"
    devnet_line = f'devnet = "{devnet_file}"\n' if devnet_file else ""
    path.write_text(f'[database]\nurl = "{db_url}"\n[chains.devnet]\nchain_id = 31337\n{devnet_line}{chain_extra}'
                    f'[markets.m]\nchain = "devnet"\nprotocol = "{protocol}"\naddress = "{market_address}"\n'
                    f'{market_extra}')
    return path


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_config_errors_name_the_problem(synced, cli_env, db_url, tmp_path, devnet_config):
    devnet_file = tmp_path / "devnet.json"
    cases = [
        (_config(tmp_path, db_url, devnet_file=devnet_file, chain_extra="rpc_timeout_s = 3\n", name="key"),
         "unknown key 'chains.devnet.rpc_timeout_s'"),
        (_config(tmp_path, db_url, devnet_file=devnet_file, protocol="aave_v9", name="protocol"),
         "unknown protocol 'aave_v9'"),
        (_config(tmp_path, db_url, devnet_file=devnet_file, market_address="devnet:NoSuchContract",
                 name="contract"),
         "no contract 'NoSuchContract'"),
    ]
    for config, message in cases:
        assert message in one_error_line(run(cli_env, "sync", config=config))
        assert row_counts(db_url) == synced


def test_market_that_is_not_an_aave_provider(devnet, synced, cli_env, db_url, tmp_path):
    devnet_file = tmp_path / "devnet.json"
    for address in (devnet.deployment.contracts["AaveOracle"], "0x000000000000000000000000000000000000bEEF"):
        config = _config(tmp_path, db_url, devnet_file=devnet_file, market_address=address)
        assert "is not an Aave v3 PoolAddressesProvider" in one_error_line(run(cli_env, "sync", config=config))
    assert row_counts(db_url) == synced


def test_unreachable_rpc_and_wrong_chain_id(synced, cli_env, db_url, tmp_path, devnet):
    config = _config(tmp_path, db_url, chain_extra=f'rpc_urls = ["http://127.0.0.1:{_closed_port()}/key123"]\n',
                     market_address=devnet.deployment.contracts["PoolAddressesProvider"])
    line = one_error_line(run(cli_env, "sync", config=config))
    assert "cannot reach RPC" in line and "key123" not in line
    lying = _config(tmp_path, db_url, chain_extra=f'rpc_urls = ["{devnet.url}"]\n',
                    market_address=devnet.deployment.contracts["PoolAddressesProvider"])
    lying.write_text(lying.read_text().replace("chain_id = 31337", "chain_id = 1"))
    assert "reports chain id 31337, the config says 1" in one_error_line(run(cli_env, "sync", config=lying))
    assert row_counts(db_url) == synced


def test_reverted_call(synced, cli_env, db_url, tmp_path, devnet):
    # Multicall3 pointed at the Pool: aggregate3 is not a Pool function, so the node reverts the eth_call.
    config = _config(tmp_path, db_url, devnet_file=tmp_path / "devnet.json",
                     chain_extra=f'multicall3 = "{devnet.deployment.contracts["Pool"]}"\n')
    assert "reverted" in one_error_line(run(cli_env, "sync", config=config))
    assert row_counts(db_url) == synced


@pytest.mark.one_database("sqlite")  # what the CLI accepts and prints; wallet storage on both databases is test_store's
def test_labels_and_alert_levels_are_checked_and_shown_safely(devnet, chain_state, cli_env, db_url):
    account = devnet.accounts[0].address
    markup = "desk [/bold] [red]"
    for bad, why in ((["--label", "x" * 101], "1 to 100 printable"), (["--label", "a\x1b[31mb"], "printable"),
                     (["--warn", "1e-999999"], "at most 18 decimal places"), (["--critical", "0"], "above 0"),
                     (["--warn", "1000000"], "below 1,000,000")):
        refused = run(cli_env, "wallets", "add", account, *bad)
        assert refused.returncode != 0 and why in refused.stderr, (bad, refused.stderr)
    before = row_counts(db_url)
    assert before["wallets"] == 0  # nothing stored by a refused command
    added = run(cli_env, "wallets", "add", account, "--label", markup, "--warn", "1.25")
    assert added.returncode == 0 and markup in added.stdout, added.stderr
    assert markup in run(cli_env, "wallets", "list").stdout
    assert run(cli_env, "sync").returncode == 0
    shown = run(cli_env, "positions")
    assert shown.returncode == 0, shown.stderr
    assert "[/bold]" in shown.stdout and "\x1b[31m" not in shown.stdout
