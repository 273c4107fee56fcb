"""Opaque page cursors: the sort key of a page's last row, as URL-safe base64 of a small JSON document.

A cursor is only a position in the order, not a capability, so it is not signed; anything that does not
decode to a well-formed key for the requested sort is refused with 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal, InvalidOperation

from indexer.api.errors import BadParameter
from indexer.store.position_store import PageKey, PositionSort
from indexer.types import UINT256_MAX

VERSION = 1
_MAX_LENGTH = 512


def encode_cursor(key: PageKey, sort: PositionSort) -> str:
    document = {"v": VERSION, "s": sort, "h": None if key.health is None else format(key.health, "f"),
                "d": str(key.debt_value), "i": key.id}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: PositionSort) -> PageKey:
    def bad(why: str) -> BadParameter:
        return BadParameter("cursor", f"invalid cursor: {why}")

    if len(cursor) > _MAX_LENGTH:
        raise bad("too long")
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise bad("not a cursor returned by this API") from None
    if not isinstance(document, dict) or document.get("v") != VERSION:
        raise bad("not a cursor returned by this API")
    if document.get("s") != sort:
        raise bad(f"it was made for sort={document.get('s')!r}, not sort={sort!r}")
    health, debt, row_id = document.get("h"), document.get("d"), document.get("i")
    if not (health is None or isinstance(health, str)) or not isinstance(debt, str) or type(row_id) is not int:
        raise bad("malformed")
    try:
        parsed_health = None if health is None else Decimal(health)
    except InvalidOperation:
        raise bad("malformed") from None
    if parsed_health is not None and (not parsed_health.is_finite() or abs(parsed_health.adjusted()) > 50):
        raise bad("malformed")
    if not debt.isascii() or not debt.isdigit() or int(debt) > UINT256_MAX or not 0 <= row_id < 2**63:
        raise bad("malformed")
    return PageKey(parsed_health, int(debt), row_id)
