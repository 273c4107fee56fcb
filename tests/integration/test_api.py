"""The HTTP API against a store filled by real devnet syncs, on SQLite and on PostgreSQL.

The store is filled once per backend for the whole module (a price drop that opens alerts, a feed left
to go stale, a recovery that resolves some of them, several blocks of history) and every test reads it
through a real server on a loopback port, comparing each payload with what the store's own query
functions return.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from prometheus_client.parser import text_string_to_metric_families

from indexer.api import shapes
from indexer.api.app import make_app
from indexer.api.config import ApiConfig
from indexer.api.risk import wallet_risk_json
from indexer.devnet import advance_time, mine, revert, set_price, snapshot
from indexer.health.nearest import liquidation_prices, stored_liquidations
from indexer.protocols.registry import rules_for
from indexer.risk.curve import market_curve
from indexer.risk.moves import parse_moves
from indexer.risk.shock import shock_json, shock_stored
from indexer.risk.wallet import wallet_risk
from indexer.settings import Settings, load_settings
from indexer.store.alert_store import list_alerts, list_deliveries
from indexer.store.chain_store import latest_block
from indexer.store.db import make_engine, upgrade
from indexer.store.feed_store import list_oracles
from indexer.store.models import Market, PositionHistory
from indexer.store.position_store import list_positions, position_legs
from indexer.store.wallet_store import add_wallet, list_wallets
from indexer.sync import sync_once
from tests.fixtures.db import create_database, drop_database

TOKEN = "s3cret-token"
CHAIN, MARKET = "devnet", "devnet-aave-v3"
STALE_SYMBOL = "DAI"
CONFIG = """[oracles]
default_heartbeat = 3600
[database]
url = "{url}"
[chains.devnet]
chain_id = 31337
devnet = "{deployment}"
[markets.devnet-aave-v3]
chain = "devnet"
protocol = "aave_v3"
address = "devnet:PoolAddressesProvider"
[channels.hook]
kind = "webhook"
base_url = "http://127.0.0.1:9/hook"
secret_env = "API_TEST_HOOK_SECRET"
"""


@dataclass
class Filled:
    settings: Settings
    engine: sa.Engine
    syncs: int
    config_path: Path


def _database(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'api.db'}"
        upgrade(url)
        yield url
        return
    server = request.getfixturevalue("pg_server_url")
    url = create_database(server, prefix="indexer_api")
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(server, url)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def filled(request, devnet, tmp_path_factory) -> AsyncIterator[Filled]:
    tmp = tmp_path_factory.mktemp("api")
    databases = _database(request, tmp)
    url = next(databases)
    deployment = tmp / "devnet.json"
    devnet.deployment.to_json(deployment)
    (tmp / "api.toml").write_text(CONFIG.format(url=url, deployment=deployment))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("API_TEST_HOOK_SECRET", "hook-secret")
        env.delenv("DATABASE_URL", raising=False)
        settings = load_settings(tmp / "api.toml")
        engine = make_engine(url)
        chain_snapshot = snapshot(devnet.url)
        try:
            for account in devnet.accounts:
                add_wallet(engine, address=account.address, label=account.kind)
            weth = devnet.deployment.reserve("WETH")["price"]
            syncs = 0

            async def sync() -> None:
                nonlocal syncs
                await sync_once(settings, engine)
                syncs += 1

            await sync()
            mine(devnet.url)
            await sync()
            set_price(devnet.url, devnet.deployment, "WETH", weth * 92 // 100)  # opens health alerts
            await sync()
            advance_time(devnet.url, 3600 + 60)  # every feed but one gets a new round: that one goes STALE
            for reserve in devnet.deployment.reserves:
                if reserve["symbol"] not in (STALE_SYMBOL, "WETH"):
                    set_price(devnet.url, devnet.deployment, reserve["symbol"], reserve["price"])
            set_price(devnet.url, devnet.deployment, "WETH", weth)  # recovery: resolves some alerts
            await sync()
            set_price(devnet.url, devnet.deployment, "WETH", weth * 93 // 100)  # and down again: new ones
            await sync()
            for _ in range(2):
                mine(devnet.url)
                await sync()
            yield Filled(settings, engine, syncs, tmp / "api.toml")
        finally:
            revert(devnet.url, chain_snapshot)
            engine.dispose()
            databases.close()


@pytest.fixture
async def client_for(filled) -> AsyncIterator[Any]:
    """``await client_for(config)``: a started server and client for the filled store."""
    clients: list[TestClient] = []

    async def start(config: ApiConfig | None = None) -> TestClient:
        app = make_app(filled.settings, config=config or ApiConfig(token=TOKEN))
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def api(client_for) -> TestClient:
    return await client_for()


async def get_json(api: TestClient, path: str, expect: int = 200, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status == expect, (await response.text())[:500]
    assert response.content_type == "application/json"
    return await response.json()


async def all_pages(api: TestClient, **params: Any) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    cursor = None
    while True:
        page = await get_json(api, "/v1/positions", **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert len(page["items"]) == page["limit"]


# -- positions -----------------------------------------------------------------------------------------------
async def test_pages_cover_every_position_once_in_store_order(filled, api):
    views = list_positions(filled.engine)
    points = stored_liquidations(filled.engine, settings=filled.settings, views=views)
    stored = [shapes.position(p, points[p.snapshot_id]) for p in views]
    assert len(stored) > 40 and any(p["health"] is None for p in stored) and any(p["health"] for p in stored)
    # every indebted position above the line shows how far its nearest liquidation price is; none without debt
    assert all(p["liquidation"] is None for p in stored if p["health"] is None)
    assert all(Decimal(p["liquidation"]["distance"]) > 0 for p in stored if p["health"] and Decimal(p["health"]) > 1)
    items, pages = await all_pages(api, limit=7)
    assert items == stored  # the same figures, in the same (riskiest first) order, each row once
    assert pages == -(-len(stored) // 7)
    first = stored[0]
    assert Decimal(first["health"]) < 1 and re.fullmatch(r"\d+", first["health_raw"])

    by_debt, _ = await all_pages(api, sort="debt", limit=11)
    assert sorted(map(str, by_debt)) == sorted(map(str, stored))
    debts = [Decimal(p["debt_value"]) for p in by_debt]
    assert debts == sorted(debts, reverse=True)

    default = await get_json(api, "/v1/positions")
    assert default["limit"] == 50 and default["items"] == stored[:50]
    capped = await get_json(api, "/v1/positions", limit=100_000)
    assert capped["limit"] == 500 and capped["items"] == stored and capped["next_cursor"] is None


async def test_position_filters_are_exact(filled, api):
    views = list_positions(filled.engine)

    async def accounts(**params: Any) -> list[str]:
        items, _ = await all_pages(api, limit=5, **params)
        return [p["account"] for p in items]

    assert await accounts(max_health="1.05") == [p.account for p in list_positions(filled.engine,
                                                                                   max_health=Decimal("1.05"))]
    stale = await accounts(price_status="stale")
    assert stale and stale == [p.account for p in views if p.price_status == "STALE"]
    threshold = sorted(p.debt for p in views)[len(views) // 2]
    assert await accounts(min_debt=str(threshold)) == [p.account for p in views if p.debt >= threshold]
    assert await accounts(min_debt=format(threshold + Decimal("1e-8"), "f")) == [
        p.account for p in views if p.debt > threshold]
    some = views[3].account
    assert await accounts(wallet=some.lower()) == [some]  # any case is accepted, and checksummed
    assert await accounts(chain=CHAIN, market=MARKET, protocol="aave_v3") == [p.account for p in views]
    assert await accounts(market="no-such-market") == []
    assert await accounts(protocol="compound_v3") == []
    combined = await accounts(max_health="1.5", min_debt="1000", sort="debt")
    expected = [p for p in views if p.health is not None and p.health <= Decimal("1.5") and p.debt >= 1000]
    assert sorted(combined) == sorted(p.account for p in expected)


async def test_position_detail_carries_every_leg(filled, api):
    views = list_positions(filled.engine)
    multi = next(p for p in views if len(position_legs(filled.engine, snapshot_id=p.snapshot_id)) >= 3)
    for view in (views[0], multi):
        body = await get_json(api, f"/v1/positions/{CHAIN}/{MARKET}/{view.account}")
        legs = position_legs(filled.engine, snapshot_id=view.snapshot_id)
        point = stored_liquidations(filled.engine, settings=filled.settings, views=[view])[view.snapshot_id]
        assert {k: v for k, v in body.items() if k not in ("legs", "to_be_safe", "liquidations")} == \
            shapes.position(view, point)
        # every price dependency's point (stored with the snapshot: the rules' own from the stored legs), nearest
        # first; the nearest is the row's `liquidation`
        rules = rules_for(filled.settings, view.market)
        assert rules is not None and view.liquidations is not None
        assert body["liquidations"] == [shapes.liquidation(p) for p in liquidation_prices(rules, view.snapshot(legs))]
        assert body["liquidations"][:1] == ([body["liquidation"]] if body["liquidation"] else [])
        plan = body["to_be_safe"]
        assert plan["target"] == "1.5" and (plan["steps"] != []) == (view.health is not None and view.health < 1.5)
        assert body["health_raw"] == str(view.health_raw) and body["quote"] == "USD"
        assert body["detail"]["emode_category"] == str(view.detail["emode_category"])
        assert Decimal(body["equity"]) * view.quote_unit == view.equity
        assert [(g["asset"], g["symbol"], g["role"], g["amount_raw"], g["price_raw"], g["value_raw"], g["price_key"],
                 g["feed"], g["round_id"], g["terms"]) for g in body["legs"]] == [
            (g.asset, g.symbol, g.role.value, str(g.amount), str(g.price), str(g.value), g.price_key, g.feed,
             str(g.round_id), g.terms) for g in legs]
        assert all(g["feed"] and g["round_id"] for g in body["legs"])
        for shown, stored in zip(body["legs"], legs, strict=True):
            assert Decimal(shown["amount"]) * 10**stored.decimals == stored.amount
            assert Decimal(shown["price"]) * 10**stored.price_decimals == stored.price
    lower = await get_json(api, f"/v1/positions/{CHAIN}/{MARKET}/{views[0].account.lower()}")
    assert lower["account"] == views[0].account
    missing = await get_json(api, f"/v1/positions/{CHAIN}/{MARKET}/0x000000000000000000000000000000000000dEaD",
                             expect=404)
    assert missing["error"] and missing["account"] == "0x000000000000000000000000000000000000dEaD"
    await get_json(api, f"/v1/positions/{CHAIN}/elsewhere/{views[0].account}", expect=404)


def _stored_history(engine: sa.Engine, account: str) -> list[tuple[int, str | None]]:
    h, m = PositionHistory.__table__.c, Market.__table__.c
    query = (sa.select(h.block_number, h.health).join(Market.__table__, m.id == h.market_id)
             .where(m.key == MARKET, h.account == account).order_by(h.block_number, h.id))
    with engine.connect() as connection:
        return [(n, shapes.dec(health)) for n, health in connection.execute(query)]


async def test_history_window_and_downsampling(filled, api):
    account = list_positions(filled.engine)[0].account
    stored = _stored_history(filled.engine, account)
    assert len(stored) == filled.syncs
    path = f"/v1/positions/{CHAIN}/{MARKET}/{account}/history"

    def pairs(body: dict[str, Any]) -> list[tuple[int, str | None]]:
        return [(row["block_number"], row["health"]) for row in body["items"]]

    full = await get_json(api, path)
    assert pairs(full) == stored and full["total"] == len(stored) and full["downsampled"] is False
    assert all(Decimal(r["collateral_value"]) > 0 and r["block_hash"].startswith("0x") for r in full["items"])

    since, until = stored[1][0], stored[-2][0]
    window = await get_json(api, path, since=since, until=until)
    assert pairs(window) == [row for row in stored if since <= row[0] <= until]

    two = await get_json(api, path, points=2)
    assert pairs(two) == [stored[0], stored[-1]] and two["downsampled"] and two["total"] == len(stored)
    one = await get_json(api, path, points=1)
    assert pairs(one) == [stored[-1]]
    three = await get_json(api, path, points=3)
    assert pairs(three) == [stored[0], stored[(len(stored) - 1 + 1) // 2], stored[-1]]
    assert pairs(await get_json(api, path, since=stored[-1][0] + 1)) == []
    assert pairs(await get_json(api, path, since=stored[-1][0], until=stored[0][0])) == []  # an empty window
    for bad in ({"since": "-1"}, {"until": "x"}, {"points": "0"}, {"points": "5001"}, {"since": str(2**63)}):
        assert (await get_json(api, path, expect=400, **bad))["parameter"] == next(iter(bad))


# -- wallets ---------------------------------------------------------------------------------------------------
async def test_wallet_list_and_token_protected_changes(filled, api, client_for):
    body = await get_json(api, "/v1/wallets")
    assert body["items"] == [shapes.wallet(w) for w in list_wallets(filled.engine)]
    assert len(body["items"]) >= 60

    new = "0x1111111111111111111111111111111111111111"
    checksummed = "0x1111111111111111111111111111111111111111"
    payload = {"address": new, "label": "api test", "warn": "1.3", "critical": 1.15}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": TOKEN}):
        response = await api.post("/v1/wallets", json=payload, headers=headers)
        assert response.status == 401 and "error" in await response.json()
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert new not in {w.address for w in list_wallets(filled.engine)}

    auth = {"Authorization": f"Bearer {TOKEN}"}
    created = await api.post("/v1/wallets", json=payload, headers=auth)
    assert created.status == 201
    wallet = await created.json()
    assert wallet["address"] == checksummed and wallet["label"] == "api test"
    assert Decimal(wallet["warn"]) == Decimal("1.3") and Decimal(wallet["critical"]) == Decimal("1.15")
    assert checksummed in {w.address for w in list_wallets(filled.engine)}
    again = await api.post("/v1/wallets", json={"address": new, "label": "renamed"}, headers=auth)
    assert again.status == 200 and (await again.json())["label"] == "renamed"

    for bad, parameter in (({"address": "0x123"}, "address"), ({"label": "x"}, "address"),
                           ({"address": new, "warn": "abc"}, "warn"), ({"address": new, "extra": 1}, "extra"),
                           ({"address": new, "warn": "1.1", "critical": "1.2"}, "critical")):
        response = await api.post("/v1/wallets", json=bad, headers=auth)
        assert response.status == 400 and (await response.json())["parameter"] == parameter
    response = await api.post("/v1/wallets", data=b"not json", headers=auth)
    assert response.status == 400 and (await response.json())["parameter"] == "body"
    nested = b"[" * 30_000 + b"]" * 30_000  # deeper than Python's recursion limit, inside the size limit
    response = await api.post("/v1/wallets", data=nested, headers=auth)
    assert response.status == 400 and (await response.json())["parameter"] == "body"
    response = await api.post("/v1/wallets", data=b"{" + b" " * 70_000 + b"}", headers=auth)
    assert response.status == 413 and (await response.json())["error"] == "request body too large"

    assert (await api.delete(f"/v1/wallets/{new}")).status == 401
    assert (await api.delete(f"/v1/wallets/{new}", headers={"Authorization": "Bearer nope"})).status == 401
    assert (await api.delete(f"/v1/wallets/{new}", headers=auth)).status == 204
    assert checksummed not in {w.address for w in list_wallets(filled.engine)}
    gone = await api.delete(f"/v1/wallets/{new}", headers=auth)
    assert gone.status == 404 and (await gone.json())["address"] == checksummed

    disabled = await client_for(ApiConfig(token=None))
    for response in (await disabled.post("/v1/wallets", json=payload, headers=auth),
                     await disabled.delete(f"/v1/wallets/{new}", headers=auth)):
        assert response.status == 403 and "INDEXER_API_TOKEN" in (await response.json())["error"]
    assert (await disabled.get("/v1/wallets")).status == 200


# -- alerts, oracles, markets ---------------------------------------------------------------------------------
async def test_alerts_with_events_and_deliveries(filled, api):
    every = list_alerts(filled.engine, limit=500)
    opened = list_alerts(filled.engine, open_only=True, limit=500)
    assert opened and len(opened) < len(every)  # the recovery resolved some
    body = await get_json(api, "/v1/alerts", status="open", limit=500)
    assert body["items"] == [shapes.alert(a) for a in opened]
    assert {a["status"] for a in body["items"]} == {"open"}
    body = await get_json(api, "/v1/alerts", limit=500)
    assert [a["id"] for a in body["items"]] == [a["id"] for a in every]
    deliveries = Counter(d["status"] for d in list_deliveries(filled.engine, limit=100_000))
    shown = Counter(d["status"] for a in body["items"] for e in a["events"] for d in e["deliveries"])
    assert shown == deliveries and shown["pending"] > 0
    assert {"opened", "resolved"} <= {e["kind"] for a in body["items"] for e in a["events"]}
    assert len((await get_json(api, "/v1/alerts", limit=3))["items"]) == 3


async def test_oracles_and_markets(filled, api):
    stored = list_oracles(filled.engine)
    body = await get_json(api, "/v1/oracles")
    assert [(o["feed"], o["status"], o["age_seconds"], o["heartbeat_seconds"], o["round_id"]) for o in body["items"]] \
        == [(o.key, o.status, o.age, o.heartbeat, str(o.round_id)) for o in stored]
    stale = await get_json(api, "/v1/oracles", not_fresh="true")
    assert [(o["symbol"], o["status"]) for o in stale["items"]] == [(STALE_SYMBOL, "STALE")]
    assert stale["items"][0]["age_seconds"] > stale["items"][0]["heartbeat_seconds"] == 3600
    assert (await get_json(api, "/v1/oracles", chain="elsewhere"))["items"] == []

    views = list_positions(filled.engine)
    (market,) = (await get_json(api, "/v1/markets"))["items"]
    assert market["chain"] == CHAIN and market["key"] == MARKET and market["protocol"] == "aave_v3"
    assert market["positions"] == len(views)
    assert market["with_debt"] == sum(p.health is not None for p in views)
    assert market["liquidatable"] == sum(p.liquidatable for p in views) > 0
    assert Decimal(market["min_health"]) == views[0].health
    assert market["block_number"] == max(p.block_number for p in views)


async def test_shock_answers_what_the_risk_module_computes(filled, api):
    moves = parse_moves(["ETH=-50", "USDC=-2"], filled.settings.risk.groups)
    expected = shock_json(shock_stored(filled.engine, settings=filled.settings, moves=moves), limit=3)
    body = await get_json(api, "/v1/shock", moves="ETH=-50,USDC:-2%", limit=3)
    assert body == expected
    assert body["moves"] == {"ETH": "-50%", "USDC": "-2%"} and body["liquidatable_after"] > len(body["positions"]) == 3
    (market,) = body["markets"]
    assert market["liquidatable_after"] == body["liquidatable_after"] and market["crossing"] > 0
    healths = [Decimal(p["health_after"]) for p in body["positions"]]
    assert healths == sorted(healths) and all(h < 1 for h in healths)
    wallet = body["positions"][0]["wallet"]
    mine = await get_json(api, "/v1/shock", moves="ETH=-50,USDC:-2%", wallet=wallet.lower())
    assert [w["wallet"] for w in mine["wallets"]] == [wallet]
    for query, parameter in [({"moves": "ETH=-100"}, "moves"), ({}, "moves"), ({"moves": "ETH"}, "moves"),
                             ({"moves": "ETH=-5", "wallet": "0x12"}, "wallet"),
                             ({"moves": "ETH=-5", "move": "x"}, "move")]:
        error = await get_json(api, "/v1/shock", expect=400, **query)
        assert error["parameter"] == parameter


async def test_curve_var_and_wallet_risk_answer_what_the_risk_modules_compute(filled, api):
    curve = await get_json(api, f"/v1/markets/{MARKET}/liquidation-curve")
    assert curve == market_curve(filled.engine, settings=filled.settings, market=MARKET).as_json()
    assert {c["symbol"] for c in curve["curves"]} >= {"WETH", "USDC"}
    weth = (await get_json(api, f"/v1/markets/{MARKET}/liquidation-curve", symbol="weth", cascade="-10"))["curves"]
    assert [c["symbol"] for c in weth] == ["WETH"] and weth[0]["cascade"] is None
    assert "no market depth for WETH" in weth[0]["cascade_refused"]
    counts = [p["cumulative"]["positions"] for p in weth[0]["points"]]
    assert counts == sorted(counts) and counts[-1] > counts[0]

    var = await get_json(api, f"/v1/markets/{MARKET}/var", horizon="1h")
    assert var["scope"] == {"market": MARKET} and var["horizon"] == "1h"
    assert var["insufficient"].startswith(f"insufficient history: {var['scenarios']} scenarios of 1h")

    view = next(v for v in list_positions(filled.engine) if v.health is not None and 1 < v.health < Decimal("1.5"))
    risk = await get_json(api, f"/v1/wallets/{view.owner.lower()}/risk", target="1.5", horizon="1h")
    expected = wallet_risk_json(wallet_risk(filled.engine, settings=filled.settings, wallet=view.owner,
                                            horizon="1h", target=Decimal("1.5")))
    assert risk == expected
    assert risk["wallet"] == view.owner and risk["min_health"] == str(view.health)
    (item,) = [i for i in risk["items"] if i["account"] == view.account]
    steps = item["to_be_safe"]["steps"]
    assert steps and all(Decimal(s["health_after"]) >= Decimal("1.5") for s in steps if s["amount"] is not None)
    assert risk["first_liquidation"]["account"] == view.account or len(risk["items"]) > 1

    for path, query, status in [(f"/v1/markets/{MARKET}/var", {"horizon": "0d"}, 400),
                                (f"/v1/markets/{MARKET}/var", {"horizon": "soon"}, 400),
                                ("/v1/markets/nowhere/var", {}, 404),
                                ("/v1/markets/nowhere/liquidation-curve", {}, 404),
                                (f"/v1/markets/{MARKET}/liquidation-curve", {"cascade": "+5"}, 400),
                                (f"/v1/wallets/{view.owner}/risk", {"target": "lots"}, 400),
                                ("/v1/wallets/0x12/risk", {}, 400)]:
        await get_json(api, path, expect=status, **query)


async def test_healthz_reports_each_chain(filled, api):
    body = await get_json(api, "/healthz")
    (chain,) = body["chains"]
    head = latest_block(filled.engine, chain=CHAIN)
    assert chain["chain"] == CHAIN and chain["block_number"] == head.number and chain["block_hash"] == head.hash
    assert chain["block_timestamp"] == head.timestamp and chain["checkpoint"] == head.number
    assert chain["seconds_since_block"] >= 0 and chain["behind"] is False and body["status"] == "ok"
    ready = await get_json(api, "/readyz")  # 200: every chain is current
    assert ready["status"] == "ok" and ready["chains"][0]["block_number"] == head.number


async def test_behind_is_live_but_not_ready(filled):
    """A configured chain with nothing stored yet is behind: /healthz stays 200 (liveness: the server is not at
    fault), /readyz is 503 until it has data."""
    from indexer.settings import ChainSettings

    chains = {**filled.settings.chains, "quiet": ChainSettings(chain_id=5, rpc_urls=["http://127.0.0.1:9"])}
    app = make_app(filled.settings.model_copy(update={"chains": chains}), config=ApiConfig(token=TOKEN))
    async with TestClient(TestServer(app, host="127.0.0.1")) as api:
        live = await get_json(api, "/healthz")
        ready = await get_json(api, "/readyz", expect=503)
    assert live["status"] == ready["status"] == "behind"
    assert {c["chain"]: c["behind"] for c in ready["chains"]} == {CHAIN: False, "quiet": True}


# -- metrics ---------------------------------------------------------------------------------------------------
def _bucket(health: Decimal | None) -> str:
    if health is None:
        return "no_debt"
    for bound, label in ((1, "<1"), (Decimal("1.05"), "1-1.05"), (Decimal("1.1"), "1.05-1.1"), (Decimal("1.5"),
                                                                                                "1.1-1.5")):
        if health < bound:
            return label
    return ">=1.5"


async def test_metrics_carry_the_store(filled, api):
    response = await api.get("/metrics")
    assert response.status == 200 and response.content_type == "text/plain"
    families = {f.name: f for f in text_string_to_metric_families(await response.text())}

    def samples(name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {tuple(sorted(s.labels.items())): s.value for s in families[name].samples}

    assert samples("indexer_store_up") == {(): 1.0}
    head = latest_block(filled.engine, chain=CHAIN)
    assert samples("indexer_chain_block") == {(("chain", CHAIN),): head.number}
    assert samples("indexer_head_lag_seconds")[(("chain", CHAIN),)] >= 0
    assert samples("indexer_checkpoint_lag_blocks")[(("chain", CHAIN), ("checkpoint", "sync"))] == 0

    expected = Counter(_bucket(p.health) for p in list_positions(filled.engine))
    buckets = {dict(k)["bucket"]: v for k, v in samples("indexer_positions").items()}
    assert buckets == {b: expected.get(b, 0) for b in ("<1", "1-1.05", "1.05-1.1", "1.1-1.5", ">=1.5", "no_debt")}
    assert expected["<1"] > 0 and expected["no_debt"] > 0

    # the same positions as a Prometheus histogram: cumulative, le = at most (so histogram_quantile can use it)
    stored = list_positions(filled.engine)
    health = {dict(k)["le"]: v for k, v in samples("indexer_position_health").items() if "le" in dict(k)}
    for le, count in health.items():
        bound = float("inf") if le == "+Inf" else float(le)
        assert count == sum(1 for p in stored if p.health is None and bound == float("inf")
                            or p.health is not None and float(p.health) <= bound), le
    assert health["+Inf"] == len(stored) and health["1.0"] == sum(1 for p in stored if p.health is not None
                                                                    and p.health <= 1)
    assert "indexer_build_info" in families and "indexer_rpc_requests" in families

    feeds = Counter(o.status for o in list_oracles(filled.engine))
    assert {dict(k)["status"]: v for k, v in samples("indexer_oracle_feeds").items() if v} == feeds
    assert samples("indexer_oracle_feeds_stale_or_invalid") == {(("chain", CHAIN),): 1}

    severities = Counter((a["family"], a["severity"]) for a in list_alerts(filled.engine, open_only=True, limit=500))
    assert {(dict(k)["family"], dict(k)["severity"]): v for k, v in samples("indexer_alerts_open").items()} == \
        severities
    deliveries = Counter(d["status"] for d in list_deliveries(filled.engine, limit=100_000))
    shown = {dict(k)["status"]: v for k, v in samples("indexer_deliveries").items()}
    assert shown == {"pending": deliveries["pending"], "failed": 0, **dict(deliveries)}
    assert samples("indexer_delivery_oldest_pending_age_seconds")[()] >= 0


# -- the OpenAPI document -------------------------------------------------------------------------------------
def _aiohttp_routes(app) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        if route.method != "HEAD":
            out.add((route.resource.canonical, route.method.lower()))
    return out


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> OAS31Validator:
    return OAS31Validator({**schema, "components": spec["components"]})


async def test_openapi_document_matches_the_routes_and_every_route_answers(filled, api):
    spec = await get_json(api, "/openapi.json")
    validate_spec(spec)
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented == _aiohttp_routes(api.server.app)

    top = list_positions(filled.engine)[0]
    real = {"chain": CHAIN, "market": MARKET, "account": top.account,
            "address": "0x2222222222222222222222222222222222222222", "block": str(top.block_number)}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    order = sorted(documented, key=lambda pm: (pm[1] == "delete", pm))  # delete after the post that adds
    for path, method in order:
        operation = spec["paths"][path][method]
        parameters = operation.get("parameters", [])
        url = path
        for p in parameters:
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", str(real.get(p["name"], p.get("example"))))
        query = {p["name"]: str(p["example"]) for p in parameters if p["in"] == "query" and "example" in p}
        kwargs: dict[str, Any] = {"headers": auth if "security" in operation else {}}
        if "requestBody" in operation:
            example = dict(operation["requestBody"]["content"]["application/json"]["example"])
            kwargs["json"] = {**example, "address": real["address"]}
        for params in ({}, query):  # bare, then with every example parameter at once
            response = await api.request(method.upper(), url, params=params, **kwargs)
            assert response.status < 500, (method, url, params, await response.text())
            assert str(response.status) in operation["responses"], (method, url, params, response.status)
            content = operation["responses"][str(response.status)].get("content", {})
            if "application/json" in content:
                _validator(spec, content["application/json"]["schema"]).validate(await response.json())
    # the example filters together match nothing on the devnet, but still form a valid page
    assert (await get_json(api, "/v1/positions", max_health="1.1", price_status="FRESH"))["items"] is not None


# -- errors and limits -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("query", "parameter"), [
    ({"limit": "0"}, "limit"), ({"limit": "ten"}, "limit"), ({"max_health": "abc"}, "max_health"),
    ({"max_health": "NaN"}, "max_health"), ({"min_debt": "-1"}, "min_debt"), ({"wallet": "0x12"}, "wallet"),
    ({"price_status": "BOGUS"}, "price_status"), ({"sort": "size"}, "sort"), ({"cursor": "!!!"}, "cursor"),
    ({"cursor": "eyJ2IjoxfQ"}, "cursor"), ({"colour": "red"}, "colour"),
])
async def test_bad_parameters_are_400_json(api, query, parameter):
    body = await get_json(api, "/v1/positions", expect=400, **query)
    assert body["parameter"] == parameter and isinstance(body["error"], str)


async def test_cursor_is_tied_to_its_sort(api):
    page = await get_json(api, "/v1/positions", limit=2)
    body = await get_json(api, "/v1/positions", expect=400, sort="debt", cursor=page["next_cursor"])
    assert body["parameter"] == "cursor"


async def test_unknown_routes_methods_and_failures_are_json_without_traces(api, monkeypatch):
    body = await get_json(api, "/v2/nothing", expect=404)
    assert body == {"error": "not found", "path": "/v2/nothing"}
    response = await api.put("/v1/positions")
    assert response.status == 405 and (await response.json())["error"] == "method not allowed"
    assert "GET" in response.headers["Allow"]
    await get_json(api, "/v1/oracles", expect=400, not_fresh="maybe")
    await get_json(api, "/v1/alerts", expect=400, state="x")  # unknown parameter name

    def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret detail /home/db.sqlite password=hunter2")

    monkeypatch.setattr("indexer.api.reads.list_markets", explode)
    response = await api.get("/v1/markets")
    text = await response.text()
    assert response.status == 500 and response.content_type == "application/json"
    assert await response.json() == {"error": "internal server error"}
    assert "Traceback" not in text and "secret" not in text and "hunter2" not in text


async def test_cors_is_off_unless_configured(api, client_for):
    origin = {"Origin": "https://ui.example"}
    plain = await api.get("/v1/markets", headers=origin)
    assert "Access-Control-Allow-Origin" not in plain.headers
    assert (await api.options("/v1/markets", headers={**origin, "Access-Control-Request-Method": "GET"})).status \
        == 405

    cors = await client_for(ApiConfig(token=TOKEN, cors_origins=("https://ui.example",)))
    allowed = await cors.get("/v1/markets", headers=origin)
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    preflight = await cors.options("/v1/wallets", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status == 204 and "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    other = await cors.get("/v1/markets", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


# -- the console script ----------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_indexer_serve_answers_and_stops_cleanly_on_sigterm(filled):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG", "INDEXER_API_TOKEN")}
    env["API_TEST_HOOK_SECRET"] = "hook-secret"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "indexer", "-c", str(filled.config_path), "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        health = await response.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("indexer serve did not answer")
            assert health["chains"][0]["block_number"] == latest_block(filled.engine, chain=CHAIN).number
            async with session.post(f"http://127.0.0.1:{port}/v1/wallets", json={"address": "0x" + "33" * 20}) as r:
                assert r.status == 403  # no token in its environment
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    assert "INDEXER_API_TOKEN" in stderr.decode() and "Traceback" not in stderr.decode()


# -- property-based: schemathesis over the whole document (last: it adds and removes wallets) --------------------
FUZZ_EXAMPLES = 25  # per operation; the whole run stays within a few seconds per backend


def _addresses() -> Any:
    from eth_utils import to_checksum_address
    from hypothesis import strategies as st

    raw = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    return st.one_of(raw, raw.map(to_checksum_address), raw.map(lambda a: "0x" + a[2:].upper()))


def _account_ids() -> Any:
    from hypothesis import strategies as st

    suffix = st.from_regex(r"\A[A-Za-z0-9_.:-]{1,64}\Z").map(lambda s: ":" + s)
    return st.tuples(_addresses(), st.one_of(st.just(""), suffix)).map("".join)


def _fuzz(spec: dict[str, Any], base_url: str) -> None:
    """Generated requests for every documented operation: never a 5xx, and every response conforms to the
    document (status, content type, body schema; schema-valid requests accepted). Runs in a worker thread:
    schemathesis calls are blocking."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schemathesis.openapi.format("eth-address", _addresses())
    schemathesis.openapi.format("account-id", _account_ids())
    schema = schemathesis.openapi.from_dict(spec)
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            # What a schema cannot say: a cursor must come from a previous page, and critical ≤ warn.
            if case.query:
                case.query.pop("cursor", None)
            body = case.body if isinstance(case.body, dict) else {}
            if body.get("warn") is not None and body.get("critical") is not None and \
                    Decimal(str(body["critical"])) > Decimal(str(body["warn"])):
                body["warn"], body["critical"] = body["critical"], body["warn"]
            case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"})

        check()


async def test_schemathesis_finds_no_server_error_or_nonconforming_response(api):
    spec = await get_json(api, "/openapi.json")
    base_url = str(api.make_url("")).rstrip("/")
    await asyncio.to_thread(_fuzz, spec, base_url)
