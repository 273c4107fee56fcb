"""Deploys a real Aave v3.0 market (the @aave/core-v3 artifacts) on a devnet node, in about a second.

Every contract is created by the node's first dev account, so every address is known in advance
(CREATE address = f(sender, nonce)) and the whole deployment, contracts and configuration calls alike,
goes out as one JSON-RPC batch that anvil mines in a handful of blocks.
"""

from __future__ import annotations

import logging
from typing import Any

from eth_utils import to_checksum_address

from indexer.devnet import toolchain
from indexer.devnet.abi import create_address, decode, encode_call, link_bytecode
from indexer.devnet.compile import compile_dev_contracts
from indexer.devnet.deployment import DeployPlan
from indexer.devnet.errors import DevnetError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import automine_paused, send_and_mine
from indexer.protocols.aave_v3.devnet import market
from indexer.types import ZERO_ADDRESS

log = logging.getLogger(__name__)


DEPLOY_GAS = 15_000_000
INIT_RESERVE_GAS = 6_000_000

# Libraries linked into Pool/PoolConfigurator; FlashLoanLogic itself links BorrowLogic, so it comes after.
POOL_LIBRARIES = (
    "SupplyLogic", "BorrowLogic", "LiquidationLogic", "EModeLogic", "BridgeLogic", "PoolLogic",
    "ConfiguratorLogic", "FlashLoanLogic",
)  # fmt: skip


def _aave_code(name: str, libraries: dict[str, str] | None = None) -> str:
    return link_bytecode(toolchain.aave_artifact(name), libraries or {})


def deploy_aave_v3(rpc_url: str) -> dict[str, Any]:
    """Deploys the devnet market on the node at ``rpc_url`` and returns its record for the devnet deployment
    file (:class:`~indexer.devnet.deployment.Deployment`): ``contracts`` (Pool, AaveOracle, …), ``reserves`` in
    listing order (= ``Pool.getReservesList()``; each has symbol, name, asset, decimals, aToken,
    variableDebtToken, stableDebtToken, feed — the DevFeedProxy AaveOracle reads —, aggregator — the
    DevPriceFeed behind it —, price (initial, 8 decimals), emode_category, ltv, liquidation_threshold,
    liquidation_bonus, reserve_factor, interest_rate_strategy) and ``emode_categories`` (by id, as strings:
    the record is JSON)."""
    rpc = JsonRpcClient(rpc_url)
    dev = compile_dev_contracts()
    plan = DeployPlan.from_node(rpc, deploy_gas=DEPLOY_GAS)
    deployer = plan.deployer
    c: dict[str, str] = {}

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

    with automine_paused(rpc):
        send_and_mine(rpc, plan.txs, "deploy Aave v3")

    token_addresses = _check_and_read_tokens(rpc, c, [assets[s] for s in symbols])
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
        str(cat.category_id): {
            "label": cat.label,
            "ltv": cat.ltv,
            "liquidation_threshold": cat.liquidation_threshold,
            "liquidation_bonus": cat.liquidation_bonus,
            "price_source": cat.price_source,
            "assets": [s.symbol for s in market.RESERVES if s.emode_category == cat.category_id],
        }
        for cat in market.EMODE_CATEGORIES
    }
    log.info("Aave v3 devnet market deployed pool=%s reserves=%d", pool, len(reserves))
    return {"contracts": c, "reserves": reserves, "emode_categories": emode}


def _eth_call(to: str, data: str) -> tuple[str, list[Any]]:
    return "eth_call", [{"to": to, "data": data}, "latest"]


def _check_and_read_tokens(rpc: JsonRpcClient, c: dict[str, str], assets: list[str]) -> list[tuple[str, str, str]]:
    """Confirms the predicted proxies and the listing, and reads each reserve's (aToken, sDebt, vDebt)."""
    provider, pool = c["PoolAddressesProvider"], c["Pool"]
    calls = [
        _eth_call(provider, encode_call("getPool()")),
        _eth_call(provider, encode_call("getPoolConfigurator()")),
        _eth_call(pool, encode_call("getReservesList()")),
    ] + [_eth_call(c["AaveProtocolDataProvider"], encode_call("getReserveTokensAddresses(address)", a)) for a in assets]
    got_pool, got_configurator, listed, *tokens = rpc.batch(calls)
    if to_checksum_address(decode(["address"], got_pool)[0]) != pool:
        raise DevnetError(f"Pool proxy is not at the predicted address {pool}")
    if to_checksum_address(decode(["address"], got_configurator)[0]) != c["PoolConfigurator"]:
        raise DevnetError(f"PoolConfigurator proxy is not at the predicted address {c['PoolConfigurator']}")
    listed_assets = [to_checksum_address(a) for a in decode(["address[]"], listed)[0]]
    if listed_assets != assets:
        raise DevnetError(f"Pool lists {listed_assets}, expected {assets}")
    return [
        tuple(to_checksum_address(a) for a in decode(["address", "address", "address"], raw))  # type: ignore[misc]
        for raw in tokens
    ]


def list_reserve(rpc_url: str, deployment: Any, symbol: str, *, decimals: int, price: int, ltv: int,
                 liquidation_threshold: int, liquidation_bonus: int, strategy: str = "volatile") -> dict[str, Any]:
    """Lists one more reserve on the devnet market, as governance would: a fresh token and price feed, the
    oracle's source, ``initReserves``, and its collateral parameters (0, 0, 0: not collateral). No one holds
    it yet, so the settings Aave refuses on a used reserve (debt ceiling, siloed borrowing, LT 0, inactive) can
    still be set. Returns ``{"symbol", "asset", "feed"}``."""
    from indexer.devnet.abi import encode_args
    from indexer.devnet.prices import deploy_price_feed
    from indexer.devnet.txbatch import transact

    rpc = JsonRpcClient(rpc_url)
    deployer, c = deployment.deployer, deployment.contracts
    nonce = int(rpc.call("eth_getTransactionCount", [deployer, "pending"]), 16)
    asset = create_address(deployer, nonce)
    transact(rpc, f"deploy MintableERC20 {symbol}", deployer, None, _aave_code("MintableERC20") + encode_args(
        ("string", "string", "uint8"), (f"Devnet {symbol}", symbol, decimals)), DEPLOY_GAS)
    feed = deploy_price_feed(rpc_url, price, description=f"{symbol} / USD", sender=deployer)
    transact(rpc, f"AaveOracle.setAssetSources {symbol}", deployer, c["AaveOracle"],
             encode_call("setAssetSources(address[],address[])", [asset], [feed]))
    init_type = "(address,address,address,uint8,address,address,address,address,string,string,string,string,string,string,bytes)[]"  # noqa: E501
    reserve_input = (
        c["ATokenImpl"], c["StableDebtTokenImpl"], c["VariableDebtTokenImpl"], decimals,
        c[f"InterestRateStrategy.{strategy}"], asset, deployer, ZERO_ADDRESS, f"Aave Devnet {symbol}",
        f"aDev{symbol}", f"Aave Devnet Variable Debt {symbol}", f"variableDebtDev{symbol}",
        f"Aave Devnet Stable Debt {symbol}", f"stableDebtDev{symbol}", b"",
    )  # fmt: skip
    transact(rpc, f"PoolConfigurator.initReserves {symbol}", deployer, c["PoolConfigurator"],
             encode_call(f"initReserves({init_type})", [reserve_input]), INIT_RESERVE_GAS)
    transact(rpc, f"configureReserveAsCollateral {symbol}", deployer, c["PoolConfigurator"], encode_call(
        "configureReserveAsCollateral(address,uint256,uint256,uint256)", asset, ltv, liquidation_threshold,
        liquidation_bonus))
    transact(rpc, f"setReserveBorrowing {symbol}", deployer, c["PoolConfigurator"],
             encode_call("setReserveBorrowing(address,bool)", asset, True))
    return {"symbol": symbol, "asset": asset, "feed": feed}
