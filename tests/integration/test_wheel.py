"""The package as a user installs it: the wheel is built from this checkout, installed into a fresh virtualenv (its
dependencies at the pins of requirements.lock), and run from an empty directory, far from the checkout. The ABIs,
the default config, the feed tables and the migrations must come from the wheel itself, and what the indexer
writes must land in the data directory, never in the working directory."""

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import indexer
from indexer.paths import source_checkout

CHECKOUT = source_checkout()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel built from this checkout; returns its ``indexer`` script."""
    assert CHECKOUT is not None, "the test suite runs from a source checkout"
    root = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
                            "-w", str(root / "dist"), str(CHECKOUT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("position_health_indexer-*.whl")
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "-c", str(CHECKOUT / "requirements.lock"), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return root / "venv" / "bin" / "indexer"


@pytest.fixture
def away(tmp_path, devnet, chain_state):
    """An empty working directory, a home of its own, and a config for the session devnet whose database path is
    relative (so it must resolve under the data directory)."""
    workdir = tmp_path / "empty"
    workdir.mkdir()
    deployment = tmp_path / "devnet.json"
    devnet.deployment.to_json(deployment)
    config = tmp_path / "indexer.toml"
    config.write_text('[database]\nurl = "sqlite:///data/indexer.db"\n\n'
                      f'[chains.devnet]\nchain_id = 31337\ndevnet = "{deployment}"\n\n'
                      '[markets.devnet-aave-v3]\nchain = "devnet"\nprotocol = "aave_v3"\n'
                      'address = "devnet:PoolAddressesProvider"\n')
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "INDEXER_CONFIG", "INDEXER_HOME", "XDG_DATA_HOME", "PYTHONPATH",
                        "VIRTUAL_ENV") and not k.startswith("INDEXER__")}
    env["HOME"] = str(tmp_path / "home")
    env["INDEXER_CONFIG"] = str(config)
    return workdir, env


def run(script: Path, workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


def test_the_installed_wheel_runs_from_an_empty_directory(installed, away, devnet):
    workdir, env = away
    version = run(installed, workdir, env, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"indexer {indexer.__version__}"

    # the wheel's own code, not this checkout's
    where = subprocess.run([str(installed.parent / "python"), "-c", "import indexer.paths as p; "
                            "print(p.source_checkout(), p.shipped('abis'), p.shipped('migrations'))"],
                           cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    checkout, abis, migrations = where.stdout.split()
    assert checkout == "None"
    assert "site-packages" in abis and "site-packages" in migrations
    assert not abis.startswith(str(CHECKOUT))

    checked = run(installed, workdir, env, "config", "check", "--online")
    assert checked.returncode == 0, checked.stderr
    effective = json.loads(checked.stdout)
    data_home = Path(env["HOME"]) / ".local" / "share" / "position-health-indexer"
    assert effective["database"]["url"] == f"sqlite:///{data_home / 'data' / 'indexer.db'}"
    assert "ok   market devnet-aave-v3: read at block" in checked.stderr
    assert "FAIL" not in checked.stderr

    upgraded = run(installed, workdir, env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    borrowers = [a.address for a in devnet.accounts[:2]]
    for address in borrowers:
        added = run(installed, workdir, env, "wallets", "add", address)
        assert added.returncode == 0, added.stderr
    synced = run(installed, workdir, env, "sync")
    assert synced.returncode == 0, synced.stderr
    listed = run(installed, workdir, env, "positions", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(p["account"] for p in json.loads(listed.stdout)) == sorted(borrowers)

    assert (data_home / "data" / "indexer.db").is_file()
    assert list(workdir.iterdir()) == []  # nothing written where it was run


def test_a_relative_database_path_follows_indexer_home(installed, away, tmp_path):
    workdir, env = away
    env["INDEXER_HOME"] = str(tmp_path / "elsewhere")
    upgraded = run(installed, workdir, env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "elsewhere" / "data" / "indexer.db").is_file()
    assert list(workdir.iterdir()) == []
