"""Every shipped live-market config, passed as is to `indexer --config config/markets/<chain>.toml sync` with its RPC
URL pointing at a loopback port nothing listens on, is accepted as a config and fails on the unreachable RPC:
a non-zero exit and one readable line, with no traceback and nothing about the config."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.paths import shipped

FILES = sorted((shipped("config") / "markets").glob("*.toml"))
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@pytest.fixture
def closed_url() -> Iterator[str]:
    """A loopback URL whose port is bound (so no one else takes it) but not listening: connections are refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_sync_fails_on_the_rpc_in_one_line(path: Path, closed_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    for name in ENV_REF.findall(path.read_text(encoding="utf-8")):
        env[name] = closed_url
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/markets.db"
    done = subprocess.run([sys.executable, "-m", "indexer", "--config", str(path), "sync"], capture_output=True,
                          text=True, env=env, timeout=120, cwd=tmp_path)
    out = (done.stdout + done.stderr).strip()
    assert done.returncode != 0, out
    assert "Traceback" not in out and out.count("\n") == 0, out
    assert "cannot reach RPC" in out and closed_url in out, out
    assert "config" not in out, out
