"""Every error leaves as JSON, and no stack trace ever reaches a client.

``BadParameter`` → 400 ``{"error", "parameter"}``; aiohttp's own HTTP errors (404, 405, 413, …) →
``{"error"}`` with their status; anything else is logged with its traceback and answered 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadParameter(Exception):
    """A request parameter (query, path or body field) that cannot be used; answered 400."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


class ApiError(Exception):
    """An error with a status and a message meant for the client (401, 403, 404 on a known route, …)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def error_response(status: int, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status, headers=headers)


_HTTP_MESSAGES = {404: "not found", 405: "method not allowed", 413: "request body too large"}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadParameter as exc:
        return error_response(400, exc.message, parameter=exc.parameter)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.headers, **exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate")}
        message = _HTTP_MESSAGES.get(exc.status, exc.reason.lower())
        extra = {"path": request.path} if exc.status == 404 else {}
        return error_response(exc.status, message, headers, **extra)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal server error")
