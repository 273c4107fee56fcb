"""Silences and acknowledgements on real devnet alerts: a silenced wallet's events are stored with their outbox rows
marked `silenced` (never claimed), everyone else's go out as usual; an acknowledged alert's de-escalation is held
back, its escalation and its resolution are not. Through the CLI and the API as people use them."""

import json
import os
import subprocess
import sys
import time

import pytest
from aiohttp import ClientSession, web

from indexer.api.app import make_app
from indexer.api.config import ApiConfig
from indexer.settings import load_settings
from indexer.store.alert_store import SILENCED, acknowledge_alert, add_silence, alert_ids_starting, list_alerts
from indexer.store.models import AlertEvent, Delivery
from indexer.sync import sync_once
from tests.integration.test_alerts_devnet import health_walker, rows

HOOK = '[channels.hook]\nkind = "webhook"\nbase_url = "http://127.0.0.1:9/hook"\nsecret_env = "HOOK_SECRET"\n'


def deliveries_of(engine, account: str, kind: str) -> list[dict]:
    events = {e["id"]: e for e in rows(engine, AlertEvent)}
    out = []
    for d in rows(engine, Delivery):
        event = events[d["event_id"]]
        message = json.loads(event["message"])
        if message["account"] == account and event["kind"] == kind:
            out.append(d)
    return out


async def test_a_silenced_wallet_is_stored_not_sent_and_an_ack_holds_back_only_deescalations(
        devnet, chain_state, write_devnet_config, engine, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    config = load_settings(write_devnet_config(tail=HOOK))
    target, move_to = await health_walker(devnet, engine, config)
    move_to("1.5")
    await sync_once(config, engine)
    now = time.time()
    silence = add_silence(engine, chain=None, market="devnet-aave-v3", wallet=target.account, starts_at=now - 1,
                          ends_at=now + 3600, reason="maintenance", created_by="test")
    move_to("1.08")  # WARN for the target, and for whoever else the move takes below 1.1
    (read,) = await sync_once(config, engine)
    opened = [m for m in read.alerts.messages if m.kind == "opened" and m.family == "health"]
    assert any(m.account == target.account for m in opened)
    for message in opened:
        mine = [d for d in deliveries_of(engine, message.account, "opened") if d["event_id"] == message.event_id]
        assert len(mine) == 1
        if message.account == target.account:
            assert mine[0]["status"] == SILENCED and mine[0]["finished_at"] is not None
            assert mine[0]["last_error"] == f"held back by silence #{silence.id} (market=devnet-aave-v3 " \
                                            f"wallet={target.account}: maintenance)"
        else:
            assert mine[0]["status"] == "pending"

    # the silence ends: the acknowledged alert's de-escalation is held back, its escalation and resolution are not
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE silences SET ends_at = starts_at + 0.5")
    alert = next(a for a in list_alerts(engine, open_only=True) if a["account"] == target.account)
    assert alert_ids_starting(engine, alert["id"][:10]) == [alert["id"]]  # as `alerts ack` finds it
    assert alert_ids_starting(engine, "not-hex") == []
    assert acknowledge_alert(engine, alert_id=alert["id"], by="ops", now=time.time())["acknowledged_by"] == "ops"
    expected = {"1.02": ("escalated", "pending"), "1.08": ("deescalated", SILENCED),
                "1.6": ("resolved", "pending")}
    for health, (kind, status) in expected.items():
        move_to(health)
        (read,) = await sync_once(config, engine)
        (event,) = [m for m in read.alerts.messages if m.account == target.account and m.family == "health"]
        assert event.kind == kind
        (delivery,) = [d for d in deliveries_of(engine, target.account, kind) if d["event_id"] == event.event_id]
        assert delivery["status"] == status, (health, delivery)


def run(env, *args):
    return subprocess.run([sys.executable, "-m", "indexer", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.one_database("sqlite")
def test_silences_and_acks_from_the_cli(devnet, chain_state, cli_env):
    wallet = devnet.accounts[0].address
    assert run(cli_env, "wallets", "add", wallet).returncode == 0
    refused = run(cli_env, "alerts", "silence", "--for", "1h")
    assert refused.returncode != 0 and "say what to silence" in refused.stderr
    bad = run(cli_env, "alerts", "silence", "--wallet", wallet, "--for", "soon")
    assert bad.returncode != 0 and "is not a duration" in bad.stderr
    added = run(cli_env, "alerts", "silence", "--wallet", wallet[:8], "--for", "2h", "--reason", "rebalancing")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"silence #1 (wallet={wallet}: rebalancing) until ")
    listed = json.loads(run(cli_env, "alerts", "silences", "--json").stdout)
    assert len(listed) == 1 and listed[0]["wallet"] == wallet
    assert 7190 < listed[0]["ends_at"] - listed[0]["starts_at"] <= 7200
    assert run(cli_env, "alerts", "unsilence", "1").returncode == 0
    assert json.loads(run(cli_env, "alerts", "silences", "--json").stdout) == []
    missing = run(cli_env, "alerts", "ack", "ffff")
    assert missing.returncode == 1 and "no alert id starts with 'ffff'" in missing.stderr


@pytest.mark.one_database("sqlite")
async def test_silences_and_acks_over_the_api(write_devnet_config, engine):
    settings = load_settings(write_devnet_config())
    runner = web.AppRunner(make_app(settings, config=ApiConfig(token="t0ken")), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    auth = {"Authorization": "Bearer t0ken"}
    try:
        async with ClientSession() as http:
            async with http.post(f"{base}/v1/silences", json={"market": "devnet-aave-v3", "seconds": 60}) as r:
                assert r.status == 401
            async with http.post(f"{base}/v1/silences", json={"market": "nope", "seconds": 60}, headers=auth) as r:
                assert r.status == 404 and (await r.json())["market"] == "nope"
            async with http.post(f"{base}/v1/silences", json={"market": "devnet-aave-v3", "seconds": 60,
                                                              "reason": "window"}, headers=auth) as r:
                assert r.status == 201
                created = await r.json()
            assert created["market"] == "devnet-aave-v3" and created["ends_at"] - created["starts_at"] == 60
            async with http.get(f"{base}/v1/silences") as r:
                assert [s["id"] for s in (await r.json())["items"]] == [created["id"]]
            async with http.post(f"{base}/v1/alerts/nope/ack", headers=auth) as r:
                assert r.status == 404
            async with http.delete(f"{base}/v1/silences/{created['id']}", headers=auth) as r:
                assert r.status == 204
            async with http.delete(f"{base}/v1/silences/{created['id']}", headers=auth) as r:
                assert r.status == 404
    finally:
        await runner.cleanup()


async def test_an_acknowledgement_is_forwarded_to_the_services_that_paged(devnet, chain_state, write_devnet_config,
                                                                         engine, receiver, monkeypatch):
    """An alert paged through PagerDuty and a webhook (a real loopback server plays both) is acknowledged with
    `indexer alerts ack`: PagerDuty receives `acknowledge` for the incident's dedup key and the webhook the
    `acknowledged` event, through the outbox; the log channel (it forwards nothing) and a channel that never took
    the alert get nothing, and acknowledging again sends nothing more."""
    from indexer.alerts.channels.pagerduty import pd_dedup_key
    from indexer.alerts.dispatcher import Dispatcher, pending_delivery
    from indexer.alerts.registry import build_channels
    from indexer.store.outbox import DbOutbox

    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    monkeypatch.setenv("PD_KEY", "routing-key-0000000000000000000000")
    channels_toml = (f'[channels.hook]\nkind = "webhook"\nbase_url = "{receiver.url}/hook"\n'
                     'secret_env = "HOOK_SECRET"\n'
                     f'[channels.pd]\nkind = "pagerduty"\nbase_url = "{receiver.url}"\nrouting_key_env = "PD_KEY"\n'
                     f'[channels.oracle-pd]\nkind = "pagerduty"\nbase_url = "{receiver.url}"\n'
                     'routing_key_env = "PD_KEY"\nfamilies = ["oracle"]\n'
                     '[channels.log]\nkind = "log"\n')
    path = write_devnet_config(tail=channels_toml)
    config = load_settings(path)
    target, move_to = await health_walker(devnet, engine, config)
    move_to("1.5")
    await sync_once(config, engine)
    move_to("1.08")  # WARN: the alert opens and pages
    await sync_once(config, engine)
    channels = build_channels(config.channels)

    async def dispatch() -> None:
        async with Dispatcher(DbOutbox(engine, pending_delivery), channels) as dispatcher:
            while await dispatcher.run_once():
                pass

    await dispatch()
    alert = next(a for a in list_alerts(engine, open_only=True) if a["account"] == target.account)
    pages = [r.json() for r in receiver.requests if r.path == "/v2/enqueue"
             and r.json()["dedup_key"] == pd_dedup_key(alert["dedup_key"])]
    assert [p["event_action"] for p in pages] == ["trigger"]
    before = len(receiver.requests)

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    env["INDEXER_CONFIG"] = str(path)
    done = run(env, "alerts", "ack", alert["id"][:12], "--by", "ops")
    assert done.returncode == 0, done.stderr
    assert f"alert {alert['id']} acknowledged by ops; forwarded to hook, pd" in done.stdout
    await dispatch()
    sent = receiver.requests[before:]
    ack_key = f"{alert['id']}:ack"
    assert sorted(r.path for r in sent) == ["/hook", "/v2/enqueue"]
    (pd,) = [r.json() for r in sent if r.path == "/v2/enqueue"]
    assert pd == {"routing_key": "routing-key-0000000000000000000000", "dedup_key": pd_dedup_key(alert["dedup_key"]),
                  "event_action": "acknowledge"}
    (hook,) = [r for r in sent if r.path == "/hook"]
    assert hook.key == ack_key and hook.json()["kind"] == "acknowledged" and hook.json()["detail"] == \
        "acknowledged by ops"
    assert hook.json()["text"].startswith("☑ ACKNOWLEDGED · ")
    assert {d["channel"]: d["status"] for d in rows(engine, Delivery) if d["event_id"] == ack_key} == {
        "hook": "delivered", "pd": "delivered"}

    again = run(env, "alerts", "ack", alert["id"], "--by", "someone else")
    assert again.returncode == 0 and "forwarded" not in again.stdout and "acknowledged by ops" in again.stdout
    await dispatch()
    assert len(receiver.requests) == before + 2
