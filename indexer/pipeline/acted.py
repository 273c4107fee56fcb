"""Which accounts acted: every account the logs of a market's watched contracts name over the blocks since its last
read (``protocols.base.ChangeReads``). The others are vouched unchanged, so the read may rebuild them.

Naming is read conservatively, without the events' ABIs: every topic after the first and every 32-byte word of the
data that holds an address (twelve zero bytes, then a nonzero value) names that address. An amount small enough to
look like an address names some address too, which at worst reads one more account anew; an account that acted is
never missed as long as each action logs it in one of those places."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from eth_utils import to_checksum_address

from indexer.types import Address, BlockRef

log = logging.getLogger(__name__)

_ADDRESS_PAD = "0" * 24


def changes_query(emitters: Collection[Address], start: int, end: int) -> dict[str, Any]:
    """The ``eth_getLogs`` filter of every log of ``emitters`` in blocks ``start`` … ``end``."""
    return {"address": sorted(emitters), "fromBlock": hex(start), "toBlock": hex(end)}


def _words(entry: Mapping[str, Any]) -> Iterable[str]:
    """The 64-hex-digit words of a log that may hold an address: its topics after topic0, its data's words."""
    topics = entry.get("topics") or []
    yield from (t[2:] if t.startswith("0x") else t for t in topics[1:])
    data = entry.get("data") or "0x"
    data = data[2:] if data.startswith("0x") else data
    yield from (data[i: i + 64] for i in range(0, len(data) - 63, 64))


def named_accounts(logs: Iterable[Mapping[str, Any]], start: int, header: BlockRef) -> set[Address] | None:
    """Every address the ``logs`` (blocks ``start`` … ``header``) name; None when the answer does not hold together:
    a log outside the range, or one of the header's height under another block hash (the node answered for a block
    the header check did not see), so that nobody can be vouched for."""
    named: set[str] = set()
    for entry in logs:
        number = int(entry["blockNumber"], 16)
        if not start <= number <= header.number or (
                number == header.number and str(entry.get("blockHash", "")).lower() != header.hash.lower()):
            log.warning("change logs out of step block=%d log_block=%d: nobody vouched for", header.number, number)
            return None
        for word in _words(entry):
            if len(word) == 64 and word.startswith(_ADDRESS_PAD) and word[24:].strip("0"):
                named.add(word[24:].lower())
    return {to_checksum_address("0x" + value) for value in named}
