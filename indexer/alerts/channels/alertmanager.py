"""Prometheus Alertmanager: alerts posted to its v2 API, so its routing, grouping, silences and inhibitions apply.

Alertmanager knows an alert by its label set alone. The labels are therefore what does not change while an alert
is open (the position, the family, the level); the wallet's label, the figures and the text are annotations. One
level is one alert, as with one Prometheus rule per level: an escalation or de-escalation fires the new level's
alert and ends the previous one, a resolution ends every level of the family the channel takes (so an alert whose
escalation was superseded in the outbox still ends; ending one Alertmanager never had notifies nobody on its own).

Prometheus re-sends a firing alert on every evaluation, and Alertmanager resolves an alert sent without ``endsAt``
after its ``resolve_timeout`` (5 minutes by default). We send an event once, when it happens, so an open alert
carries an ``endsAt`` ``ends_after`` seconds ahead (default 7 days) and stays firing until our resolution ends it.
A one-off event (a margin change, a test message) fires for ``event_ends_after`` seconds and ends by itself.
Alertmanager keeps alerts in memory only: `indexer run` re-asserts the open alerts every ``resend_every`` seconds
(``reassert``), so one restarted learns them again.

API facts from prometheus/alertmanager ``api/v2/openapi.yaml``: ``POST /api/v2/alerts`` takes an array of
``postableAlert`` (``labels`` required; ``annotations`` string to string; ``startsAt``, ``endsAt`` date-time;
``generatorURL`` uri) and answers 200, 400 for an invalid alert (the valid ones are kept) or 500. Alertmanager
drops labels whose value is empty and fills a missing ``startsAt`` with ``endsAt`` (``api/v2/api.go``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from indexer.alerts.channels.base import (
    USER_AGENT,
    Channel,
    ChannelSettings,
    HttpChannel,
    HttpRequest,
    HttpUrl,
    json_body,
)
from indexer.alerts.format import summary
from indexer.alerts.message import AlertMessage

ALERTNAME = {"health": "PositionHealth", "oracle": "PositionPriceOracle", "margin": "PositionMarginChanged"}
LEVELS = {"health": ("WARN", "CRITICAL", "LIQUIDATABLE"), "oracle": ("STALE", "SEQUENCER_DOWN", "INVALID")}
OWN_LABELS = frozenset({"alertname", "severity", "chain", "market", "protocol", "wallet", "position", "test"})
API_PATH = "/api/v2/alerts"
DAY = 86_400.0
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class AlertmanagerSettings(ChannelSettings):
    kind: Literal["alertmanager"] = "alertmanager"
    url: HttpUrl  # Alertmanager's base URL, with its --web.route-prefix if any; alerts go to <url>/api/v2/alerts
    labels: dict[str, str] = Field(default_factory=dict)  # static labels on every alert, e.g. {team = "risk"}
    generator_url: HttpUrl | None = None  # every alert's generatorURL (the link back), e.g. the dashboard
    ends_after: float = Field(default=7 * DAY, ge=60, le=365 * DAY)  # an open alert's endsAt, from when it is sent
    event_ends_after: float = Field(default=3600.0, ge=60, le=7 * DAY)  # the same for one-off events
    resend_every: float = Field(default=300.0, ge=0, le=DAY)  # re-assert the open alerts this often (0: never)

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.username or parts.password:
            raise ValueError("must not carry credentials (secrets never sit in config)")
        return value

    @field_validator("labels")
    @classmethod
    def _label_set(cls, value: dict[str, str]) -> dict[str, str]:
        for name, label in value.items():
            if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
                raise ValueError(f"{name!r} is not a label name (letters, digits, _, not starting with __)")
            if name in OWN_LABELS:
                raise ValueError(f"{name!r} is set by the channel itself")
            if not label:
                raise ValueError(f"label {name!r} is empty (Alertmanager drops empty labels)")
        return value


def timestamp(seconds: float) -> str:
    """RFC 3339 in UTC with milliseconds, as the API's date-time."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def position_key(message: AlertMessage) -> str:
    """``chain/market/wallet``: the position as the API addresses it (``/v1/positions/{chain}/{market}/{account}``)."""
    return f"{message.chain}/{message.market}/{message.account}"


def alert_annotations(message: AlertMessage, description: str) -> dict[str, str]:
    """One alert's annotations; ``description``: the channel's text (its template filled in, or the standard one)."""
    notes = {
        "summary": summary(message),
        "description": description,
        "health": "no debt" if message.health is None else message.health,
        "previous_health": message.previous_health or "",
        "collateral_value": message.collateral_value,
        "debt_value": message.debt_value,
        "quote": message.quote,
        "price_status": message.price_status,
        "block_number": str(message.block_number),
        "wallet_label": message.wallet_label or "",
        "detail": message.detail,
        "event": message.kind,
        "event_id": message.event_id,
    }
    return {name: value for name, value in notes.items() if value}


class AlertmanagerChannel(HttpChannel[AlertmanagerSettings]):
    kind: ClassVar[str] = "alertmanager"
    settings_model: ClassVar[type[ChannelSettings]] = AlertmanagerSettings
    resolves_any_alert: ClassVar[bool] = True  # a resolution ends every level the channel takes

    def __init__(self, name: str, settings: AlertmanagerSettings, *,
                 environ: Mapping[str, str] | None = None) -> None:
        Channel.__init__(self, name, settings)  # no secret to read: HttpChannel's constructor would insist on one
        self.clock: Callable[[], float] = time.time  # startsAt / endsAt are the time the request is built

    def request(self, message: AlertMessage) -> HttpRequest:
        body = json_body(self.alerts(message, now=self.clock()))
        return HttpRequest("POST", self.settings.url.rstrip("/") + API_PATH, self.headers(message), body)

    def alerts(self, message: AlertMessage, *, now: float) -> list[dict[str, Any]]:
        """The ``postableAlert`` list for one event, sent at ``now`` (unix time)."""
        notes = alert_annotations(message, self.text(message))
        levels = LEVELS.get(message.family)
        if message.test or levels is None:
            return [self._alert(message, message.severity, notes, ends=now + self.settings.event_ends_after,
                                starts=now)]
        if message.kind == "resolved":
            ending = [level for level in levels if self._takes(level)]
            if message.previous_severity and message.previous_severity not in levels:
                ending.append(message.previous_severity)
            return [self._alert(message, level, notes, ends=now) for level in ending]
        alerts = []
        if self._takes(message.severity):
            alerts.append(self._alert(message, message.severity, notes, ends=now + self.settings.ends_after,
                                      starts=now))
        previous = message.previous_severity
        if previous and previous != message.severity and self._takes(previous):
            alerts.append(self._alert(message, previous, notes, ends=now))
        return alerts

    def reassert(self, messages: list[AlertMessage], *, now: float) -> HttpRequest | None:
        """The open alerts it takes, each at its current level, in one request: an Alertmanager restarted since
        (it keeps alerts in memory only) learns them again; one that has them only sees their endsAt move on."""
        alerts = [self._alert(message, message.severity, alert_annotations(message, self.text(message)),
                              ends=now + self.settings.ends_after, starts=now)
                  for message in messages if self.accepts(message) and self._takes(message.severity)]
        if not alerts:
            return None
        return HttpRequest("POST", self.settings.url.rstrip("/") + API_PATH,
                           {"Content-Type": "application/json", "User-Agent": USER_AGENT}, json_body(alerts))

    def labels(self, message: AlertMessage, severity: str) -> dict[str, str]:
        """The alert's identity: the same for its opening, its updates and its resolution."""
        labels = {**self.settings.labels,
                  "alertname": ALERTNAME.get(message.family, "PositionAlert"),
                  "severity": severity.lower(), "chain": message.chain, "market": message.market,
                  "protocol": message.protocol, "wallet": message.account, "position": position_key(message)}
        if message.test:
            labels["test"] = "true"
        return labels

    def _alert(self, message: AlertMessage, severity: str, notes: dict[str, str], *, ends: float,
               starts: float | None = None) -> dict[str, Any]:
        alert: dict[str, Any] = {"labels": self.labels(message, severity), "annotations": notes}
        if starts is not None:  # an ending leaves startsAt to Alertmanager, which keeps the alert's own
            alert["startsAt"] = timestamp(starts)
        alert["endsAt"] = timestamp(ends)
        if self.settings.generator_url:
            alert["generatorURL"] = self.settings.generator_url
        return alert

    def _takes(self, severity: str) -> bool:
        return self.settings.severities is None or severity in self.settings.severities
