"""Bad input gets one readable line, a non-zero exit, and leaves the database as it was: a config file that is
not UTF-8, an unsupported or mistyped database URL (never a stray SQLite file), a market address that is not
hex, and a node whose eth_call answers are malformed hex or null."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from indexer.settings import load_settings
from indexer.store.chain_store import checkpoint
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from tests.fixtures.rpc_proxy import JsonRpcProxy


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}


def _run(config: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run([sys.executable, "-m", "indexer", "--config", str(config), *args], capture_output=True,
                          text=True, env=env or _env(), timeout=120, cwd=cwd)


def _one_line(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode != 0, done.stdout
    out = done.stdout + done.stderr
    assert "Traceback" not in out and out.strip().count("\n") == 0, out
    for text in expected:
        assert text in out, out


def test_bad_configs_and_database_urls_are_one_line_and_create_nothing(tmp_path):
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[database]\nurl = "sqlite:///x.db"\n# caf\xe9\n')
    _one_line(_run(latin, "positions"), "is not UTF-8 text (byte 0xe9")

    mysql = tmp_path / "mysql.toml"
    mysql.write_text('[database]\nurl = "mysql://u:pw@localhost/db"\n')
    _one_line(_run(mysql, "positions"), "mysql://… is not supported")

    plain = tmp_path / "plain.toml"
    plain.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/ok.db"\n')
    env = {**_env(), "DATABASE_URL": "postgresql:/postgres@127.0.0.1:5432/test"}  # one slash missing
    _one_line(_run(plain, "positions", env=env, cwd=tmp_path), "postgresql:… is malformed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latin.toml", "mysql.toml", "plain.toml"]

    hexless = tmp_path / "hexless.toml"
    hexless.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/h.db"\n[chains.eth]\nchain_id = 1\n'
                       'rpc_urls = ["http://127.0.0.1:9"]\n[markets.m]\nchain = "eth"\nprotocol = "aave_v3"\n'
                       'address = "0xNOTHEXNOTHEXNOTHEXNOTHEXNOTHEXNOTHEXNOTH"\n')
    _one_line(_run(hexless, "sync"), "market 'm': address:", "is not an address")
    assert not (tmp_path / "h.db").exists()


class MalformedCalls(JsonRpcProxy):
    """Answers every eth_call with ``result`` (odd-length hex, or null); the rest goes to the node."""

    def __init__(self, upstream: str, result: Any) -> None:
        super().__init__(upstream)
        self.result = result

    async def answer(self, item: dict[str, Any]) -> dict[str, Any] | None:
        if item.get("method") == "eth_call":
            return {"jsonrpc": "2.0", "id": item.get("id"), "result": self.result}
        return None


@pytest.mark.parametrize("result", ["0xabc", None], ids=["odd-length hex", "null"])
async def test_malformed_eth_call_answers_are_one_line_and_write_nothing(result, devnet, chain_state,
                                                                         write_devnet_config, engine):
    proxy = MalformedCalls(devnet.url, result)
    await proxy.start()
    try:
        config = write_devnet_config(chain=f'rpc_urls = ["{proxy.url}"]\n')
        load_settings(config)
        add_wallet(engine, address=devnet.accounts[0].address)
        done = await asyncio.to_thread(_run, Path(str(config)), "sync")
    finally:
        await proxy.stop()
    _one_line(done, "eth_call at block")
    assert list_positions(engine) == [] and checkpoint(engine, chain="devnet") is None


def test_a_foreign_sqlite_file_is_refused_and_left_as_it_was(tmp_path):
    import sqlite3

    foreign = tmp_path / "theirs.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
        connection.execute("INSERT INTO notes VALUES ('mine')")
    before = foreign.read_bytes()
    config = tmp_path / "foreign.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{foreign}"\n')
    _one_line(_run(config, "positions"), "no migration history")
    assert foreign.read_bytes() == before  # not switched to WAL, not touched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.toml", "theirs.db"]


def test_devnet_on_a_port_another_server_holds_is_refused():
    import socket

    from indexer.devnet import Anvil, DevnetError

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(DevnetError, match=f"port {port} on 127.0.0.1 is in use"):
            Anvil(port=port)


@pytest.mark.parametrize("usd", ["1e80", "inf", "NaN"])
def test_a_devnet_price_outside_a_feeds_int256_is_one_line(usd, tmp_path):
    config = tmp_path / "devnet.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/d.db"\n[chains.devnet]\nchain_id = 31337\n'
                      f'devnet = "{tmp_path}/devnet.json"\n')
    done = _run(config, "devnet", "price", "WETH", usd)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "does not fit a feed's answer" in done.stderr or "is not a number" in done.stderr, done.stderr
