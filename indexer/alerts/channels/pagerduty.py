"""PagerDuty Events API v2: alerts trigger (or update) one incident per ``dedup_key``; resolutions resolve it."""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar, Literal

from indexer.alerts.channels.base import (
    ChannelSettings,
    EnvName,
    HttpChannel,
    HttpRequest,
    HttpUrl,
    json_body,
)
from indexer.alerts.format import summary
from indexer.alerts.message import AlertMessage

SEVERITY = {"WARN": "warning", "CRITICAL": "error", "LIQUIDATABLE": "critical",
            "STALE": "warning", "SEQUENCER_DOWN": "error", "INVALID": "error"}
MAX_DEDUP_KEY = 255


class PagerDutySettings(ChannelSettings):
    kind: Literal["pagerduty"] = "pagerduty"
    base_url: HttpUrl = "https://events.pagerduty.com"
    routing_key_env: EnvName  # environment variable holding the integration (routing) key
    source: str | None = None  # default: "<chain>/<market>"
    # margin changes are events with nothing to resolve: an incident for one would stay open, so they are opt-in
    families: tuple[Literal["health", "oracle", "margin"], ...] = ("health", "oracle")


def pd_dedup_key(key: str) -> str:
    """The key itself if it fits PagerDuty's 255 characters, else a stable shortened form."""
    if len(key) <= MAX_DEDUP_KEY:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: MAX_DEDUP_KEY - len(digest) - 1]}#{digest}"


class PagerDutyChannel(HttpChannel[PagerDutySettings]):
    kind: ClassVar[str] = "pagerduty"
    secret_setting: ClassVar[str] = "routing_key_env"
    settings_model: ClassVar[type[ChannelSettings]] = PagerDutySettings
    resolves_any_alert: ClassVar[bool] = True  # an incident must close; resolving an unknown key is a no-op
    forwards_acks: ClassVar[bool] = True  # an acknowledgement here acknowledges the incident there

    def request(self, message: AlertMessage) -> HttpRequest:
        key = self.secret.reveal()
        event: dict[str, Any] = {"routing_key": key, "dedup_key": pd_dedup_key(message.dedup_key)}
        if message.kind == "resolved" and not message.test:
            event["event_action"] = "resolve"
        elif message.kind == "acknowledged":
            event["event_action"] = "acknowledge"  # Events API v2: the incident of this dedup key, acknowledged
        else:
            event["event_action"] = "trigger"
            event["payload"] = {
                "summary": summary(message),
                "source": self.settings.source or f"{message.chain}/{message.market}",
                "severity": "info" if message.test else SEVERITY.get(message.severity, "error"),
                "component": message.market,
                "group": message.chain,
                "class": message.family,
                "custom_details": self._details(message),
            }
        url = f"{self.settings.base_url.rstrip('/')}/v2/enqueue"
        return HttpRequest("POST", url, self.headers(message), json_body(event), secrets=(key,))

    def _details(self, message: AlertMessage) -> dict[str, Any]:
        details = message.to_json()
        details["text"] = self.text(message)
        return details
