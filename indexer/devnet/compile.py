"""Compiles the devnet's own Solidity contracts (``contracts/*.sol``) with solcjs, with an on-disk cache.

solcjs is slow to start (it is solc compiled to wasm), so the output is cached in
``<repo root>/.build/contracts/<key>.json`` where the key hashes the sources, the solc version and the
settings; a later run with the same inputs reads that file and never starts node.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import subprocess
import tempfile
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


def cache_key(sources: dict[str, str], solc_version: str) -> str:
    digest = hashlib.sha256()
    digest.update(f"solc {solc_version}\n".encode())
    digest.update(json.dumps(SETTINGS, sort_keys=True).encode())
    for name in sorted(sources):
        digest.update(f"\n--- {name}\n".encode())
        digest.update(sources[name].encode())
    return digest.hexdigest()


def _run_solcjs(sources: dict[str, str]) -> dict[str, Any]:
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": SETTINGS,
    }
    proc = subprocess.run(
        [toolchain.node_binary(), "-e", _NODE_SCRIPT, str(toolchain.solc_package_dir())],
        input=json.dumps(standard_input),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise DevnetError(f"solcjs failed (exit {proc.returncode}): {proc.stderr.strip()[:2000]}")
    output = json.loads(proc.stdout)
    problems = output.get("errors", [])
    fatal = [p for p in problems if p.get("severity") == "error"]
    if fatal:
        text = "\n".join(p.get("formattedMessage", p.get("message", "")) for p in fatal)
        raise DevnetError(f"solc reported errors compiling the devnet contracts:\n{text}")
    for p in problems:
        log.debug("solc %s: %s", p.get("severity"), p.get("message"))
    contracts: dict[str, Any] = {}
    for per_file in output.get("contracts", {}).values():
        for name, data in per_file.items():
            contracts[name] = {
                "abi": data["abi"],
                "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
            }
    return contracts


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


@functools.cache
def compile_dev_contracts() -> dict[str, CompiledContract]:
    """All contracts of ``contracts/*.sol``, by name; compiled at most once per set of inputs."""
    sources = _sources()
    version = toolchain.solc_version()
    cache_file = toolchain.build_dir() / "contracts" / f"{cache_key(sources, version)}.json"
    if cache_file.is_file():
        contracts = json.loads(cache_file.read_text())["contracts"]
        log.debug("devnet contracts loaded from %s", cache_file)
    else:
        log.info("compiling devnet contracts with solcjs %s", version)
        contracts = _run_solcjs(sources)
        _write_atomically(cache_file, {"solc": version, "settings": SETTINGS, "contracts": contracts})
    return {
        name: CompiledContract(name, c["abi"], c["bytecode"], c["deployedBytecode"]) for name, c in contracts.items()
    }
