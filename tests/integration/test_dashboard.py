"""The dashboard in a real headless Chromium (Debian's ``chromium``; installed here if missing, as root),
served from a store filled by a real devnet sync. The phone-sized screenshot is kept in
``test-artifacts/dashboard.png`` for a person to look at."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import struct
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from fractions import Fraction
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import ClientSession, web

from indexer.api.app import make_app
from indexer.api.config import ApiConfig
from indexer.api.dashboard import CSP
from indexer.api.pages.links import market_href, position_href, wallet_href
from indexer.api.pages.market import move_text
from indexer.devnet import advance_time, set_price
from indexer.display import health_text, price_text, short_address
from indexer.health.nearest import stored_liquidations
from indexer.protocols.registry import rules_for
from indexer.risk.curve import curve_steps, market_curve
from indexer.risk.safety import to_be_safe
from indexer.risk.wallet import wallet_risk
from indexer.settings import Settings, load_settings
from indexer.store.alert_store import list_alerts
from indexer.store.feed_store import list_oracles
from indexer.store.position_store import legs_of, list_positions, position_history, position_legs
from indexer.store.views import PositionView
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once
from indexer.types import scaled

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


# -- the detail pages: a position, a wallet, a market ----------------------------------------------------------
HOSTILE = "<script>alert(1)</script>&"
MARKET = "devnet-aave-v3"
DEPTH = "[risk.curve.depth]\nWETH = 2000000\n"  # USD per 1 % of WETH's price: a cascade for WETH only


async def fill(devnet, write_devnet_config, engine, *, top: str = "") -> Settings:
    """Two syncs around a 7 % fall of WETH (two history rows for its holders); every seeded wallet tracked."""
    settings = load_settings(write_devnet_config(top=top))
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    await sync_once(settings, engine)
    weth = devnet.deployment.reserve("WETH")["price"]
    set_price(devnet.url, devnet.deployment, "WETH", weth * 93 // 100)
    await sync_once(settings, engine)
    return settings


def short_of_target(engine, settings: Settings) -> PositionView:
    """A position between the liquidation line and the target: it has steps to be safe."""
    return next(v for v in list_positions(engine)
                if v.health is not None and 1 < v.health < settings.risk.target_health)


async def browse(binary: str, tmp_path: Path, base: str, path: str) -> str:
    """The page's DOM as Chromium builds it; every request the page made (from the browser's net log, the
    browser's own background traffic left out) went to the server under test."""
    netlog = tmp_path / f"net-{len(list(tmp_path.glob('net-*.json')))}.json"
    dom = await run_chromium(binary, tmp_path / "profile", f"--log-net-log={netlog}", "--dump-dom", f"{base}{path}")
    log = json.loads(netlog.read_text())
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    host = urlsplit(base).hostname
    starts = [e.get("params", {}) for e in log["events"] if names[e["type"]] == "URL_REQUEST_START_JOB"]
    requested = [p["url"] for p in starts if p.get("network_isolation_key", "").startswith(f"http://{host} ")]
    assert requested and all(url.startswith(f"{base}/") for url in requested), requested
    return dom


def between(text: str, start: str, end: str | None = None) -> str:
    after = text.split(start, 1)[1]
    return after if end is None else after.split(end, 1)[0]


def cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]


def safety_rows(plan) -> list[list[str]]:
    """What the page must show for a plan: per step its action, symbol and exact amount in whole tokens."""
    return [[s.action, s.symbol, "no amount of this alone reaches the target" if s.amount is None
             else format(scaled(s.amount, s.decimals), "f")] for s in plan.steps]


async def get(base: str, path: str) -> tuple[int, str, str, str]:
    async with ClientSession() as session, session.get(f"{base}{path}") as response:
        return (response.status, response.content_type, response.headers.get("Content-Security-Policy", ""),
                await response.text())


async def test_position_page_shows_the_api_figures_its_history_and_what_makes_it_safe(
        devnet, chain_state, write_devnet_config, engine, chromium, tmp_path):
    settings = await fill(devnet, write_devnet_config, engine)
    view = short_of_target(engine, settings)
    add_wallet(engine, address=view.owner, label=HOSTILE)
    path = position_href(view.chain, view.market, view.account)
    async with served(make_app(settings, config=ApiConfig())) as url:
        dom = await browse(chromium, tmp_path, url, path)
        home = await browse(chromium, tmp_path, url, "/")
        async with ClientSession() as session, session.get(f"{url}/v1/positions/{view.chain}/{MARKET}/"
                                                           f"{view.account}") as response:
            api = await response.json()
        status, kind, csp, _ = await get(url, path)
    assert (status, kind, csp) == (200, "text/html", CSP)
    # the dashboard links the position, its wallet and its market to their pages
    row = next(r for r in re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", home, flags=re.S) if view.account in r)
    assert f'href="{path}"' in row and f'href="{wallet_href(view.owner)}"' in row
    assert f'href="{market_href(MARKET)}"' in row

    assert f'<span class="exact-health">{api["health"]}</span>' in dom
    legs = [cells(r) for r in re.findall(r'<tr class="leg">(.*?)</tr>', dom, flags=re.S)]
    assert [leg[:5] for leg in legs] == [[g["symbol"], g["role"], g["amount"], g["price"], g["value"]]
                                         for g in api["legs"]]
    history = position_history(engine, chain=view.chain, market=MARKET, account=view.account)
    chart = between(dom, "Health history", "<h2>")
    (line,) = re.findall(r'<polyline class="series" points="([^"]*)"', chart)
    assert len(history.rows) >= 2 and len(line.split()) == len(history.rows)
    assert chart.count('<circle class="marker"') == len(history.rows) and "liquidation line" in chart

    rules = rules_for(settings, MARKET)
    snapshot = view.snapshot(position_legs(engine, snapshot_id=view.snapshot_id))
    points = [cells(r) for r in re.findall(r'<tr class="point">(.*?)</tr>', dom, flags=re.S)]
    assert len(points) == len(rules.liquidation_points(snapshot)) >= 1
    assert points[0][0] == f"{api['liquidation']['symbol']} nearest"
    assert points[0][1] == api["liquidation"]["price_key"]
    plan = to_be_safe(rules, snapshot, settings.risk.target_health)
    steps = [cells(r)[:3] for r in re.findall(r'<tr class="step">(.*?)</tr>', dom, flags=re.S)]
    assert steps == safety_rows(plan) and plan.steps
    assert "<script" not in dom and escape(HOSTILE, quote=False) in dom


async def test_wallet_page_lists_exactly_its_positions_and_what_makes_each_safe(
        devnet, chain_state, write_devnet_config, engine, chromium, tmp_path):
    settings = await fill(devnet, write_devnet_config, engine)
    owner = short_of_target(engine, settings).owner
    add_wallet(engine, address=owner, label=HOSTILE)
    async with served(make_app(settings, config=ApiConfig())) as url:
        dom = await browse(chromium, tmp_path, url, wallet_href(owner.lower()))
        status, kind, csp, _ = await get(url, wallet_href(owner))
    assert (status, kind, csp) == (200, "text/html", CSP)
    assert "<script" not in dom and escape(HOSTILE, quote=False) in dom

    views = list_positions(engine, wallet=owner)
    listed = between(dom, "Positions (riskiest first)", "<h2>")
    assert re.findall(r'href="(/positions/[^"]+)"', listed) == [
        position_href(v.chain, v.market, v.account) for v in views]
    legs = legs_of(engine, [v.snapshot_id for v in views])
    for v in views:
        block = between(dom, f'<div class="to-be-safe" data-account="{v.account}">', "</div>")
        plan = to_be_safe(rules_for(settings, v.market), v.snapshot(legs[v.snapshot_id]), settings.risk.target_health)
        assert [cells(r)[:3] for r in re.findall(r'<tr class="step">(.*?)</tr>', block, flags=re.S)] == \
            safety_rows(plan) and plan.steps
    risk = wallet_risk(engine, settings=settings, wallet=owner, horizon="1d")
    assert risk.var is not None and risk.var.insufficient  # a devnet has minutes of prices, not days
    assert f'<p class="var-insufficient">{escape(risk.var.insufficient, quote=False)}</p>' in dom
    first = risk.first_liquidation
    assert first is not None and first.nearest is not None
    assert f'href="{position_href(first.view.chain, first.view.market, first.view.account)}"' in \
        between(dom, "First liquidation", "<h2>")


async def test_market_page_draws_a_point_per_step_and_marks_the_cascade(
        devnet, chain_state, write_devnet_config, engine, chromium, tmp_path):
    settings = await fill(devnet, write_devnet_config, engine, top=DEPTH)
    steps = curve_steps(settings.risk.curve.lowest, settings.risk.curve.step)
    expected = market_curve(engine, settings=settings, market=MARKET, cascade_from=Fraction(-10, 100)).as_json()
    async with served(make_app(settings, config=ApiConfig())) as url:
        dom = await browse(chromium, tmp_path, url, f"{market_href(MARKET)}?cascade=-10")
        status, kind, csp, plain = await get(url, market_href(MARKET))
    assert (status, kind, csp) == (200, "text/html", CSP)
    assert '<line class="rule"' not in plain and "Cascade refused" not in plain  # no cascade asked

    symbols = re.findall(r'<section class="curve" data-symbol="([^"]+)">', dom)
    assert symbols == [c["symbol"] for c in expected["curves"]] and "WETH" in symbols and len(symbols) > 1
    for curve in expected["curves"]:
        part = between(dom, f'<section class="curve" data-symbol="{curve["symbol"]}">', "</section>")
        assert part.count('<rect class="bar"') == len(curve["points"]) == len(steps)
        assert len(re.findall(r'<tr class="step">', part)) == len(steps)
        run = curve["cascade"]
        if curve["symbol"] != "WETH":
            assert run is None and '<line class="rule"' not in part
            assert escape(f"Cascade refused: {curve['cascade_refused']}", quote=False) in part
            continue
        assert run is not None and run["rounds"], run
        assert part.count('<line class="rule"') == len(run["rounds"]) + 1
        assert part.count('<tr class="round">') == len(run["rounds"])
        assert f"end {move_text(run['end'])} · {price_text(Decimal(run['end_price']))}" in part


async def test_pages_answer_404_for_the_unknown_and_400_for_what_they_cannot_use(write_devnet_config, engine):
    settings = load_settings(write_devnet_config())
    nobody = "0x000000000000000000000000000000000000dEaD"
    async with served(make_app(settings, config=ApiConfig())) as url:
        for path, expected in [(position_href("devnet", MARKET, nobody), 404), ("/markets/nowhere", 404),
                               ("/wallets/0x12", 400), ("/wallets/0x000000000000000000000000000000000000DeaD", 400),
                               (f"{market_href(MARKET)}?cascade=%2B5", 400), (f"{wallet_href(nobody)}?x=1", 400),
                               ("/positions/devnet/devnet-aave-v3/0xnope", 400)]:
            status, kind, csp, text = await get(url, path)
            assert (status, kind, csp) == (expected, "text/html", CSP), (path, text[:300])
            assert f"<h1>{expected} · " in text and "<script" not in text
        status, _, _, text = await get(url, wallet_href(nobody))  # a wallet with nothing stored is a page
        assert status == 200 and "No stored position of this wallet." in text
        status, _, _, text = await get(url, market_href(MARKET))
        assert status == 200 and "No stored position holds collateral." in text


@pytest.mark.one_database("sqlite")
async def test_api_docs_render_in_the_browser_from_the_package(write_devnet_config, engine, chromium, tmp_path):
    """/docs: Swagger UI, its files served by this app (never a CDN), renders every route of /openapi.json."""
    settings = load_settings(write_devnet_config())
    async with served(make_app(settings, config=ApiConfig())) as url:
        status, kind, csp, _ = await get(url, "/docs")
        assert status == 200 and kind == "text/html" and "script-src 'self'" in csp
        assert (await get(url, "/docs/ui/swagger-ui-bundle.js"))[:2] == (200, "text/javascript")
        assert (await get(url, "/docs/ui/index.html"))[0] == 404  # only the files the page uses are served
        assert (await get(url, "/docs/static/..%2Fdocs.py"))[0] == 404
        dom = await browse(chromium, tmp_path, url, "/docs")
        if 'class="opblock-summary-path"' not in dom:  # rendered after /openapi.json arrived: give it time
            dom = await run_chromium(chromium, tmp_path / "profile", "--virtual-time-budget=20000", "--dump-dom",
                                     f"{url}/docs")
        async with ClientSession() as session, session.get(f"{url}/openapi.json") as response:
            document = await response.json()
    shown = set(re.findall(r'data-path="([^"]+)"', dom))
    assert shown == set(document["paths"]), sorted(set(document["paths"]) ^ shown)
