"""Deploys a real Aave v3.0 market (the @aave/core-v3 artifacts) on a devnet node, in about a second.

Every contract is created by the node's first dev account, so every address is known in advance
(CREATE address = f(sender, nonce)) and the whole deployment, contracts and configuration calls alike,
goes out as one JSON-RPC batch that anvil mines in a handful of blocks.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from indexer.devnet import market, toolchain
from indexer.devnet.abi import create_address, decode, encode_args, encode_call, link_bytecode
from indexer.devnet.compile import compile_dev_contracts
from indexer.devnet.errors import DevnetError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.oracles import (
    PYTH_PRICE_IDS,
    SEQUENCER_DESCRIPTION,
    SEQUENCER_UP,
    default_conf,
    pyth_set_price_call,
)
from indexer.devnet.txbatch import Tx, automine_paused, send_and_mine

log = logging.getLogger(__name__)

CANONICAL_MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

DEPLOY_GAS = 15_000_000
CALL_GAS = 1_000_000
INIT_RESERVE_GAS = 6_000_000

# how long before the deployment the sequencer-uptime feed says the sequencer came up: well past any
# grace period (Aave's PriceOracleSentinel and most protocols use an hour or less)
SEQUENCER_UP_SINCE = 2 * 86_400

# Libraries linked into Pool/PoolConfigurator; FlashLoanLogic itself links BorrowLogic, so it comes after.
POOL_LIBRARIES = (
    "SupplyLogic", "BorrowLogic", "LiquidationLogic", "EModeLogic", "BridgeLogic", "PoolLogic",
    "ConfiguratorLogic", "FlashLoanLogic",
)  # fmt: skip


@dataclass
class Deployment:
    """Where everything of one devnet market lives. Addresses are checksummed.

    ``reserves`` are in listing order (= ``Pool.getReservesList()``); each has symbol, name, asset,
    decimals, aToken, variableDebtToken, stableDebtToken, feed (the DevFeedProxy that AaveOracle reads),
    aggregator (the DevPriceFeed behind it), price (initial, 8 decimals), emode_category, ltv,
    liquidation_threshold, liquidation_bonus, reserve_factor, interest_rate_strategy.

    ``contracts`` also holds ``Pyth`` (a DevPyth; ``pyth_price_ids`` maps a reserve symbol to its Pyth
    price id there) and ``SequencerUptimeFeed`` (a DevPriceFeed reporting the L2 sequencer up); neither
    is wired into the market. See :mod:`indexer.devnet.oracles`.
    """

    rpc_url: str
    chain_id: int
    deployer: str
    block_number: int
    contracts: dict[str, str]
    reserves: list[dict[str, Any]]
    emode_categories: dict[int, dict[str, Any]] = field(default_factory=dict)
    pyth_price_ids: dict[str, str] = field(default_factory=dict)
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)  # other protocols' devnets, by kind

    def reserve(self, symbol: str) -> dict[str, Any]:
        for reserve in self.reserves:
            if reserve["symbol"] == symbol:
                return reserve
        raise KeyError(f"no reserve {symbol!r} in this deployment")

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> Deployment:
        data = json.loads(Path(path).read_text())
        data["emode_categories"] = {int(k): v for k, v in data.get("emode_categories", {}).items()}
        return cls(**data)


class _Plan:
    """Accumulates the deployer's transactions, predicting each created contract's address."""

    def __init__(self, deployer: str, first_nonce: int) -> None:
        self.deployer = deployer
        self.nonce = first_nonce
        self.txs: list[Tx] = []

    def _add(self, step: str, to: str | None, data: str, gas: int) -> None:
        self.txs.append(Tx(step, self.deployer, to, data, gas, self.nonce))
        self.nonce += 1

    def create(self, step: str, bytecode: str, types: tuple[str, ...] = (), args: tuple[Any, ...] = ()) -> str:
        address = create_address(self.deployer, self.nonce)
        self._add(f"deploy {step}", None, bytecode + encode_args(types, args), DEPLOY_GAS)
        return address

    def call(self, step: str, to: str, signature: str, *args: Any, gas: int = CALL_GAS) -> None:
        self._add(step, to, encode_call(signature, *args), gas)

    def send(self, step: str, to: str, data: str, gas: int = CALL_GAS) -> None:
        """A call whose calldata is already encoded."""
        self._add(step, to, data, gas)


def _aave_code(name: str, libraries: dict[str, str] | None = None) -> str:
    return link_bytecode(toolchain.aave_artifact(name), libraries or {})


def deploy_aave_v3(rpc_url: str) -> Deployment:
    """Deploys the devnet market on the node at ``rpc_url`` and returns where everything is."""
    rpc = JsonRpcClient(rpc_url)
    dev = compile_dev_contracts()
    chain_id_hex, accounts, head = rpc.batch([
        ("eth_chainId", []), ("eth_accounts", []), ("eth_getBlockByNumber", ["latest", False]),
    ])  # fmt: skip
    if not accounts:
        raise DevnetError(f"the node at {rpc_url} has no unlocked dev account to deploy from")
    deployer = to_checksum_address(accounts[0])
    plan = _Plan(deployer, int(rpc.call("eth_getTransactionCount", [deployer, "pending"]), 16))
    c: dict[str, str] = {}
    # The deployment's timestamps (Pyth publishTime, sequencer rounds) are its first block's: that block is
    # pinned to ``now`` (the head may be a genesis block from long before, e.g. after a cold compile).
    now = max(int(head["timestamp"], 16) + 1, int(time.time()))
    rpc.call("evm_setNextBlockTimestamp", [now])

    # --- addresses provider and access control
    provider = c["PoolAddressesProvider"] = plan.create(
        "PoolAddressesProvider", _aave_code("PoolAddressesProvider"), ("string", "address"),
        (market.MARKET_ID, deployer),
    )  # fmt: skip
    plan.call("PoolAddressesProvider.setACLAdmin", provider, "setACLAdmin(address)", deployer)
    acl = c["ACLManager"] = plan.create("ACLManager", _aave_code("ACLManager"), ("address",), (provider,))
    plan.call("PoolAddressesProvider.setACLManager", provider, "setACLManager(address)", acl)
    plan.call("ACLManager.addPoolAdmin", acl, "addPoolAdmin(address)", deployer)
    plan.call("ACLManager.addRiskAdmin", acl, "addRiskAdmin(address)", deployer)

    # --- logic libraries, Pool and PoolConfigurator behind the provider's proxies
    libs: dict[str, str] = {}
    for name in POOL_LIBRARIES:
        libs[name] = c[name] = plan.create(name, _aave_code(name, libs))
    pool_impl = c["PoolImpl"] = plan.create("Pool", _aave_code("Pool", libs), ("address",), (provider,))
    # initialise the bare implementation too, as Aave's own deployment does, so nobody else can
    plan.call("Pool(impl).initialize", pool_impl, "initialize(address)", provider)
    plan.call("PoolAddressesProvider.setPoolImpl", provider, "setPoolImpl(address)", pool_impl, gas=3_000_000)
    # the provider is a contract (nonce starts at 1) whose only CREATEs are these two proxies
    pool = c["Pool"] = create_address(provider, 1)
    configurator_impl = c["PoolConfiguratorImpl"] = plan.create(
        "PoolConfigurator", _aave_code("PoolConfigurator", libs)
    )
    plan.call("PoolConfigurator(impl).initialize", configurator_impl, "initialize(address)", provider)
    plan.call(
        "PoolAddressesProvider.setPoolConfiguratorImpl", provider, "setPoolConfiguratorImpl(address)",
        configurator_impl, gas=3_000_000,
    )  # fmt: skip
    configurator = c["PoolConfigurator"] = create_address(provider, 2)

    # --- underlying tokens and their price feeds (DevPriceFeed behind a DevFeedProxy)
    feed_code, proxy_code = dev["DevPriceFeed"].bytecode, dev["DevFeedProxy"].bytecode
    assets: dict[str, str] = {}
    feeds: dict[str, str] = {}
    aggregators: dict[str, str] = {}
    for spec in market.RESERVES:
        assets[spec.symbol] = plan.create(
            f"MintableERC20 {spec.symbol}", _aave_code("MintableERC20"), ("string", "string", "uint8"),
            (spec.name, spec.symbol, spec.decimals),
        )  # fmt: skip
        aggregators[spec.symbol] = plan.create(
            f"DevPriceFeed {spec.symbol}", feed_code, ("uint8", "string", "int256"),
            (market.PRICE_DECIMALS, f"{spec.symbol} / USD", spec.price),
        )  # fmt: skip
        feeds[spec.symbol] = plan.create(
            f"DevFeedProxy {spec.symbol}", proxy_code, ("address",), (aggregators[spec.symbol],)
        )

    # --- oracle and data provider
    symbols = [s.symbol for s in market.RESERVES]
    oracle = c["AaveOracle"] = plan.create(
        "AaveOracle", _aave_code("AaveOracle"),
        ("address", "address[]", "address[]", "address", "address", "uint256"),
        (provider, [assets[s] for s in symbols], [feeds[s] for s in symbols], ZERO_ADDRESS, ZERO_ADDRESS,
         market.BASE_CURRENCY_UNIT),
    )  # fmt: skip
    plan.call("PoolAddressesProvider.setPriceOracle", provider, "setPriceOracle(address)", oracle)
    data_provider = c["AaveProtocolDataProvider"] = plan.create(
        "AaveProtocolDataProvider", _aave_code("AaveProtocolDataProvider"), ("address",), (provider,)
    )
    plan.call("PoolAddressesProvider.setPoolDataProvider", provider, "setPoolDataProvider(address)", data_provider)

    # --- token implementations and rate strategies
    a_impl = c["ATokenImpl"] = plan.create("AToken", _aave_code("AToken"), ("address",), (pool,))
    v_impl = c["VariableDebtTokenImpl"] = plan.create(
        "VariableDebtToken", _aave_code("VariableDebtToken"), ("address",), (pool,)
    )
    s_impl = c["StableDebtTokenImpl"] = plan.create(
        "StableDebtToken", _aave_code("StableDebtToken"), ("address",), (pool,)
    )
    strategies: dict[str, str] = {}
    for key, params in market.RATE_STRATEGIES.items():
        strategies[key] = c[f"InterestRateStrategy.{key}"] = plan.create(
            f"DefaultReserveInterestRateStrategy {key}", _aave_code("DefaultReserveInterestRateStrategy"),
            ("address",) + ("uint256",) * len(params), (provider, *params),
        )  # fmt: skip

    # --- listing and risk configuration
    init_type = "(address,address,address,uint8,address,address,address,address,string,string,string,string,string,string,bytes)[]"  # noqa: E501
    for spec in market.RESERVES:
        sym = spec.symbol
        reserve_input = (
            a_impl, s_impl, v_impl, spec.decimals, strategies[spec.rate_strategy], assets[sym], deployer,
            ZERO_ADDRESS, f"Aave Devnet {sym}", f"aDev{sym}", f"Aave Devnet Variable Debt {sym}",
            f"variableDebtDev{sym}", f"Aave Devnet Stable Debt {sym}", f"stableDebtDev{sym}", b"",
        )  # fmt: skip
        plan.call(
            f"PoolConfigurator.initReserves {sym}", configurator, f"initReserves({init_type})", [reserve_input],
            gas=INIT_RESERVE_GAS,
        )  # fmt: skip
    for spec in market.RESERVES:
        sym, asset = spec.symbol, assets[spec.symbol]
        plan.call(
            f"PoolConfigurator.configureReserveAsCollateral {sym}", configurator,
            "configureReserveAsCollateral(address,uint256,uint256,uint256)", asset, spec.ltv,
            spec.liquidation_threshold, spec.liquidation_bonus,
        )  # fmt: skip
        plan.call(f"PoolConfigurator.setReserveBorrowing {sym}", configurator,
                  "setReserveBorrowing(address,bool)", asset, True)  # fmt: skip
        plan.call(f"PoolConfigurator.setReserveFactor {sym}", configurator,
                  "setReserveFactor(address,uint256)", asset, spec.reserve_factor)  # fmt: skip
    for cat in market.EMODE_CATEGORIES:
        plan.call(
            f"PoolConfigurator.setEModeCategory {cat.category_id}", configurator,
            "setEModeCategory(uint8,uint16,uint16,uint16,address,string)", cat.category_id, cat.ltv,
            cat.liquidation_threshold, cat.liquidation_bonus, cat.price_source, cat.label,
        )  # fmt: skip
    for spec in market.RESERVES:
        if spec.emode_category:
            plan.call(
                f"PoolConfigurator.setAssetEModeCategory {spec.symbol}", configurator,
                "setAssetEModeCategory(address,uint8)", assets[spec.symbol], spec.emode_category,
            )  # fmt: skip

    c["DevMulticall3"] = plan.create("DevMulticall3", dev["DevMulticall3"].bytecode)
    c["Multicall3"] = CANONICAL_MULTICALL3

    # --- oracles outside the market (last, so every address above stays where it always was)
    pyth = c["Pyth"] = plan.create("DevPyth", dev["DevPyth"].bytecode)
    pyth_ids = {sym: PYTH_PRICE_IDS[sym] for sym in symbols if sym in PYTH_PRICE_IDS}
    for sym, price_id in pyth_ids.items():
        price = market.reserve_spec(sym).price  # the feed's answer: PRICE_DECIMALS decimals, i.e. expo -8
        data = pyth_set_price_call(price_id, price, default_conf(price), -market.PRICE_DECIMALS, now)
        plan.send(f"DevPyth.setPrice {sym}", pyth, data)
    sequencer = c["SequencerUptimeFeed"] = plan.create(
        "DevPriceFeed SequencerUptimeFeed", feed_code, ("uint8", "string", "int256"),
        (0, SEQUENCER_DESCRIPTION, SEQUENCER_UP),
    )  # fmt: skip
    # rewrite round 1 (the constructor stamps it with the block time) as "up since long ago"
    plan.call(
        "DevPriceFeed.setRoundData SequencerUptimeFeed", sequencer, "setRoundData(uint80,int256,uint256,uint256)",
        1, SEQUENCER_UP, now - SEQUENCER_UP_SINCE, now,
    )  # fmt: skip

    with automine_paused(rpc):
        send_and_mine(rpc, plan.txs, "deploy Aave v3")
    rpc.call("anvil_setCode", [CANONICAL_MULTICALL3, dev["DevMulticall3"].deployed_bytecode])

    token_addresses = _check_and_read_tokens(rpc, c, [assets[s] for s in symbols])
    block_number = int(rpc.call("eth_blockNumber"), 16)
    reserves = []
    for spec, (a_token, stable_debt, variable_debt) in zip(market.RESERVES, token_addresses, strict=True):
        reserves.append({
            "symbol": spec.symbol,
            "name": spec.name,
            "asset": assets[spec.symbol],
            "decimals": spec.decimals,
            "aToken": a_token,
            "variableDebtToken": variable_debt,
            "stableDebtToken": stable_debt,
            "feed": feeds[spec.symbol],
            "aggregator": aggregators[spec.symbol],
            "price": spec.price,
            "emode_category": spec.emode_category,
            "ltv": spec.ltv,
            "liquidation_threshold": spec.liquidation_threshold,
            "liquidation_bonus": spec.liquidation_bonus,
            "reserve_factor": spec.reserve_factor,
            "interest_rate_strategy": strategies[spec.rate_strategy],
        })  # fmt: skip
    emode = {
        cat.category_id: {
            "label": cat.label,
            "ltv": cat.ltv,
            "liquidation_threshold": cat.liquidation_threshold,
            "liquidation_bonus": cat.liquidation_bonus,
            "price_source": cat.price_source,
            "assets": [s.symbol for s in market.RESERVES if s.emode_category == cat.category_id],
        }
        for cat in market.EMODE_CATEGORIES
    }
    log.info("Aave v3 devnet market deployed at block %d (Pool %s)", block_number, pool)
    return Deployment(
        rpc_url=rpc_url,
        chain_id=int(chain_id_hex, 16),
        deployer=deployer,
        block_number=block_number,
        contracts=c,
        reserves=reserves,
        emode_categories=emode,
        pyth_price_ids=pyth_ids,
    )


def _eth_call(to: str, data: str) -> tuple[str, list[Any]]:
    return "eth_call", [{"to": to, "data": data}, "latest"]


def _check_and_read_tokens(rpc: JsonRpcClient, c: dict[str, str], assets: list[str]) -> list[tuple[str, str, str]]:
    """Confirms the predicted proxies and the listing, and reads each reserve's (aToken, sDebt, vDebt)."""
    provider, pool = c["PoolAddressesProvider"], c["Pool"]
    calls = [
        _eth_call(provider, encode_call("getPool()")),
        _eth_call(provider, encode_call("getPoolConfigurator()")),
        _eth_call(pool, encode_call("getReservesList()")),
        ("eth_getCode", [c["Multicall3"], "latest"]),
    ] + [_eth_call(c["AaveProtocolDataProvider"], encode_call("getReserveTokensAddresses(address)", a)) for a in assets]
    got_pool, got_configurator, listed, multicall_code, *tokens = rpc.batch(calls)
    if to_checksum_address(decode(["address"], got_pool)[0]) != pool:
        raise DevnetError(f"Pool proxy is not at the predicted address {pool}")
    if to_checksum_address(decode(["address"], got_configurator)[0]) != c["PoolConfigurator"]:
        raise DevnetError(f"PoolConfigurator proxy is not at the predicted address {c['PoolConfigurator']}")
    listed_assets = [to_checksum_address(a) for a in decode(["address[]"], listed)[0]]
    if listed_assets != assets:
        raise DevnetError(f"Pool lists {listed_assets}, expected {assets}")
    if len(multicall_code) <= 2:
        raise DevnetError("anvil_setCode left no code at the canonical Multicall3 address")
    return [
        tuple(to_checksum_address(a) for a in decode(["address", "address", "address"], raw))  # type: ignore[misc]
        for raw in tokens
    ]
