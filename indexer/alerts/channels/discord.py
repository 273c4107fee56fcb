"""Discord webhook: the title as ``content`` (what a push notification shows), the rest in a coloured embed."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from indexer.alerts.channels.base import (
    ChannelSettings,
    EnvName,
    HttpChannel,
    HttpRequest,
    HttpUrl,
    json_body,
    rebase,
    truncate,
)
from indexer.alerts.format import render
from indexer.alerts.message import AlertMessage

COLOURS = {"WARN": 0xFBC02D, "CRITICAL": 0xF57C00, "LIQUIDATABLE": 0xD32F2F,
           "STALE": 0x7B1FA2, "SEQUENCER_DOWN": 0x7B1FA2, "INVALID": 0x7B1FA2}
RESOLVED, TEST = 0x388E3C, 0x1976D2
_MARKDOWN = re.compile(r"([\\*_~`|])")


class DiscordSettings(ChannelSettings):
    kind: Literal["discord"] = "discord"
    url_env: EnvName  # environment variable holding the webhook URL (the URL is the secret)
    base_url: HttpUrl | None = None  # post to this scheme://host instead, keeping the URL's path (proxies, tests)
    wait: bool = False  # ?wait=true: Discord answers only once the message is stored
    username: str | None = None


def escape(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


class DiscordChannel(HttpChannel[DiscordSettings]):
    kind: ClassVar[str] = "discord"
    secret_setting: ClassVar[str] = "url_env"
    settings_model: ClassVar[type[ChannelSettings]] = DiscordSettings

    def request(self, message: AlertMessage) -> HttpRequest:
        rendered = render(message)
        colour = TEST if message.test else RESOLVED if message.kind == "resolved" else COLOURS.get(message.severity)
        lines = "\n".join(rendered.lines) if self.settings.template is None else self.text(message)
        embed = {"description": truncate(escape(lines), 4096), "color": colour,
                 "footer": {"text": f"event {message.event_id}"}}
        payload = {"content": truncate(escape(rendered.title), 2000), "embeds": [embed],
                   "allowed_mentions": {"parse": []}}
        if self.settings.username:
            payload["username"] = self.settings.username
        secret_url = self.secret.reveal()
        url = rebase(secret_url, self.settings.base_url)
        if self.settings.wait:
            url += ("&" if "?" in url else "?") + "wait=true"
        return HttpRequest("POST", url, self.headers(message), json_body(payload), secrets=(secret_url,))
