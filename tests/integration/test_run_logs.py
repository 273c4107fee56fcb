"""What an operator reads from `indexer run` at the default level: a start-up line, block progress, an RPC outage
and its recovery, and the stop; with `--log-format json` (given after the subcommand) every line is one JSON
object carrying its chain and block as fields. The outage is a real loopback proxy in front of the session devnet
answering 503 for a while."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from aiohttp import web

from indexer.devnet import mine
from indexer.store.wallet_store import add_wallet
from tests.fixtures.rpc_proxy import JsonRpcProxy

pytestmark = pytest.mark.one_database("sqlite")


class Switch(JsonRpcProxy):
    down = False

    async def refuse(self, request: web.Request) -> web.Response | None:
        return web.Response(status=503, text="maintenance") if self.down else None


class Lines:
    """The process's stderr, read line by line in a thread."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def join(self) -> None:
        self._thread.join(timeout=10)
        self._stream.close()

    def parsed(self) -> list[dict]:
        return [json.loads(line) for line in list(self.lines)]

    async def wait_for(self, predicate, what: str, timeout: float = 45.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.parsed():
                if predicate(entry):
                    return entry
            await asyncio.sleep(0.1)
        raise AssertionError(f"no log line {what} within {timeout}s; got:\n" + "\n".join(self.lines[-30:]))


async def test_run_logs_startup_progress_outage_and_recovery_as_json(devnet, chain_state, write_devnet_config,
                                                                      engine):
    proxy = Switch(devnet.url)
    await proxy.start()
    for account in devnet.accounts[:3]:
        add_wallet(engine, address=account.address)
    config = write_devnet_config(chain=f'rpc_urls = ["{proxy.url}"]\npoll_interval = 0.2\n')
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG", "LOG_LEVEL",
                                                            "LOG_FORMAT")}
    process = subprocess.Popen([sys.executable, "-m", "indexer", "--config", str(config), "run", "--log-format",
                                "json"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = Lines(process.stderr)
    try:
        started = await lines.wait_for(lambda e: e["msg"].startswith("indexer running"), "at start-up")
        assert started["level"] == "INFO" and started["chains"] == "devnet"
        block = await lines.wait_for(lambda e: e["msg"].startswith("block processed"), "for a block")
        assert block["chain"] == "devnet" and int(block["block"]) > 0 and block["logger"].startswith("indexer.")

        proxy.down = True
        mine(devnet.url, 1)
        failing = await lines.wait_for(lambda e: e["level"] in ("WARNING", "ERROR") and e.get("chain") == "devnet"
                                       and "503" in e["msg"], "about the outage")
        assert failing["msg"].startswith(("step failed", "chain failing"))
        proxy.down = False
        mine(devnet.url, 1)
        recovered = await lines.wait_for(lambda e: e["msg"].startswith("chain recovered"), "about the recovery")
        assert recovered["chain"] == "devnet" and recovered["level"] == "WARNING"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            await proxy.stop()
    lines.join()
    entries = lines.parsed()  # every line is JSON, or this raises
    assert any(e["msg"].startswith("indexer stopped") for e in entries[-3:])
    others = [e for e in entries if not e["logger"].startswith("indexer")]
    assert all(e["level"] in ("WARNING", "ERROR", "CRITICAL") for e in others), others


async def test_one_shot_commands_stay_quiet_and_log_level_opens_them(devnet, chain_state, cli_env):
    quiet = subprocess.run([sys.executable, "-m", "indexer", "sync"], env=cli_env, capture_output=True, text=True,
                           timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.strip() == ""
    told = subprocess.run([sys.executable, "-m", "indexer", "sync", "-v"], env=cli_env, capture_output=True,
                          text=True, timeout=120)
    assert told.returncode == 0, told.stderr
    assert "INFO indexer.pipeline.chain synced chain=devnet" in told.stderr
    env = {**cli_env, "LOG_LEVEL": "INFO", "LOG_FORMAT": "json"}
    by_env = subprocess.run([sys.executable, "-m", "indexer", "sync"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert by_env.returncode == 0, by_env.stderr
    assert any(json.loads(line)["msg"].startswith("synced chain=devnet") for line in by_env.stderr.splitlines())
