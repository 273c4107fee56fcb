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


def test_a_protocol_refuses_options_it_does_not_know(tmp_path):
    path = tmp_path / "a.toml"
    for options, why in (("{ x = 1 }", "x"), ('{ rules = "v9.9" }', "rules")):
        path.write_text('[chains.eth]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n\n[markets.aave]\n'
                        f'chain = "eth"\nprotocol = "aave_v3"\naddress = "{MORPHO}"\noptions = {options}\n')
        with pytest.raises(ConfigError, match=why) as error:
            load_settings(path)
        assert "\n" not in str(error.value)
    path.write_text('[chains.eth]\nchain_id = 1\nrpc_urls = ["http://127.0.0.1:1"]\n\n[markets.aave]\n'
                    f'chain = "eth"\nprotocol = "aave_v3"\naddress = "{MORPHO}"\noptions = {{ rules = "v3.2" }}\n')
    assert load_settings(path).markets["aave"].options == {"rules": "v3.2"}


def test_health_at_equals_reprice_and_the_liquidation_point_is_the_boundary():
    from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role

    oracle, loan, collateral = "0x" + "0c" * 20, "0x" + "1a" * 20, "0x" + "c0" * 20
    lltv, amount, borrowed, price = 86 * 10**16, 5 * 10**18, 9_000 * 10**6, 2_500 * 10**24  # WETH/USDC at $2,500
    legs = [Leg(asset=collateral, symbol="WETH", decimals=18, role=Role.COLLATERAL, amount=amount, price=price,
                price_decimals=24, price_key=oracle, value=amount * price // 10**36, terms={"lltv": lltv}),
            Leg(asset=loan, symbol="USDC", decimals=6, role=Role.DEBT, amount=borrowed, price=1, price_decimals=0,
                price_key=loan, value=borrowed)]
    blank = Health(raw=0, decimals=18, health=None, equity=0, requirement=0, collateral=0, debt=0, quote="USDC",
                   quote_unit=10**6)
    source = MorphoBlueAdapter(MarketRef(key="m", chain="c", address=MORPHO, options={"market_id": MARKET_ID}))
    snap = source.reprice(PositionSnapshot(chain="c", protocol="morpho_blue", market="m", market_address=MORPHO,
                                           account="a", block=BlockRef(1, "0x", 1), legs=legs, health=blank,
                                           detail={"lltv": lltv}), {})
    for moved in (price, 2_000 * 10**24, 1):
        assert source.health_at(snap, {oracle: moved}) == source.reprice(snap, {oracle: moved}).health
    # 5 WETH at 0.86 cover 9,000 USDC down to 9,000 / (5 × 0.86) = $2,093.02…: the point is that price, exactly
    point = source.liquidation_points(snap)[oracle]
    assert point.falling and source.price_dependencies(snap) == {oracle}
    assert not source.health_at(snap, {oracle: point.price}).liquidatable
    assert source.health_at(snap, {oracle: point.price - 1}).liquidatable
    assert 2_093 * 10**24 < point.price < 2_094 * 10**24
    assert source.liquidation_points(snap, keys=[loan]) == {}
