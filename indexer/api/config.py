"""The API's own settings. Read from ``settings.api`` when the settings object has such a section, with
safe defaults otherwise: no token means the mutating routes are disabled, no origins means CORS is off."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

DEFAULT_TOKEN_ENV = "INDEXER_API_TOKEN"


@dataclass(frozen=True, slots=True)
class ApiConfig:
    token: str | None = None  # the bearer token for POST/DELETE /v1/wallets; None disables those routes
    token_env: str = DEFAULT_TOKEN_ENV  # where the token was looked for (named in the 403 message)
    cors_origins: tuple[str, ...] = ()  # origins allowed to call /v1 from a browser; "*" allows any
    max_lag_seconds: int = 300  # /healthz marks a chain `behind` when its latest stored block is older
    dashboard_refresh_seconds: int = 30
    worker_threads: int = 8  # threads running the (synchronous) store queries


def api_config(settings: Any, environ: dict[str, str] | None = None) -> ApiConfig:
    """Build the config from ``settings.api`` (any object with those attribute names) and the environment."""
    env = os.environ if environ is None else environ
    section = getattr(settings, "api", None)
    token_env = getattr(section, "token_env", None) or DEFAULT_TOKEN_ENV
    token = env.get(token_env) or None
    origins = tuple(getattr(section, "cors_origins", None) or ())
    return ApiConfig(
        token=token,
        token_env=token_env,
        cors_origins=origins,
        max_lag_seconds=int(getattr(section, "max_lag_seconds", None) or 300),
        dashboard_refresh_seconds=int(getattr(section, "dashboard_refresh_seconds", None) or 30),
        worker_threads=int(getattr(section, "worker_threads", None) or 8),
    )
