"""Contract interfaces, loaded by name from ``abis/<protocol>/<Contract>.json``.

Each file holds the ABI entries the indexer uses (functions and events), as the protocol's own build
artifacts state them. A function becomes a ``Call`` builder with its canonical signature, argument types
and output types; an event gives its topic0. A function whose outputs are all static has them flattened
(a static struct is encoded exactly like its fields one after another), so results decode on the fast
path as flat tuples.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from indexer.chain.multicall import Call
from indexer.errors import ConfigError
from indexer.hexutil import keccak
from indexer.paths import shipped

_DYNAMIC = ("string", "bytes")


def _type(param: Mapping[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_type(c) for c in param["components"]) + ")" + kind[len("tuple"):]
    return kind


def _static(param: Mapping[str, Any]) -> bool:
    kind: str = param["type"]
    if "[" in kind or kind in _DYNAMIC:
        return False
    return all(_static(c) for c in param["components"]) if kind == "tuple" else True


def _flat(param: Mapping[str, Any]) -> list[str]:
    if param["type"] == "tuple":
        return [t for c in param["components"] for t in _flat(c)]
    return [param["type"]]


@dataclass(frozen=True, slots=True)
class Function:
    signature: str  # canonical, e.g. "getUserEMode(address)"
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def call(self, target: str, *args: Any, allow_failure: bool = False) -> Call:
        return Call.of(target, self.signature, args, self.inputs, self.outputs, allow_failure)


class Interface:
    """One contract's functions and events, by name."""

    def __init__(self, name: str, entries: list[dict[str, Any]]) -> None:
        self.name = name
        self._functions: dict[str, Function] = {}
        self._topics: dict[str, str] = {}
        for entry in entries:
            types = [_type(p) for p in entry.get("inputs", [])]
            signature = f"{entry['name']}({','.join(types)})"
            if entry["type"] == "function":
                outputs = entry.get("outputs", [])
                flat = (tuple(t for p in outputs for t in _flat(p)) if all(_static(p) for p in outputs)
                        else tuple(_type(p) for p in outputs))
                self._functions[entry["name"]] = Function(signature, tuple(types), flat)
            elif entry["type"] == "event":
                self._topics[entry["name"]] = "0x" + keccak(text=signature).hex()

    def function(self, name: str) -> Function:
        try:
            return self._functions[name]
        except KeyError:
            raise ConfigError(f"{self.name} has no function {name!r} in its ABI file") from None

    def topic(self, name: str) -> str:
        try:
            return self._topics[name]
        except KeyError:
            raise ConfigError(f"{self.name} has no event {name!r} in its ABI file") from None


@functools.cache
def load(protocol: str, contract: str) -> Interface:
    path = shipped("abis") / protocol / f"{contract}.json"
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the ABI {protocol}/{contract} from {path}: {exc}") from None
    return Interface(f"{protocol}/{contract}", entries)
