"""The interfaces in abis/ build the calls and topics the adapters send: canonical signatures (selectors as
the chain knows them), static structs flattened, dynamic ones kept whole."""

import pytest
from eth_utils import keccak

from indexer.chain.abi import load
from indexer.errors import ConfigError

SELECTORS = {  # function → selector, as Multicall3 rounds to the devnet's Aave v3.0 pool carry them
    ("PoolAddressesProvider", "getPool"): "026b1d5f",
    ("PoolAddressesProvider", "getPriceOracle"): "fca513a8",
    ("Pool", "POOL_REVISION"): "0148170e",
    ("Pool", "getReservesList"): "d1946dbc",
    ("Pool", "getReserveData"): "35ea6a75",
    ("Pool", "getUserConfiguration"): "4417a583",
    ("Pool", "getUserAccountData"): "bf92857c",
    ("AaveOracle", "BASE_CURRENCY_UNIT"): "8c89b64f",
    ("AaveOracle", "getAssetPrice"): "b3596f07",
    ("AaveOracle", "getSourceOfAsset"): "92bf2be0",
    ("ERC20", "symbol"): "95d89b41",
    ("ERC20", "balanceOf"): "70a08231",
}


@pytest.mark.parametrize(("contract", "name"), sorted(SELECTORS))
def test_selectors(contract, name):
    call = load("aave_v3", contract).function(name).call("0x" + "11" * 20, *(["0x" + "22" * 20] if name in {
        "getReserveData", "getUserConfiguration", "getUserAccountData", "getAssetPrice", "getSourceOfAsset",
        "balanceOf"} else []))
    assert call.data[:4].hex() == SELECTORS[(contract, name)]


def test_static_structs_are_flattened_and_dynamic_ones_kept():
    pool = load("aave_v3", "Pool")
    reserve = pool.function("getReserveData").outputs
    assert len(reserve) == 15 and reserve[0] == "uint256" and reserve[6:8] == ("uint40", "uint16")
    assert pool.function("getUserConfiguration").outputs == ("uint256",)
    assert pool.function("getEModeCategoryData").outputs == ("(uint16,uint16,uint16,address,string)",)
    assert pool.function("getReservesList").outputs == ("address[]",)


def test_event_topics_and_unknown_names():
    pool = load("aave_v3", "Pool")
    assert pool.topic("Supply") == "0x" + keccak(text="Supply(address,address,address,uint256,uint16)").hex()
    assert pool.topic("LiquidationCall") == "0x" + keccak(
        text="LiquidationCall(address,address,address,uint256,uint256,address,bool)").hex()
    with pytest.raises(ConfigError, match="no function 'flashLoan'"):
        pool.function("flashLoan")
    with pytest.raises(ConfigError, match="cannot load the ABI aave_v3/Nope"):
        load("aave_v3", "Nope")
