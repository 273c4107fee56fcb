"""Small ABI helpers: calldata from a human signature, CREATE addresses, library linking.

Calls are written as signatures (``"supply(address,uint256,address,uint16)"``) rather than through web3
contract objects: the devnet builds tens of thousands of calldata strings and this stays fast. For
calls whose arguments are all static words, :func:`encode_words` skips eth_abi entirely.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import eth_abi
import rlp
from eth_utils import keccak, to_checksum_address

from indexer.devnet.errors import DevnetError


def split_types(type_list: str) -> list[str]:
    """``"address,(uint8,bytes)[],bool"`` -> ``["address", "(uint8,bytes)[]", "bool"]``."""
    types: list[str] = []
    depth = 0
    current = ""
    for ch in type_list:
        if ch == "," and depth == 0:
            types.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current:
        types.append(current)
    return types


@functools.cache
def _parse_signature(signature: str) -> tuple[bytes, list[str]]:
    name_end = signature.index("(")
    if not signature.endswith(")"):
        raise ValueError(f"not a function signature: {signature!r}")
    return keccak(text=signature)[:4], split_types(signature[name_end + 1 : -1])


def selector(signature: str) -> str:
    return "0x" + _parse_signature(signature)[0].hex()


def encode_call(signature: str, *args: Any) -> str:
    """0x-prefixed calldata for ``signature`` called with ``args`` (any ABI types, via eth_abi)."""
    sel, types = _parse_signature(signature)
    return "0x" + (sel + eth_abi.encode(types, list(args))).hex()


def encode_args(types: Sequence[str], args: Sequence[Any]) -> str:
    """ABI-encoded arguments without a selector (constructor arguments), as bare hex."""
    return eth_abi.encode(list(types), list(args)).hex()


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return f"{int(value):064x}"
    if isinstance(value, int):
        return f"{value % (1 << 256):064x}"  # two's complement for negative int256
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value[2:].lower().rjust(64, "0")
    raise TypeError(f"encode_words only takes ints, bools and addresses, got {value!r}")


def encode_words(signature: str, *args: Any) -> str:
    """Fast path of :func:`encode_call` for static arguments (uintN/intN/bool/address) only."""
    sel, _types = _parse_signature(signature)
    return "0x" + sel.hex() + "".join(_word(a) for a in args)


def decode(types: Sequence[str], data: str) -> tuple[Any, ...]:
    return eth_abi.decode(list(types), bytes.fromhex(data.removeprefix("0x")))


def create_address(sender: str, nonce: int) -> str:
    """The address a CREATE from ``sender`` at ``nonce`` deploys to."""
    encoded = rlp.encode([bytes.fromhex(sender.removeprefix("0x")), nonce])
    return to_checksum_address(keccak(encoded)[12:])


def link_bytecode(artifact: dict[str, Any], libraries: dict[str, str]) -> str:
    """Fills a hardhat artifact's ``linkReferences`` placeholders with deployed library addresses."""
    code = list(artifact["bytecode"].removeprefix("0x"))  # placeholders are not hex: edit as text
    for source, libs in artifact.get("linkReferences", {}).items():
        for lib_name, refs in libs.items():
            if lib_name not in libraries:
                raise DevnetError(f"{artifact.get('contractName')} needs library {source}:{lib_name}")
            address = libraries[lib_name].removeprefix("0x").lower()
            for ref in refs:
                start, length = 2 * ref["start"], 2 * ref["length"]
                code[start : start + length] = address
    hex_code = "".join(code)
    if "__" in hex_code:
        raise DevnetError(f"{artifact.get('contractName')}: unlinked library placeholder left in bytecode")
    return "0x" + hex_code
