"""Alert text and every channel's request, built without a network."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging

import pytest

from indexer.alerts.channels.base import HttpChannel, HttpRequest, Secret
from indexer.alerts.channels.log import LogChannel
from indexer.alerts.channels.pagerduty import pd_dedup_key
from indexer.alerts.format import render, summary, text, title
from indexer.alerts.message import AlertMessage, LiquidationPrice, PerpSummary, SafeStep
from indexer.alerts.registry import KINDS, build_channels, channel_class, channel_settings, routes
from indexer.errors import ConfigError

ACCOUNT = "0x12aB000000000000000000000000000000C0dEf0"
SECRET = "whsec-3f9a1c77"
TOKEN = "123456789:AAH-bot-token-secret"
ROUTING_KEY = "R0UT1NGKEY00000000000000000000XX"
SLACK_URL = "https://hooks.slack.com/services/T000/B000/slacksecret"
DISCORD_URL = "https://discord.com/api/webhooks/42/discordsecret"
ENV = {"HOOK_SECRET": SECRET, "TG_TOKEN": TOKEN, "PD_KEY": ROUTING_KEY, "SLACK_URL": SLACK_URL,
       "DISCORD_URL": DISCORD_URL}
CONFIG = {
    "hook": {"kind": "webhook", "base_url": "https://alerts.example.org/in", "secret_env": "HOOK_SECRET"},
    "slack": {"kind": "slack", "url_env": "SLACK_URL"},
    "discord": {"kind": "discord", "url_env": "DISCORD_URL", "wait": True},
    "tg": {"kind": "telegram", "token_env": "TG_TOKEN", "chat_id": -100123},
    "pd": {"kind": "pagerduty", "routing_key_env": "PD_KEY"},
    "log": {"kind": "log"},
}


def message(**changes) -> AlertMessage:
    base = AlertMessage(
        event_id="ev-0001", dedup_key=f"devnet/devnet-aave-v3/{ACCOUNT}/health", kind="opened", family="health",
        severity="WARN", previous_severity=None, chain="devnet", protocol="aave_v3", market="devnet-aave-v3",
        account=ACCOUNT, wallet_label="treasury", health="1.08429", previous_health="1.12001",
        collateral_value="12345.678", debt_value="9876.541", block_number=1234567, price_status="FRESH",
        liquidation_price=LiquidationPrice("WETH", "1712.4012", "1850", True))
    return dataclasses.replace(base, **changes)


OPENED = message()
STALE = message(event_id="ev-0002", kind="escalated", severity="LIQUIDATABLE", previous_severity="CRITICAL",
                health="0.98439", previous_health="1.0421", price_status="STALE",
                detail="WETH/USD feed last updated 7h ago (heartbeat 1h)")
RESOLVED = message(event_id="ev-0003", kind="resolved", severity="OK", previous_severity="WARN",
                   health="1.2", previous_health="1.09")
TEST = message(event_id="ev-test", kind="test", test=True)


@pytest.fixture
def channels():
    return build_channels(CONFIG, environ=ENV)


def human_text(kind: str, request: HttpRequest) -> str:
    """The words a person reads, per channel."""
    body = request.json()
    if kind in ("webhook", "slack"):
        return body["text"]
    if kind == "discord":
        return body["content"] + "\n" + body["embeds"][0]["description"]
    if kind == "telegram":
        return body["text"]
    if kind == "pagerduty":
        return body["payload"]["summary"]
    raise AssertionError(kind)


# --- text ---------------------------------------------------------------------------------------------

def test_text_of_an_escalation_on_a_stale_price():
    assert text(STALE).splitlines() == [
        "🔴 CRITICAL → LIQUIDATABLE · Aave v3 devnet · 0x12aB…dEf0 (treasury)",
        "health 0.9843 (was 1.0421)",
        "collateral $12,345.67 · debt $9,876.55",
        "WETH liquidates below $1,712.41 (now $1,850.00)",
        "⚠ computed on a STALE price: WETH/USD feed last updated 7h ago (heartbeat 1h)",
        "block 1,234,567 · devnet-aave-v3",
    ]


def test_health_rounds_down_so_it_never_looks_safer():
    assert "health 0.9999 (was 1.0000)" in text(message(health="0.99999", previous_health="1.00009"))


def test_fresh_price_has_no_warning_and_untrusted_statuses_all_do():
    assert "⚠" not in text(OPENED)
    for status in ("STALE", "INVALID", "SEQUENCER_DOWN", "SEQUENCER_GRACE", "UNKNOWN"):
        assert f"computed on a {status} price" in text(message(price_status=status))


def test_resolved_says_it_recovered():
    rendered = render(RESOLVED)
    assert rendered.title.startswith("✅ RECOVERED from WARN")
    assert rendered.lines[0] == "recovered: health 1.2000 (was 1.0900)"


def test_test_message_is_marked():
    rendered = render(TEST)
    assert rendered.title.startswith("🧪 TEST")
    assert "TEST message, no action needed" in rendered.lines[-1]


def test_short_enough_for_a_phone():
    for m in (OPENED, STALE, RESOLVED, TEST):
        assert len(text(m).splitlines()) <= 6
        assert all(len(line) <= 110 for line in text(m).splitlines())


def test_no_debt_small_prices_and_oracle_titles():
    assert "health ∞ (no debt)" in text(message(health=None, liquidation_price=None))
    tiny = message(liquidation_price=LiquidationPrice("PEPE", "0.0000123456", "0.00002"))
    assert "PEPE liquidates below $0.00001235 (now $0.00002000)" in text(tiny)
    oracle = message(family="oracle", severity="SEQUENCER_DOWN", price_status="SEQUENCER_DOWN")
    assert title(oracle).startswith("⛔ SEQUENCER DOWN · Aave v3 devnet")
    assert "⚠ computed on a SEQUENCER_DOWN price" in summary(oracle)


def test_a_perp_alert_names_side_size_mark_and_the_liquidation_price_and_survives_the_outbox():
    short = message(protocol="hyperliquid", chain="hyperliquid", market="hl-main", quote="USDC",
                    severity="LIQUIDATABLE", health="0.9712", collateral_value="1520.5", debt_value="30010.25",
                    liquidation_price=LiquidationPrice("ETH", "3010.5", "3001.2", falling=False),
                    perp=PerpSummary(symbol="ETH", side="short", size="10", mark="3001.2", entry="2950.5",
                                     leverage="10", margin_mode="cross", others=1))
    assert text(short).splitlines()[1:5] == [
        "health 0.9712 (was 1.1200)",
        "equity 1,520.50 USDC · notional 30,010.25 USDC",
        "short 10 ETH · mark 3,001.20 USDC · entry 2,950.50 USDC · 10× cross (+1 more position)",
        "ETH liquidates above 3,010.50 USDC (now 3,001.20 USDC)",
    ]
    assert all(len(line) <= 110 for line in text(short).splitlines())
    assert AlertMessage.from_json(json.loads(json.dumps(short.to_json()))) == short  # as the outbox stores it
    safe = dataclasses.replace(short, notes=("a note",), to_be_safe=(SafeStep("repay", "USDC", "12.5", "1.5"),))
    for each in (short, safe, OPENED):  # built field by field, it is what asdict says (tuples as lists)
        deep = dataclasses.asdict(each)
        assert each.to_json() == {**deep, "notes": list(deep["notes"]), "to_be_safe": list(deep["to_be_safe"])}
    assert "collateral $12,345.67 · debt $9,876.55" in text(OPENED)  # lending keeps its words


# --- each channel's request -----------------------------------------------------------------------------

def test_webhook_body_headers_and_signature(channels):
    request = channels["hook"].request(STALE)
    assert (request.method, request.url) == ("POST", "https://alerts.example.org/in")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Idempotency-Key"] == "ev-0002"
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == f"sha256={expected}"
    body = request.json()
    assert body == {**STALE.to_json(), "text": text(STALE)}
    assert body["liquidation_price"] == {"symbol": "WETH", "price": "1712.4012", "current": "1850", "falling": True}
    tampered = request.body.replace(b"0.98439", b"1.98439")
    assert hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest() != expected


def test_slack_text_and_blocks(channels):
    request = channels["slack"].request(STALE)
    assert request.url == SLACK_URL
    body = request.json()
    assert body["text"] == text(STALE)
    header, section = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": render(STALE).title, "emoji": True}}
    assert section["text"]["type"] == "mrkdwn"
    assert "⚠ computed on a STALE price" in section["text"]["text"]


def test_slack_and_discord_base_url_keeps_the_secret_path():
    built = build_channels({
        "s": {"kind": "slack", "url_env": "SLACK_URL", "base_url": "http://127.0.0.1:9/proxy/"},
        "d": {"kind": "discord", "url_env": "DISCORD_URL", "base_url": "http://127.0.0.1:9"},
    }, environ=ENV)
    assert built["s"].request(OPENED).url == "http://127.0.0.1:9/proxy/services/T000/B000/slacksecret"
    assert built["d"].request(OPENED).url == "http://127.0.0.1:9/api/webhooks/42/discordsecret"


def test_discord_content_embed_and_wait(channels):
    request = channels["discord"].request(STALE)
    assert request.url == DISCORD_URL + "?wait=true"
    body = request.json()
    assert body["content"] == render(STALE).title
    (embed,) = body["embeds"]
    assert embed["color"] == 0xD32F2F
    assert embed["description"].splitlines()[0] == "health 0.9843 (was 1.0421)"
    assert body["allowed_mentions"] == {"parse": []}
    assert channels["discord"].request(RESOLVED).json()["embeds"][0]["color"] == 0x388E3C


def test_discord_escapes_markdown_in_labels():
    request = build_channels({"d": {"kind": "discord", "url_env": "DISCORD_URL"}}, environ=ENV)["d"].request(
        message(wallet_label="*ops*_vault"))
    assert "(\\*ops\\*\\_vault)" in request.json()["content"]


def test_telegram_url_and_body(channels):
    request = channels["tg"].request(STALE)
    assert request.url == f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert request.json() == {"chat_id": -100123, "text": text(STALE), "disable_web_page_preview": True}


@pytest.mark.parametrize(("mode", "title_line", "label"), [
    ("HTML", "<b>🟡 WARN · Aave v3 devnet · 0x12aB…dEf0 (a&lt;b&gt;)</b>", "a<b>"),
    ("MarkdownV2", "*🟡 WARN · Aave v3 devnet · 0x12aB…dEf0 \\(a\\_b\\)*", "a_b"),
])
def test_telegram_parse_modes_escape(mode, title_line, label):
    channel = build_channels({"t": {"kind": "telegram", "token_env": "TG_TOKEN", "chat_id": "@ops",
                                    "parse_mode": mode}}, environ=ENV)["t"]
    body = channel.request(message(wallet_label=label)).json()
    assert body["parse_mode"] == mode
    assert body["text"].splitlines()[0] == title_line


def test_pagerduty_trigger(channels):
    request = channels["pd"].request(STALE)
    assert request.url == "https://events.pagerduty.com/v2/enqueue"
    body = request.json()
    assert body["routing_key"] == ROUTING_KEY
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == STALE.dedup_key
    payload = body["payload"]
    assert payload["severity"] == "critical"
    assert payload["source"] == "devnet/devnet-aave-v3"
    assert payload["summary"].startswith("🔴 CRITICAL → LIQUIDATABLE")
    assert payload["custom_details"]["health"] == "0.98439"
    assert payload["custom_details"]["price_status"] == "STALE"
    assert channels["pd"].request(OPENED).json()["payload"]["severity"] == "warning"


def test_pagerduty_resolve_uses_the_same_dedup_key(channels):
    trigger, resolve = channels["pd"].request(OPENED).json(), channels["pd"].request(RESOLVED).json()
    assert resolve == {"routing_key": ROUTING_KEY, "dedup_key": trigger["dedup_key"], "event_action": "resolve"}


def test_pagerduty_long_dedup_key_is_shortened_stably():
    long_key = "x" * 300
    short = pd_dedup_key(long_key)
    assert len(short) == 255 and short == pd_dedup_key(long_key) and short != pd_dedup_key("x" * 299 + "y")
    assert pd_dedup_key("short") == "short"


def test_pagerduty_test_message_is_info(channels):
    body = channels["pd"].request(TEST).json()
    assert (body["event_action"], body["payload"]["severity"]) == ("trigger", "info")
    assert "TEST" in body["payload"]["summary"]


HTTP_KINDS = {"hook": "webhook", "slack": "slack", "discord": "discord", "tg": "telegram", "pd": "pagerduty"}


@pytest.mark.parametrize("name", HTTP_KINDS)
def test_every_channel_says_the_price_was_stale_and_marks_tests(channels, name):
    channel = channels[name]
    assert "computed on a STALE price" in human_text(HTTP_KINDS[name], channel.request(STALE))
    assert "TEST" in human_text(HTTP_KINDS[name], channel.request(TEST))


@pytest.mark.parametrize("name", HTTP_KINDS)
@pytest.mark.parametrize("m", [OPENED, STALE, RESOLVED, TEST], ids=["opened", "stale", "resolved", "test"])
def test_every_request_carries_the_idempotency_key(channels, name, m):
    request = channels[name].request(m)
    assert request.method == "POST"
    assert request.headers["X-Idempotency-Key"] == m.event_id
    assert request.headers["Content-Type"] == "application/json"
    json.loads(request.body)


def test_log_channel_writes_text(caplog, capsys):
    channel = build_channels({"out": {"kind": "log", "stdout": True, "logger": "alerts.test"}})["out"]
    assert isinstance(channel, LogChannel) and not isinstance(channel, HttpChannel)
    with caplog.at_level(logging.INFO, logger="alerts.test"):
        channel.deliver_locally(STALE)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.getMessage() == text(STALE)
    assert "computed on a STALE price" in capsys.readouterr().out


# --- secrets -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", HTTP_KINDS)
def test_secrets_stay_out_of_reprs(channels, name):
    channel = channels[name]
    request = channel.request(STALE)
    shown = repr(channel) + repr(request) + str(vars(channel)) + repr(channel.settings)
    for secret in ENV.values():
        assert secret not in shown
    own = {"hook": SECRET, "slack": SLACK_URL, "discord": DISCORD_URL, "tg": TOKEN, "pd": ROUTING_KEY}[name]
    scrubbed = request.redact(f"failed posting to {request.url}: {own}")
    assert all(secret not in scrubbed for secret in ENV.values())


def test_redact_scrubs_token_and_url():
    request = build_channels(CONFIG, environ=ENV)["tg"].request(OPENED)
    scrubbed = request.redact(f"Cannot connect to {request.url}; token {TOKEN}")
    assert TOKEN not in scrubbed and "api.telegram.org" in scrubbed
    assert repr(Secret(TOKEN)) == str(Secret(TOKEN)) == "Secret('***')"


# --- configuration ----------------------------------------------------------------------------------------

def test_registry_lists_every_kind_once():
    assert sorted(KINDS) == ["alertmanager", "apprise", "discord", "log", "pagerduty", "slack", "telegram",
                             "webhook"]
    assert all(kind == channel_class(kind).kind for kind in KINDS)


@pytest.mark.parametrize(("raw", "error"), [
    ({"kind": "sms"}, "alert channel 'x': unknown kind 'sms' (known: alertmanager, apprise, discord, log, pagerduty"),
    ({}, "alert channel 'x': has no kind"),
    ({"kind": "telegram", "token_env": "TG_TOKEN", "chat_id": 1, "tokn": "x"}, "unknown key 'tokn'"),
    ({"kind": "telegram", "token_env": "TG_TOKEN"}, "missing key 'chat_id'"),
    ({"kind": "telegram", "token_env": TOKEN, "chat_id": 1}, "token_env: must be the NAME of an environment"),
    ({"kind": "webhook", "base_url": "ftp://x", "secret_env": "S"}, "base_url: must be an http(s) URL"),
    ({"kind": "log", "severities": ["WARN", "PANIC"]}, "unknown severities ['PANIC']"),
    ({"kind": "log", "families": ["perps"]}, "families.0"),
])
def test_config_errors_name_the_problem(raw, error):
    with pytest.raises(ConfigError, match="^alert channel 'x'") as info:
        channel_settings("x", raw)
    assert error in str(info.value)


def test_missing_secret_fails_at_build_time():
    with pytest.raises(ConfigError, match=r"alert channel 'tg': environment variable TG_TOKEN \(token_env\) is not"):
        build_channels({"tg": CONFIG["tg"]}, environ={})


# --- routing ----------------------------------------------------------------------------------------------

ROUTING = {
    "all": {"kind": "log"},
    "pager": {"kind": "pagerduty", "routing_key_env": "PD_KEY", "severities": ["critical", "LIQUIDATABLE"]},
    "warn_only": {"kind": "log", "severities": ["WARN"], "families": ["health"]},
    "oracle": {"kind": "log", "families": ["oracle"]},
}


@pytest.mark.parametrize(("m", "expected"), [
    (OPENED, ["all", "warn_only"]),
    (STALE, ["all", "pager"]),
    (message(kind="escalated", severity="CRITICAL", previous_severity="WARN"), ["all", "pager"]),
    (message(kind="deescalated", severity="WARN", previous_severity="CRITICAL"), ["all", "pager", "warn_only"]),
    (RESOLVED, ["all", "pager", "warn_only"]),  # pager takes every resolution: it may hold an open incident
    (message(kind="resolved", severity="OK", previous_severity="CRITICAL"), ["all", "pager"]),
    (message(family="oracle", severity="STALE", price_status="STALE"), ["all", "oracle"]),
    (message(family="oracle", kind="resolved", severity="OK", previous_severity="STALE"), ["all", "pager", "oracle"]),
    (TEST, ["all", "pager", "warn_only", "oracle"]),
])
def test_routes(m, expected):
    assert routes(m, build_channels(ROUTING, environ=ENV)) == expected


def test_loading_settings_imports_the_configured_channel_kinds_alone(tmp_path):
    """The shipped default routes to the log: loading it imports that channel's module and no other (the CLI's
    start-up); a config of its own with a webhook channel imports the webhook's alone."""
    import os
    import subprocess
    import sys

    probe = ("import sys; from indexer.settings import load_settings; load_settings(sys.argv[1] or None); "
             "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('indexer.alerts.channels.') "
             "and m.rsplit('.', 1)[1] in __import__('indexer.alerts.registry').alerts.registry.KINDS))")
    hook = tmp_path / "hook.toml"
    hook.write_text('[channels.hook]\nkind = "webhook"\nbase_url = "http://127.0.0.1:1/hook"\n'
                    'secret_env = "HOOK_SECRET"\n')
    env = {**os.environ, "HOOK_SECRET": "s"}
    seen = [subprocess.run([sys.executable, "-c", probe, config], capture_output=True, text=True, timeout=60,
                           env=env) for config in ("", str(hook))]
    assert all(done.returncode == 0 for done in seen), [done.stderr for done in seen]
    assert [done.stdout.strip() for done in seen] == ["['log']", "['webhook']"]
