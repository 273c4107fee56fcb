"""Configuration the twelve-factor way: every key from the environment (INDEXER__SECTION__KEY), secrets from files
(NAME_FILE), relative paths under the data directory, and the effective config printed with its secrets masked."""

import pytest

from indexer.config_check import effective_config
from indexer.environ import Environ
from indexer.errors import ConfigError
from indexer.settings import env_overrides, load_settings, resolve_sqlite_url

CONFIG = """
[database]
url = "sqlite:///data/indexer.db"

[chains.Mainnet]
chain_id = 1
rpc_urls = ["https://eth.example/v2/${RPC_KEY}"]

[markets.aave]
chain = "Mainnet"
protocol = "aave_v3"
address = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("INDEXER__") or name in ("DATABASE_URL", "RPC_KEY", "RPC_KEY_FILE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("INDEXER_HOME", str(tmp_path / "home"))
    path = tmp_path / "indexer.toml"
    path.write_text(CONFIG)
    return path


def test_every_key_can_come_from_the_environment(config, monkeypatch):
    monkeypatch.setenv("RPC_KEY", "k")
    monkeypatch.setenv("INDEXER__CHAINS__MAINNET__BATCH_SIZE", "250")  # the file's "Mainnet", matched without case
    monkeypatch.setenv("INDEXER__CHAINS__MAINNET__RPC_URLS", '["https://a.example/x", "https://b.example/y"]')
    monkeypatch.setenv("INDEXER__ALERTS__WARN__ENTER", "1.25")
    monkeypatch.setenv("INDEXER__ALERTS__WARN__LEAVE", "1.3")
    monkeypatch.setenv("INDEXER__MARKETS__AAVE__VERIFY_ONCHAIN", "true")
    settings = load_settings(config)
    assert settings.chains["Mainnet"].batch_size == 250
    assert settings.chains["Mainnet"].rpc_urls == ["https://a.example/x", "https://b.example/y"]
    assert str(settings.alerts.warn.enter) == "1.25"  # a decimal string, never through a float
    assert settings.markets["aave"].verify_onchain is True


def test_a_bad_environment_value_is_named_by_its_variable(config, monkeypatch):
    monkeypatch.setenv("RPC_KEY", "k")
    monkeypatch.setenv("INDEXER__CHAINS__MAINNET__BATCH_SIZE", "lots")
    with pytest.raises(ConfigError, match=r"^INDEXER__CHAINS__MAINNET__BATCH_SIZE: chains\.Mainnet\.batch_size"):
        load_settings(config)
    monkeypatch.setenv("INDEXER__CHAINS__MAINNET__BATCH_SIZE", "[1,")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_settings(config)


def test_secrets_come_from_files(config, monkeypatch, tmp_path):
    secret = tmp_path / "rpc_key"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("RPC_KEY_FILE", str(secret))
    dsn = tmp_path / "dsn"
    dsn.write_text("postgresql://indexer:pw@db.internal:5432/indexer")
    monkeypatch.setenv("DATABASE_URL_FILE", str(dsn))
    settings = load_settings(config)
    assert settings.chains["Mainnet"].rpc_urls == ["https://eth.example/v2/s3cret"]  # trailing newline dropped
    assert settings.database_url == "postgresql://indexer:pw@db.internal:5432/indexer"
    monkeypatch.setenv("RPC_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="RPC_KEY_FILE: file .* not found"):
        load_settings(config)


def test_a_set_variable_wins_over_its_file(tmp_path):
    path = tmp_path / "v"
    path.write_text("from file")
    env = Environ({"A": "direct", "A_FILE": str(path), "B_FILE": str(path)})
    assert env["A"] == "direct" and env["B"] == "from file"
    assert "B" in env and "C" not in env and sorted(env) == ["A", "A_FILE", "B", "B_FILE"]


def test_overrides_build_nested_sections():
    assert env_overrides({"INDEXER__RUN__LISTEN": "0.0.0.0:9465", "INDEXER__RISK__CURVE__STEP": "0.1",
                          "OTHER": "x"}) == {"RUN": {"LISTEN": "0.0.0.0:9465"}, "RISK": {"CURVE": {"STEP": "0.1"}}}
    with pytest.raises(ConfigError, match="empty key"):
        env_overrides({"INDEXER__RUN____LISTEN": "x"})


def test_relative_sqlite_paths_resolve_under_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("INDEXER_HOME", str(tmp_path))
    assert resolve_sqlite_url("sqlite:///data/x.db") == f"sqlite:///{tmp_path}/data/x.db"
    assert resolve_sqlite_url("data/x.db") == f"sqlite:///{tmp_path}/data/x.db"
    assert resolve_sqlite_url("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert resolve_sqlite_url("sqlite://") == "sqlite://"
    assert resolve_sqlite_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_the_effective_config_masks_secrets(config, monkeypatch):
    monkeypatch.setenv("RPC_KEY", "s3cret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://indexer:hunter2@db.internal/indexer")
    shown = effective_config(load_settings(config))
    text = str(shown)
    assert "s3cret" not in text and "hunter2" not in text
    assert shown["chains"]["Mainnet"]["rpc_urls"] == ["https://eth.example/…"]
    assert shown["database"]["url"] == "postgresql://indexer:***@db.internal/indexer"
    assert shown["api"]["token_env"] == "INDEXER_API_TOKEN"  # the name of a variable is not a secret
