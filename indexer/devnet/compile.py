"""Compiles Solidity with solcjs, with an on-disk cache: the devnet's own contracts (``contracts/*.sol``)
and any protocol's sources (``compile_sources``, with any solcjs package, e.g. an npm alias pinned to the
version a protocol's sources need).

solcjs is slow to start (it is solc compiled to wasm), so the output is cached in
``<repo root>/.build/<name>/<key>.json`` where the key hashes the sources, the solc version and the
settings; a later run with the same inputs reads that file and never starts node.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.devnet import toolchain
from indexer.devnet.errors import DevnetError

log = logging.getLogger(__name__)

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"

# shanghai: PUSH0 is fine on anvil and every chain the indexer targets; nothing here needs newer opcodes.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "shanghai",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}

# Reads a standard-json input on stdin and prints solc's standard-json output; argv[1] is the solc package.
_NODE_SCRIPT = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => { process.stdout.write(solc.compile(input)); });
"""


@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-prefixed creation code
    deployed_bytecode: str  # 0x-prefixed runtime code


def _sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(CONTRACTS_DIR.glob("*.sol"))}


def _write_atomically(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def compile_dev_contracts() -> dict[str, CompiledContract]:
    """All contracts of ``contracts/*.sol``, by name; compiled at most once per set of inputs."""
    return compile_sources(_sources(), solc_dir=toolchain.solc_package_dir(), settings=SETTINGS,
                           cache_name="dev-contracts")


def sources_cache_key(sources: Mapping[str, str], solc_version: str, settings: Mapping[str, Any]) -> str:
    """Hash of everything that decides solc's output: compiler version, settings and every source."""
    digest = hashlib.sha256()
    digest.update(f"solc {solc_version}\n".encode())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for name in sorted(sources):
        digest.update(f"\n--- {name}\n".encode())
        digest.update(sources[name].encode())
    return digest.hexdigest()


def run_solcjs_standard_json(solc_dir: Path, standard_input: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """solc's standard-json output for ``standard_input``, from the solcjs package at ``solc_dir``.

    Raises :class:`DevnetError` (naming ``what``) when node fails or solc reports an error.
    """
    proc = subprocess.run(
        [toolchain.node_binary(), "-e", _NODE_SCRIPT, str(solc_dir)],
        input=json.dumps(standard_input),
        capture_output=True,
        text=True,
        timeout=1_800,
        check=False,
    )
    if proc.returncode != 0:
        raise DevnetError(f"solcjs failed compiling {what} (exit {proc.returncode}): {proc.stderr.strip()[:2000]}")
    output: dict[str, Any] = json.loads(proc.stdout)
    problems = output.get("errors", [])
    fatal = [p for p in problems if p.get("severity") == "error"]
    if fatal:
        text = "\n".join(p.get("formattedMessage", p.get("message", "")) for p in fatal)
        raise DevnetError(f"solc reported errors compiling {what}:\n{text}")
    for p in problems:
        log.debug("solc %s: %s", p.get("severity"), p.get("message"))
    return output


_compiled_sources: dict[Path, dict[str, CompiledContract]] = {}


def compile_sources(
    sources: Mapping[str, str], *, solc_dir: Path, settings: Mapping[str, Any], cache_name: str
) -> dict[str, CompiledContract]:
    """Compiles ``sources`` (source unit name -> text) with the solcjs package at ``solc_dir`` and ``settings``.

    The output is cached in ``.build/<cache_name>/<key>.json``, the key hashing sources, solc version and
    settings, so the same inputs never start node twice. Contracts are returned by ``"<source unit>:<Name>"``
    and also by ``Name`` alone where that name is unique; a contract solc produced no code for (an
    interface, or one left out of ``outputSelection``) has bytecode ``"0x"``.
    """
    version = str(json.loads((Path(solc_dir) / "package.json").read_text())["version"])
    cache_file = toolchain.build_dir() / cache_name / f"{sources_cache_key(sources, version, settings)}.json"
    if cache_file in _compiled_sources:
        return _compiled_sources[cache_file]
    if cache_file.is_file():
        contracts: dict[str, Any] = json.loads(cache_file.read_text())["contracts"]
        log.debug("%s loaded from %s", cache_name, cache_file)
    else:
        log.info("compiling %s with solcjs %s", cache_name, version)
        standard_input = {
            "language": "Solidity",
            "sources": {name: {"content": text} for name, text in sources.items()},
            "settings": dict(settings),
        }
        output = run_solcjs_standard_json(Path(solc_dir), standard_input, what=cache_name)
        contracts = {}
        for unit, per_file in output.get("contracts", {}).items():
            for name, data in per_file.items():
                evm = data.get("evm", {})
                contracts[f"{unit}:{name}"] = {
                    "abi": data.get("abi", []),
                    "bytecode": "0x" + evm.get("bytecode", {}).get("object", ""),
                    "deployedBytecode": "0x" + evm.get("deployedBytecode", {}).get("object", ""),
                }
        _write_atomically(cache_file, {"solc": version, "settings": dict(settings), "contracts": contracts})
    result: dict[str, CompiledContract] = {}
    bare_names: dict[str, list[str]] = {}
    for qualified, c in contracts.items():
        name = qualified.rsplit(":", 1)[1]
        result[qualified] = CompiledContract(name, c["abi"], c["bytecode"], c["deployedBytecode"])
        bare_names.setdefault(name, []).append(qualified)
    for name, qualified_names in bare_names.items():
        if len(qualified_names) == 1:
            result[name] = result[qualified_names[0]]
    _compiled_sources[cache_file] = result
    return result


EIP170_LIMIT = 24_576  # bytes of runtime code a chain (and anvil, by default) accepts in one contract


def compile_stand_in(contracts_dir: Path, *, cache_name: str, deployed: Sequence[str]) -> dict[str, CompiledContract]:
    """A protocol's devnet stand-in: every ``*.sol`` in ``contracts_dir``, compiled with the repository's solcjs and
    the devnet's settings and cached like any source set. Returns the ``deployed`` contracts by name, each checked
    to have code within the EIP-170 size limit, beside the devnet's shared contracts (DevPriceFeed, DevToken, …)."""
    sources = {f"{cache_name}/{p.name}": p.read_text() for p in sorted(contracts_dir.glob("*.sol"))}
    contracts = compile_sources(sources, solc_dir=toolchain.solc_package_dir(), settings=SETTINGS,
                                cache_name=cache_name)
    for name in deployed:
        runtime = (len(contracts[name].deployed_bytecode) - 2) // 2
        if runtime == 0:
            raise DevnetError(f"solc produced no bytecode for {name}")
        if runtime > EIP170_LIMIT:
            raise DevnetError(f"{name} is {runtime} bytes, over the {EIP170_LIMIT}-byte contract size limit")
    return {**compile_dev_contracts(), **{name: contracts[name] for name in deployed}}
