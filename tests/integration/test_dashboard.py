"""The dashboard in a real headless Chromium (Debian's ``chromium``; installed here if missing, as root),
served from a store filled by a real devnet sync. The phone-sized screenshot is kept in
``test-artifacts/dashboard.png`` for a person to look at."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import struct
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from indexer.api.app import make_app
from indexer.api.config import ApiConfig
from indexer.devnet import advance_time, set_price
from indexer.display import health_text, price_text, short_address
from indexer.health.nearest import stored_liquidations
from indexer.settings import load_settings
from indexer.store.alert_store import list_alerts
from indexer.store.feed_store import list_oracles
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = (412, 900)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")


def _apt_install(package: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if subprocess.run(install, env=env, capture_output=True, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600, check=True)
        subprocess.run(install, env=env, capture_output=True, timeout=900, check=True)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None and os.geteuid() == 0:
        _apt_install("chromium")
        path = shutil.which("chromium")
    if path is None:
        pytest.fail("the dashboard test needs Debian's chromium: run `apt-get install -y chromium` as root")
    return path


async def run_chromium(binary: str, profile: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode()[-2000:]
    return stdout.decode()


@asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """The app on a real loopback port (the browser is another process), stopped on exit."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


async def test_dashboard_lists_the_riskiest_position_first(devnet, chain_state, write_devnet_config, engine, chromium,
                                                          tmp_path):
    settings = load_settings(write_devnet_config(top="[oracles]\ndefault_heartbeat = 3600\n"))
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    await sync_once(settings, engine)
    advance_time(devnet.url, 3600 + 60)  # DAI's feed is left without a new round: STALE
    weth = devnet.deployment.reserve("WETH")["price"]
    for reserve in devnet.deployment.reserves:
        if reserve["symbol"] != "DAI":
            set_price(devnet.url, devnet.deployment, reserve["symbol"],
                      weth * 93 // 100 if reserve["symbol"] == "WETH" else reserve["price"])
    await sync_once(settings, engine)
    riskiest = list_positions(engine)[0]
    assert riskiest.health is not None and riskiest.health < 1
    assert [o.symbol for o in list_oracles(engine, not_fresh=True)] == ["DAI"]

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    screenshot.unlink(missing_ok=True)
    async with served(make_app(settings, config=ApiConfig())) as url:
        dom = await run_chromium(chromium, tmp_path / "profile", "--dump-dom", f"{url}/")
        await run_chromium(chromium, tmp_path / "profile", f"--screenshot={screenshot}",
                           f"--window-size={PHONE[0]},{PHONE[1]}", f"{url}/")

    assert 'name="viewport"' in dom and 'http-equiv="refresh"' in dom
    rows = re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", dom, flags=re.S)
    assert rows, dom[:2000]
    first = rows[0]  # the at-risk table comes first on the page, riskiest first
    assert f'title="{riskiest.account}"' in first and short_address(riskiest.account) in first
    assert health_text(riskiest.health) in first
    point = stored_liquidations(engine, settings=settings, views=[riskiest])[riskiest.snapshot_id]
    assert point is not None  # its nearest liquidation price, as the CLI and the API give it
    assert f"{point.symbol} {'&lt;' if point.falling else '&gt;'} {price_text(point.price)}" in first, first
    assert "<svg" in dom and "positions per health bucket" in dom
    oracles = dom.split("Oracles not fresh", 1)[1].split("Recent alerts", 1)[0]
    assert "DAI" in oracles and "STALE" in oracles
    recent = list_alerts(engine, limit=10)
    assert {a["severity"] for a in list_alerts(engine, open_only=True, limit=500)} >= {"LIQUIDATABLE", "STALE"}
    shown = re.findall(r'<td title="(0x[0-9a-fA-F]{40})">', dom.split("Recent alerts", 1)[1])
    assert shown == [a["account"] for a in recent] and len(shown) == 10
    assert png_size(screenshot) == PHONE and screenshot.stat().st_size > 20_000


async def test_dashboard_escapes_what_the_store_holds(devnet, chain_state, write_devnet_config, engine, chromium,
                                                      tmp_path):
    hostile = '<img src=x onerror="alert(1)">&'
    account = devnet.accounts_of("near_liquidation")[0].address
    add_wallet(engine, address=account, label=hostile)
    settings = load_settings(write_devnet_config())
    await sync_once(settings, engine)
    async with served(make_app(settings, config=ApiConfig())) as url:
        dom = await run_chromium(chromium, tmp_path / "profile", "--dump-dom", f"{url}/")
    assert "<img" not in dom and "&lt;img src=x onerror=" in dom
