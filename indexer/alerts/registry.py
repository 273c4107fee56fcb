"""Every alert channel kind, one line each, and routing of events to configured channels.

Config shape (TOML ``[alerts.channels.<name>]``, or any mapping): ``{name: {"kind": ..., ...settings}}``. A kind's
module is imported when a channel of that kind is configured (loading settings imports only those: the CLI's
start-up).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from indexer.errors import ConfigError

if TYPE_CHECKING:
    from indexer.alerts.channels.base import Channel, ChannelSettings
    from indexer.alerts.message import AlertMessage

KINDS: dict[str, str] = {  # kind → the module and class that implement it
    "webhook": "indexer.alerts.channels.webhook:WebhookChannel",
    "slack": "indexer.alerts.channels.slack:SlackChannel",
    "discord": "indexer.alerts.channels.discord:DiscordChannel",
    "telegram": "indexer.alerts.channels.telegram:TelegramChannel",
    "pagerduty": "indexer.alerts.channels.pagerduty:PagerDutyChannel",
    "alertmanager": "indexer.alerts.channels.alertmanager:AlertmanagerChannel",
    "apprise": "indexer.alerts.channels.apprise:AppriseChannel",
    "log": "indexer.alerts.channels.log:LogChannel",
}


def channel_class(kind: str) -> type[Channel[Any]]:
    """The class of a known channel kind (``KINDS``), its module imported on first use."""
    module, _, name = KINDS[kind].partition(":")
    cls: type[Channel[Any]] = getattr(importlib.import_module(module), name)
    return cls


def channel_settings(name: str, raw: Mapping[str, Any]) -> ChannelSettings:
    """Validate one channel's config without touching the environment (for settings loading)."""
    kind = raw.get("kind")
    if kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        what = "has no kind" if kind is None else f"unknown kind {kind!r}"
        raise ConfigError(f"alert channel {name!r}: {what} (known: {known})")
    try:
        return channel_class(kind).settings_model.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(f"alert channel {name!r} ({kind}): {_first_error(exc)}") from None


def build_channels(config: Mapping[str, Mapping[str, Any]], *,
                   environ: Mapping[str, str] | None = None) -> dict[str, Channel[Any]]:
    """Channel instances by name, in config order. Reads each channel's secrets from ``environ``
    (default ``os.environ``); raises ``ConfigError`` naming the channel on any problem."""
    channels: dict[str, Channel[Any]] = {}
    for name, raw in config.items():
        settings = channel_settings(name, raw)
        channels[name] = channel_class(settings.kind)(name, settings, environ=environ)
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
