"""The Morpho Blue source's interface facts and configuration: selectors and topics as the chain knows them
(values from the protocol's published sources, computed with keccak-256), and market options refused with one
readable line."""

import pytest

from indexer.chain.abi import load
from indexer.errors import ConfigError
from indexer.protocols.base import MarketRef
from indexer.protocols.morpho_blue.adapter import MorphoBlueAdapter
from indexer.settings import load_settings

MORPHO = "0xBBBBBbbBBb9cC5e90e3b3Af64bdAF62C37EEFFCb"
MARKET_ID = "0xb323495f7e4148be5643a4ea4a8221eef163e4bccfdedc2a6f4696baacbc86cc"


def test_selectors_and_topics():
    morpho = load("morpho_blue", "Morpho")
    calls = {"position": morpho.function("position").call(MORPHO, bytes(32), "0x" + "11" * 20),
             "market": morpho.function("market").call(MORPHO, bytes(32)),
             "idToMarketParams": morpho.function("idToMarketParams").call(MORPHO, bytes(32)),
             "price": load("morpho_blue", "Oracle").function("price").call(MORPHO)}
    assert {name: call.data[:4].hex() for name, call in calls.items()} == {
        "position": "93c52062", "market": "5c60e39a", "idToMarketParams": "2c3c9157", "price": "a035b1fe"}
    assert morpho.topic("Borrow") == "0x570954540bed6b1304a87dfe815a5eda4a648f7097a16240dcd85c9b5fd42a43"
    assert morpho.topic("SupplyCollateral") == "0xa3b9472a1399e17e123f3c2e6586c23e504184d504de59cdaa2b375e880c6184"
    assert morpho.topic("Liquidate") == "0xa4946ede45d0c6f06a0f5ce92c9ad3b4751452d2fe0e25010783bcab57a67e41"


def test_discovery_filters_on_the_market_id_in_topic1():
    spec = MorphoBlueAdapter(MarketRef(key="m", chain="c", address=MORPHO,
                                       options={"market_id": MARKET_ID})).discovery()
    assert spec.emitter == MORPHO and spec.topics()[1] == MARKET_ID
    assert len(spec.topics()[0]) == 5  # Borrow, Repay, SupplyCollateral, WithdrawCollateral, Liquidate


def _config(tmp_path, options: str) -> object:
    path = tmp_path / "c.toml"
    path.write_text('[chains.eth]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n\n[markets.morpho]\n'
                    f'chain = "eth"\nprotocol = "morpho_blue"\naddress = "{MORPHO}"\n{options}')
    return path


def test_market_options_are_checked_at_start_up(tmp_path):
    settings = load_settings(_config(tmp_path, f'options = {{ market_id = "{MARKET_ID}" }}\n'))
    assert settings.markets["morpho"].options == {"market_id": MARKET_ID}
    for bad, why in (("", "market_id"), ('options = { market_id = "0x12" }\n', "market_id"),
                     (f'options = {{ market_id = "{MARKET_ID}", lltv = 1 }}\n', "lltv")):
        with pytest.raises(ConfigError, match=why) as error:
            load_settings(_config(tmp_path, bad))
        assert "\n" not in str(error.value)


def test_a_protocol_without_options_refuses_them(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text('[chains.eth]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n\n[markets.aave]\n'
                    f'chain = "eth"\nprotocol = "aave_v3"\naddress = "{MORPHO}"\noptions = {{ x = 1 }}\n')
    with pytest.raises(ConfigError, match="takes no options"):
        load_settings(path)
