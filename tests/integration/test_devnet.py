"""The local devnet: a real Aave v3 market on anvil, seeded borrowers, and controllable price feeds."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address

from indexer.devnet import (
    CANONICAL_MULTICALL3,
    PYTH_PRICE_IDS,
    Anvil,
    Deployment,
    DevnetError,
    advance_time,
    deploy_price_feed,
    feed_aggregator,
    revert,
    set_aggregator,
    set_price,
    set_pyth_price,
    set_round,
    set_sequencer,
    set_updated_at,
    snapshot,
    stack,
)
from indexer.devnet.abi import decode, encode_call, encode_words, selector
from indexer.devnet.compile import compile_dev_contracts
from indexer.devnet.errors import DevnetRpcError, ToolchainMissingError, TransactionFailedError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import transact
from indexer.protocols.aave_v3.devnet import KINDS, aave_record, emode_categories, plan_accounts

WAD = 10**18
ACCOUNT_DATA = ["uint256"] * 6  # collateral, debt, availableBorrows, LT, LTV, HF
ROUND = ["uint80", "int256", "uint256", "uint256", "uint80"]
PYTH_PRICE = ["(int64,uint64,int32,uint256)"]  # price, conf, expo, publishTime
ETH_USD = PYTH_PRICE_IDS["WETH"]


def call(url: str, to: str, signature: str, out: list[str], *args: Any, block: str = "latest") -> tuple[Any, ...]:
    raw = JsonRpcClient(url).call("eth_call", [{"to": to, "data": encode_call(signature, *args)}, block])
    return decode(out, raw)


def call_many(url: str, calls: list[tuple[str, str, list[str], tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
    results = JsonRpcClient(url).batch(
        ("eth_call", [{"to": to, "data": encode_call(sig, *args)}, "latest"]) for to, sig, _, args in calls
    )
    return [decode(out, raw) for (_, _, out, _), raw in zip(calls, results, strict=True)]


def account_data(url: str, pool: str, users: list[str]) -> dict[str, tuple[int, ...]]:
    calls = [(pool, "getUserAccountData(address)", ACCOUNT_DATA, (u,)) for u in users]
    return dict(zip(users, call_many(url, calls), strict=True))


def block_time(rpc: JsonRpcClient, block: str | int = "latest") -> int:
    tag = hex(block) if isinstance(block, int) else block
    return int(rpc.call("eth_getBlockByNumber", [tag, False])["timestamp"], 16)


def pyth_price(url: str, pyth: str, price_id: str, *, max_age: int | None = None) -> tuple[int, int, int, int]:
    raw_id = bytes.fromhex(price_id.removeprefix("0x"))
    if max_age is None:
        return call(url, pyth, "getPriceUnsafe(bytes32)", PYTH_PRICE, raw_id)[0]
    return call(url, pyth, "getPriceNoOlderThan(bytes32,uint256)", PYTH_PRICE, raw_id, max_age)[0]


# ---------------------------------------------------------------------------------------- deployment


def test_deployment_is_a_real_aave_v3_pool(devnet):
    d, url = devnet.deployment, devnet.url
    pool = d.contracts["Pool"]
    assert call(url, pool, "POOL_REVISION()", ["uint256"]) == (1,)
    assert (
        to_checksum_address(call(url, pool, "ADDRESSES_PROVIDER()", ["address"])[0])
        == d.contracts["PoolAddressesProvider"]
    )
    listed = [to_checksum_address(a) for a in call(url, pool, "getReservesList()", ["address[]"])[0]]
    assert listed == [r["asset"] for r in d.reserves]
    assert [r["symbol"] for r in d.reserves][:6] == ["WETH", "wstETH", "WBTC", "USDC", "DAI", "EURS"]
    provider = d.contracts["PoolAddressesProvider"]
    for getter, name in [
        ("getPool()", "Pool"),
        ("getPoolConfigurator()", "PoolConfigurator"),
        ("getPriceOracle()", "AaveOracle"),
        ("getACLManager()", "ACLManager"),
        ("getPoolDataProvider()", "AaveProtocolDataProvider"),
    ]:
        assert to_checksum_address(call(url, provider, getter, ["address"])[0]) == d.contracts[name], getter


def test_reserve_tokens_decimals_and_risk_parameters(devnet):
    d, url = devnet.deployment, devnet.url
    data_provider, oracle = d.contracts["AaveProtocolDataProvider"], d.contracts["AaveOracle"]
    assert call(url, oracle, "BASE_CURRENCY_UNIT()", ["uint256"]) == (10**8,)
    for r in d.reserves:
        (decimals,) = call(url, r["asset"], "decimals()", ["uint8"])
        (a_decimals,) = call(url, r["aToken"], "decimals()", ["uint8"])
        assert decimals == a_decimals == r["decimals"], r["symbol"]
        (underlying,) = call(url, r["aToken"], "UNDERLYING_ASSET_ADDRESS()", ["address"])
        assert to_checksum_address(underlying) == r["asset"]
        config = call(
            url, data_provider, "getReserveConfigurationData(address)",
            ["uint256", "uint256", "uint256", "uint256", "uint256", "bool", "bool", "bool", "bool", "bool"],
            r["asset"],
        )  # fmt: skip
        dec, ltv, lt, bonus, _rf, as_collateral, borrowing, _stable, active, frozen = config
        assert (dec, ltv, lt, bonus) == (r["decimals"], r["ltv"], r["liquidation_threshold"], r["liquidation_bonus"])
        assert as_collateral and borrowing and active and not frozen
        (category,) = call(url, data_provider, "getReserveEModeCategory(address)", ["uint256"], r["asset"])
        assert category == r["emode_category"]
        (source,) = call(url, oracle, "getSourceOfAsset(address)", ["address"], r["asset"])
        assert to_checksum_address(source) == r["feed"]
        assert call(url, oracle, "getAssetPrice(address)", ["uint256"], r["asset"]) == (r["price"],)
    eurs = d.reserve("EURS")
    assert eurs["decimals"] == 2
    assert {r["symbol"] for r in d.reserves if r["emode_category"] == 1} == {"WETH", "wstETH"}
    assert {r["symbol"] for r in d.reserves if r["emode_category"] == 2} == {"USDC", "DAI"}


def test_emode_categories(devnet):
    d, url = devnet.deployment, devnet.url
    categories = emode_categories(d)
    for category_id, expected in categories.items():
        ((ltv, lt, bonus, price_source, label),) = call(
            url, d.contracts["Pool"], "getEModeCategoryData(uint8)",
            ["(uint16,uint16,uint16,address,string)"], category_id,
        )  # fmt: skip
        assert (ltv, lt, bonus, label) == (
            expected["ltv"], expected["liquidation_threshold"], expected["liquidation_bonus"], expected["label"]
        )  # fmt: skip
        assert int(price_source, 16) == 0
    assert categories[1]["label"] == "ETH correlated"
    assert (categories[1]["ltv"], categories[1]["liquidation_threshold"]) == (9000, 9300)
    assert (categories[2]["ltv"], categories[2]["liquidation_threshold"]) == (9300, 9500)


def test_multicall3_at_canonical_address(devnet):
    d, url = devnet.deployment, devnet.url
    rpc = devnet.rpc
    assert d.contracts["Multicall3"] == CANONICAL_MULTICALL3
    head = int(rpc.call("eth_blockNumber"), 16)
    assert call(url, CANONICAL_MULTICALL3, "getBlockNumber()", ["uint256"]) == (head,)
    assert rpc.call("eth_getCode", [CANONICAL_MULTICALL3, "latest"]) == rpc.call(
        "eth_getCode", [d.contracts["DevMulticall3"], "latest"]
    )
    weth = d.reserve("WETH")
    calls = [
        (d.contracts["AaveOracle"], True, bytes.fromhex(encode_call("getAssetPrice(address)", weth["asset"])[2:])),
        (weth["asset"], True, bytes.fromhex("deadbeef")),  # no such function: fails, allowed
        (CANONICAL_MULTICALL3, False, bytes.fromhex(encode_call("getChainId()")[2:])),
    ]
    (results,) = call(url, CANONICAL_MULTICALL3, "aggregate3((address,bool,bytes)[])", ["(bool,bytes)[]"], calls)
    assert results[0] == (True, weth["price"].to_bytes(32, "big"))
    assert results[1][0] is False
    assert results[2] == (True, (31337).to_bytes(32, "big"))
    must_succeed = [(weth["asset"], False, bytes.fromhex("deadbeef"))]
    with pytest.raises(DevnetRpcError):
        call(url, CANONICAL_MULTICALL3, "aggregate3((address,bool,bytes)[])", ["(bool,bytes)[]"], must_succeed)
    ((block, returned),) = [
        call(url, CANONICAL_MULTICALL3, "aggregate((address,bytes)[])", ["uint256", "bytes[]"],
             [(CANONICAL_MULTICALL3, bytes.fromhex(encode_call("getCurrentBlockTimestamp()")[2:]))])
    ]  # fmt: skip
    assert block == head and int.from_bytes(returned[0], "big") > 0


def test_deployment_json_round_trip(devnet, tmp_path):
    path = tmp_path / "deployment.json"
    devnet.deployment.to_json(path)
    loaded = Deployment.from_json(path)
    assert loaded == devnet.deployment
    assert set(emode_categories(loaded)) == {1, 2}
    assert aave_record(loaded)["reserves"] == loaded.reserves  # the only protocol with priced reserves here
    assert loaded.pyth_price_ids == {"WETH": ETH_USD}
    # a file written before pyth_price_ids existed still loads
    older = json.loads(path.read_text())
    del older["pyth_price_ids"]
    path.write_text(json.dumps(older))
    assert Deployment.from_json(path).pyth_price_ids == {}


def test_fresh_deployment_wall_time():
    with Anvil() as node:
        started = time.perf_counter()
        deployment = stack.deploy(node.url, ["aave_v3"])
        elapsed = time.perf_counter() - started
    print(f"\nfresh Aave v3 devnet deployment (with the chain's shared services): {elapsed:.3f} s")
    assert elapsed < 5.0
    assert deployment.block_number >= 1


# ---------------------------------------------------------------------------------------- seeding


def test_every_kind_and_every_reserve_is_seeded(devnet):
    kinds = {a.kind for a in devnet.accounts}
    assert kinds == set(KINDS)
    supplied = {s for a in devnet.accounts for s in a.supplies}
    borrowed = {s for a in devnet.accounts for s in a.borrows}
    symbols = {r["symbol"] for r in devnet.deployment.reserves}
    assert supplied == symbols
    assert borrowed == symbols
    multi = devnet.accounts_of("multi")
    decimals = {r["symbol"]: r["decimals"] for r in devnet.deployment.reserves}
    for a in multi:
        assert 2 <= len(a.supplies) <= 3 and 1 <= len(a.borrows) <= 2
        assert len({decimals[s] for s in a.supplies}) == len(a.supplies)
    assert len({a.address for a in devnet.accounts}) == len(devnet.accounts)


def test_seeded_positions_match_their_kind(devnet):
    d = devnet.deployment
    data = account_data(devnet.url, d.contracts["Pool"], [a.address for a in devnet.accounts])
    for a in devnet.accounts:
        collateral, debt, *_rest, hf = data[a.address]
        assert collateral > 0, a
        if a.kind == "supply_only":
            assert debt == 0 and not a.borrows and hf == 2**256 - 1, a
        else:
            assert debt > 0 and a.borrows, a
            assert hf > WAD, a


def test_near_liquidation_health_factors(devnet):
    d = devnet.deployment
    near = devnet.accounts_of("near_liquidation")
    assert near
    data = account_data(devnet.url, d.contracts["Pool"], [a.address for a in near])
    for a in near:
        hf = data[a.address][5]
        assert WAD < hf < 108 * WAD // 100, (a, hf / WAD)


def test_seeded_balances_match_the_accounts(devnet):
    by_symbol = {r["symbol"]: r for r in devnet.deployment.reserves}
    calls = []
    expected = []
    for a in devnet.accounts:
        for symbol, amount in a.supplies.items():
            calls.append((by_symbol[symbol]["aToken"], "balanceOf(address)", ["uint256"], (a.address,)))
            expected.append(amount)
        for symbol, amount in a.borrows.items():
            calls.append((by_symbol[symbol]["variableDebtToken"], "balanceOf(address)", ["uint256"], (a.address,)))
            expected.append(amount)
    for (got,), want in zip(call_many(devnet.url, calls), expected, strict=True):
        # interest accrues from the seeding block on (and ray rounding may shave one unit)
        assert want - 1 <= got <= want + want // 10_000 + 1


def test_emode_users(devnet):
    pool = devnet.deployment.contracts["Pool"]
    users = [a for a in devnet.accounts if a.emode_category]
    assert {a.emode_category for a in devnet.accounts_of("emode")} == {1, 2}
    modes = call_many(devnet.url, [(pool, "getUserEMode(address)", ["uint256"], (a.address,)) for a in users])
    categories = {r["symbol"]: r["emode_category"] for r in devnet.deployment.reserves}
    for a, (mode,) in zip(users, modes, strict=True):
        assert mode == a.emode_category
        assert all(categories[s] == a.emode_category for s in a.borrows)
    others = [a for a in devnet.accounts if not a.emode_category][:10]
    for (mode,) in call_many(devnet.url, [(pool, "getUserEMode(address)", ["uint256"], (a.address,)) for a in others]):
        assert mode == 0


def test_seeding_plan_is_deterministic(devnet):
    d = devnet.deployment
    again = plan_accounts(d, len(devnet.accounts), seed=0)
    assert [(a.address, a.kind, a.supplies, a.borrows) for a in again] == [
        (a.address, a.kind, a.supplies, a.borrows) for a in devnet.accounts
    ]
    other = plan_accounts(d, 10, seed=1)
    assert {a.address for a in other}.isdisjoint({a.address for a in devnet.accounts})


# ---------------------------------------------------------------------------------------- prices & chain


def test_set_price_moves_the_oracle_and_health(chain_state):
    d, url = chain_state.deployment, chain_state.url
    weth = d.reserve("WETH")
    oracle = d.contracts["AaveOracle"]
    victim = next(
        a for a in chain_state.accounts_of("near_liquidation") if "WETH" in a.supplies and not a.emode_category
    )
    before = account_data(url, d.contracts["Pool"], [victim.address])[victim.address][5]
    set_price(url, d, "WETH", 1_800 * 10**8)
    assert call(url, oracle, "getAssetPrice(address)", ["uint256"], weth["asset"]) == (1_800 * 10**8,)
    after = account_data(url, d.contracts["Pool"], [victim.address])[victim.address][5]
    assert after < WAD < before  # a 10% drop puts the near-liquidation WETH borrower under water
    round_id, answer, started, updated, answered = call(url, weth["feed"], "latestRoundData()", ROUND)
    assert answer == 1_800 * 10**8 and started == updated > 0
    assert round_id == (1 << 64) | 2 and answered == round_id


def test_price_changes_are_undone_between_tests(chain_state):
    d = chain_state.deployment
    weth = d.reserve("WETH")
    assert call(chain_state.url, d.contracts["AaveOracle"], "getAssetPrice(address)", ["uint256"], weth["asset"]) == (
        weth["price"],
    )


def test_feed_rounds_can_be_written_arbitrarily(chain_state):
    d, url = chain_state.deployment, chain_state.url
    dai = d.reserve("DAI")
    now = int(chain_state.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    set_round(url, d, "DAI", 500, 99_000_000, now - 10, now + 3_600)  # updatedAt in the future
    assert call(url, dai["aggregator"], "latestRoundData()", ROUND) == (500, 99_000_000, now - 10, now + 3_600, 500)
    set_round(url, d, "DAI", 7, 101_000_000, now, 0)  # round id goes backwards, updatedAt 0
    assert call(url, dai["aggregator"], "latestRoundData()", ROUND) == (7, 101_000_000, now, 0, 7)
    assert call(url, dai["feed"], "latestRound()", ["uint256"]) == ((1 << 64) | 7,)
    assert call(url, dai["aggregator"], "getRoundData(uint80)", ROUND, 500)[1] == 99_000_000
    set_updated_at(url, d, "DAI", now - 86_400)
    assert call(url, dai["feed"], "latestTimestamp()", ["uint256"]) == (now - 86_400,)
    assert call(url, d.contracts["AaveOracle"], "getAssetPrice(address)", ["uint256"], dai["asset"]) == (101_000_000,)


def test_feed_events(chain_state):
    d, url = chain_state.deployment, chain_state.url
    usdc = d.reserve("USDC")
    rpc = chain_state.rpc
    start = int(rpc.call("eth_blockNumber"), 16) + 1
    set_price(url, d, "USDC", 99_500_000)
    logs = rpc.call("eth_getLogs", [{"fromBlock": hex(start), "toBlock": "latest", "address": usdc["aggregator"]}])
    topics = [entry["topics"][0] for entry in logs]
    answer_updated = "0x" + keccak(text="AnswerUpdated(int256,uint256,uint256)").hex()
    new_round = "0x" + keccak(text="NewRound(uint256,address,uint256)").hex()
    assert topics == [new_round, answer_updated]
    assert int(logs[1]["topics"][1], 16) == 99_500_000 and int(logs[1]["topics"][2], 16) == 2


def test_set_aggregator_starts_a_new_phase(chain_state):
    d, url = chain_state.deployment, chain_state.url
    wbtc = d.reserve("WBTC")
    proxy = wbtc["feed"]
    assert feed_aggregator(url, d, "WBTC") == wbtc["aggregator"]
    assert call(url, proxy, "phaseId()", ["uint16"]) == (1,)
    new_feed = deploy_price_feed(url, 55_000 * 10**8, description="WBTC / USD", sender=d.deployer)
    start = int(chain_state.rpc.call("eth_blockNumber"), 16) + 1
    set_aggregator(url, d, "WBTC", new_feed)
    assert feed_aggregator(url, d, "WBTC") == new_feed != wbtc["aggregator"]
    assert call(url, proxy, "phaseId()", ["uint16"]) == (2,)
    assert call(url, proxy, "latestRoundData()", ROUND)[:2] == ((2 << 64) | 1, 55_000 * 10**8)
    assert call(url, proxy, "getRoundData(uint80)", ROUND, (1 << 64) | 1)[1] == wbtc["price"]  # old phase
    logs = chain_state.rpc.call("eth_getLogs", [{"fromBlock": hex(start), "toBlock": "latest", "address": proxy}])
    assert logs == []  # like real proxies, no event on an aggregator swap
    assert call(url, d.contracts["AaveOracle"], "getAssetPrice(address)", ["uint256"], wbtc["asset"]) == (
        55_000 * 10**8,
    )


def test_advance_time_accrues_interest(chain_state):
    d, url = chain_state.deployment, chain_state.url
    borrower = chain_state.accounts_of("single")[0]
    before = account_data(url, d.contracts["Pool"], [borrower.address])[borrower.address]
    now = int(chain_state.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    stamp = advance_time(url, 365 * 86_400)
    assert stamp >= now + 365 * 86_400
    after = account_data(url, d.contracts["Pool"], [borrower.address])[borrower.address]
    assert after[1] > before[1]  # debt grew
    assert after[5] < before[5]  # health fell


def test_snapshot_and_revert(devnet):
    url = devnet.url
    head = int(devnet.rpc.call("eth_blockNumber"), 16)
    snap = snapshot(url)
    advance_time(url, 60)
    assert int(devnet.rpc.call("eth_blockNumber"), 16) == head + 1
    revert(url, snap)
    assert int(devnet.rpc.call("eth_blockNumber"), 16) == head
    with pytest.raises(DevnetError):
        revert(url, snap)  # a snapshot is used up by reverting to it


def test_a_failed_transaction_names_its_step_and_aave_error(chain_state):
    d = chain_state.deployment
    nobody = "0x000000000000000000000000000000000000bEEF"
    borrow = encode_words(
        "borrow(address,uint256,uint256,uint16,address)", d.reserve("WETH")["asset"], 10**18, 2, 0, nobody
    )
    with pytest.raises(TransactionFailedError, match=r"borrow without collateral .*COLLATERAL_BALANCE_IS_ZERO"):
        transact(chain_state.rpc, "borrow without collateral", nobody, d.contracts["Pool"], borrow)
    assert chain_state.rpc.call("anvil_getAutomine") is True


# ---------------------------------------------------------------------------------------- Pyth & sequencer


def test_dev_pyth_abi_matches_pyth():
    abi = compile_dev_contracts()["DevPyth"].abi
    functions = {f"{e['name']}({','.join(i['type'] for i in e['inputs'])})": e for e in abi if e["type"] == "function"}
    assert selector("getPriceUnsafe(bytes32)") == "0x96834ad3"
    assert selector("getPriceNoOlderThan(bytes32,uint256)") == "0xa4ae35e0"
    assert selector("PriceFeedNotFound()") == "0x14aebe68"
    assert selector("StalePrice()") == "0x19abf40e"
    for name in ("getPriceUnsafe(bytes32)", "getEmaPriceUnsafe(bytes32)", "getPriceNoOlderThan(bytes32,uint256)"):
        assert [o["type"] for o in functions[name]["outputs"][0]["components"]] == [
            "int64", "uint64", "int32", "uint256"
        ], name  # fmt: skip
    assert [o["type"] for o in functions["priceFeedExists(bytes32)"]["outputs"]] == ["bool"]
    (event,) = [e for e in abi if e["type"] == "event"]
    signature = f"{event['name']}({','.join(i['type'] for i in event['inputs'])})"
    assert "0x" + keccak(text=signature).hex() == "0xd06a6b7f4918494b3719217d1802786c1f5112a6c1d88fe2cfec00b4584f6aec"


def test_pyth_is_deployed_with_the_weth_price(devnet):
    d, url, rpc = devnet.deployment, devnet.url, devnet.rpc
    pyth = d.contracts["Pyth"]
    assert d.pyth_price_ids == {"WETH": "0xff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace"}
    weth_price = d.reserve("WETH")["price"]
    price, conf, expo, published = pyth_price(url, pyth, ETH_USD)
    assert (price, conf, expo) == (2_000 * 10**8, 2 * 10**8, -8) == (weth_price, weth_price // 1_000, -8)
    deployed_at = block_time(rpc, d.block_number)
    assert deployed_at - 2 <= published <= deployed_at
    raw_id = bytes.fromhex(ETH_USD[2:])
    assert call(url, pyth, "priceFeedExists(bytes32)", ["bool"], raw_id) == (True,)
    assert call(url, pyth, "getEmaPriceUnsafe(bytes32)", PYTH_PRICE, raw_id)[0] == (price, conf, expo, published)
    topic0 = "0x" + keccak(text="PriceFeedUpdate(bytes32,uint64,int64,uint64)").hex()
    (log_entry,) = rpc.call("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest", "address": pyth}])
    assert log_entry["topics"] == [topic0, ETH_USD]
    assert decode(["uint64", "int64", "uint64"], log_entry["data"]) == (published, price, conf)


def test_set_pyth_price_and_staleness(chain_state):
    d, url, rpc = chain_state.deployment, chain_state.url, chain_state.rpc
    pyth = d.contracts["Pyth"]
    now = block_time(rpc)
    set_pyth_price(url, d, "WETH", 1_850 * 10**8)
    assert pyth_price(url, pyth, ETH_USD) == (1_850 * 10**8, 1_850 * 10**5, -8, now)
    assert pyth_price(url, pyth, ETH_USD, max_age=60) == (1_850 * 10**8, 1_850 * 10**5, -8, now)
    later = advance_time(url, 61)
    assert later - now > 60
    with pytest.raises(DevnetRpcError) as stale:
        pyth_price(url, pyth, ETH_USD, max_age=60)
    assert stale.value.data == selector("StalePrice()")
    assert pyth_price(url, pyth, ETH_USD, max_age=later - now)[3] == now  # exactly at the limit is fine
    assert pyth_price(url, pyth, ETH_USD)[0] == 1_850 * 10**8  # the unsafe read does not care

    # explicit conf, expo and a publish time in the past, then one in the future (stale both ways, as in Pyth)
    set_pyth_price(url, d, "WETH", 185_012_345, conf=7, expo=-5, publish_time=later - 1_000)
    assert pyth_price(url, pyth, ETH_USD) == (185_012_345, 7, -5, later - 1_000)
    set_pyth_price(url, d, "WETH", 1_900 * 10**8, publish_time=later + 600)
    with pytest.raises(DevnetRpcError) as future:
        pyth_price(url, pyth, ETH_USD, max_age=60)
    assert future.value.data == selector("StalePrice()")
    with pytest.raises(KeyError, match="no Pyth price id for 'DAI'"):
        set_pyth_price(url, d, "DAI", 10**8)


def test_pyth_unknown_id_reverts(devnet):
    url, pyth = devnet.url, devnet.deployment.contracts["Pyth"]
    unknown = "0x" + "ab" * 32
    assert call(url, pyth, "priceFeedExists(bytes32)", ["bool"], bytes.fromhex(unknown[2:])) == (False,)
    for max_age in (None, 10**9):
        with pytest.raises(DevnetRpcError) as missing:
            pyth_price(url, pyth, unknown, max_age=max_age)
        assert missing.value.data == selector("PriceFeedNotFound()")


def test_sequencer_uptime_feed_is_up_since_long_ago(devnet):
    d, url = devnet.deployment, devnet.url
    feed = d.contracts["SequencerUptimeFeed"]
    assert call(url, feed, "decimals()", ["uint8"]) == (0,)
    assert call(url, feed, "description()", ["string"]) == ("L2 Sequencer Uptime Status Feed",)
    round_id, answer, started, updated, answered = call(url, feed, "latestRoundData()", ROUND)
    assert (round_id, answer, answered) == (1, 0, 1)
    deployed_at = block_time(devnet.rpc, d.block_number)
    assert deployed_at - 2 <= updated <= deployed_at
    assert updated - started == 2 * 86_400  # well past any grace period


def test_set_sequencer_down_and_up_again(chain_state):
    d, url = chain_state.deployment, chain_state.url
    feed = d.contracts["SequencerUptimeFeed"]
    now = block_time(chain_state.rpc)
    set_sequencer(url, d, down=True)
    assert call(url, feed, "latestRoundData()", ROUND) == (2, 1, now, now, 2)
    assert call(url, feed, "latestAnswer()", ["int256"]) == (1,)
    later = advance_time(url, 600)
    set_sequencer(url, d, down=False, started_at=later - 300)
    assert call(url, feed, "latestRoundData()", ROUND) == (3, 0, later - 300, later, 3)
    assert call(url, feed, "getRoundData(uint80)", ROUND, 2)[1] == 1  # the outage stays on record


def test_missing_toolchain_says_to_run_npm_ci(tmp_path, monkeypatch):
    monkeypatch.setenv("INDEXER_NODE_MODULES", str(tmp_path))
    with pytest.raises(ToolchainMissingError, match="npm ci"):
        Anvil()
