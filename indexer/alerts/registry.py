"""Every alert channel kind, one line each, and routing of events to configured channels.

Config shape (TOML ``[alerts.channels.<name>]``, or any mapping): ``{name: {"kind": ..., ...settings}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from indexer.alerts.channels.alertmanager import AlertmanagerChannel
from indexer.alerts.channels.apprise import AppriseChannel
from indexer.alerts.channels.base import Channel, ChannelSettings
from indexer.alerts.channels.discord import DiscordChannel
from indexer.alerts.channels.log import LogChannel
from indexer.alerts.channels.pagerduty import PagerDutyChannel
from indexer.alerts.channels.slack import SlackChannel
from indexer.alerts.channels.telegram import TelegramChannel
from indexer.alerts.channels.webhook import WebhookChannel
from indexer.alerts.message import AlertMessage
from indexer.errors import ConfigError

CHANNELS: dict[str, type[Channel[Any]]] = {cls.kind: cls for cls in (
    WebhookChannel,
    SlackChannel,
    DiscordChannel,
    TelegramChannel,
    PagerDutyChannel,
    AlertmanagerChannel,
    AppriseChannel,
    LogChannel,
)}


def channel_settings(name: str, raw: Mapping[str, Any]) -> ChannelSettings:
    """Validate one channel's config without touching the environment (for settings loading)."""
    kind = raw.get("kind")
    if kind not in CHANNELS:
        known = ", ".join(sorted(CHANNELS))
        what = "has no kind" if kind is None else f"unknown kind {kind!r}"
        raise ConfigError(f"alert channel {name!r}: {what} (known: {known})")
    try:
        return CHANNELS[kind].settings_model.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(f"alert channel {name!r} ({kind}): {_first_error(exc)}") from None


def build_channels(config: Mapping[str, Mapping[str, Any]], *,
                   environ: Mapping[str, str] | None = None) -> dict[str, Channel[Any]]:
    """Channel instances by name, in config order. Reads each channel's secrets from ``environ``
    (default ``os.environ``); raises ``ConfigError`` naming the channel on any problem."""
    channels: dict[str, Channel[Any]] = {}
    for name, raw in config.items():
        settings = channel_settings(name, raw)
        channels[name] = CHANNELS[settings.kind](name, settings, environ=environ)
    return channels


def routes(message: AlertMessage, channels: Mapping[str, Channel[Any]]) -> list[str]:
    """Names of the channels this event goes to (see ``Channel.accepts`` for the rule)."""
    return [name for name, channel in channels.items() if channel.accepts(message)]


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    if err["type"] == "missing":
        return f"missing key {where!r}"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"
