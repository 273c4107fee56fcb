"""The alertmanager channel against a real Prometheus Alertmanager (Debian's binary, one per test), through the
real dispatcher: what Alertmanager lists after each event, what it notifies, and how its refusals are classified."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any

import pytest

from indexer.alerts.channels.alertmanager import AlertmanagerChannel, timestamp
from indexer.alerts.dispatch_cli import test_message as cli_test_message
from indexer.alerts.dispatcher import Dispatcher, MemoryOutbox, StoredDelivery
from indexer.alerts.format import summary, text
from indexer.alerts.message import AlertMessage, LiquidationPrice
from indexer.alerts.registry import build_channels, routes
from indexer.alerts.sender import RetryPolicy
from indexer.errors import ConfigError
from tests.fixtures.alertmanager import Alertmanager, start_alertmanager

ACCOUNT = "0x12aB000000000000000000000000000000C0dEf0"
OTHER = "0x00000000000000000000000000000000000bEEF1"
POSITION = f"devnet/devnet-aave-v3/{ACCOUNT}"
GENERATOR = "https://indexer.example.org/positions"
DAY = 86_400


def message(**changes: Any) -> AlertMessage:
    base = AlertMessage(
        event_id="ev-open", dedup_key=f"{POSITION}/health", kind="opened", family="health", severity="WARN",
        previous_severity=None, chain="devnet", protocol="aave_v3", market="devnet-aave-v3", account=ACCOUNT,
        wallet_label="treasury", health="1.08429", previous_health="1.12001", collateral_value="12345.678",
        debt_value="9876.541", block_number=1234567, price_status="FRESH",
        liquidation_price=LiquidationPrice("WETH", "1712.4012", "1850", True))
    return dataclasses.replace(base, **changes)


OPENED = message()
ESCALATED = message(event_id="ev-esc", kind="escalated", severity="CRITICAL", previous_severity="WARN",
                    health="1.0201", previous_health="1.08429")
DEESCALATED = message(event_id="ev-deesc", kind="deescalated", severity="WARN", previous_severity="CRITICAL",
                      health="1.0801", previous_health="1.0201")
RESOLVED = message(event_id="ev-res", kind="resolved", severity="OK", previous_severity="WARN",
                   health="1.2", previous_health="1.09")
ELSEWHERE = message(event_id="ev-other", account=OTHER, dedup_key=f"devnet/devnet-aave-v3/{OTHER}/health")


def channels_for(url: str, **settings: Any) -> dict[str, Any]:
    return build_channels({"am": {"kind": "alertmanager", "url": url, **settings}}, environ={})


async def deliver(channels: dict[str, Any], *messages: AlertMessage) -> list[StoredDelivery]:
    """Each message routed and dispatched in turn, as the dispatcher would after each block."""
    outbox = MemoryOutbox()
    rows = []
    async with Dispatcher(outbox, channels, policy=RetryPolicy(base=60, cap=60)) as dispatcher:
        for msg in messages:
            ids = [outbox.add(msg, name, now=time.time()) for name in routes(msg, channels)]
            await dispatcher.run_once()
            rows += [outbox.rows[i] for i in ids]
    return rows


def at(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def position(msg: AlertMessage) -> str:
    return f'position="{msg.chain}/{msg.market}/{msg.account}"'


async def levels(manager: Alertmanager, msg: AlertMessage) -> list[str]:
    return sorted(alert["labels"]["severity"] for alert in await manager.alerts(position(msg)))


async def test_opened_alert_is_active_with_its_labels_then_resolved(alertmanager):
    channels = channels_for(alertmanager.url, labels={"team": "risk"}, generator_url=GENERATOR)
    sent = time.time()
    rows = await deliver(channels, OPENED, ELSEWHERE)
    assert [(row.state, row.status) for row in rows] == [("delivered", 200), ("delivered", 200)]

    [alert] = await alertmanager.alerts(position(OPENED))
    assert alert["labels"] == {"team": "risk", "alertname": "PositionHealth", "severity": "warn", "chain": "devnet",
                               "market": "devnet-aave-v3", "protocol": "aave_v3", "wallet": ACCOUNT,
                               "position": POSITION}
    notes = alert["annotations"]
    assert notes["summary"] == summary(OPENED) and notes["description"] == text(OPENED)
    assert (notes["health"], notes["previous_health"], notes["wallet_label"]) == ("1.08429", "1.12001", "treasury")
    assert (notes["event"], notes["event_id"], notes["block_number"]) == ("opened", "ev-open", "1234567")
    assert alert["status"]["state"] == "active" and alert["generatorURL"] == GENERATOR
    starts, ends = at(alert["startsAt"]), at(alert["endsAt"])
    assert sent - 1 <= starts <= time.time()
    assert ends - starts == pytest.approx(7 * DAY, abs=1)  # stays firing: no resolve_timeout of 5 minutes
    assert await alertmanager.alerts(position(OPENED), active=False) == []  # the filter sees it active
    assert await alertmanager.alerts('alertname="PositionHealth"', 'team="risk"', 'severity="warn"') != []

    rows = await deliver(channels, RESOLVED)
    assert [(row.state, row.status) for row in rows] == [("delivered", 200)]
    assert await alertmanager.alerts(position(OPENED)) == []  # resolved alerts are not listed
    [still] = await alertmanager.alerts(position(ELSEWHERE))
    assert (still["labels"]["wallet"], still["status"]["state"]) == (OTHER, "active")


async def test_escalation_moves_the_alert_to_the_new_level(alertmanager):
    channels = channels_for(alertmanager.url)
    await deliver(channels, OPENED)
    assert await levels(alertmanager, OPENED) == ["warn"]
    await deliver(channels, ESCALATED)
    assert await levels(alertmanager, OPENED) == ["critical"]
    [critical] = await alertmanager.alerts(position(OPENED))
    assert critical["annotations"]["summary"] == summary(ESCALATED)
    await deliver(channels, DEESCALATED)
    assert await levels(alertmanager, OPENED) == ["warn"]
    rows = await deliver(channels, RESOLVED)
    assert [row.state for row in rows] == ["delivered"]
    assert await levels(alertmanager, OPENED) == []


async def test_a_superseded_escalation_still_ends_with_the_resolution(alertmanager):
    """WARN was delivered, the escalation to CRITICAL never was (superseded), the resolution comes from CRITICAL:
    the WARN alert must end too."""
    channels = channels_for(alertmanager.url)
    await deliver(channels, OPENED)
    await deliver(channels, dataclasses.replace(RESOLVED, previous_severity="CRITICAL"))
    assert await levels(alertmanager, OPENED) == []


async def test_a_channel_for_some_levels_fires_only_those(alertmanager):
    channels = channels_for(alertmanager.url, severities=["CRITICAL", "LIQUIDATABLE"])
    assert routes(OPENED, channels) == []
    await deliver(channels, ESCALATED)
    assert await levels(alertmanager, OPENED) == ["critical"]
    await deliver(channels, DEESCALATED)  # to a level it does not take: the CRITICAL alert ends, nothing fires
    assert await levels(alertmanager, OPENED) == []
    assert routes(RESOLVED, channels) == ["am"]


async def test_one_off_events_fire_and_end_by_themselves(alertmanager):
    channels = channels_for(alertmanager.url, event_ends_after=600)
    margin = message(event_id="ev-margin", family="margin", kind="changed", severity="CRITICAL",
                     dedup_key=f"{POSITION}/margin", detail="WETH liquidation_threshold 8250 → 7950")
    probe = cli_test_message("am")
    rows = await deliver(channels, margin, probe)
    assert [(row.state, row.status) for row in rows] == [("delivered", 200), ("delivered", 200)]

    [changed] = await alertmanager.alerts('alertname="PositionMarginChanged"')
    assert (changed["labels"]["severity"], changed["labels"]["position"]) == ("critical", POSITION)
    assert "WETH liquidation_threshold 8250 → 7950" in changed["annotations"]["description"]
    assert at(changed["endsAt"]) - at(changed["startsAt"]) == pytest.approx(600, abs=1)

    [tested] = await alertmanager.alerts('test="true"')
    assert tested["labels"]["chain"] == "test" and tested["annotations"]["summary"].startswith("🧪 TEST")
    assert at(tested["endsAt"]) - at(tested["startsAt"]) == pytest.approx(600, abs=1)
    listed = await alertmanager.alerts()
    assert sorted((a["labels"]["alertname"], a["labels"].get("test")) for a in listed) == [
        ("PositionHealth", "true"), ("PositionMarginChanged", None)]


async def test_alertmanager_notifies_firing_then_resolved(tmp_path, receiver):
    manager = start_alertmanager(tmp_path / "notifying", webhook_url=f"{receiver.url}/alertmanager")
    try:
        channels = channels_for(manager.url, labels={"team": "risk"})
        channel = channels["am"]
        assert isinstance(channel, AlertmanagerChannel)
        await deliver(channels, OPENED)
        await receiver.wait_for(1)
        firing = receiver.requests[0].json()
        assert (receiver.requests[0].path, firing["status"]) == ("/alertmanager", "firing")
        [alert] = firing["alerts"]
        assert alert["labels"]["position"] == POSITION and alert["labels"]["severity"] == "warn"
        assert alert["annotations"]["summary"] == summary(OPENED)

        resolved_at = time.time()
        channel.clock = lambda: resolved_at
        await deliver(channels, RESOLVED)
        await receiver.wait_for(2)
        notice = receiver.requests[1].json()
        assert notice["status"] == "resolved"
        [ended] = notice["alerts"]
        assert (ended["status"], ended["labels"]) == ("resolved", alert["labels"])
        assert ended["startsAt"] == alert["startsAt"]  # the same alert, ended
        assert at(ended["endsAt"]) == pytest.approx(at(timestamp(resolved_at)), abs=0.001)
        assert ended["annotations"]["summary"] == summary(RESOLVED)
    finally:
        manager.stop()


async def test_refusals_and_outages_are_classified(alertmanager):
    [refused] = await deliver(channels_for(f"{alertmanager.url}/not-alertmanager"), OPENED)
    assert (refused.state, refused.attempts, refused.error) == ("failed", 1, "HTTP 404: 404 page not found")

    alertmanager.stop()
    [down] = await deliver(channels_for(alertmanager.url), OPENED)
    assert (down.state, down.attempts) == ("pending", 1) and down.next_attempt_at > time.time()  # to retry
    assert down.error.startswith("ClientConnectorError")


@pytest.mark.parametrize(("settings", "error"), [
    ({}, "missing key 'url'"),
    ({"url": "http://user:pw@alertmanager:9093"}, "url: must not carry credentials"),
    ({"url": "alertmanager:9093"}, "url: must be an http(s) URL"),
    ({"url": "http://am:9093", "labels": {"severity": "page"}}, "'severity' is set by the channel itself"),
    ({"url": "http://am:9093", "labels": {"team-name": "risk"}}, "'team-name' is not a label name"),
    ({"url": "http://am:9093", "labels": {"team": ""}}, "label 'team' is empty"),
    ({"url": "http://am:9093", "ends_after": 10}, "ends_after: Input should be greater than or equal to 60"),
])
def test_settings_are_checked(settings, error):
    with pytest.raises(ConfigError, match="alert channel 'am' \\(alertmanager\\)") as raised:
        build_channels({"am": {"kind": "alertmanager", **settings}}, environ={})
    assert error in str(raised.value)
