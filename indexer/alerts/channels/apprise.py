"""Apprise: one channel for the long tail of services (email over SMTP, Microsoft Teams, ntfy, Opsgenie, Pushover,
Matrix, Mattermost, …), each named by an Apprise URL (``mailto://…``, ``msteams://…``, ``ntfy://…``; the list is
Apprise's own). The URLs carry credentials, so they come from the environment (``url_env``, several separated by
spaces or commas). Apprise sends synchronously; the dispatcher runs it off the event loop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from indexer.alerts.channels.base import ChannelSettings, EnvName, LocalChannel, environment, read_secret
from indexer.alerts.format import title
from indexer.alerts.message import AlertMessage
from indexer.errors import ConfigError

# Apprise's notification types: the services that show a colour or an icon use them.
NOTIFY_TYPE = {"WARN": "warning", "CRITICAL": "failure", "LIQUIDATABLE": "failure", "STALE": "warning",
               "SEQUENCER_DOWN": "failure", "INVALID": "failure", "OK": "success"}


class AppriseSettings(ChannelSettings):
    kind: Literal["apprise"] = "apprise"
    url_env: EnvName  # environment variable holding one or more Apprise URLs


class AppriseDeliveryError(RuntimeError):
    """At least one of the channel's services did not take the message (Apprise logs which, without secrets)."""


class AppriseChannel(LocalChannel[AppriseSettings]):
    kind: ClassVar[str] = "apprise"
    settings_model: ClassVar[type[ChannelSettings]] = AppriseSettings
    blocking: ClassVar[bool] = True  # network I/O: the dispatcher calls it in a thread

    def __init__(self, name: str, settings: AppriseSettings, *, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(name, settings)
        import apprise

        secret = read_secret(environment(environ), settings.url_env, channel=name, setting="url_env")
        self._apprise = apprise.Apprise()
        urls = [u for u in secret.reveal().replace(",", " ").split() if u]
        if not self._apprise.add(urls) or len(self._apprise) != len(urls):
            raise ConfigError(f"alert channel {name!r}: ${settings.url_env} holds an Apprise URL that Apprise does "
                              "not recognise (check its scheme)")

    def deliver_locally(self, message: AlertMessage) -> None:
        severity = "OK" if message.kind == "resolved" else message.severity
        sent = self._apprise.notify(body=self.text(message), title=title(message),
                                    notify_type=NOTIFY_TYPE.get(severity, "info"))
        if not sent:
            raise AppriseDeliveryError(f"a service of channel {self.name!r} did not take the message")
