"""Hyperliquid end to end against a loopback venue (``tests/fixtures/hyperliquid_venue.py``: the venue's
documented ``/info`` shapes and margin rules, written independently of the indexer, since Hyperliquid ships no
code to run), on SQLite and Postgres: `indexer sync` and `indexer run`'s venue pipeline store each tracked
account's cross margin account; its health is the venue's accountValue / crossMaintenanceMarginUsed to the
last unit, and each liquidation point agrees with the venue's own verdict at that mark and one tick beyond."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address

from indexer.protocols.base import MarketRef
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter
from indexer.settings import load_settings
from indexer.store.alert_store import list_alerts
from indexer.store.models import Alert, MarginChange
from indexer.store.position_store import list_positions, position_legs
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once
from indexer.types import Role
from indexer.venue.pipeline import VenuePipeline
from tests.fixtures.db import rows
from tests.fixtures.hyperliquid_venue import Account, Asset, Held, HyperliquidVenue

ACCOUNTS = 40
LONG_TERM = 150_000_000  # BTC's second margin tier starts at this notional (USD)


def address(i: int) -> str:
    return to_checksum_address(keccak(text=f"hyperliquid-test/{i}")[12:])


def populate(venue: HyperliquidVenue) -> dict[str, Account]:
    venue.assets = {
        "BTC": Asset("BTC", 5, Decimal("60000"), 56),
        "ETH": Asset("ETH", 4, Decimal("3000.5"), 55),
        "SOL": Asset("SOL", 2, Decimal("150.25"), 20),
        "DOGE": Asset("DOGE", 0, Decimal("0.15123"), 10),
    }
    venue.tables = {56: [(Decimal(0), 40), (Decimal(LONG_TERM), 20)],
                    55: [(Decimal(0), 25), (Decimal(100_000_000), 15)]}
    rng = random.Random(11)
    sizes = {"BTC": ("0.5", "3"), "ETH": ("2", "40"), "SOL": ("50", "900"), "DOGE": ("10000", "500000")}
    accounts: dict[str, Account] = {}
    for i in range(ACCOUNTS):
        held = []
        for coin in rng.sample(sorted(venue.assets), rng.randint(1, 3)):
            low, high = (Decimal(x) for x in sizes[coin])
            places = venue.assets[coin].sz_decimals
            size = (low + (high - low) * Decimal(rng.random())).quantize(Decimal(1).scaleb(-places))
            held.append(Held(coin, size if rng.random() < 0.6 else -size, venue.assets[coin].mark, 10))
        if i == 0:  # a whale in BTC's second margin tier
            held = [Held("BTC", Decimal("3000"), Decimal("60000"), 10)]
        maintenance = sum((venue.maintenance(h.coin, abs(h.size) * venue.assets[h.coin].mark) for h in held),
                          Decimal(0))
        exposure = sum((h.size * venue.assets[h.coin].mark for h in held), Decimal(0))
        # cash so that health spreads from 0.8 to 4: some accounts are already liquidatable
        target = maintenance * Decimal(str(round(0.8 + 3.2 * rng.random(), 3)))
        account = Account((target - exposure).quantize(Decimal("0.000001")), held)
        if i == 1:  # an isolated ETH long beside the cross book
            account.positions.append(Held("ETH", Decimal("0.0335"), Decimal("2986.3"), 20, isolated=True,
                                          raw_usd=Decimal("-95.059824")))
        accounts[address(i).lower()] = account
    venue.accounts = accounts
    return accounts


@pytest.fixture
async def venue() -> AsyncIterator[HyperliquidVenue]:
    v = await HyperliquidVenue().start()
    populate(v)
    yield v
    await v.stop()


def write_config(tmp_path: Path, venue_url: str, db_url: str, *, max_age: int = 60) -> Path:
    config = tmp_path / "hl.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n\n[run]\nlisten = "127.0.0.1:0"\n\n'
                      f'[venues.hyperliquid]\nurl = "{venue_url}"\nmax_age = {max_age}\npoll_interval = 0.2\n\n'
                      '[markets.hl-main]\nchain = "hyperliquid"\nprotocol = "hyperliquid"\n')
    return config


def venue_raw_health(venue: HyperliquidVenue, account: str) -> int | None:
    """The venue's own printed figures, as the indexer must store them: accountValue / crossMaintenanceMarginUsed."""
    state = venue.clearinghouse(account)
    value = Decimal(state["crossMarginSummary"]["accountValue"])
    maint = Decimal(state["crossMaintenanceMarginUsed"])
    if maint == 0:
        return None
    return max(int(value * 10**6) * 10**18 // int(maint * 10**6), 0)


async def test_every_account_equals_the_venue_and_liquidation_points_match_its_verdict(venue, tmp_path, db_url,
                                                                                       engine):
    settings = load_settings(write_config(tmp_path, venue.url, db_url))
    for i in range(ACCOUNTS):
        add_wallet(engine, address=address(i), label=f"hl-{i}")
    (read,) = await sync_once(settings, engine)
    # every wallet's cross account, and the isolated ETH long of wallet 1 as an account of its own
    assert read.chain == "hyperliquid" and read.block.number == 1 and len(read.snapshots) == ACCOUNTS + 1
    stored = {p.account: p for p in list_positions(engine)}
    assert len(stored) == ACCOUNTS + 1
    liquidatable = 0
    for i in range(ACCOUNTS):
        account = address(i)
        position = stored[account]
        expected = venue_raw_health(venue, account.lower())
        assert position.health_raw == expected, account
        assert position.price_status == "FRESH" and position.margin_mode == "cross" and position.quote == "USDC"
        liquidatable += venue.liquidatable(account.lower())
        assert (position.health is not None and position.health < 1) == venue.liquidatable(account.lower())
    assert 0 < liquidatable < ACCOUNTS  # both sides of the line are exercised

    # legs round-trip with sizes, sides and marks in the venue's lot and tick units
    legs = position_legs(engine, snapshot_id=stored[address(0)].snapshot_id)
    assert [(leg.symbol, leg.role, leg.amount, leg.price, leg.price_decimals) for leg in legs] == [
        ("BTC", "long", 3000 * 10**5, 600_000, 1)]  # 3000 BTC at 60000.0
    assert legs[0].price_time is not None

    # liquidation points agree with the venue's verdict at the point and one tick beyond, both directions
    source = HyperliquidAdapter(MarketRef(key="hl-main", chain="hyperliquid", address="", options={"dex": ""}))
    by_account = {s.account: s for s in read.snapshots}
    checked = {"long": 0, "short": 0, "tiered": 0}
    for i in range(ACCOUNTS):
        snapshot = by_account[address(i)]
        if snapshot.health.liquidatable:
            continue
        points = source.liquidation_points(snapshot)
        for leg in snapshot.legs:
            point = points.get(leg.price_key)
            if point is None:
                continue
            asset = venue.assets[leg.symbol]
            original = asset.mark
            tick = Decimal(1).scaleb(-leg.price_decimals)
            asset.mark = Decimal(point.price) * tick
            try:
                assert not venue.liquidatable(address(i).lower()), (i, leg.symbol, point)
                asset.mark += -tick if point.falling else tick
                assert venue.liquidatable(address(i).lower()), (i, leg.symbol, point)
            finally:
                asset.mark = original
            checked["long" if leg.role == Role.LONG else "short"] += 1
            checked["tiered"] += i == 0
    assert checked["long"] >= 10 and checked["short"] >= 5 and checked["tiered"] == 1, checked

    # the isolated position: its own account, owned by wallet 1, liquidated where the venue says
    iso = by_account[f"{address(1)}:ETH"]
    stored_iso = stored[f"{address(1)}:ETH"]
    assert (stored_iso.owner, stored_iso.margin_mode, stored_iso.wallet_label) == (address(1), "isolated", "hl-1")
    assert iso.health.equity == iso.detail["margin_used"]  # rawUsd + size × mark = the venue's marginUsed
    (leg,) = iso.legs
    point = source.liquidation_points(iso)[leg.price_key]
    venue_px = Decimal(iso.detail["venue_liquidation_px"])
    assert Decimal(point.price - 1) / 100 < venue_px <= Decimal(point.price) / 100
    eth = venue.assets["ETH"]
    for mark, liquidatable in ((point.price, False), (point.price - 1, True)):
        eth.mark = Decimal(mark) / 100
        assert venue.isolated_liquidatable(address(1).lower(), "ETH") is liquidatable
    assert {p.account for p in list_positions(engine, wallet=address(1))} == {address(1), f"{address(1)}:ETH"}


async def test_stale_venue_time_marks_every_position_stale(venue, tmp_path, db_url, engine):
    settings = load_settings(write_config(tmp_path, venue.url, db_url, max_age=60))
    for i in range(5):
        add_wallet(engine, address=address(i), label=None)
    venue.time_ms = int((time.time() - 300) * 1000)  # the venue's state is five minutes old
    (read,) = await sync_once(settings, engine)
    assert {s.price_status for s in read.snapshots} == {"STALE"}
    assert {p.price_status for p in list_positions(engine)} == {"STALE"}
    assert read.block.timestamp == venue.time_ms // 1000


async def test_the_venue_pipeline_stores_one_snapshot_per_poll_and_raises_alerts(venue, tmp_path, db_url, engine):
    settings = load_settings(write_config(tmp_path, venue.url, db_url))
    for i in range(ACCOUNTS):
        add_wallet(engine, address=address(i), label=None)
    pipeline = VenuePipeline(settings, engine, "hyperliquid", channels={})
    try:
        assert await pipeline.step() == 1
        btc = venue.assets["BTC"]
        btc.mark = btc.mark * Decimal("0.7")  # a crash: longs in BTC go under
        crash = await pipeline.poll()
        assert pipeline.last_stored == 2
        assert pipeline.session.stats.by_type["meta"] == 1  # the dex's meta is kept between polls
    finally:
        await pipeline.close()
    positions = {p.account: p for p in list_positions(engine) if p.margin_mode == "cross"}
    assert {p.block_number for p in positions.values()} == {2}
    for i in range(ACCOUNTS):
        assert positions[address(i)].health_raw == venue_raw_health(venue, address(i).lower())
    under = {address(i) for i in range(ACCOUNTS) if venue.liquidatable(address(i).lower())}
    alerted = {a["account"] for a in list_alerts(engine, open_only=True) if a["severity"] == "LIQUIDATABLE"}
    assert under and under <= alerted
    # the message names the largest perp (side, size, mark) and the mark at which it liquidates
    from indexer.alerts.format import text

    whale = next(m for m in crash.alerts.messages if m.account == address(0) and m.severity == "LIQUIDATABLE")
    said = text(whale)
    assert whale.perp is not None and (whale.perp.side, whale.perp.size, whale.perp.symbol) == ("long", "3000", "BTC")
    assert "long 3000 BTC · mark 42,000.00 USDC" in said and "equity" in said, said
    assert whale.liquidation_price is not None and not Decimal(whale.liquidation_price.price) < btc.mark
    shown = Decimal(whale.liquidation_price.price).quantize(Decimal("0.01"), rounding="ROUND_CEILING")
    assert f"BTC liquidates below {shown:,} USDC" in said


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    env["INDEXER_CONFIG"] = str(config)
    return subprocess.run([sys.executable, "-m", "indexer", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.one_database("sqlite")  # the CLI's output and exit codes; the venue store's are the tests above
async def test_cli_sync_positions_json_and_a_venue_that_fails(venue, tmp_path, db_url, engine):
    config = write_config(tmp_path, venue.url, db_url)
    for i in range(3):
        add_wallet(engine, address=address(i), label=f"hl-{i}")
    done = await _async_cli(config, "sync")
    assert done.returncode == 0, done.stderr
    # three cross accounts and wallet 1's isolated ETH long; one meta and three clearinghouseState requests
    assert "hyperliquid: venue snapshot 1 · 4 positions · 4 venue requests" in done.stdout
    shown = await _async_cli(config, "positions", "--json")
    assert shown.returncode == 0, shown.stderr
    rows = {row["account"]: row for row in json.loads(shown.stdout)}
    assert rows[address(0)]["margin_mode"] == "cross" and rows[address(0)]["quote"] == "USDC"
    assert rows[address(0)]["health_raw"] == str(venue_raw_health(venue, address(0).lower()))
    isolated = rows[f"{address(1)}:ETH"]
    assert (isolated["owner"], isolated["margin_mode"], isolated["label"]) == (address(1), "isolated", "hl-1")
    (line,) = isolated["perps"]
    assert (line["side"], line["size"], line["symbol"], line["margin_mode"], line["liquidates"]) == \
           ("long", "0.0335", "ETH", "isolated", "below")
    venue_px = venue.clearinghouse(address(1).lower())["assetPositions"][-1]["position"]["liquidationPx"]
    # the recomputed liquidation price and the venue's printed one name the same tick
    assert abs(Decimal(line["liquidation_price"]) - Decimal(venue_px)) < Decimal("0.1"), (line, venue_px)
    shorts = await _async_cli(config, "positions", "--side", "short", "--json")
    short_rows = json.loads(shorts.stdout)
    assert short_rows and all(any(p["side"] == "short" for p in row["perps"]) for row in short_rows)
    assert {row["account"] for row in short_rows} == {
        a for a, row in rows.items() if any(p["side"] == "short" for p in row["perps"])}
    table = await _async_cli(config, "positions")
    assert "Perp positions" in table.stdout and "isolated" in table.stdout, table.stdout
    none = await _async_cli(config, "positions", "--margin-mode", "isolated", "--side", "short")
    assert none.returncode == 0 and "no match for these filters (margin mode isolated, side short; " in none.stderr

    before = len(list_positions(engine))
    venue.garbage = True
    failed = await _async_cli(config, "sync")
    assert failed.returncode != 0
    assert failed.stderr.strip().count("\n") == 0 and "not JSON" in failed.stderr, failed.stderr
    venue.garbage, venue.lie = False, True
    failed = await _async_cli(config, "sync")
    assert failed.returncode != 0 and "no assetPositions" in failed.stderr, failed.stderr
    venue.lie, venue.status = False, 500
    failed = await _async_cli(config, "sync")
    assert failed.returncode != 0 and "HTTP 500" in failed.stderr, failed.stderr
    assert len(list_positions(engine)) == before
    assert {p.block_number for p in list_positions(engine)} == {1}  # nothing half-written


async def _async_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import asyncio

    return await asyncio.to_thread(_cli, config, *args)


async def test_an_account_that_closes_everything_leaves_the_latest_positions(venue, tmp_path, db_url, engine):
    settings = load_settings(write_config(tmp_path, venue.url, db_url))
    for i in range(3):
        add_wallet(engine, address=address(i), label=None)
    pipeline = VenuePipeline(settings, engine, "hyperliquid", channels={})
    try:
        await pipeline.step()
        assert {p.account for p in list_positions(engine)} == {address(0), address(1), address(2),
                                                              f"{address(1)}:ETH"}
        wallet1 = venue.accounts[address(1).lower()]
        wallet1.positions = [h for h in wallet1.positions if not h.isolated]  # the isolated ETH long is closed
        venue.accounts[address(2).lower()] = Account(Decimal(0))  # closes everything and withdraws
        (read,) = [await pipeline.poll()]
        assert sorted(s.account for s in read.closed) == sorted([address(2), f"{address(1)}:ETH"])
    finally:
        await pipeline.close()
    assert {p.account for p in list_positions(engine)} == {address(0), address(1)}


async def test_every_perp_dex_builder_deployed_ones_included(venue, tmp_path, db_url, engine):
    """``dex = "*"``: the dexes `perpDexs` lists, each with its own meta and clearinghouse; a wallet's cross account
    on a builder dex is ``0xWallet:DEX``, its coins ``DEX:COIN``."""
    xyz = HyperliquidVenue()
    xyz.assets = {"xyz:GOLD": Asset("xyz:GOLD", 3, Decimal("2400.5"), 20)}
    xyz.accounts = {address(0).lower(): Account(Decimal("-20000"), [Held("xyz:GOLD", Decimal("10.0"),
                                                                            Decimal("2400.5"), 5)])}
    venue.builders["xyz"] = xyz
    config = write_config(tmp_path, venue.url, db_url)
    config.write_text(config.read_text() + 'options = { dex = "*" }\n')
    settings = load_settings(config)
    for i in range(2):
        add_wallet(engine, address=address(i), label=None)
    (read,) = await sync_once(settings, engine)
    stored = {p.account: p for p in list_positions(engine)}
    assert set(stored) == {address(0), address(1), f"{address(1)}:ETH", f"{address(0)}:xyz"}
    gold = stored[f"{address(0)}:xyz"]
    assert gold.owner == address(0) and gold.detail["dex"] == "xyz"
    state = xyz.clearinghouse(address(0).lower())
    expected = int(Decimal(state["crossMarginSummary"]["accountValue"]) * 10**6) * 10**18 // int(
        Decimal(state["crossMaintenanceMarginUsed"]) * 10**6)
    assert gold.health_raw == expected
    (leg,) = next(s for s in read.snapshots if s.account == f"{address(0)}:xyz").legs
    # 10.000 GOLD at 2400.500 (szDecimals 3: 3 price decimals)
    assert (leg.symbol, leg.price_key, leg.amount, leg.price) == ("xyz:GOLD", "hyperliquid:xyz:GOLD", 10_000,
                                                                  2_400_500)
    asked = [body for _, body in venue.requests]
    assert sum(1 for b in asked if b["type"] == "perpDexs") == 1
    assert {b.get("dex") for b in asked if b["type"] == "clearinghouseState"} == {"", "xyz"}


async def test_bad_venue_answers_are_one_line_each_and_the_last_snapshot_ages_stale(venue, tmp_path, db_url, engine,
                                                                                     caplog):
    """Malformed JSON, JSON of the wrong shape, a 5xx, a hang past the timeout, an unknown dex: each poll fails with
    one readable line and stores nothing; the last snapshot stays (its venue time with it) and turns STALE once it is
    older than ``max_age``. A wallet holding a coin missing from ``meta`` is left out of that poll alone: its
    accounts keep their last figures, marked STALE, and nobody else's are held back."""
    from indexer.errors import IndexerError

    config = write_config(tmp_path, venue.url, db_url, max_age=1)
    config.write_text(config.read_text().replace("poll_interval = 0.2\n", "poll_interval = 0.2\ntimeout = 1\n"))
    settings = load_settings(config)
    wallets = [address(i) for i in range(6)]
    for wallet in wallets:
        add_wallet(engine, address=wallet, label=None)
    pipeline = VenuePipeline(settings, engine, "hyperliquid", channels={})
    pipeline.session.retries = 0  # a 5xx is retried by the session (tests/unit/test_venue_session.py); here it fails
    try:
        await pipeline.step()
        first = {p.account: p for p in list_positions(engine)}
        assert {p.price_status for p in first.values()} == {"FRESH"}
        time.sleep(1.2)  # what is stored is now older than max_age
        failures = [("garbage", True, False, "not JSON"), ("lie", True, False, "no assetPositions"),
                    ("status", 500, None, "HTTP 500"), ("hang", 1.5, 0.0, "did not answer meta: TimeoutError")]
        pipeline.hints.clear()  # ask the meta again each time, so every failure mode meets the first request
        stale_lines = []
        for attribute, value, normal, says in failures:
            setattr(venue, attribute, value)
            caplog.clear()
            with pytest.raises(IndexerError) as failed:
                await pipeline.step()
            setattr(venue, attribute, normal)
            assert says in str(failed.value) and "\n" not in str(failed.value), (attribute, str(failed.value))
            stored = {p.account: p for p in list_positions(engine)}
            assert {a: (p.block_number, p.block_timestamp, p.health_raw) for a, p in stored.items()} == \
                   {a: (p.block_number, p.block_timestamp, p.health_raw) for a, p in first.items()}  # nothing written
            assert {p.price_status for p in stored.values()} == {"STALE"}, attribute
            stale_lines += [r.getMessage() for r in caplog.records if "venue positions stale" in r.getMessage()]
        # one line, at the first failure: the later ones find nothing fresh left to age
        assert stale_lines == [f"venue positions stale venue=hyperliquid positions={len(first)} older_than=1s"]

        held = {coin for w in wallets for coin in (h.coin for h in venue.accounts[w.lower()].positions)}
        coin = next(c for c in sorted(held) if not all(c in {h.coin for h in venue.accounts[w.lower()].positions}
                                                            for w in wallets))
        holders = {w for w in wallets if coin in {h.coin for h in venue.accounts[w.lower()].positions}}
        venue.hidden = {coin}
        caplog.clear()
        await pipeline.step()
        missing = [r.getMessage() for r in caplog.records if "coin missing from meta" in r.getMessage()]
        assert len(missing) == len(holders) and all(coin in line for line in missing)
        stored = {p.account: p for p in list_positions(engine)}
        assert set(stored) == set(first)  # nobody taken for closed
        for account, p in stored.items():
            if p.owner in holders:
                assert (p.block_number, p.price_status) == (first[account].block_number, "STALE"), account
            else:
                assert (p.block_number, p.price_status) == (pipeline.last_stored, "FRESH"), account
    finally:
        await pipeline.close()

    nowhere = write_config(tmp_path, venue.url, db_url)
    nowhere.write_text(nowhere.read_text() + 'options = { dex = "nope" }\n')
    lost = VenuePipeline(load_settings(nowhere), engine, "hyperliquid", channels={})
    try:
        with pytest.raises(IndexerError, match=r"refused meta: HTTP 422: .*unknown dex nope") as failed:
            await lost.step()
        assert "\n" not in str(failed.value)
    finally:
        await lost.close()


async def test_a_429_slows_the_poller_down_and_loses_no_account(venue, tmp_path, db_url, engine):
    settings = load_settings(write_config(tmp_path, venue.url, db_url))
    for i in range(ACCOUNTS):
        add_wallet(engine, address=address(i), label=None)
    pipeline = VenuePipeline(settings, engine, "hyperliquid", channels={})
    try:
        await pipeline.step()
        calm = pipeline.session.stats.copy()
        venue.busy, venue.busy_after = 2, 1  # over the limit: two refusals, each asking for a second's pause
        venue.requests.clear()
        await pipeline.step()
        busy = pipeline.session.stats
    finally:
        await pipeline.close()
    assert busy.throttled - calm.throttled == 2
    asked: dict[str, list[float]] = {}
    for at, body in venue.requests:
        asked.setdefault(body.get("user", ""), []).append(at)
    retried = {user: times for user, times in asked.items() if len(times) > 1}
    assert len(retried) == 2  # each refused request went again, after at least its Retry-After
    assert all(later - first >= 1.0 for first, later in retried.values())
    cross = {p.account: p for p in list_positions(engine) if p.margin_mode == "cross"}
    assert len(cross) == ACCOUNTS and {p.block_number for p in cross.values()} == {2}
    for i in range(ACCOUNTS):
        assert cross[address(i)].health_raw == venue_raw_health(venue, address(i).lower())


async def test_a_position_flipping_side_flips_its_leg_and_its_liquidation_direction(venue, tmp_path, db_url, engine):
    """A cross account's ETH long becomes a short between two polls: the stored leg turns short, the health equals the
    venue's figures again, and its liquidation price now lies above the mark (a short liquidates as the price rises),
    where the venue's own verdict flips."""
    from indexer.health.perps import stored_perp_lines

    settings = load_settings(write_config(tmp_path, venue.url, db_url))
    wallet = address(7)
    eth = venue.assets["ETH"]
    venue.accounts[wallet.lower()] = Account(Decimal("-25000"), [Held("ETH", Decimal("10"), eth.mark, 10)])
    add_wallet(engine, address=wallet, label=None)
    pipeline = VenuePipeline(settings, engine, "hyperliquid", channels={})
    try:
        await pipeline.step()
        (before,) = [p for p in list_positions(engine) if p.account == wallet]
        (line,) = stored_perp_lines(engine, settings=settings, views=[before])[before.snapshot_id]
        assert (line.side, line.falling) == ("long", True)
        assert line.liquidation is not None and line.liquidation < eth.mark
        venue.accounts[wallet.lower()] = Account(Decimal("36000"), [Held("ETH", Decimal("-8"), eth.mark, 10)])
        await pipeline.step()
    finally:
        await pipeline.close()
    (after,) = [p for p in list_positions(engine) if p.account == wallet]
    assert after.block_number == before.block_number + 1
    assert after.health_raw == venue_raw_health(venue, wallet.lower())
    (leg,) = position_legs(engine, snapshot_id=after.snapshot_id)
    assert (leg.role, leg.amount) == (Role.SHORT, 8 * 10**4)  # szDecimals 4
    (line,) = stored_perp_lines(engine, settings=settings, views=[after])[after.snapshot_id]
    assert (line.side, line.falling) == ("short", False)
    assert line.liquidation is not None and line.liquidation > eth.mark
    eth.mark = line.liquidation
    assert not venue.liquidatable(wallet.lower())
    eth.mark += Decimal("0.01")  # one tick up (ETH's marks have 6 - 4 = 2 places)
    assert venue.liquidatable(wallet.lower())


async def test_a_lowered_max_leverage_is_stored_and_alerted_per_position(venue, tmp_path, db_url, engine,
                                                                        monkeypatch):
    """Dynamic margin on the venue, through the pipeline `indexer run` polls with: BTC's margin table has its first
    tier's max leverage cut from 40x to 20x in the venue's ``meta`` (maintenance rate 1/80 → 1/40; the whale in the
    second tier sees it through the tier's deduction). The next poll asks ``meta`` again (``META_SECONDS``, set to 0
    here rather than waiting a minute) and stores one change per account holding BTC, with the old and new
    leverage and the health before (the old tiers, the same marks) and after, which is the venue's own figure; one
    `margin` alert each; accounts without BTC see nothing; a poll without a change adds nothing."""
    from indexer.protocols.hyperliquid import adapter as hl

    monkeypatch.setattr(hl, "META_SECONDS", 0.0)
    settings = load_settings(write_config(tmp_path, venue.url, db_url))
    for i in range(ACCOUNTS):
        add_wallet(engine, address=address(i), label=None)
    pipeline = VenuePipeline(settings, engine, "hyperliquid", channels={})
    try:
        first = await pipeline.poll()
        before = {p.account: p for p in list_positions(engine)}
        holders = {account for account, p in before.items()
                   if any(g.symbol == "BTC" for g in position_legs(engine, snapshot_id=p.snapshot_id))}
        assert address(0) in holders and len(holders) < len(before)
        venue.tables[56] = [(Decimal(0), 20), (Decimal(LONG_TERM), 20)]
        second = await pipeline.poll()
        await pipeline.poll()  # nothing changed since: nothing new
    finally:
        await pipeline.close()
    changes = rows(engine, MarginChange)
    assert {c["account"] for c in changes} == holders and len(changes) == len(holders)
    assert {c["block_number"] for c in changes} == {second.block.number}
    after = {p.account: p for p in list_positions(engine)}
    source = HyperliquidAdapter(MarketRef(key="hl-main", chain="hyperliquid", address="", options={"dex": ""}))
    recomputed = {s.account: source.health_at(s, {}).health for s in first.snapshots}
    for change in changes:
        account = change["account"]
        assert (change["parameter"], change["asset"], int(change["old_value"]), int(change["new_value"])) == (
            "max_leverage_0", "BTC", 40, 20)
        # the old tiers, the same marks: the health the documented tiers give (the stored figure is the venue's
        # printed accountValue / crossMaintenanceMarginUsed, a few 1e-10 away)
        assert change["health_before"] == recomputed[account]
        assert abs(change["health_before"] - before[account].health) < Decimal("1e-8")
        assert change["health_after"] == after[account].health < change["health_before"]
        assert after[account].health_raw == venue_raw_health(venue, account.lower())  # the venue's own figure
    assert all(after[a].health == before[a].health for a in set(before) - holders)
    alerts = rows(engine, Alert, family="margin")
    assert {a["account"] for a in alerts} == holders
