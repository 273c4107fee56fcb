import pytest

from indexer.address import parse_address
from indexer.errors import ConfigError, InvalidAddressError
from indexer.settings import load_settings

GOOD = "0xcA11bde05977b3631167028862bE2a173976CA11"


def test_address_forms():
    assert parse_address(GOOD) == GOOD
    assert parse_address(GOOD.lower()) == GOOD
    assert parse_address("  " + GOOD + " ") == GOOD


@pytest.mark.parametrize("bad", ["0x123", "cA11bde05977b3631167028862bE2a173976CA11", "0x" + "g" * 40, ""])
def test_malformed_addresses(bad):
    with pytest.raises(InvalidAddressError, match="not an address"):
        parse_address(bad)


def test_checksum_is_enforced_on_mixed_case():
    wrong = "0xCA11bde05977b3631167028862bE2a173976CA11"
    with pytest.raises(InvalidAddressError, match="checksum.*" + GOOD):
        parse_address(wrong)


def _write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


CHAIN = '[chains.main]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n'


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'chains.main.rpc_url'"):
        load_settings(_write(tmp_path, '[chains.main]\nchain_id = 1\nrpc_url = "x"\n'))


def test_unknown_protocol_is_named(tmp_path):
    text = CHAIN + '[markets.m]\nchain = "main"\nprotocol = "aave_v9"\naddress = "0x0"\n'
    with pytest.raises(ConfigError, match="unknown protocol 'aave_v9'.*aave_v3"):
        load_settings(_write(tmp_path, text))


def test_market_on_unconfigured_chain(tmp_path):
    text = CHAIN + '[markets.m]\nchain = "base"\nprotocol = "aave_v3"\naddress = "0x0"\n'
    with pytest.raises(ConfigError, match="chain 'base', which is not configured"):
        load_settings(_write(tmp_path, text))


def test_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_write(tmp_path, "[chains\n"))


def test_env_references(tmp_path, monkeypatch):
    path = _write(tmp_path, '[chains.main]\nchain_id = 1\nrpc_urls = ["https://rpc.example/${KEY}"]\n')
    monkeypatch.delenv("KEY", raising=False)
    with pytest.raises(ConfigError, match="KEY is not set"):
        load_settings(path)
    monkeypatch.setenv("KEY", "s3cret")
    assert load_settings(path).rpc_urls("main") == ["https://rpc.example/s3cret"]


def test_database_url_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://x@127.0.0.1/db")
    assert load_settings(_write(tmp_path, CHAIN)).database_url == "postgresql+psycopg://x@127.0.0.1/db"


def test_shipped_default_config_loads():
    settings = load_settings("config/default.toml")
    assert settings.markets["devnet-aave-v3"].protocol == "aave_v3"
