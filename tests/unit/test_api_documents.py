"""Pure pieces of the HTTP API: the OpenAPI document against the route table, the dashboard's HTML,
/healthz's lag verdict and the metrics collector (fed a fixed store snapshot)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiohttp import web
from openapi_spec_validator import validate as validate_spec
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from indexer.api import dashboard, metrics
from indexer.api.config import api_config
from indexer.api.health import chain_status
from indexer.api.openapi import document
from indexer.api.routes import add_routes
from indexer.store.chain_store import ChainHead
from indexer.store.summary import StoreMetrics
from indexer.store.views import OracleView, PositionView

NOW = 1_800_000_000
ACCOUNT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_openapi_document_is_valid_and_lists_exactly_the_routes():
    spec = document()
    validate_spec(spec)
    app = web.Application()
    add_routes(app)
    routes = {(r.resource.canonical, r.method.lower()) for r in app.router.routes() if r.method != "HEAD"}
    assert routes == {(path, method) for path, item in spec["paths"].items() for method in item}
    for path, item in spec["paths"].items():
        for operation in item.values():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == {part[1:-1] for part in path.split("/") if part.startswith("{")}
            assert "500" in operation["responses"] or path in ("/healthz", "/openapi.json")


def test_config_reads_settings_section_and_environment():
    from indexer.settings import Settings

    settings = Settings(api={"token_env": "MY_TOKEN", "cors_origins": ["https://a.example"], "max_lag_seconds": 0})
    config = api_config(settings, {"MY_TOKEN": "t", "INDEXER_API_TOKEN": "other"})
    assert (config.token, config.token_env, config.cors_origins, config.max_lag_seconds) == (
        "t", "MY_TOKEN", ("https://a.example",), 0)
    default = api_config(Settings(), {})
    assert default.token is None and default.token_env == "INDEXER_API_TOKEN" and default.cors_origins == ()
    assert api_config(Settings(), {"INDEXER_API_TOKEN": ""}).token is None  # empty means not configured


@pytest.mark.parametrize(("timestamp", "behind", "since"), [
    (NOW - 10, False, 10), (NOW - 300, False, 300), (NOW - 301, True, 301), (NOW + 50, False, 0), (None, True, None)])
def test_chain_status_lag(timestamp, behind, since):
    head = ChainHead("eth", None if timestamp is None else 5, None, timestamp, {"sync": 5} if timestamp else {})
    status = chain_status(head, NOW, 300)
    assert status["behind"] is behind and status["seconds_since_block"] == since
    assert status["checkpoint"] == (5 if timestamp else None)


def _snapshot() -> StoreMetrics:
    return StoreMetrics(
        heads=[ChainHead("eth", 100, "0x" + "ab" * 32, NOW - 30, {"sync": 100, "discovery:aave": 90}),
               ChainHead("base", None, None, None, {})],
        health_buckets=[("eth", "aave", "<1", 2), ("eth", "aave", "no_debt", 5), ("eth", "aave", ">=1.5", 7)],
        feeds=[("eth", "FRESH", 4), ("eth", "STALE", 2), ("eth", "INVALID", 1)],
        open_alerts=[("eth", "health", "CRITICAL", 3), ("eth", "oracle", "STALE", 1)],
        deliveries=[("hook", "delivered", 9), ("hook", "failed", 1)],
        oldest_pending_delivery=None,
    )


def _scrape(collector) -> dict[str, dict[tuple, float]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
            for f in text_string_to_metric_families(text)}


def test_collector_reports_the_snapshot_with_zeros_filled_in(monkeypatch):
    monkeypatch.setattr(metrics, "store_metrics", lambda engine, chains, **_: _snapshot())
    got = _scrape(metrics.StoreCollector(lambda: None, ["base", "eth"], ["hook", "pager"], clock=lambda: NOW))
    assert got["indexer_store_up"] == {(): 1}
    assert got["indexer_chain_block"] == {(("chain", "eth"),): 100}
    assert got["indexer_head_lag_seconds"] == {(("chain", "eth"),): 30}
    assert got["indexer_checkpoint_lag_blocks"] == {(("chain", "eth"), ("checkpoint", "discovery:aave")): 10,
                                                    (("chain", "eth"), ("checkpoint", "sync")): 0}
    buckets = {dict(k)["bucket"]: v for k, v in got["indexer_positions"].items()}
    assert buckets == {"<1": 2, "1-1.05": 0, "1.05-1.1": 0, "1.1-1.5": 0, ">=1.5": 7, "no_debt": 5}
    assert got["indexer_oracle_feeds_stale_or_invalid"] == {(("chain", "base"),): 0, (("chain", "eth"),): 3}
    assert got["indexer_oracle_feeds"][(("chain", "base"), ("status", "STALE"))] == 0
    assert got["indexer_alerts_open"][(("chain", "eth"), ("family", "health"), ("severity", "CRITICAL"))] == 3
    assert got["indexer_deliveries"] == {
        (("channel", "hook"), ("status", "delivered")): 9, (("channel", "hook"), ("status", "failed")): 1,
        (("channel", "hook"), ("status", "pending")): 0, (("channel", "pager"), ("status", "failed")): 0,
        (("channel", "pager"), ("status", "pending")): 0}
    assert got["indexer_delivery_oldest_pending_age_seconds"] == {(): 0}


def test_collector_says_so_when_the_store_is_down(monkeypatch):
    def down(engine, chains, **_):
        raise OperationalError("select 1", {}, Exception("connection refused"))

    monkeypatch.setattr(metrics, "store_metrics", down)
    got = _scrape(metrics.StoreCollector(lambda: None, ["eth"]))
    assert got == {"indexer_store_up": {(): 0}}


def _position(label: str | None, health: str | None) -> PositionView:
    return PositionView(
        chain="eth", protocol="aave_v3", market="aave<main>", market_address=ACCOUNT, account=ACCOUNT, owner=ACCOUNT,
        wallet_label=label, snapshot_id=1, block_number=100, block_hash="0x" + "ab" * 32, block_timestamp=NOW,
        health_raw=0, health_decimals=18, health=None if health is None else Decimal(health),
        equity=80_000_00000000, requirement=100_00000000, collateral_value=123_456_789_00000000,
        debt_value=100_00000000, quote="USD", quote_unit=10**8, margin_mode="cross",
        detail={"liquidation_threshold": 8000, "ltv": 7500, "available_borrows": 0}, price_status="STALE",
        updated_at=datetime.now(UTC))


def test_dashboard_escapes_and_renders_everything():
    hostile = "<script>alert('x')</script>"
    oracle = OracleView(chain="eth", key="0xfeed", kind="chainlink", asset=None, symbol="<b>DAI</b>",
                        description=None, decimals=8, heartbeat=3600, heartbeat_source="default", deviation=None,
                        aggregator=None, block_number=100, block_timestamp=NOW, round_id=1, answer=1,
                        updated_at=NOW - 4000, status="STALE", reason="age 4000s > heartbeat 3600s & more", age=4000)
    alert = {"id": "a", "severity": "CRITICAL", "status": "open", "account": ACCOUNT, "health": Decimal("1.02"),
             "family": "health", "updated_block": 100}
    data = dashboard.DashboardData(positions=[_position(hostile, "0.99996")], metrics=_snapshot(),
                                   oracles=[oracle], alerts=[alert])
    page = dashboard.render(data, now=NOW, refresh=15, max_lag=300)
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>DAI" not in page
    assert "aave&lt;main&gt;" in page and "&amp; more" in page
    assert '<meta http-equiv="refresh" content="15">' in page and 'name="viewport"' in page
    assert ">0.9999<" in page  # rounded down, never up to a safer-looking 1.0000
    assert ">123,456,789<" in page and ">100<" in page
    assert "eth · block 100 · 30s ago" in page and "base: nothing stored yet" in page
    chart = dashboard.health_chart({"<1": 2, "no_debt": 5})
    assert chart.count("<rect") == 6 and ">2<" in chart and ">5<" in chart
