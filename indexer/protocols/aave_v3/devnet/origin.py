"""Deploys a real Aave v3.2 market (aave-v3-origin, ``POOL_REVISION() == 5``) on a devnet node.

The bytecode is aave-v3-origin's own Forge build as shipped in the pinned ``web3-ethereum-defi==1.2`` wheel
(:mod:`indexer.devnet.wheel`); nothing of Aave is mocked. The underlying tokens are the same origin build's
MintableERC20 (``mint(uint256)`` to anyone, as the v3.0 devnet's), each priced by the project's own
DevPriceFeed behind a DevFeedProxy (:func:`indexer.devnet.compile.compile_dev_contracts`).

As :func:`~indexer.protocols.aave_v3.devnet.deploy.deploy_aave_v3` does for v3.0, every contract is created by
the node's first dev account, every address is predicted from its nonce, and the whole deployment goes out as
one JSON-RPC batch mined with automine off.

The order of the set-up calls follows aave-v3-origin's deployment procedures
(``src/deployments/contracts/procedures/AaveV3SetupProcedure.sol``: provider → oracle and Pool/PoolConfigurator
implementations on the provider → PriceOracleSentinel → ACL admin, ACLManager, roles → data provider;
``AaveV3MiscProcedure.sol``: the sentinel takes (provider, sequencer oracle, grace period) and one
DefaultReserveInterestRateStrategyV2 serves every reserve; ``AaveV3PoolConfigProcedure.sol``: the bare
PoolConfigurator implementation is initialised too).

The market (v3.2 features on purpose):

* seven reserves, all with more than 5 decimals (v3.2's ConfiguratorLogic refuses fewer);
* ``LINK`` is listed with an LTV and is meant to have its LTV set to 0 after borrowers supplied it
  (:func:`set_ltv_zero`, which :func:`~indexer.protocols.aave_v3.devnet.origin_seed.seed_v32` calls): v3.2
  refuses to *enable* an LTV-0 asset as collateral, but keeps it enabled for those who had it, counted at its
  liquidation threshold;
* ``ARB`` is an isolation-mode asset (debt ceiling set before anyone supplies, which v3.2 requires), USDC and
  DAI are borrowable in isolation;
* three eMode categories built with v3.2's bitmaps: WETH is collateral in category 1 and not in 2 or 3;
  category 1's borrowable bitmap holds WETH only, so it excludes wstETH although wstETH is collateral there.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address

from indexer.devnet import wheel
from indexer.devnet.abi import create_address, decode, encode_call, link_bytecode
from indexer.devnet.compile import compile_dev_contracts
from indexer.devnet.deployment import DeployPlan
from indexer.devnet.errors import DevnetError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.oracles import PRICE_DECIMALS
from indexer.devnet.txbatch import automine_paused, send_and_mine, transact
from indexer.types import ZERO_ADDRESS

log = logging.getLogger(__name__)

MARKET_ID = "Aave v3.2 Devnet Market"
EXPECTED_POOL_REVISION = 5
BASE_CURRENCY_UNIT = 10**PRICE_DECIMALS  # AaveOracle base currency: USD with 8 decimals

DEPLOY_GAS = 15_000_000
INIT_RESERVE_GAS = 8_000_000
PROVIDER_PROXY_GAS = 3_000_000

# the sequencer oracle says "up since" this long before the deployment: far beyond any grace period
SEQUENCER_UP_SINCE = 2 * 86_400

# Libraries and what links them, in deployment order (FlashLoanLogic links BorrowLogic, so it comes after it).
POOL_LIBRARIES = (
    "BorrowLogic", "BridgeLogic", "EModeLogic", "LiquidationLogic", "PoolLogic", "SupplyLogic", "FlashLoanLogic",
)  # fmt: skip
CONFIGURATOR_LIBRARIES = ("ConfiguratorLogic",)

# ConfiguratorInputTypes.InitReserveInput of v3.2 (PoolConfiguratorInstance's ABI): no decimals, no stable debt
INIT_RESERVE_TYPE = "(address,address,bool,address,address,address,address,string,string,string,string,bytes,bytes)"
# IDefaultInterestRateStrategyV2.InterestRateData, in basis points
RATE_DATA_TYPE = "(uint16,uint32,uint32,uint32)"


@dataclass(frozen=True)
class OriginReserve:
    symbol: str
    name: str
    decimals: int
    price: int  # USD, 8 decimals
    ltv: int  # bps, as listed
    liquidation_threshold: int
    liquidation_bonus: int
    reserve_factor: int
    rate: tuple[int, int, int, int]  # optimalUsageRatio, baseVariableBorrowRate, slope1, slope2 (bps)
    debt_ceiling: int = 0  # isolation mode when not 0: USD with 2 decimals (ReserveConfiguration.DEBT_CEILING_DECIMALS)
    borrowable_in_isolation: bool = False
    ltv_zero_after_seed: bool = False


@dataclass(frozen=True)
class OriginEMode:
    category_id: int
    label: str
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    collateral: tuple[str, ...]
    borrowable: tuple[str, ...]


def _usd(amount: float) -> int:
    return int(round(amount * BASE_CURRENCY_UNIT))


VOLATILE_RATE = (4_500, 0, 400, 30_000)
STABLE_RATE = (9_000, 0, 400, 6_000)

RESERVES: tuple[OriginReserve, ...] = (
    OriginReserve("WETH", "Wrapped Ether", 18, _usd(2_000), 8000, 8250, 10500, 1500, VOLATILE_RATE),
    OriginReserve("wstETH", "Wrapped liquid staked Ether 2.0", 18, _usd(2_300), 7000, 7900, 10750, 1500,
                  VOLATILE_RATE),
    OriginReserve("WBTC", "Wrapped BTC", 8, _usd(60_000), 7300, 7800, 10500, 2000, VOLATILE_RATE),
    OriginReserve("USDC", "USD Coin", 6, _usd(1), 7700, 8000, 10450, 1000, STABLE_RATE, borrowable_in_isolation=True),
    OriginReserve("DAI", "Dai Stablecoin", 18, _usd(1), 7500, 8000, 10500, 1000, STABLE_RATE,
                  borrowable_in_isolation=True),
    OriginReserve("LINK", "ChainLink Token", 18, _usd(15), 5000, 6500, 10750, 2000, VOLATILE_RATE,
                  ltv_zero_after_seed=True),
    OriginReserve("ARB", "Arbitrum", 18, _usd(0.8), 5500, 6000, 11000, 2000, VOLATILE_RATE,
                  debt_ceiling=20_000_000_00),
)  # fmt: skip

EMODE_CATEGORIES: tuple[OriginEMode, ...] = (
    OriginEMode(1, "ETH correlated", 9000, 9300, 10100, ("WETH", "wstETH"), ("WETH",)),
    OriginEMode(2, "USD stables", 9300, 9500, 10100, ("USDC", "DAI"), ("USDC", "DAI")),
    OriginEMode(3, "wstETH leverage", 8000, 8300, 10400, ("wstETH",), ("WETH", "USDC")),
)


def reserve_spec(symbol: str) -> OriginReserve:
    for spec in RESERVES:
        if spec.symbol == symbol:
            return spec
    raise KeyError(f"no v3.2 devnet reserve {symbol!r}; known: {[s.symbol for s in RESERVES]}")


def bitmap(symbols: tuple[str, ...] | list[str]) -> int:
    """The v3.2 eMode bitmap (bit i = reserve id i; ids follow the listing order) of ``symbols``."""
    ids = [s.symbol for s in RESERVES]
    return sum(1 << ids.index(symbol) for symbol in symbols)


def _origin_code(name: str, libraries: dict[str, str] | None = None) -> str:
    """Creation code of a Forge artifact, its ``{file: {Lib: [{start, length}]}}`` placeholders filled."""
    artifact = wheel.origin_artifact(name)
    code = artifact["bytecode"]
    hardhat_shape = {
        "contractName": name,
        "bytecode": code["object"] if code["object"].startswith("0x") else "0x" + code["object"],
        "linkReferences": code.get("linkReferences", {}),
    }
    return link_bytecode(hardhat_shape, libraries or {})


def _rate_data(rate: tuple[int, int, int, int]) -> bytes:
    return abi_encode([RATE_DATA_TYPE], [rate])


def _eth_call(to: str, data: str) -> tuple[str, list[Any]]:
    return "eth_call", [{"to": to, "data": data}, "latest"]


def deploy_aave_v32(rpc_url: str, *, l2: bool = True, grace_period: int = 3600) -> dict[str, Any]:
    """Deploys the v3.2 devnet market on the node at ``rpc_url`` and returns its record, shaped as
    :func:`~indexer.protocols.aave_v3.devnet.deploy.deploy_aave_v3`'s: ``contracts`` (Pool,
    PoolAddressesProvider, PoolConfigurator, AaveOracle, AaveProtocolDataProvider, ACLManager,
    PriceOracleSentinel, SequencerOracle, the implementations, libraries and rate strategy), ``reserves`` in
    listing order (symbol, name, asset, decimals, aToken, variableDebtToken, stableDebtToken — the zero
    address: v3.2 has none —, feed, aggregator, price, emode_category — 0: v3.2 has no per-asset category,
    see ``emode_collateral_in``/``emode_borrowable_in`` —, ltv, liquidation_threshold, liquidation_bonus,
    reserve_factor, interest_rate_strategy, interest_rate_data, reserve_id, debt_ceiling,
    borrowable_in_isolation), ``emode_categories`` (by id as strings: label, ltv, liquidation_threshold,
    liquidation_bonus, collateral_bitmap, borrowable_bitmap, price_source — always the zero address —, assets — the
    collateral symbols —, borrowable_assets), plus ``pool_revision`` (read from the chain), ``l2``, ``grace_period`` and
    ``ltv_zero`` (the reserve whose LTV goes to 0 once borrowers hold it; ``applied`` says whether it has).

    ``l2`` picks L2PoolInstance (else PoolInstance). The PriceOracleSentinel is deployed either way, reading
    the origin SequencerOracle (reporting "up" since two days before the deployment)."""
    started = time.perf_counter()
    rpc = JsonRpcClient(rpc_url)
    dev = compile_dev_contracts()
    head = rpc.call("eth_getBlockByNumber", ["latest", False])
    plan = DeployPlan.from_node(rpc, deploy_gas=DEPLOY_GAS)
    deployer = plan.deployer
    up_since = min(int(head["timestamp"], 16), int(time.time())) - SEQUENCER_UP_SINCE
    c: dict[str, str] = {}

    # --- addresses provider (owned by the deployer, who plays market owner, pool admin and ACL admin)
    provider = c["PoolAddressesProvider"] = plan.create(
        "PoolAddressesProvider", _origin_code("PoolAddressesProvider"), ("string", "address"), (MARKET_ID, deployer)
    )

    # --- logic libraries, then the Pool and PoolConfigurator implementations linked to them
    libs: dict[str, str] = {}
    for name in POOL_LIBRARIES + CONFIGURATOR_LIBRARIES:
        libs[name] = c[name] = plan.create(name, _origin_code(name, libs))
    pool_name = "L2PoolInstance" if l2 else "PoolInstance"
    pool_impl = c["PoolImpl"] = plan.create(pool_name, _origin_code(pool_name, libs), ("address",), (provider,))
    # the bare implementation is initialised too, so nobody else can (its initialize checks the provider)
    plan.call(f"{pool_name}(impl).initialize", pool_impl, "initialize(address)", provider)
    configurator_impl = c["PoolConfiguratorImpl"] = plan.create(
        "PoolConfiguratorInstance", _origin_code("PoolConfiguratorInstance", libs)
    )
    plan.call("PoolConfiguratorInstance(impl).initialize", configurator_impl, "initialize(address)", provider)

    # --- underlying tokens and their price feeds (DevPriceFeed behind a DevFeedProxy)
    token_code = _origin_code("MintableERC20")
    feed_code, proxy_code = dev["DevPriceFeed"].bytecode, dev["DevFeedProxy"].bytecode
    assets: dict[str, str] = {}
    feeds: dict[str, str] = {}
    aggregators: dict[str, str] = {}
    for spec in RESERVES:
        sym = spec.symbol
        assets[sym] = plan.create(f"MintableERC20 {sym}", token_code, ("string", "string", "uint8"),
                                  (spec.name, sym, spec.decimals))  # fmt: skip
        aggregators[sym] = plan.create(f"DevPriceFeed {sym}", feed_code, ("uint8", "string", "int256"),
                                       (PRICE_DECIMALS, f"{sym} / USD", spec.price))  # fmt: skip
        feeds[sym] = plan.create(f"DevFeedProxy {sym}", proxy_code, ("address",), (aggregators[sym],))
    symbols = [s.symbol for s in RESERVES]
    oracle = c["AaveOracle"] = plan.create(
        "AaveOracle", _origin_code("AaveOracle"),
        ("address", "address[]", "address[]", "address", "address", "uint256"),
        (provider, [assets[s] for s in symbols], [feeds[s] for s in symbols], ZERO_ADDRESS, ZERO_ADDRESS,
         BASE_CURRENCY_UNIT),
    )  # fmt: skip

    # --- the provider's set-up, in AaveV3SetupProcedure._setupPoolAddressesProvider's order
    plan.call("PoolAddressesProvider.setPriceOracle", provider, "setPriceOracle(address)", oracle)
    plan.call("PoolAddressesProvider.setPoolImpl", provider, "setPoolImpl(address)", pool_impl,
              gas=PROVIDER_PROXY_GAS)  # fmt: skip
    plan.call("PoolAddressesProvider.setPoolConfiguratorImpl", provider, "setPoolConfiguratorImpl(address)",
              configurator_impl, gas=PROVIDER_PROXY_GAS)  # fmt: skip
    # the provider is a contract (nonce starts at 1) whose only CREATEs are these two proxies
    pool = c["Pool"] = create_address(provider, 1)
    configurator = c["PoolConfigurator"] = create_address(provider, 2)
    sequencer = c["SequencerOracle"] = plan.create(
        "SequencerOracle", _origin_code("SequencerOracle"), ("address",), (deployer,)
    )
    plan.call("SequencerOracle.setAnswer up", sequencer, "setAnswer(bool,uint256)", False, up_since)
    sentinel = c["PriceOracleSentinel"] = plan.create(
        "PriceOracleSentinel", _origin_code("PriceOracleSentinel"), ("address", "address", "uint256"),
        (provider, sequencer, grace_period),
    )  # fmt: skip
    plan.call("PoolAddressesProvider.setPriceOracleSentinel", provider, "setPriceOracleSentinel(address)", sentinel)

    # --- access control (AaveV3SetupProcedure._setupACL): the ACL admin must be set before the ACLManager
    # is created, since its constructor grants that admin DEFAULT_ADMIN_ROLE
    plan.call("PoolAddressesProvider.setACLAdmin", provider, "setACLAdmin(address)", deployer)
    acl = c["ACLManager"] = plan.create("ACLManager", _origin_code("ACLManager"), ("address",), (provider,))
    plan.call("PoolAddressesProvider.setACLManager", provider, "setACLManager(address)", acl)
    plan.call("ACLManager.addPoolAdmin", acl, "addPoolAdmin(address)", deployer)
    plan.call("ACLManager.addRiskAdmin", acl, "addRiskAdmin(address)", deployer)
    plan.call("ACLManager.addEmergencyAdmin", acl, "addEmergencyAdmin(address)", deployer)

    # --- data provider, rate strategy, token implementations
    data_provider = c["AaveProtocolDataProvider"] = plan.create(
        "AaveProtocolDataProvider", _origin_code("AaveProtocolDataProvider"), ("address",), (provider,)
    )
    plan.call("PoolAddressesProvider.setPoolDataProvider", provider, "setPoolDataProvider(address)", data_provider)
    strategy = c["DefaultReserveInterestRateStrategyV2"] = plan.create(
        "DefaultReserveInterestRateStrategyV2", _origin_code("DefaultReserveInterestRateStrategyV2"), ("address",),
        (provider,),
    )  # fmt: skip
    a_impl = c["ATokenImpl"] = plan.create("ATokenInstance", _origin_code("ATokenInstance"), ("address",), (pool,))
    v_impl = c["VariableDebtTokenImpl"] = plan.create(
        "VariableDebtTokenInstance", _origin_code("VariableDebtTokenInstance"), ("address",), (pool,)
    )

    # --- listing: initReserves (the rate data goes with it in v3.2), then risk parameters
    for spec in RESERVES:
        sym = spec.symbol
        reserve_input = (
            a_impl, v_impl, True, strategy, assets[sym], deployer, ZERO_ADDRESS, f"Aave Devnet v3.2 {sym}",
            f"aDev32{sym}", f"Aave Devnet v3.2 Variable Debt {sym}", f"variableDebtDev32{sym}", b"",
            _rate_data(spec.rate),
        )  # fmt: skip
        plan.call(f"PoolConfigurator.initReserves {sym}", configurator, f"initReserves({INIT_RESERVE_TYPE}[])",
                  [reserve_input], gas=INIT_RESERVE_GAS)  # fmt: skip
    for spec in RESERVES:
        sym, asset = spec.symbol, assets[spec.symbol]
        # the debt ceiling goes first: PoolConfigurator.setDebtCeiling (aave-v3-origin
        # src/contracts/protocol/pool/PoolConfigurator.sol) refuses to isolate a collateral that has suppliers
        if spec.debt_ceiling:
            plan.call(f"PoolConfigurator.setDebtCeiling {sym}", configurator, "setDebtCeiling(address,uint256)",
                      asset, spec.debt_ceiling)  # fmt: skip
        plan.call(
            f"PoolConfigurator.configureReserveAsCollateral {sym}", configurator,
            "configureReserveAsCollateral(address,uint256,uint256,uint256)", asset, spec.ltv,
            spec.liquidation_threshold, spec.liquidation_bonus,
        )  # fmt: skip
        plan.call(f"PoolConfigurator.setReserveBorrowing {sym}", configurator,
                  "setReserveBorrowing(address,bool)", asset, True)  # fmt: skip
        plan.call(f"PoolConfigurator.setReserveFactor {sym}", configurator,
                  "setReserveFactor(address,uint256)", asset, spec.reserve_factor)  # fmt: skip
        if spec.borrowable_in_isolation:
            plan.call(f"PoolConfigurator.setBorrowableInIsolation {sym}", configurator,
                      "setBorrowableInIsolation(address,bool)", asset, True)  # fmt: skip

    # --- eMode: the category first (its LT must be set before assets join), then the two bitmaps
    for cat in EMODE_CATEGORIES:
        plan.call(
            f"PoolConfigurator.setEModeCategory {cat.category_id}", configurator,
            "setEModeCategory(uint8,uint16,uint16,uint16,string)", cat.category_id, cat.ltv,
            cat.liquidation_threshold, cat.liquidation_bonus, cat.label,
        )  # fmt: skip
        for sym in cat.collateral:
            plan.call(f"PoolConfigurator.setAssetCollateralInEMode {sym} {cat.category_id}", configurator,
                      "setAssetCollateralInEMode(address,uint8,bool)", assets[sym], cat.category_id, True)  # fmt: skip
        for sym in cat.borrowable:
            plan.call(f"PoolConfigurator.setAssetBorrowableInEMode {sym} {cat.category_id}", configurator,
                      "setAssetBorrowableInEMode(address,uint8,bool)", assets[sym], cat.category_id, True)  # fmt: skip

    with automine_paused(rpc):
        send_and_mine(rpc, plan.txs, "deploy Aave v3.2")

    revision, tokens = _check_and_read(rpc, c, [assets[s] for s in symbols])
    reserves: list[dict[str, Any]] = []
    for index, (spec, (a_token, variable_debt)) in enumerate(zip(RESERVES, tokens, strict=True)):
        sym = spec.symbol
        reserves.append({
            "symbol": sym,
            "name": spec.name,
            "asset": assets[sym],
            "decimals": spec.decimals,
            "aToken": a_token,
            "variableDebtToken": variable_debt,
            "stableDebtToken": ZERO_ADDRESS,
            "feed": feeds[sym],
            "aggregator": aggregators[sym],
            "price": spec.price,
            "emode_category": 0,
            "emode_collateral_in": [cat.category_id for cat in EMODE_CATEGORIES if sym in cat.collateral],
            "emode_borrowable_in": [cat.category_id for cat in EMODE_CATEGORIES if sym in cat.borrowable],
            "ltv": spec.ltv,
            "liquidation_threshold": spec.liquidation_threshold,
            "liquidation_bonus": spec.liquidation_bonus,
            "reserve_factor": spec.reserve_factor,
            "interest_rate_strategy": strategy,
            "interest_rate_data": list(spec.rate),
            "reserve_id": index,
            "debt_ceiling": spec.debt_ceiling,
            "borrowable_in_isolation": spec.borrowable_in_isolation,
        })  # fmt: skip
    emode = {
        str(cat.category_id): {
            "label": cat.label,
            "ltv": cat.ltv,
            "liquidation_threshold": cat.liquidation_threshold,
            "liquidation_bonus": cat.liquidation_bonus,
            "collateral_bitmap": bitmap(cat.collateral),
            "borrowable_bitmap": bitmap(cat.borrowable),
            "price_source": ZERO_ADDRESS,  # v3.2 dropped the eMode price source; kept for the v3.0 record's shape
            "assets": list(cat.collateral),
            "borrowable_assets": list(cat.borrowable),
        }
        for cat in EMODE_CATEGORIES
    }
    ltv_zero = next(s for s in RESERVES if s.ltv_zero_after_seed)
    log.info("Aave v3.2 devnet market deployed pool=%s pool_revision=%d l2=%s reserves=%d txs=%d seconds=%.2f",
             pool, revision, l2, len(reserves), len(plan.txs), time.perf_counter() - started)  # fmt: skip
    return {
        "contracts": c,
        "reserves": reserves,
        "emode_categories": emode,
        "pool_revision": revision,
        "l2": l2,
        "grace_period": grace_period,
        "market_id": MARKET_ID,
        "deployer": deployer,
        "ltv_zero": {"symbol": ltv_zero.symbol, "listed_ltv": ltv_zero.ltv, "applied": False},
    }


def _check_and_read(rpc: JsonRpcClient, c: dict[str, str], assets: list[str]) -> tuple[int, list[tuple[str, str]]]:
    """Confirms the predicted proxies, the listing order, the sentinel and the revision; returns the revision and
    each reserve's (aToken, variableDebtToken)."""
    provider, pool = c["PoolAddressesProvider"], c["Pool"]
    calls = [
        _eth_call(provider, encode_call("getPool()")),
        _eth_call(provider, encode_call("getPoolConfigurator()")),
        _eth_call(provider, encode_call("getPriceOracleSentinel()")),
        _eth_call(pool, encode_call("getReservesList()")),
        _eth_call(pool, encode_call("POOL_REVISION()")),
    ] + [_eth_call(c["AaveProtocolDataProvider"], encode_call("getReserveTokensAddresses(address)", a)) for a in assets]
    got_pool, got_configurator, got_sentinel, listed, revision_raw, *tokens = rpc.batch(calls)
    for name, raw in (("Pool", got_pool), ("PoolConfigurator", got_configurator),
                      ("PriceOracleSentinel", got_sentinel)):  # fmt: skip
        if to_checksum_address(decode(["address"], raw)[0]) != c[name]:
            raise DevnetError(f"the provider's {name} is not the predicted {c[name]}")
    listed_assets = [to_checksum_address(a) for a in decode(["address[]"], listed)[0]]
    if listed_assets != assets:
        raise DevnetError(f"Pool lists {listed_assets}, expected {assets}")
    revision = int(decode(["uint256"], revision_raw)[0])
    if revision != EXPECTED_POOL_REVISION:
        raise DevnetError(f"Pool reports POOL_REVISION() {revision}, expected {EXPECTED_POOL_REVISION} (v3.2)")
    read: list[tuple[str, str]] = []
    for raw in tokens:
        a_token, stable_debt, variable_debt = decode(["address", "address", "address"], raw)
        if int(stable_debt, 16) != 0:
            raise DevnetError(f"a v3.2 reserve reports a stable debt token {stable_debt}")
        read.append((to_checksum_address(a_token), to_checksum_address(variable_debt)))
    return revision, read


def set_ltv_zero(rpc_url: str, record: dict[str, Any]) -> None:
    """Sets the LTV of the record's ``ltv_zero`` reserve to 0 (liquidation threshold and bonus kept), as a risk
    admin would; whoever had it as collateral keeps it enabled. Updates ``record`` (the reserve's ``ltv``,
    ``ltv_zero.applied``)."""
    info = record["ltv_zero"]
    if info["applied"]:
        return
    reserve = next(r for r in record["reserves"] if r["symbol"] == info["symbol"])
    data = encode_call("configureReserveAsCollateral(address,uint256,uint256,uint256)", reserve["asset"], 0,
                       reserve["liquidation_threshold"], reserve["liquidation_bonus"])  # fmt: skip
    transact(JsonRpcClient(rpc_url), f"PoolConfigurator.configureReserveAsCollateral {info['symbol']} LTV 0",
             record["deployer"], record["contracts"]["PoolConfigurator"], data)  # fmt: skip
    reserve["ltv"] = 0
    info["applied"] = True
    log.info("reserve LTV set to zero symbol=%s liquidation_threshold=%d", info["symbol"],
             reserve["liquidation_threshold"])  # fmt: skip
