"""What every alert channel shares: routing settings, the request it builds, and how it holds secrets.

A channel is configured by name (``[alerts.channels.<name>]``) and built once at start-up. Secrets never
sit in config: a setting ending in ``_env`` names the environment variable that holds one, and the value
is read when the channel is built, so a missing secret fails start-up rather than the first delivery.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from indexer.alerts.message import AlertMessage
from indexer.chain.redact import redact_url
from indexer.errors import ConfigError

SEVERITIES = ("WARN", "CRITICAL", "LIQUIDATABLE", "STALE", "SEQUENCER_DOWN", "INVALID")
USER_AGENT = "position-health-indexer"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError("must be the NAME of an environment variable holding the secret, not the secret itself")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]


class ChannelSettings(BaseModel):
    """Settings every channel has. ``severities``: which severities it takes (default: all);
    ``families``: which alert families (health, oracle, margin: a protocol changed a margin parameter);
    ``timeout``: seconds per delivery attempt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    severities: tuple[str, ...] | None = None
    families: tuple[Literal["health", "oracle", "margin"], ...] = ("health", "oracle", "margin")
    timeout: float = Field(default=10.0, gt=0, le=300)
    template: str | None = Field(default=None, min_length=1, max_length=4000)  # the message text, $field-style

    @field_validator("template")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        from indexer.alerts.format import check_template

        return None if value is None else check_template(value)

    @field_validator("severities")
    @classmethod
    def _known_severities(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        upper = tuple(s.upper() for s in value)
        unknown = sorted(set(upper) - set(SEVERITIES))
        if unknown:
            raise ValueError(f"unknown severities {unknown} (known: {', '.join(SEVERITIES)})")
        return upper


class Secret:
    """A secret value that does not show itself in ``repr``, ``str`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def read_secret(environ: Mapping[str, str], var: str, *, channel: str, setting: str) -> Secret:
    value = environ.get(var, "").strip()
    if not value:
        raise ConfigError(f"alert channel {channel!r}: environment variable {var} ({setting}) is not set")
    return Secret(value)


def rebase(url: str, base_url: str | None) -> str:
    """``url`` sent to ``base_url``'s scheme and host instead (a proxy or a test server), keeping its path."""
    if base_url is None:
        return url
    target, base = urlsplit(url), urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + target.path, target.query, ""))


def json_body(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True, repr=False)
class HttpRequest:
    """One delivery attempt's request. ``secrets`` are the strings to scrub from any text about it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    secrets: tuple[str, ...] = field(default=())

    def redact(self, text: str) -> str:
        text = text.replace(self.url, redact_url(self.url))
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return text

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"HttpRequest({self.method} {redact_url(self.url)}, {len(self.body)} bytes)"


S = TypeVar("S", bound=ChannelSettings)


class Channel(ABC, Generic[S]):
    """Base of every channel: a name, validated settings, and the routing rule. Secrets are read at
    construction (from ``environ``, default ``os.environ``; see ``HttpChannel.secret_setting``)."""

    kind: ClassVar[str]
    settings_model: ClassVar[type[ChannelSettings]]
    resolves_any_alert: ClassVar[bool] = False  # takes every resolution of its families (see ``accepts``)
    forwards_acks: ClassVar[bool] = False  # an acknowledgement is sent on to it (``indexer.alerts.acks``)

    def __init__(self, name: str, settings: S, *, environ: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.settings = settings

    def accepts(self, message: AlertMessage) -> bool:
        """Test messages go everywhere. Otherwise the family must match and so must the severity that
        matters: the new one for openings and escalations, the previous one for resolutions (the channel
        that heard the alert hears it end), either one for de-escalations. A channel that keeps incidents
        open (``resolves_any_alert``) takes every resolution, since the alert may have climbed down
        through severities it does not take."""
        if message.test:
            return True
        if message.family not in self.settings.families:
            return False
        if message.kind == "resolved" and self.resolves_any_alert:
            return True
        wanted = self.settings.severities
        if wanted is None:
            return True
        if message.kind == "resolved":
            return message.previous_severity in wanted
        if message.kind == "deescalated":
            return message.severity in wanted or message.previous_severity in wanted
        return message.severity in wanted

    def text(self, message: AlertMessage) -> str:
        """The message's text for this channel: its ``template`` filled in, else the standard text."""
        from indexer.alerts.format import fill, text

        return text(message) if self.settings.template is None else fill(self.settings.template, message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class HttpChannel(Channel[S]):
    """A channel that delivers by one HTTP request per message; ``request`` is pure. Its one secret is
    read at construction from the environment variable named by the setting ``secret_setting``."""

    secret_setting: ClassVar[str]  # e.g. "url_env": the setting that names the secret's variable

    def __init__(self, name: str, settings: S, *, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(name, settings)
        self.secret = read_secret(environment(environ), getattr(settings, self.secret_setting), channel=name,
                                  setting=self.secret_setting)

    @abstractmethod
    def request(self, message: AlertMessage) -> HttpRequest: ...

    @staticmethod
    def headers(message: AlertMessage) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-Idempotency-Key": message.event_id,
                "User-Agent": USER_AGENT}


class LocalChannel(Channel[S]):
    """A channel that delivers in process: ``deliver_locally`` either returns or raises. ``blocking``: it does
    blocking I/O (a library's own network client), so the dispatcher runs it in a thread."""

    blocking: ClassVar[bool] = False

    @abstractmethod
    def deliver_locally(self, message: AlertMessage) -> None: ...


def environment(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """The environment secrets are read from; ``NAME_FILE`` gives ``NAME`` from a file (``indexer.environ``)."""
    from indexer.environ import environ as with_files

    return with_files(environ)
