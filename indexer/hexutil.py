"""Keccak-256 and EIP-55 checksummed addresses, on eth-hash directly: importing eth-utils for these two costs a fifth
of a second of every command's start-up (bench/startup.py); a unit test holds them equal to eth-utils' own."""

from __future__ import annotations

import re

from eth_hash.auto import keccak as _keccak

_HEX40 = re.compile(r"^(0x)?[0-9a-fA-F]{40}$")


def keccak(primitive: bytes | None = None, *, text: str | None = None) -> bytes:
    """Keccak-256 of ``primitive``, or of ``text`` encoded as UTF-8."""
    if (primitive is None) == (text is None):
        raise TypeError("keccak takes bytes or text=, exactly one")
    return _keccak(primitive if primitive is not None else text.encode())  # type: ignore[union-attr]


def to_checksum_address(value: str | bytes) -> str:
    """The EIP-55 form of a 20-byte address given as hex (any case, with or without 0x) or as 20 bytes: a letter
    is upper case where the matching nibble of keccak(lower-case hex) is 8 or more."""
    if isinstance(value, bytes | bytearray):
        if len(value) != 20:
            raise ValueError(f"an address is 20 bytes, not {len(value)}")
        hexed = bytes(value).hex()
    else:
        if not _HEX40.match(value):
            raise ValueError(f"{value!r} is not a 20-byte hex address")
        hexed = value[2:].lower() if value[:2] in ("0x", "0X") else value.lower()
    digest = _keccak(hexed.encode()).hex()
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(hexed, digest[:40], strict=True))
