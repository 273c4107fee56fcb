"""The API's own settings, from ``[api]``: no token in the environment means the mutating routes are
disabled, no origins means CORS is off."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from indexer.environ import environ as with_files
from indexer.settings import Settings

DEFAULT_TOKEN_ENV = "INDEXER_API_TOKEN"


@dataclass(frozen=True, slots=True)
class ApiConfig:
    token: str | None = None  # the bearer token for POST/DELETE /v1/wallets; None disables those routes
    token_env: str = DEFAULT_TOKEN_ENV  # where the token was looked for (named in the 403 message)
    cors_origins: tuple[str, ...] = ()  # origins allowed to call /v1 from a browser; "*" allows any
    max_lag_seconds: int = 300  # /healthz marks a chain `behind` when its latest stored block is older
    dashboard_refresh_seconds: int = 30
    worker_threads: int = 8  # threads running the (synchronous) store queries


def api_config(settings: Settings, environ: Mapping[str, str] | None = None) -> ApiConfig:
    """Build the config from ``settings.api`` and the token from the environment variable it names."""
    env = with_files(environ)
    section = settings.api
    return ApiConfig(
        token=env.get(section.token_env) or None,
        token_env=section.token_env,
        cors_origins=tuple(section.cors_origins),
        max_lag_seconds=section.max_lag_seconds,
        dashboard_refresh_seconds=section.dashboard_refresh_seconds,
        worker_threads=section.worker_threads,
    )
