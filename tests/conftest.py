"""Shared fixtures: a real anvil devnet with a real Aave v3 market, and real SQLite/Postgres databases."""

import os

import pytest

pytest_plugins = ["tests.fixtures.db", "tests.fixtures.devnet", "tests.fixtures.receiver", "tests.fixtures.aave_v32",
                  "tests.fixtures.alertmanager"]


@pytest.fixture
def write_devnet_config(tmp_path, devnet, db_url):
    """Writes a config for the running devnet and this test's database; extra TOML goes in the given places."""
    deployment = tmp_path / "devnet.json"
    devnet.deployment.to_json(deployment)

    def write(*, top: str = "", chain: str = "", tail: str = "", name: str = "indexer") -> object:
        config = tmp_path / f"{name}.toml"
        config.write_text(
            f'{top}\n[database]\nurl = "{db_url}"\n\n[run]\nlisten = "127.0.0.1:0"\n\n'
            f'[chains.devnet]\nchain_id = 31337\ndevnet = "{deployment}"\n{chain}\n'
            '[markets.devnet-aave-v3]\nchain = "devnet"\nprotocol = "aave_v3"\n'
            f'address = "devnet:PoolAddressesProvider"\n{tail}')
        return config

    return write


@pytest.fixture
def devnet_config(write_devnet_config):
    """A config file for the running devnet and this test's database; returns its path."""
    return write_devnet_config()


@pytest.fixture
def cli_env(devnet_config):
    """Environment for running the real `indexer` console script against the devnet config."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    env["INDEXER_CONFIG"] = str(devnet_config)
    return env


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.one_database("postgres")``: a test whose subject is not the store (an RPC failing over, a
    CLI's output) runs on that database only, not on both."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("one_database")
        callspec = getattr(item, "callspec", None)
        database = callspec.params.get("db_url") if callspec is not None else None
        if marker is not None and database is not None and database != marker.args[0]:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
