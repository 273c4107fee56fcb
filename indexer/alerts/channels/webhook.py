"""Generic webhook: the whole event as JSON plus its text, signed with HMAC-SHA256 over the exact body."""

from __future__ import annotations

import hashlib
import hmac
from typing import ClassVar, Literal

from indexer.alerts.channels.base import (
    ChannelSettings,
    EnvName,
    HttpChannel,
    HttpRequest,
    HttpUrl,
    json_body,
)
from indexer.alerts.message import AlertMessage


class WebhookSettings(ChannelSettings):
    kind: Literal["webhook"] = "webhook"
    base_url: HttpUrl  # the receiver's endpoint, posted to as is
    secret_env: EnvName  # environment variable holding the HMAC key


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Signature`` header value a receiver recomputes to check the body came from us."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookChannel(HttpChannel[WebhookSettings]):
    kind: ClassVar[str] = "webhook"
    forwards_acks: ClassVar[bool] = True  # the receiver gets the acknowledged event as JSON
    secret_setting: ClassVar[str] = "secret_env"
    settings_model: ClassVar[type[ChannelSettings]] = WebhookSettings

    def request(self, message: AlertMessage) -> HttpRequest:
        body = json_body({**message.to_json(), "text": self.text(message)})
        secret = self.secret.reveal()
        headers = self.headers(message)
        headers["X-Signature"] = signature(secret.encode(), body)
        return HttpRequest("POST", self.settings.base_url, headers, body, secrets=(secret,))
