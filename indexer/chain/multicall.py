"""Batched contract reads through Multicall3 ``aggregate3``, every read pinned to one block.

A round of calls is split into chunks of ``batch_size``; all chunks of a round go to the node as one
JSON-RPC batch (one HTTP round trip). A chunk the node rejects as too large is halved and retried.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from indexer.chain.rpc import RpcClient
from indexer.errors import CallRevertedError, RpcResponseError
from indexer.hexutil import keccak
from indexer.plans import drive

log = logging.getLogger(__name__)

MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
AGGREGATE3 = bytes.fromhex("82ad56cb")
_STATIC_WORD = ("uint", "int", "address", "bool", "bytes32")


@functools.cache
def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


_ZERO12 = bytes(12)


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def encode_aggregate3(calls: Sequence[Call]) -> bytes:
    """``aggregate3((address,bool,bytes)[])`` calldata with allowFailure = true for every call.

    Equal to eth-abi's encoding (a unit test holds it to that) but several times faster: the shape is
    fixed, so the head offsets and tails are laid out directly.
    """
    n = len(calls)
    tails = []
    for call in calls:
        data = call.data
        pad = -len(data) % 32
        tails.append(b"".join((_ZERO12, bytes.fromhex(call.target[2:]), _word(1), _word(96), _word(len(data)),
                               data, bytes(pad))))
    offsets, position = [], 32 * n
    for tail in tails:
        offsets.append(_word(position))
        position += len(tail)
    return b"".join((AGGREGATE3, _word(32), _word(n), *offsets, *tails))


def decode_aggregate3(data: bytes) -> list[tuple[bool, bytes]]:
    """The ``(bool success, bytes returnData)[]`` result of ``aggregate3``, read directly (see above)."""
    start = int.from_bytes(data[0:32], "big")
    n = int.from_bytes(data[start: start + 32], "big")
    base = start + 32
    out = []
    for i in range(n):
        element = base + int.from_bytes(data[base + 32 * i: base + 32 * i + 32], "big")
        ok = data[element + 31] == 1
        at = element + int.from_bytes(data[element + 32: element + 64], "big")
        length = int.from_bytes(data[at: at + 32], "big")
        out.append((ok, data[at + 32: at + 32 + length]))
    return out


@dataclass(frozen=True, slots=True)
class Call:
    """One contract read: target, calldata, and the ABI types of what it returns."""

    target: str
    data: bytes
    output: tuple[str, ...]
    allow_failure: bool = False

    @classmethod
    def of(cls, target: str, signature: str, args: Sequence[Any] = (), arg_types: Sequence[str] = (),
           output: Sequence[str] = ("uint256",), allow_failure: bool = False) -> Call:
        if not arg_types:
            data = selector(signature)
        elif len(arg_types) == 1 and arg_types[0] == "address":  # the common case, encoded directly
            data = selector(signature) + _ZERO12 + bytes.fromhex(args[0][2:])
        else:
            from eth_abi import encode  # imported on first use: eth-abi is a quarter second of start-up

            data = selector(signature) + encode(list(arg_types), list(args))
        return cls(target, data, tuple(output), allow_failure)


class Failed:
    """Result of a call that reverted (or returned undecodable data) with ``allow_failure``."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Failed({self.reason!r})"


def _is_static(types: tuple[str, ...]) -> bool:
    return all(t.startswith(_STATIC_WORD) and "[" not in t for t in types)


def decode_output(call: Call, data: bytes) -> tuple[Any, ...]:
    """Decode return data; a fast path for all-static outputs (the common case: integers, addresses)."""
    if _is_static(call.output):
        if len(data) < 32 * len(call.output):
            raise ValueError(f"{len(data)} bytes for {len(call.output)} words")
        out: list[Any] = []
        for i, t in enumerate(call.output):
            word = data[32 * i: 32 * i + 32]
            if t.startswith("uint"):
                out.append(int.from_bytes(word, "big"))
            elif t.startswith("int"):
                out.append(int.from_bytes(word, "big", signed=True))
            elif t == "bool":
                out.append(word[-1] == 1)
            elif t == "address":
                out.append("0x" + word[12:].hex())
            else:
                out.append(word)
        return tuple(out)
    from eth_abi import decode

    return decode(list(call.output), data)


class MulticallReader:
    """Reads rounds of calls at one pinned block through Multicall3."""

    def __init__(self, rpc: RpcClient, block_number: int, *, address: str = MULTICALL3,
                 batch_size: int = 1000) -> None:
        self.rpc = rpc
        self.block_number = block_number
        self.address = address
        self.batch_size = batch_size

    def _eth_call(self, chunk: Sequence[Call]) -> tuple[str, list[Any]]:
        payload = encode_aggregate3(chunk)
        return ("eth_call", [{"to": self.address, "data": "0x" + payload.hex()}, hex(self.block_number)])

    async def read(self, calls: Sequence[Call]) -> list[Any]:
        """Execute calls; each result is a decoded tuple, or ``Failed`` where failure is allowed."""
        if not calls:
            return []
        chunks = [calls[i: i + self.batch_size] for i in range(0, len(calls), self.batch_size)]
        try:
            raw = await self.rpc.batch([self._eth_call(c) for c in chunks])
        except (RpcResponseError, CallRevertedError) as exc:
            if self.batch_size <= 1 or ("gas" not in str(exc).lower() and "too large" not in str(exc).lower()):
                raise
            log.warning("multicall batch rejected, halving batch_size=%d error=%s", self.batch_size, exc)
            self.batch_size //= 2
            return await self.read(calls)
        results: list[Any] = []
        for chunk, hex_data in zip(chunks, raw, strict=True):
            results.extend(self._decode_chunk(chunk, hex_data))
        return results

    def _decode_chunk(self, chunk: Sequence[Call], hex_data: Any) -> list[Any]:
        if not isinstance(hex_data, str) or not hex_data.startswith("0x"):
            raise RpcResponseError(f"eth_call at block {self.block_number} answered {str(hex_data)[:40]!r}, not hex "
                                   "data: the node is not answering as an Ethereum node does")
        try:
            data = bytes.fromhex(hex_data[2:])
        except ValueError:
            raise RpcResponseError(f"eth_call at block {self.block_number} answered malformed hex "
                                   f"({len(hex_data) - 2} digits{', odd' if len(hex_data) % 2 else ''})") from None
        if not data:
            raise CallRevertedError(
                f"no Multicall3 at {self.address} on block {self.block_number} (empty return data)")
        try:
            pairs = decode_aggregate3(data)
        except (IndexError, ValueError):
            raise CallRevertedError(f"malformed aggregate3 result at block {self.block_number}") from None
        if len(pairs) != len(chunk):
            raise CallRevertedError(f"aggregate3 answered {len(pairs)} results for {len(chunk)} calls")
        out: list[Any] = []
        for call, (ok, ret) in zip(chunk, pairs, strict=True):
            if ok:
                try:
                    out.append(decode_output(call, ret))
                    continue
                except Exception as exc:  # eth_abi raises several unrelated types
                    reason = f"undecodable return data ({len(ret)} bytes): {exc}"
            else:
                reason = "reverted" + (f" 0x{ret.hex()}" if ret else "")
            if not call.allow_failure:
                raise CallRevertedError(
                    f"call 0x{call.data[:4].hex()} to {call.target} at block {self.block_number}: {reason}")
            out.append(Failed(reason))
        return out


T = TypeVar("T")
Plan = Generator[list[Call], list[Any], T]
"""An adapter's read: yields rounds of calls, receives their results, returns its value."""


class KeyedRound:
    """The calls of one plan round, each under a key, so a plan reads its results back by name rather than by
    position (for rounds whose calls depend on what earlier rounds found)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.keys: list[tuple[Any, ...]] = []

    def add(self, key: tuple[Any, ...], call: Call) -> None:
        self.keys.append(key)
        self.calls.append(call)

    def results(self, got: Sequence[Any]) -> dict[tuple[Any, ...], Any]:
        return dict(zip(self.keys, got, strict=True))


async def run_plans(reader: MulticallReader, plans: Sequence[Plan[Any]]) -> list[Any]:
    """Drive several plans together: each round merges every plan's pending calls into one read. The plans may
    return different things (a market's positions, the chain's feeds); results come back in plan order."""
    return await drive(plans, reader.read)
