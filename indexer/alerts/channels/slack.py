"""Slack incoming webhook: plain ``text`` for notifications, ``blocks`` for the channel view."""

from __future__ import annotations

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


class SlackSettings(ChannelSettings):
    kind: Literal["slack"] = "slack"
    url_env: EnvName  # environment variable holding the webhook URL (the URL is the secret)
    base_url: HttpUrl | None = None  # post to this scheme://host instead, keeping the URL's path (proxies, tests)


def escape(text: str) -> str:
    """Slack's mrkdwn reserves only these three."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackChannel(HttpChannel[SlackSettings]):
    kind: ClassVar[str] = "slack"
    secret_setting: ClassVar[str] = "url_env"
    settings_model: ClassVar[type[ChannelSettings]] = SlackSettings

    def request(self, message: AlertMessage) -> HttpRequest:
        rendered = render(message)
        # with a template, it is the notification's text and the section's (the header keeps the title)
        text = rendered.text if self.settings.template is None else self.text(message)
        lines = "\n".join(rendered.lines) if self.settings.template is None else text
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(rendered.title, 150), "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(escape(lines), 3000)}},
        ]
        body = json_body({"text": escape(text), "blocks": blocks, "unfurl_links": False})
        url = self.secret.reveal()
        return HttpRequest("POST", rebase(url, self.settings.base_url), self.headers(message), body,
                           secrets=(url,))
