"""Telegram Bot API ``sendMessage``. The bot token is part of the URL, so the URL is never logged."""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar, Literal

from indexer.alerts.channels.base import (
    ChannelSettings,
    EnvName,
    HttpChannel,
    HttpRequest,
    HttpUrl,
    json_body,
    truncate,
)
from indexer.alerts.format import render
from indexer.alerts.message import AlertMessage

_MARKDOWN_V2 = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")


def markdown_v2(text: str) -> str:
    return _MARKDOWN_V2.sub(r"\\\1", text)


class TelegramSettings(ChannelSettings):
    kind: Literal["telegram"] = "telegram"
    base_url: HttpUrl = "https://api.telegram.org"
    token_env: EnvName  # environment variable holding the bot token
    chat_id: int | str  # numeric id or @channelname
    parse_mode: Literal["HTML", "MarkdownV2"] | None = None  # None: plain text


class TelegramChannel(HttpChannel[TelegramSettings]):
    kind: ClassVar[str] = "telegram"
    secret_setting: ClassVar[str] = "token_env"
    settings_model: ClassVar[type[ChannelSettings]] = TelegramSettings

    def request(self, message: AlertMessage) -> HttpRequest:
        payload: dict[str, Any] = {"chat_id": self.settings.chat_id, "text": truncate(self._text(message), 4096),
                                   "disable_web_page_preview": True}
        if self.settings.parse_mode:
            payload["parse_mode"] = self.settings.parse_mode
        token = self.secret.reveal()
        url = f"{self.settings.base_url.rstrip('/')}/bot{token}/sendMessage"
        return HttpRequest("POST", url, self.headers(message), json_body(payload), secrets=(token,))

    def _text(self, message: AlertMessage) -> str:
        if self.settings.template is not None:  # the template is sent as written (markup per parse_mode)
            return self.text(message)
        rendered = render(message)
        if self.settings.parse_mode == "HTML":
            lines = [html.escape(line, quote=False) for line in rendered.lines]
            return "\n".join([f"<b>{html.escape(rendered.title, quote=False)}</b>", *lines])
        if self.settings.parse_mode == "MarkdownV2":
            return "\n".join([f"*{markdown_v2(rendered.title)}*", *map(markdown_v2, rendered.lines)])
        return rendered.text
