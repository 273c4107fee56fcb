"""Small JSON-RPC pieces every protocol's devnet tooling shares: keyless addresses, event topics, ``eth_call``
requests pinned to a block (as a protocol's own check is asked at the block the indexer read), and the reason of a
revert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from indexer.devnet.abi import decode
from indexer.devnet.jsonrpc import JsonRpcClient

ERROR_STRING = "0x08c379a0"  # selector of Solidity's Error(string)


def keyless_address(namespace: str, label: str) -> str:
    """An address nobody holds a key to (``namespace`` keeps one protocol's apart from another's); the devnet's
    anvil acts for it through auto-impersonation."""
    return to_checksum_address(keccak(text=f"indexer-devnet/{namespace}/{label}")[12:])


def block_tag(block: int | str) -> str:
    """A block number as JSON-RPC takes it, or a tag (``latest``) as it is."""
    return hex(block) if isinstance(block, int) else block


def eth_call(to: str, data: str, block: int | str = "latest", sender: str | None = None) -> tuple[str, list[Any]]:
    """The ``eth_call`` request (method, params) of ``data`` to ``to`` at ``block``, from ``sender`` if given."""
    call = {"to": to, "data": data}
    if sender is not None:
        call["from"] = sender
    return "eth_call", [call, block_tag(block)]


def revert_reason(data: object) -> str:
    """The string of an ``Error(string)`` revert payload, or '' (no payload, a custom error, malformed)."""
    if not isinstance(data, str) or not data.startswith(ERROR_STRING):
        return ""
    try:
        return str(decode(["string"], "0x" + data[10:])[0])
    except Exception:  # noqa: BLE001 - a malformed payload just has no reason
        return ""


def event_topic(signature: str) -> str:
    """topic0 of an event, from its canonical signature (``Transfer(address,address,uint256)``)."""
    return "0x" + keccak(text=signature).hex()


def call_uints(rpc: JsonRpcClient, calls: Sequence[tuple[str, list[Any]]], width: int = 1) -> list[tuple[int, ...]]:
    """``calls`` (``eth_call`` requests) in one JSON-RPC batch, each answer decoded as ``width`` uint256 words."""
    return [tuple(int(v) for v in decode(["uint256"] * width, raw)) for raw in rpc.batch(calls)]
