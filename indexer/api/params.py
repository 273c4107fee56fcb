"""Parsing and validating request parameters; each failure is a ``BadParameter`` naming the parameter."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel, ValidationError

from indexer.api.errors import BadParameter

if TYPE_CHECKING:
    from indexer.api.routes import Route


def reject_unknown(query: MultiMapping[str], allowed: Collection[str]) -> None:
    """A misspelt filter must not silently widen a result, so unknown query parameters are refused."""
    for name in query:
        if name not in allowed:
            raise BadParameter(name, f"unknown parameter {name!r} (allowed: {', '.join(sorted(allowed)) or 'none'})")
    for name in set(query):
        if len(query.getall(name)) > 1:
            raise BadParameter(name, f"parameter {name!r} is given more than once")


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (decimals kept exact); else 400 naming ``body``."""
    raw = await request.read()
    try:
        body = json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        raise BadParameter("body", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadParameter("body", "the body must be a JSON object")
    return body


# -- the routes' models (``indexer.api.models``): one call per input, checked against the route's declaration --------
M = TypeVar("M", bound=BaseModel)


def _declared(request: web.Request, kind: str, model: type[BaseModel]) -> Route:
    """The request's route, after checking it declares ``model`` as its ``kind`` (query, params or body)."""
    from indexer.api.routes import declared  # the route table imports every handler module

    route = declared(request)
    if getattr(route, kind) is not model:
        raise RuntimeError(f"{route.method} {route.path} declares {kind}={getattr(route, kind)!r}, the handler "
                           f"reads {model.__name__}")
    return route


def _bad(exc: ValidationError, model: type[BaseModel], where: str) -> BadParameter:
    """The first error of a model's validation as a 400 naming its field (``where`` for the whole)."""
    error = exc.errors(include_url=False)[0]
    name = str(error["loc"][0]) if error["loc"] else where
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(model.model_fields) or "none"
        return BadParameter(name, f"unknown field {name!r} (allowed: {allowed})")
    if kind == "missing":
        return BadParameter(name, f"{name} is required")
    if kind == "value_error":
        reason = str(error.get("ctx", {}).get("error", error["msg"]))
        return BadParameter(name, reason if reason.startswith(name) or not error["loc"] else f"{name} {reason}")
    return BadParameter(name, f"{name}: {error['msg']}")


def validate(model: type[M], data: Mapping[str, Any], where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _bad(exc, model, where) from None


def query(request: web.Request, model: type[M]) -> M:
    """The query string as ``model``: unknown or repeated parameters are refused, then each is validated."""
    _declared(request, "query", model)
    reject_unknown(request.query, model.model_fields)
    return validate(model, dict(request.query), "query")


def path(request: web.Request, model: type[M]) -> M:
    _declared(request, "params", model)
    return validate(model, dict(request.match_info), "path")


async def body(request: web.Request, model: type[M]) -> M:
    """The JSON body as ``model``; an absent body is an empty object where the route does not require one."""
    route = _declared(request, "body", model)
    if not request.can_read_body and not route.body_required:
        return validate(model, {}, "body")
    return validate(model, await json_object(request), "body")
