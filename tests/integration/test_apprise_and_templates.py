"""The `apprise` channel through the real dispatcher to a loopback HTTP server (Apprise's own `json://` service:
no mock of Apprise), a failing service retried, and message templates on the wire."""

from __future__ import annotations

import time

import pytest

from indexer.alerts.dispatcher import Dispatcher, MemoryOutbox
from indexer.alerts.format import text, title
from indexer.alerts.registry import build_channels
from indexer.errors import ConfigError
from tests.integration.test_alert_delivery import ACCOUNT, ENV, SECRET, STALE


def apprise_url(receiver_url: str, path: str) -> str:
    return receiver_url.replace("http://", "json://", 1) + path


async def test_apprise_delivers_through_its_own_http_service(receiver):
    env = {"APPRISE_URLS": apprise_url(receiver.url, "/ntfy-like") + " " + apprise_url(receiver.url, "/second")}
    channels = build_channels({"many": {"kind": "apprise", "url_env": "APPRISE_URLS"}}, environ=env)
    outbox = MemoryOutbox()
    row = outbox.add(STALE, "many", now=time.time())
    async with Dispatcher(outbox, channels) as dispatcher:
        assert await dispatcher.run_once() == 1
    assert outbox.rows[row].state == "delivered"
    bodies = {r.path: r.json() for r in receiver.requests}
    assert sorted(bodies) == ["/ntfy-like", "/second"]  # one message, every service named
    for body in bodies.values():
        assert body["title"] == title(STALE) and body["message"] == text(STALE) and body["type"] == "failure"


async def test_apprise_retries_a_service_that_fails(receiver):
    receiver.script(500)
    channels = build_channels({"one": {"kind": "apprise", "url_env": "APPRISE_URL"}},
                              environ={"APPRISE_URL": apprise_url(receiver.url, "/down")})
    outbox = MemoryOutbox()
    row = outbox.add(STALE, "one", now=time.time())
    async with Dispatcher(outbox, channels) as dispatcher:
        await dispatcher.run_once()
    assert outbox.rows[row].state == "pending" and "did not take the message" in outbox.rows[row].error
    assert [r.answer for r in receiver.requests] == [500]


def test_apprise_refuses_a_url_it_does_not_know():
    with pytest.raises(ConfigError, match="Apprise URL that Apprise does not recognise"):
        build_channels({"x": {"kind": "apprise", "url_env": "U"}}, environ={"U": "nosuchscheme://a/b"})


async def test_templates_shape_the_text_on_the_wire(receiver):
    template = "$severity on $market: $account at health $health (was $previous_health); nearest $liquidation"
    filled = (f"LIQUIDATABLE on devnet-aave-v3: {ACCOUNT} at health 0.98439 (was 1.0421); nearest WETH < 1712.4")
    short = "[$price_status] $title"
    channels = build_channels({
        "hook": {"kind": "webhook", "base_url": f"{receiver.url}/hook", "secret_env": "HOOK_SECRET",
                 "template": template},
        "many": {"kind": "apprise", "url_env": "APPRISE_URL", "template": short},
        "slack": {"kind": "slack", "url_env": "SLACK_URL", "base_url": receiver.url, "template": template},
        "discord": {"kind": "discord", "url_env": "DISCORD_URL", "base_url": receiver.url, "template": short},
        "am": {"kind": "alertmanager", "url": f"{receiver.url}/am", "template": template},
    }, environ={**ENV, "HOOK_SECRET": SECRET, "APPRISE_URL": apprise_url(receiver.url, "/apprise")})
    outbox = MemoryOutbox()
    for name in channels:
        outbox.add(STALE, name, now=time.time())
    async with Dispatcher(outbox, channels) as dispatcher:
        assert await dispatcher.run_once() == len(channels)
    got = {r.path: r.json() for r in receiver.requests}
    assert got["/hook"]["text"] == filled
    assert got["/apprise"]["message"] == f"[STALE] {title(STALE)}"
    # Slack: the notification text and the section are the template's; the header keeps the title
    slack = got["/services/T1/B2/slacksecret"]
    assert slack["text"] == filled.replace("<", "&lt;") and slack["blocks"][1]["text"]["text"] == slack["text"]
    assert slack["blocks"][0]["text"]["text"] == title(STALE)
    # Discord: the embed's description
    assert got["/api/webhooks/42/discordsecret"]["embeds"][0]["description"] == f"[STALE] {title(STALE)}"
    # Alertmanager: the description annotation; the summary and the labels are its own
    alerts = got["/am/api/v2/alerts"]  # the new level starts, the one it left ends
    assert alerts and all(a["annotations"]["description"] == filled and a["annotations"]["summary"] != filled
                          for a in alerts)


def test_a_template_naming_an_unknown_field_is_refused():
    with pytest.raises(ConfigError, match=r"unknown field \$secret"):
        build_channels({"log": {"kind": "log", "template": "$secret"}})
    with pytest.raises(ConfigError, match="lone \\$"):
        build_channels({"log": {"kind": "log", "template": "costs $ 5"}})
