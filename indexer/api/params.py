"""Parsing and validating request parameters; each failure is a ``BadParameter`` naming the parameter."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from indexer.address import parse_account_id, parse_address
from indexer.api.errors import BadParameter
from indexer.errors import InvalidAddressError
from indexer.oracles.status import PriceStatus

MAX_TEXT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def reject_unknown(query: MultiMapping[str], allowed: Collection[str]) -> None:
    """A misspelt filter must not silently widen a result, so unknown query parameters are refused."""
    for name in query:
        if name not in allowed:
            raise BadParameter(name, f"unknown parameter {name!r} (allowed: {', '.join(sorted(allowed)) or 'none'})")
    for name in set(query):
        if len(query.getall(name)) > 1:
            raise BadParameter(name, f"parameter {name!r} is given more than once")


def text(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    return None if value is None else name_value(value, name)


def name_value(value: str, name: str) -> str:
    """A name (chain, market, protocol): 1 to 200 characters, none of them a control character."""
    if not 1 <= len(value) <= MAX_TEXT:
        raise BadParameter(name, f"{name} must be 1 to {MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise BadParameter(name, f"{name} must not contain control characters")
    return value


def account_id(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return parse_account_id(value)
    except InvalidAddressError as exc:
        raise BadParameter(name, str(exc)) from None


def address(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return parse_address(value)
    except InvalidAddressError as exc:
        raise BadParameter(name, str(exc)) from None


def decimal(value: Any, name: str, *, minimum: Decimal | None = Decimal(0),
            maximum: Decimal | None = None) -> Decimal | None:
    """An exact decimal from text (or a JSON number read as Decimal/int); never goes through float."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise BadParameter(name, f"{name} must be a decimal number")
    try:
        parsed = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise BadParameter(name, f"{name} must be a decimal number, got {str(value)[:40]!r}") from None
    if not parsed.is_finite():
        raise BadParameter(name, f"{name} must be finite")
    if minimum is not None and parsed < minimum:
        raise BadParameter(name, f"{name} must be at least {minimum}")
    if maximum is not None and parsed > maximum:
        raise BadParameter(name, f"{name} must be at most {maximum}")
    if parsed.adjusted() > 40:
        raise BadParameter(name, f"{name} is out of range")
    return parsed


def integer(query: Mapping[str, str], name: str, *, default: int | None = None, minimum: int = 0,
            maximum: int | None = None, clamp: bool = False) -> int | None:
    """A base-10 integer; above ``maximum`` it is clamped when ``clamp``, else refused."""
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 30:
        raise BadParameter(name, f"{name} must be an integer, got {raw[:40]!r}")
    value = int(raw)
    if value < minimum:
        raise BadParameter(name, f"{name} must be at least {minimum}")
    if maximum is not None and value > maximum:
        if clamp:
            return maximum
        raise BadParameter(name, f"{name} must be at most {maximum}")
    return value


def choice(query: Mapping[str, str], name: str, options: Collection[str], *, default: str | None = None,
           fold: bool = False) -> str | None:
    raw = query.get(name)
    if raw is None:
        return default
    value = raw.upper() if fold else raw
    if value not in options:
        raise BadParameter(name, f"{name} must be one of {', '.join(options)}")
    return value


def price_status(query: Mapping[str, str], name: str = "price_status") -> str | None:
    return choice(query, name, [s.value for s in PriceStatus], fold=True)


def boolean(query: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    raw = query.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise BadParameter(name, f"{name} must be true or false")


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
