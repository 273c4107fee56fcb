"""Bearer-token check for the mutating routes. The token lives in the server's environment only."""

from __future__ import annotations

import hmac

from aiohttp import web

from indexer.api.errors import ApiError
from indexer.api.keys import CONFIG


def require_token(request: web.Request) -> None:
    """Raise 403 when no token is configured (the routes are disabled), 401 when it is missing or wrong."""
    config = request.app[CONFIG]
    if config.token is None:
        raise ApiError(403, f"changes over the API are disabled: set {config.token_env} in the "
                            "server's environment to enable it")
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    # compare_digest runs in time independent of where the strings differ; bytes, so any text is accepted.
    if scheme.lower() != "bearer" or not hmac.compare_digest(supplied.strip().encode(), config.token.encode()):
        raise ApiError(401, "missing or wrong bearer token", {"WWW-Authenticate": 'Bearer realm="indexer"'})
