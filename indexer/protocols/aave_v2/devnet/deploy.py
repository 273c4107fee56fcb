"""Deploys a real Aave v2 market (the @aave/protocol-v2 1.0.1 Hardhat artifacts, solc 0.6.12) on a devnet node.

Every contract is created by the node's first dev account, so each address is known before anything is sent
(CREATE address = f(sender, nonce); the provider's proxies = f(provider, 1) and f(provider, 2)), and the whole
market, contracts and configuration calls alike, goes out as one JSON-RPC batch that anvil mines at once.

What is deployed, as Aave's own v2 migration does it (contracts/protocol/configuration/
LendingPoolAddressesProvider.sol, lendingpool/LendingPoolConfigurator.sol):

* LendingPoolAddressesProvider (owner and pool admin: the deployer); LendingPool and LendingPoolConfigurator
  implementations behind the provider's InitializableImmutableAdminUpgradeabilityProxy; the
  LendingPoolCollateralManager (``liquidationCall`` delegates to it);
* the libraries LendingPool links: ReserveLogic and ValidationLogic, which itself links GenericLogic;
* AaveOracle (ETH-quoted: WETH is its base, every other source a DevPriceFeed in wei behind a DevFeedProxy),
  LendingRateOracle (the stable rate's market base), AaveProtocolDataProvider;
* per reserve: a MintableERC20 (the package's own mock), an AToken, StableDebtToken and VariableDebtToken
  implementation (v2 1.0.1 binds each to its pool and asset in the constructor), ``initReserve``, collateral
  parameters, borrowing (stable too) and the reserve factor.
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
from indexer.protocols.aave_v2.devnet import market
from indexer.types import ZERO_ADDRESS

log = logging.getLogger(__name__)

PACKAGE = "@aave/protocol-v2"
PREFIX = "AaveV2."  # contract names in the devnet file (beside Aave v3's: "devnet:AaveV2.LendingPool")

DEPLOY_GAS = 12_000_000
INIT_RESERVE_GAS = 5_000_000
CONFIG_GAS = 500_000


def artifact(name: str) -> dict[str, Any]:
    """The Hardhat artifact (abi, bytecode, linkReferences) of one @aave/protocol-v2 contract."""
    return toolchain.hardhat_artifact(PACKAGE, name)


def _code(name: str, libraries: dict[str, str] | None = None) -> str:
    return link_bytecode(artifact(name), libraries or {})


def deploy_aave_v2(rpc_url: str) -> dict[str, Any]:
    """Deploys the devnet's Aave v2 market on the node at ``rpc_url``; returns its record for the devnet file:
    ``contracts`` (``AaveV2.NAME`` → address), ``provider``, ``pool``, ``oracle``, ``weth``, ``quote`` and
    ``quote_decimals``, and ``assets`` in listing order (= ``LendingPool.getReservesList()``; symbol, name,
    asset, decimals, aToken, stableDebtToken, variableDebtToken, feed (None for WETH), aggregator, price in
    wei, risk parameters). The assets are deliberately not the devnet's shared ``reserves`` (8-decimal USD
    feeds that ``indexer devnet price`` moves): their prices are in ETH; :func:`set_asset_price` moves them."""
    rpc = JsonRpcClient(rpc_url)
    dev = compile_dev_contracts()
    plan = DeployPlan.from_node(rpc, deploy_gas=DEPLOY_GAS, call_gas=CONFIG_GAS)
    deployer = plan.deployer
    c: dict[str, str] = {}

    # --- the addresses provider (Ownable: the deployer) and its admins
    provider = c["LendingPoolAddressesProvider"] = plan.create(
        "LendingPoolAddressesProvider", _code("LendingPoolAddressesProvider"), ("string",), (market.MARKET_ID,))
    plan.call("setPoolAdmin", provider, "setPoolAdmin(address)", deployer)
    plan.call("setEmergencyAdmin", provider, "setEmergencyAdmin(address)", deployer)

    # --- libraries, then LendingPool and its configurator behind the provider's proxies
    libs: dict[str, str] = {}
    for name in ("ReserveLogic", "GenericLogic", "ValidationLogic"):
        libs[name] = c[name] = plan.create(name, _code(name, libs))
    pool_impl = c["LendingPoolImpl"] = plan.create("LendingPool", _code("LendingPool", libs))
    plan.call("LendingPool(impl).initialize", pool_impl, "initialize(address)", provider)
    plan.call("setLendingPoolImpl", provider, "setLendingPoolImpl(address)", pool_impl, gas=3_000_000)
    pool = c["LendingPool"] = create_address(provider, 1)  # the provider's first CREATE (contract nonces start at 1)
    configurator_impl = c["LendingPoolConfiguratorImpl"] = plan.create(
        "LendingPoolConfigurator", _code("LendingPoolConfigurator"))
    plan.call("setLendingPoolConfiguratorImpl", provider, "setLendingPoolConfiguratorImpl(address)",
              configurator_impl, gas=3_000_000)
    configurator = c["LendingPoolConfigurator"] = create_address(provider, 2)
    manager = c["LendingPoolCollateralManager"] = plan.create(
        "LendingPoolCollateralManager", _code("LendingPoolCollateralManager"))
    plan.call("setLendingPoolCollateralManager", provider, "setLendingPoolCollateralManager(address)", manager)

    # --- tokens and their ETH price feeds (WETH needs none: AaveOracle prices it at 1 ether)
    feed_code, proxy_code = dev["DevPriceFeed"].bytecode, dev["DevFeedProxy"].bytecode
    assets: dict[str, str] = {}
    feeds: dict[str, str | None] = {}
    aggregators: dict[str, str | None] = {}
    for spec in market.RESERVES:
        assets[spec.symbol] = plan.create(f"MintableERC20 {spec.symbol}", _code("MintableERC20"),
                                          ("string", "string", "uint8"), (spec.name, spec.symbol, spec.decimals))
        if spec.symbol == "WETH":
            feeds[spec.symbol] = aggregators[spec.symbol] = None
            continue
        aggregators[spec.symbol] = plan.create(
            f"DevPriceFeed {spec.symbol}", feed_code, ("uint8", "string", "int256"),
            (market.FEED_DECIMALS, f"{spec.symbol} / ETH", spec.price))
        feeds[spec.symbol] = plan.create(f"DevFeedProxy {spec.symbol}", proxy_code, ("address",),
                                         (aggregators[spec.symbol],))
    weth = assets["WETH"]
    priced = [s.symbol for s in market.RESERVES if feeds[s.symbol]]

    # --- oracles and the data provider
    oracle = c["AaveOracle"] = plan.create(
        "AaveOracle", _code("AaveOracle"), ("address[]", "address[]", "address", "address"),
        ([assets[s] for s in priced], [feeds[s] for s in priced], ZERO_ADDRESS, weth))
    plan.call("setPriceOracle", provider, "setPriceOracle(address)", oracle)
    rate_oracle = c["LendingRateOracle"] = plan.create("LendingRateOracle", _code("LendingRateOracle"))
    plan.call("setLendingRateOracle", provider, "setLendingRateOracle(address)", rate_oracle)
    for spec in market.RESERVES:
        plan.call(f"LendingRateOracle.setMarketBorrowRate {spec.symbol}", rate_oracle,
                  "setMarketBorrowRate(address,uint256)", assets[spec.symbol], spec.market_borrow_rate)
    c["AaveProtocolDataProvider"] = plan.create(
        "AaveProtocolDataProvider", _code("AaveProtocolDataProvider"), ("address",), (provider,))
    strategies: dict[str, str] = {}
    for key, params in market.RATE_STRATEGIES.items():
        strategies[key] = c[f"InterestRateStrategy.{key}"] = plan.create(
            f"DefaultReserveInterestRateStrategy {key}", _code("DefaultReserveInterestRateStrategy"),
            ("address",) + ("uint256",) * len(params), (provider, *params))

    # --- listing: token implementations bound to (pool, asset), initReserve, then risk parameters
    for spec in market.RESERVES:
        sym, asset = spec.symbol, assets[spec.symbol]
        a_impl = plan.create(f"AToken {sym}", _code("AToken"),
                             ("address", "address", "address", "string", "string", "address"),
                             (pool, asset, deployer, f"Aave v2 devnet {sym}", f"a{sym}", ZERO_ADDRESS))
        s_impl = plan.create(f"StableDebtToken {sym}", _code("StableDebtToken"),
                             ("address", "address", "string", "string", "address"),
                             (pool, asset, f"Aave v2 devnet stable debt {sym}", f"stableDebt{sym}", ZERO_ADDRESS))
        v_impl = plan.create(f"VariableDebtToken {sym}", _code("VariableDebtToken"),
                             ("address", "address", "string", "string", "address"),
                             (pool, asset, f"Aave v2 devnet variable debt {sym}", f"variableDebt{sym}",
                              ZERO_ADDRESS))
        plan.call(f"initReserve {sym}", configurator, "initReserve(address,address,address,uint8,address)",
                  a_impl, s_impl, v_impl, spec.decimals, strategies[spec.rate_strategy], gas=INIT_RESERVE_GAS)
    for spec in market.RESERVES:
        sym, asset = spec.symbol, assets[spec.symbol]
        if spec.liquidation_threshold:
            plan.call(f"configureReserveAsCollateral {sym}", configurator,
                      "configureReserveAsCollateral(address,uint256,uint256,uint256)", asset, spec.ltv,
                      spec.liquidation_threshold, spec.liquidation_bonus)
        plan.call(f"enableBorrowingOnReserve {sym}", configurator, "enableBorrowingOnReserve(address,bool)",
                  asset, spec.stable_borrowing)
        plan.call(f"setReserveFactor {sym}", configurator, "setReserveFactor(address,uint256)", asset,
                  spec.reserve_factor)

    with automine_paused(rpc):
        send_and_mine(rpc, plan.txs, "deploy Aave v2")

    tokens = _check_and_read_tokens(rpc, c, [assets[s.symbol] for s in market.RESERVES])
    listed = []
    for spec, (a_token, stable_debt, variable_debt) in zip(market.RESERVES, tokens, strict=True):
        listed.append({
            "symbol": spec.symbol, "name": spec.name, "asset": assets[spec.symbol], "decimals": spec.decimals,
            "aToken": a_token, "stableDebtToken": stable_debt, "variableDebtToken": variable_debt,
            "feed": feeds[spec.symbol], "aggregator": aggregators[spec.symbol], "price": spec.price,
            "ltv": spec.ltv, "liquidation_threshold": spec.liquidation_threshold,
            "liquidation_bonus": spec.liquidation_bonus, "reserve_factor": spec.reserve_factor,
            "stable_borrowing": spec.stable_borrowing, "interest_rate_strategy": strategies[spec.rate_strategy],
        })  # fmt: skip
    contracts = {PREFIX + name: address for name, address in c.items()}
    contracts[PREFIX + "WETH"] = weth
    log.info("aave_v2 devnet market deployed pool=%s reserves=%d transactions=%d", pool, len(listed),
             len(plan.txs))
    return {
        "contracts": contracts, "provider": provider, "pool": pool, "oracle": oracle, "weth": weth,
        "configurator": configurator, "data_provider": c["AaveProtocolDataProvider"], "deployer": deployer,
        "quote": market.QUOTE, "quote_decimals": market.QUOTE_DECIMALS, "assets": listed,
        "block_number": int(rpc.call("eth_blockNumber"), 16),
    }  # fmt: skip


def _eth_call(to: str, data: str) -> tuple[str, list[Any]]:
    return "eth_call", [{"to": to, "data": data}, "latest"]


def _check_and_read_tokens(rpc: JsonRpcClient, c: dict[str, str], assets: list[str]) -> list[tuple[str, str, str]]:
    """Confirms the predicted proxies and the listing; reads each reserve's (aToken, stable, variable debt)."""
    provider, pool = c["LendingPoolAddressesProvider"], c["LendingPool"]
    calls = [
        _eth_call(provider, encode_call("getLendingPool()")),
        _eth_call(provider, encode_call("getLendingPoolConfigurator()")),
        _eth_call(pool, encode_call("getReservesList()")),
    ] + [_eth_call(c["AaveProtocolDataProvider"], encode_call("getReserveTokensAddresses(address)", a)) for a in assets]
    got_pool, got_configurator, listed, *tokens = rpc.batch(calls)
    if to_checksum_address(decode(["address"], got_pool)[0]) != pool:
        raise DevnetError(f"Aave v2 LendingPool proxy is not at the predicted address {pool}")
    if to_checksum_address(decode(["address"], got_configurator)[0]) != c["LendingPoolConfigurator"]:
        raise DevnetError("LendingPoolConfigurator proxy is not at the predicted address "
                          f"{c['LendingPoolConfigurator']}")
    listed_assets = [to_checksum_address(a) for a in decode(["address[]"], listed)[0]]
    if listed_assets != assets:
        raise DevnetError(f"Aave v2 LendingPool lists {listed_assets}, expected {assets}")
    found: list[tuple[str, str, str]] = []
    for raw in tokens:
        a_token, stable, variable = decode(["address", "address", "address"], raw)
        found.append((to_checksum_address(a_token), to_checksum_address(stable), to_checksum_address(variable)))
    return found
