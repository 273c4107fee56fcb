"""Alert delivery over real HTTP to a loopback receiver: wire formats, retries, timing, dedup, failures."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest

from indexer.alerts.dispatcher import Dispatcher, MemoryOutbox
from indexer.alerts.format import render, text
from indexer.alerts.message import AlertMessage, LiquidationPrice
from indexer.alerts.registry import build_channels, routes
from indexer.alerts.sender import RetryPolicy

SECRET = "whsec-integration"
TOKEN = "987654321:AAF-integration-token"
ROUTING_KEY = "PDKEY-integration-0000000000000"
ENV = {"HOOK_SECRET": SECRET, "TG_TOKEN": TOKEN, "PD_KEY": ROUTING_KEY,
       "SLACK_URL": "https://hooks.slack.com/services/T1/B2/slacksecret",
       "DISCORD_URL": "https://discord.com/api/webhooks/42/discordsecret"}
ACCOUNT = "0x12aB000000000000000000000000000000C0dEf0"
STALE = AlertMessage(
    event_id="evt-stale-1", dedup_key=f"devnet/devnet-aave-v3/{ACCOUNT}/health", kind="escalated",
    family="health", severity="LIQUIDATABLE", previous_severity="CRITICAL", chain="devnet", protocol="aave_v3",
    market="devnet-aave-v3", account=ACCOUNT, wallet_label="treasury", health="0.98439", previous_health="1.0421",
    collateral_value="12345.678", debt_value="9876.541", block_number=4242,
    liquidation_price=LiquidationPrice("WETH", "1712.4", "1850"), price_status="STALE",
    detail="WETH/USD feed last updated 7h ago")


def config(url: str, **hook: object) -> dict[str, dict[str, object]]:
    return {
        "hook": {"kind": "webhook", "base_url": f"{url}/hooks/alerts", "secret_env": "HOOK_SECRET", **hook},
        "slack": {"kind": "slack", "url_env": "SLACK_URL", "base_url": url},
        "discord": {"kind": "discord", "url_env": "DISCORD_URL", "base_url": url, "wait": True},
        "tg": {"kind": "telegram", "base_url": url, "token_env": "TG_TOKEN", "chat_id": -1001},
        "pd": {"kind": "pagerduty", "base_url": url, "routing_key_env": "PD_KEY"},
        "log": {"kind": "log", "logger": "alerts.integration"},
    }


@contextlib.asynccontextmanager
async def running(dispatcher: Dispatcher, poll: float = 0.02) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run_forever(stop, poll))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, "timed out waiting"
        await asyncio.sleep(0.01)


async def test_every_channel_on_the_wire(receiver, caplog):
    channels = build_channels(config(receiver.url), environ=ENV)
    outbox = MemoryOutbox()
    names = routes(STALE, channels)
    assert names == ["hook", "slack", "discord", "tg", "pd", "log"]
    rows = {name: outbox.add(STALE, name, now=time.time()) for name in names}
    with caplog.at_level(logging.INFO):
        async with Dispatcher(outbox, channels) as dispatcher:
            assert await dispatcher.run_once() == 6

    assert {name: (outbox.rows[row].state, outbox.rows[row].status) for name, row in rows.items()} == {
        "hook": ("delivered", 200), "slack": ("delivered", 200), "discord": ("delivered", 200),
        "tg": ("delivered", 200), "pd": ("delivered", 200), "log": ("delivered", 0)}
    got = {r.path: r for r in receiver.requests}
    assert sorted(got) == sorted(["/hooks/alerts", "/services/T1/B2/slacksecret", "/api/webhooks/42/discordsecret",
                                  f"/bot{TOKEN}/sendMessage", "/v2/enqueue"])
    for request in receiver.requests:
        assert request.method == "POST"
        assert request.headers["X-Idempotency-Key"] == "evt-stale-1"
        assert request.headers["Content-Type"] == "application/json"

    hook = got["/hooks/alerts"]
    digest = hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Signature"] == f"sha256={digest}"
    assert hook.json() == {**STALE.to_json(), "text": text(STALE)}

    slack = got["/services/T1/B2/slacksecret"].json()
    assert slack["text"] == text(STALE) and [b["type"] for b in slack["blocks"]] == ["header", "section"]

    discord = got["/api/webhooks/42/discordsecret"]
    assert discord.query == "wait=true"
    assert discord.json()["content"] == render(STALE).title
    assert "⚠ computed on a STALE price" in discord.json()["embeds"][0]["description"]

    assert got[f"/bot{TOKEN}/sendMessage"].json() == {"chat_id": -1001, "text": text(STALE),
                                                      "disable_web_page_preview": True}

    pd = got["/v2/enqueue"].json()
    assert (pd["routing_key"], pd["event_action"], pd["dedup_key"]) == (ROUTING_KEY, "trigger", STALE.dedup_key)
    assert pd["payload"]["severity"] == "critical" and "STALE price" in pd["payload"]["summary"]

    assert any(r.name == "alerts.integration" and r.getMessage() == text(STALE) for r in caplog.records)
    assert TOKEN not in caplog.text and "slacksecret" not in caplog.text and "discordsecret" not in caplog.text


async def test_500_hang_429_then_200_delivers_once_and_waits_as_told(receiver):
    receiver.script(500, "hang", (429, {"Retry-After": "2"}), 200)
    channels = build_channels(config(receiver.url, timeout=0.5), environ=ENV)
    policy = RetryPolicy(base=0.2, cap=1.0, deadline=30.0)
    outbox = MemoryOutbox()
    row = outbox.add(STALE, "hook", now=time.monotonic())
    started = time.monotonic()
    async with Dispatcher(outbox, channels, policy=policy, clock=time.monotonic) as dispatcher:
        async with running(dispatcher):
            await until(lambda: outbox.rows[row].state == "delivered")
        stored = outbox.rows[row]
        assert (stored.attempts, stored.status) == (4, 200)
        assert [r.answer for r in receiver.requests] == [500, None, 429, 200]
        assert len(receiver.answered(2)) == 1 and receiver.delivered_keys == {"evt-stale-1"}

        first, hung, limited, ok = (r.at for r in receiver.requests)
        key = "hook:evt-stale-1"
        assert hung - first >= policy.delay(1, key=key)
        assert limited - hung >= 0.4 + policy.delay(2, key=key)  # waited out the 0.5 s timeout, then backed off
        assert ok - limited >= 2.0  # Retry-After: 2
        assert time.monotonic() - started < 8.0

        # The outcome was lost (say the process died before recording it): the row is sent again and the
        # receiver, which already has the key, answers 409, which counts as delivered. Still one 2xx.
        again = outbox.add(STALE, "hook", now=time.monotonic())
        assert await dispatcher.run_once() == 1
    assert (outbox.rows[again].state, outbox.rows[again].status) == ("delivered", 409)
    assert [r.answer for r in receiver.requests][-1] == 409
    assert len(receiver.answered(2)) == 1


async def test_400_fails_without_retry(receiver):
    receiver.script((400, {}, "invalid payload"))
    outbox = MemoryOutbox()
    row = outbox.add(STALE, "pd", now=time.monotonic())
    channels = build_channels(config(receiver.url), environ=ENV)
    policy = RetryPolicy(base=0.01, cap=0.01)
    async with Dispatcher(outbox, channels, policy=policy, clock=time.monotonic) as d, running(d):
        await until(lambda: outbox.rows[row].state != "leased" and outbox.rows[row].attempts > 0)
        await asyncio.sleep(0.3)
    stored = outbox.rows[row]
    assert (stored.state, stored.attempts) == ("failed", 1)
    assert stored.error == "HTTP 400: invalid payload"
    assert len(receiver.requests) == 1 and not receiver.delivered_keys


async def test_deadline_fails_the_delivery(receiver):
    receiver.always(503)
    outbox = MemoryOutbox()
    created = time.monotonic()
    row = outbox.add(STALE, "slack", now=created)
    policy = RetryPolicy(base=0.05, cap=0.1, deadline=0.6)
    channels = build_channels(config(receiver.url), environ=ENV)
    async with Dispatcher(outbox, channels, policy=policy, clock=time.monotonic) as d, running(d):
        await until(lambda: outbox.rows[row].state == "failed", timeout=5)
    stored = outbox.rows[row]
    assert stored.error.startswith(f"gave up after {stored.attempts} attempts (deadline 0.6s): HTTP 503")
    assert stored.attempts == len(receiver.requests) >= 3
    assert all(r.answer == 503 for r in receiver.requests)
    # No attempt starts after the deadline; its arrival at the receiver trails the start by the event loop's
    # latency (19 ms seen on a loaded CI machine), which stays well under one backoff step (0.1 s).
    assert receiver.requests[-1].at - created <= 0.6 + 0.08
    assert stored.finished_at is not None and stored.finished_at - created < 1.5


async def test_tokens_never_reach_stored_errors_or_logs(receiver, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    receiver.script((502, {}, f"bad gateway for /bot{TOKEN}/sendMessage"))
    channels = build_channels({"tg": config(receiver.url)["tg"],
                               "tg_down": {**config(closed)["tg"], "timeout": 2.0}}, environ=ENV)
    outbox = MemoryOutbox()
    echoed, refused = (outbox.add(STALE, name, now=time.monotonic()) for name in ("tg", "tg_down"))
    with caplog.at_level(logging.DEBUG):
        async with Dispatcher(outbox, channels, policy=RetryPolicy(base=60, cap=60), clock=time.monotonic) as d:
            assert await d.run_once() == 2
    assert outbox.rows[echoed].error == "HTTP 502: bad gateway for /bot***/sendMessage"
    assert outbox.rows[refused].error.startswith("ClientConnectorError")
    for row in outbox.rows.values():
        assert row.state == "pending" and TOKEN not in row.error and "AAF-integration" not in row.error
    assert "tg" in caplog.text and TOKEN not in caplog.text


@pytest.mark.parametrize("kind", ["resolved", "test"])
async def test_resolution_and_test_messages_on_the_wire(receiver, kind):
    msg = dataclasses.replace(STALE, event_id=f"evt-{kind}", kind=kind, severity="OK" if kind == "resolved" else
                              "WARN", previous_severity="LIQUIDATABLE", test=kind == "test", price_status="FRESH")
    channels = build_channels(config(receiver.url), environ=ENV)
    outbox = MemoryOutbox()
    for name in routes(msg, channels):
        outbox.add(msg, name, now=time.time())
    async with Dispatcher(outbox, channels) as d:
        assert await d.run_once() == 6
    pd = next(r for r in receiver.requests if r.path == "/v2/enqueue").json()
    if kind == "resolved":
        assert pd == {"routing_key": ROUTING_KEY, "dedup_key": STALE.dedup_key, "event_action": "resolve"}
        assert all("RECOVERED" in r.body.decode() for r in receiver.requests if r.path != "/v2/enqueue")
    else:
        assert pd["event_action"] == "trigger" and pd["payload"]["severity"] == "info"
        assert all("TEST" in r.body.decode() for r in receiver.requests)
