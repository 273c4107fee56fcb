"""Where the devnet finds its npm-installed tools: anvil, solcjs and the Aave v3 core artifacts.

``INDEXER_NODE_MODULES`` points at a node_modules folder; by default it is ``node_modules`` in the source checkout
(installed by ``npm ci`` there, which ``./dev`` does), or, for an installed wheel, in the data directory (installed by
``indexer devnet install`` from the package.json the wheel ships).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexer.devnet.errors import ToolchainMissingError
from indexer.paths import cache_home, data_home, package_data, source_checkout

INSTALL_HINT_CHECKOUT = "run `npm ci` in {root} to install the devnet toolchain"
INSTALL_HINT_WHEEL = "run `indexer devnet install` to install the devnet toolchain"

AAVE_PACKAGE = "@aave/core-v3"


def npm_root() -> Path:
    """The folder whose package.json pins the devnet's npm packages: the source checkout, or the data directory."""
    return source_checkout() or data_home()


def node_modules_dir() -> Path:
    override = os.environ.get("INDEXER_NODE_MODULES")
    return Path(override).expanduser().resolve() if override else npm_root() / "node_modules"


def build_dir() -> Path:
    """Scratch output (compiled contracts, the fetched wheel), every file named by the hash of what made it:
    ``<checkout>/.build`` (git-ignored) or the user's cache directory, or ``INDEXER_BUILD_DIR`` (CI points it at a
    cache kept between clean clones)."""
    override = os.environ.get("INDEXER_BUILD_DIR")
    return Path(override).expanduser().resolve() if override else cache_home()


def _missing(what: str) -> ToolchainMissingError:
    checkout = source_checkout()
    hint = INSTALL_HINT_CHECKOUT.format(root=checkout) if checkout else INSTALL_HINT_WHEEL
    return ToolchainMissingError(f"{what} not found under {node_modules_dir()}: {hint}")


def install_npm_packages(*, echo: Callable[[str], None]) -> Path:
    """``npm ci`` of the pinned devnet packages into the data directory (for an installed wheel; a checkout has its
    own package.json). Returns the node_modules folder."""
    root = npm_root()
    if source_checkout() is None:
        root.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(package_data("npm") / name, root / name)
    npm = shutil.which("npm")
    if npm is None:
        raise ToolchainMissingError("npm not found: install Node.js 18 or newer (with npm) first")
    echo(f"installing the devnet's npm packages into {root / 'node_modules'} …")
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=root, check=False)
    if done.returncode != 0:
        raise ToolchainMissingError(f"`npm ci` in {root} failed (exit {done.returncode})")
    return root / "node_modules"


def _anvil_package_dir() -> str:
    """npm ships anvil as one optional package per platform, e.g. @foundry-rs/anvil-linux-amd64."""
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"@foundry-rs/anvil-{system}-{arch}"


def anvil_binary() -> Path:
    exe = "anvil.exe" if sys.platform == "win32" else "anvil"
    path = node_modules_dir() / _anvil_package_dir() / "bin" / exe
    if not path.is_file():
        raise _missing("the anvil binary (npm package @foundry-rs/anvil)")
    return path


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise ToolchainMissingError("`node` is not on PATH; Node.js is needed to run solcjs")
    return node


def solc_package_dir() -> Path:
    path = node_modules_dir() / "solc"
    if not (path / "package.json").is_file():
        raise _missing("solcjs (npm package solc)")
    return path


def solc_version() -> str:
    return json.loads((solc_package_dir() / "package.json").read_text())["version"]


@functools.cache
def _artifact_index(package: str) -> dict[str, Path]:
    root = node_modules_dir() / package / "artifacts" / "contracts"
    if not root.is_dir():
        raise _missing(f"the {package} hardhat artifacts")
    index: dict[str, Path] = {}
    for path in root.rglob("*.json"):
        if not path.name.endswith(".dbg.json"):
            index.setdefault(path.stem, path)
    return index


@functools.cache
def hardhat_artifact(package: str, name: str) -> dict[str, Any]:
    """The hardhat artifact (abi, bytecode, linkReferences, ...) of the contract ``name`` in the npm ``package``."""
    path = _artifact_index(package).get(name)
    if path is None:
        raise _missing(f"the {package} artifact {name}.json")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def aave_artifact(name: str) -> dict[str, Any]:
    """The hardhat artifact of one @aave/core-v3 contract."""
    return hardhat_artifact(AAVE_PACKAGE, name)


@functools.cache
def _aave_error_names() -> dict[str, str]:
    path = node_modules_dir() / AAVE_PACKAGE / "contracts" / "protocol" / "libraries" / "helpers" / "Errors.sol"
    try:
        text = path.read_text()
    except OSError:
        return {}
    return {code: name for name, code in re.findall(r"string public constant (\w+) = '(\d+)'", text)}


def aave_error_name(code: str) -> str | None:
    """The Errors.sol name of an Aave v3 revert code ("34" -> "COLLATERAL_BALANCE_IS_ZERO"), if known."""
    return _aave_error_names().get(code)


def package_dir(name: str) -> Path:
    """The folder of the npm package ``name`` under node_modules; ``name`` may be scoped or an npm alias."""
    path = node_modules_dir() / name
    if not (path / "package.json").is_file():
        raise _missing(f"the npm package {name}")
    return path


def package_version(name: str) -> str:
    """The installed version of the npm package ``name`` (for an alias: of the package it points at)."""
    return str(json.loads((package_dir(name) / "package.json").read_text())["version"])
