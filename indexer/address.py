"""Parsing user-supplied EVM addresses."""

import re

from indexer.errors import InvalidAddressError
from indexer.hexutil import to_checksum_address

_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SUFFIX = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def parse_address(text: str) -> str:
    """Checksummed form of ``text``; mixed-case input must carry a valid EIP-55 checksum."""
    value = text.strip()
    if not _HEX40.match(value):
        raise InvalidAddressError(f"{text!r} is not an address (expected 0x followed by 40 hex digits)")
    checksummed = to_checksum_address(value)
    if value != value.lower() and value != value.upper().replace("0X", "0x") and value != checksummed:
        raise InvalidAddressError(f"{text!r} has an invalid EIP-55 checksum (did you mean {checksummed}?)")
    return checksummed


def parse_account_id(text: str) -> str:
    """A position's account id: its owner's address, optionally followed by ``:`` and what tells the owner's
    positions apart on one market (Hyperliquid: an isolated position's coin, ``0xAbc…:ETH``)."""
    value = text.strip()
    owner, sep, suffix = value.partition(":")
    if sep and not _SUFFIX.match(suffix):
        raise InvalidAddressError(f"{text!r} is not an account id (0x + 40 hex digits, optionally :NAME with "
                                  "letters, digits and _.:- only)")
    return parse_address(owner) + (f":{suffix}" if sep else "")
