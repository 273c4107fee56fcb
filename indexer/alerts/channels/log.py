"""The log channel: writes the alert text to a logger (and stdout if asked). No network, never retried."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import ClassVar, Literal

from indexer.alerts.channels.base import ChannelSettings, LocalChannel
from indexer.alerts.message import AlertMessage


class LogSettings(ChannelSettings):
    kind: Literal["log"] = "log"
    logger: str = "indexer.alerts.log"
    stdout: bool = False


class LogChannel(LocalChannel[LogSettings]):
    kind: ClassVar[str] = "log"
    settings_model: ClassVar[type[ChannelSettings]] = LogSettings

    def __init__(self, name: str, settings: LogSettings, *, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(name, settings)
        self._log = logging.getLogger(settings.logger)

    def deliver_locally(self, message: AlertMessage) -> None:
        body = self.text(message)
        level = logging.INFO if message.test or message.kind == "resolved" else logging.WARNING
        self._log.log(level, "%s", body)
        if self.settings.stdout:
            sys.stdout.write(body + "\n\n")
            sys.stdout.flush()
