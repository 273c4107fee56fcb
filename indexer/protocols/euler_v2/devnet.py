"""An Euler v2 devnet: our own stand-ins behind the real external ABI of the Euler Vault Kit, the Ethereum Vault
Connector and the EulerRouter with its Chainlink and Pyth adapters (``contracts/``), and seeded sub-accounts.

No package ships EVK's bytecode, so ``contracts/`` implements the parts positions and the indexer use, each rule
citing the euler-xyz source it follows (see the contracts' headers for what is simplified: interest is an
accumulator the governor advances, no fees, caps, hooks, flash loans, operators, permits or batches). Compiled
with the repository's solcjs (npm ``solc``), cached under ``.build/euler-v2/``.

The deployment (:data:`MARKETS`, :data:`COLLATERAL_VAULTS`):

* one DevEVC, one DevEulerRouter, one DevPyth (our own instance of the devnet's Pyth stand-in);
* tokens USDC (6 decimals), WETH, WBTC (8), USDS, wstETH, and sUSDS, an ERC-4626 savings vault over USDS whose
  rate is above 1 (a donation);
* EVK vaults eUSDC, eWETH (the two controllers), eWBTC, eSUSDS and ewstETH; the router resolves every vault to its
  asset (``govSetResolvedVault``), so eSUSDS shares resolve twice (eSUSDS -> sUSDS -> USDS);
* controller **eUSDC** (unit of account USD = address(840)): collaterals eWETH, eWBTC, eSUSDS (Chainlink feeds with
  8 decimals) and ewstETH priced by a **Pyth** adapter (maxStaleness 900 s); the debt is priced by a USDC/USD feed;
* controller **eWETH** (unit of account WETH: the debt is its own value): collaterals eUSDC, priced through an
  ETH/USDC Chainlink adapter the router uses **inversely** (USDC in WETH), and ewstETH whose liquidation LTV is being
  **ramped** down from 95 % to 93 % over a day, starting when seeding ends;
* each controller has a liquidator account (its own sub-account 0) holding ample collateral, for ``liquidate``
  by eth_call; eWETH has a one-second liquidation cool-off, eUSDC none.

Everything goes out as JSON-RPC batches with automine off; owners are keyless addresses acting through anvil's
impersonation, each opening positions in several of its sub-accounts (owner XOR id). Typical use::

    with Anvil() as node:
        deployment = stack.deploy(node.url, ["euler_v2"])
        record = deployment.protocols["euler_v2"]
        seeded = seed_positions(node.url, record, 60)
        set_feed_price(node.url, record, "WETH/USD", 1_900 * 10**8)
        account_liquidity(node.url, vault_address(record, "eUSDC"), seeded[0].account)
        liquidate_succeeds(node.url, record, "eUSDC", seeded[0].account, vault_address(record, "eWETH"))

The record (``deployment.protocols["euler_v2"]``)::

    {"deployer", "block_number", "contracts": {"EulerV2.EVC", "EulerV2.Router", "EulerV2.Pyth", "EulerV2.eUSDC",
     "EulerV2.eWETH", "EulerV2.eWBTC", "EulerV2.eSUSDS", "EulerV2.ewstETH"},
     "evc", "router", "pyth", "usd", "tokens": {symbol: {"address", "decimals"}},
     "feeds": {"WETH/USD": {"address", "decimals", "answer"}, ...}, "pyth_ids": {"wstETH/USD": id},
     "adapters": {name: address}, "vaults": {name: {"address", "asset"}},
     "markets": {controller: {"unit_of_account", "ltvs": {collateral: [borrow, liquidation]}, "liquidator",
                 "max_discount", "cool_off"}}}

No ``reserves``: the devnet's shared, USD-priced reserves belong to Aave.
"""

from __future__ import annotations

import functools
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from indexer.devnet.abi import decode, encode_call, selector
from indexer.devnet.calls import eth_call, event_topic, keyless_address
from indexer.devnet.compile import CompiledContract, compile_dev_contracts, compile_stand_in
from indexer.devnet.deployment import Deployment, DeployPlan
from indexer.devnet.errors import DevnetError, DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, automine_paused, mine_txs, send_and_mine
from indexer.protocols.euler_v2 import rules

log = logging.getLogger(__name__)

KIND = "euler_v2"
PREFIX = "EulerV2."
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
_DEPLOYED = ("DevEVC", "DevEVault", "DevEulerRouter", "DevChainlinkOracle", "DevPythOracle",
             "DevYieldVault")
DEPLOY_GAS = 12_000_000
CALL_GAS = 2_000_000
ETH_FUNDING = hex(10**24)
UINT256_MAX = 2**256 - 1
USD = to_checksum_address(rules.USD)
RAY = 10**27

CHAINLINK_MAX_STALENESS = 72 * 3600  # the adapter's upper bound
PYTH_MAX_STALENESS = 900  # 15 minutes, the PythOracle adapter's upper bound
PYTH_MAX_CONF_WIDTH = 100  # basis points
PYTH_EXPO = -8
SUSDS_RATE = Decimal("1.0523")  # sUSDS per USDS once the donation lands
LTV_RAMP = 86_400  # the ramp of ewstETH on eWETH, started when seeding ends (the chain clock is left alone)



TRANSFER = event_topic("Transfer(address,address,uint256)")
APPROVAL = event_topic("Approval(address,address,uint256)")
DEPOSIT = event_topic("Deposit(address,address,uint256,uint256)")
BORROW = event_topic("Borrow(address,uint256)")
COLLATERAL_STATUS = event_topic("CollateralStatus(address,address,bool)")
CONTROLLER_STATUS = event_topic("ControllerStatus(address,address,bool)")
ANSWER_UPDATED = event_topic("AnswerUpdated(int256,uint256,uint256)")
PYTH_UPDATE = event_topic("PriceFeedUpdate(bytes32,uint64,int64,uint64)")
GOV_SET_LTV = event_topic("GovSetLTV(address,uint16,uint16,uint16,uint48,uint32,bool)")
ACCUMULATOR_SET = event_topic("InterestAccumulatorSet(uint256)")

# custom errors by selector (contracts/DevEVault.sol, DevEVC.sol, DevEulerOracles.sol): what a revert means
ERRORS = {
    selector(f"{name}()"): name
    for name in (
        "E_AccountLiquidity", "E_NoLiability", "E_NotController", "E_ControllerDisabled", "E_ExcessiveRepayAmount",
        "E_LiquidationCoolOff", "E_BadCollateral", "E_CollateralDisabled", "E_SelfLiquidation",
        "E_ViolatorLiquidityDeferred", "E_NoPriceOracle", "E_InsufficientCash", "PriceOracle_InvalidAnswer",
        "EVC_NotAuthorized", "EVC_ControllerViolation",
    )
}  # fmt: skip
ERRORS[selector("PriceOracle_TooStale(uint256,uint256)")] = "PriceOracle_TooStale"
ERRORS[selector("PriceOracle_NotSupported(address,address)")] = "PriceOracle_NotSupported"


@dataclass(frozen=True)
class TokenSpec:
    symbol: str
    decimals: int


TOKENS = (TokenSpec("USDC", 6), TokenSpec("WETH", 18), TokenSpec("WBTC", 8), TokenSpec("USDS", 18),
          TokenSpec("wstETH", 18))
_DECIMALS = {t.symbol: t.decimals for t in TOKENS} | {"sUSDS": 18}


@dataclass(frozen=True)
class FeedSpec:
    name: str
    decimals: int
    answer: int


FEEDS = (
    FeedSpec("WETH/USD", 8, 2_500 * 10**8),
    FeedSpec("WBTC/USD", 8, 60_000 * 10**8),
    FeedSpec("USDS/USD", 8, 99_990_000),
    FeedSpec("USDC/USD", 8, 100_010_000),
    FeedSpec("ETH/USDC", 8, 2_500 * 10**8),  # the WETH price in USDC: the router inverts it for USDC in WETH
    FeedSpec("wstETH/ETH", 18, 1_180_000_000_000_000_000),
)
PYTH_FEEDS = {"wstETH/USD": 2_950 * 10**8}  # expo -8

# vault name -> its asset; the controllers lend, the others are collateral only
COLLATERAL_VAULTS = {"eUSDC": "USDC", "eWETH": "WETH", "eWBTC": "WBTC", "eSUSDS": "sUSDS", "ewstETH": "wstETH"}


@dataclass(frozen=True)
class MarketSpec:
    """A controller vault: its unit of account, LTVs (borrow, liquidation; 1e4 scale) per collateral vault."""

    name: str
    unit_of_account: str  # "USD" or a token symbol
    ltvs: dict[str, tuple[int, int]]
    max_discount: int
    cool_off: int
    liquidity: int  # asset units the deployer lends


MARKETS = (
    MarketSpec("eUSDC", "USD", {"eWETH": (8000, 8500), "eWBTC": (7300, 7800), "eSUSDS": (9000, 9300),
                                "ewstETH": (7500, 8000)}, max_discount=1500, cool_off=0,
               liquidity=50_000_000 * 10**6),
    MarketSpec("eWETH", "WETH", {"eUSDC": (8000, 8500), "ewstETH": (9000, 9500)}, max_discount=1000, cool_off=1,
               liquidity=20_000 * 10**18),
)
_MARKET = {m.name: m for m in MARKETS}
# the router's (base, quote) -> adapter: ("chainlink", feed) or ("pyth", feed)
ORACLES: dict[tuple[str, str], tuple[str, str]] = {
    ("WETH", "USD"): ("chainlink", "WETH/USD"),
    ("WBTC", "USD"): ("chainlink", "WBTC/USD"),
    ("USDS", "USD"): ("chainlink", "USDS/USD"),
    ("USDC", "USD"): ("chainlink", "USDC/USD"),
    ("wstETH", "USD"): ("pyth", "wstETH/USD"),
    ("WETH", "USDC"): ("chainlink", "ETH/USDC"),
    ("wstETH", "WETH"): ("chainlink", "wstETH/ETH"),
}


# --- compiling


@functools.cache
def compile_euler_v2() -> dict[str, CompiledContract]:
    """The stand-in's contracts and the devnet's shared ones (DevPriceFeed, DevPyth, DevToken), by name."""
    return compile_stand_in(CONTRACTS_DIR, cache_name="euler-v2", deployed=_DEPLOYED)


# --- addresses, calls, reads



def owner_address(seed: int, index: int) -> str:
    """Seeded owner ``index`` of ``seed``: a keyless address, used through auto-impersonation."""
    return keyless_address("euler-v2", f"owner/{seed}/{index}")


def sub_account(owner: str, account_id: int) -> str:
    """Sub-account ``account_id`` of ``owner`` (owner XOR id), checksummed."""
    return to_checksum_address(f"0x{rules.sub_account(owner, account_id):040x}")


def pyth_id(name: str) -> str:
    return "0x" + keccak(text=f"indexer-devnet/euler-v2/pyth/{name}").hex()




def revert_error(exc: DevnetRpcError) -> str | None:
    """The custom error name a reverted eth_call raised, if its payload names one we know."""
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    if not isinstance(data, str) or len(data) < 10:
        return None
    return ERRORS.get(data[:10].lower(), data[:10].lower())


def vault_address(record: dict[str, Any], name: str) -> str:
    return str(record["vaults"][name]["address"])


def account_liquidity(rpc_url: str, vault: str, account: str, *, liquidation: bool = True,
                      block: int | str = "latest") -> tuple[int, int]:
    """``accountLiquidity(account, liquidation)`` on ``vault``: (collateralValue, liabilityValue). Raises
    :class:`DevnetRpcError` when the vault refuses (no controller, a stale price, ...)."""
    data = encode_call("accountLiquidity(address,bool)", account, liquidation)
    raw = JsonRpcClient(rpc_url).call(*eth_call(vault, data, block))
    collateral, liability = decode(["uint256", "uint256"], raw)
    return int(collateral), int(liability)


def check_liquidation(rpc_url: str, record: dict[str, Any], market: str, violator: str, collateral: str, *,
                      block: int | str = "latest") -> tuple[int, int]:
    """``checkLiquidation(liquidator, violator, collateral)`` on the controller: (maxRepay, maxYield); (0, 0) for an
    account that is no violation."""
    vault = vault_address(record, market)
    data = encode_call("checkLiquidation(address,address,address)", record["markets"][market]["liquidator"],
                       violator, collateral)
    raw = JsonRpcClient(rpc_url).call(*eth_call(vault, data, block))
    repay, seized = decode(["uint256", "uint256"], raw)
    return int(repay), int(seized)


def liquidate_succeeds(rpc_url: str, record: dict[str, Any], market: str, violator: str, collateral: str, *,
                       block: int | str = "latest") -> bool:
    """Whether ``liquidate(violator, collateral, 1, 0)`` goes through, by an eth_call from the market's liquidator at
    ``block``: repaying one unit is refused (E_ExcessiveRepayAmount) exactly when there is nothing to liquidate; any
    other revert raises :class:`DevnetError`."""
    vault = vault_address(record, market)
    data = encode_call("liquidate(address,address,uint256,uint256)", violator, collateral, 1, 0)
    try:
        JsonRpcClient(rpc_url).call(*eth_call(vault, data, block, sender=record["markets"][market]["liquidator"]))
    except DevnetRpcError as exc:
        if revert_error(exc) == "E_ExcessiveRepayAmount":
            return False
        raise DevnetError(f"liquidate({violator}) on {market} reverted: {revert_error(exc) or exc.rpc_message}") \
            from exc
    return True


def debt_of(rpc_url: str, vault: str, account: str, *, exact: bool = False, block: int | str = "latest") -> int:
    data = encode_call("debtOfExact(address)" if exact else "debtOf(address)", account)
    return int(decode(["uint256"], JsonRpcClient(rpc_url).call(*eth_call(vault, data, block)))[0])


def collateral_balance(rpc_url: str, vault: str, account: str, *, block: int | str = "latest") -> int:
    data = encode_call("balanceOf(address)", account)
    return int(decode(["uint256"], JsonRpcClient(rpc_url).call(*eth_call(vault, data, block)))[0])


def ltv_full(rpc_url: str, controller: str, collateral: str, *, block: int | str = "latest") -> rules.LTVConfig:
    raw = JsonRpcClient(rpc_url).call(*eth_call(controller, encode_call("LTVFull(address)", collateral), block))
    return rules.LTVConfig(*(int(v) for v in decode(["uint16", "uint16", "uint16", "uint48", "uint32"], raw)))


def router_quote(rpc_url: str, record: dict[str, Any], amount: int, base: str, quote: str, *,
                 block: int | str = "latest") -> int:
    data = encode_call("getQuote(uint256,address,address)", amount, base, quote)
    return int(decode(["uint256"], JsonRpcClient(rpc_url).call(*eth_call(record["router"], data, block)))[0])


def _latest_timestamp(rpc: JsonRpcClient) -> int:
    return int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)



def _governor_tx(rpc: JsonRpcClient, record: dict[str, Any], step: str, to: str, data: str,
                 expect: tuple[str, str] | None = None) -> int:
    deployer = record["deployer"]
    tx = Tx(step, deployer, to, data, CALL_GAS, NonceBook(rpc).take(deployer), 0, expect)
    return mine_txs(rpc, [tx], step)


def set_feed_price(rpc_url: str, record: dict[str, Any], feed: str, answer: int) -> int:
    """A new round of the Chainlink-style feed ``feed`` ("WETH/USD", ...) at ``answer``; returns the block."""
    address = record["feeds"][feed]["address"]
    return _governor_tx(JsonRpcClient(rpc_url), record, f"{feed} answer {answer}", address,
                        encode_call("setAnswer(int256)", answer), (address, ANSWER_UPDATED))


def set_pyth_price(rpc_url: str, record: dict[str, Any], feed: str, price: int, *, publish_time: int | None = None,
                   conf: int | None = None) -> int:
    """Publishes ``price`` (expo -8) for the Pyth feed ``feed`` on the market's DevPyth; ``publish_time`` defaults to
    the time of the block that records it (set beforehand), so the price is exactly fresh. Returns the block."""
    rpc = JsonRpcClient(rpc_url)
    if publish_time is None:
        publish_time = _latest_timestamp(rpc) + 1
        rpc.call("evm_setNextBlockTimestamp", [publish_time])
    data = encode_call("setPrice(bytes32,int64,uint64,int32,uint64)", bytes.fromhex(record["pyth_ids"][feed][2:]),
                       price, abs(price) // 1_000 if conf is None else conf, PYTH_EXPO, publish_time)
    return _governor_tx(rpc, record, f"Pyth {feed} price {price}", record["pyth"], data, (record["pyth"], PYTH_UPDATE))


def set_interest_accumulator(rpc_url: str, record: dict[str, Any], market: str, accumulator: int) -> int:
    """Moves the controller's interest accumulator (1e27 = none yet) forward: every debt grows by the ratio."""
    vault = vault_address(record, market)
    return _governor_tx(JsonRpcClient(rpc_url), record, f"{market} interest accumulator {accumulator}", vault,
                        encode_call("setInterestAccumulator(uint256)", accumulator), (vault, ACCUMULATOR_SET))


def interest_accumulator(rpc_url: str, record: dict[str, Any], market: str, *, block: int | str = "latest") -> int:
    raw = JsonRpcClient(rpc_url).call(*eth_call(vault_address(record, market), encode_call("interestAccumulator()"),
                                                 block))
    return int(decode(["uint256"], raw)[0])


def set_ltv(rpc_url: str, record: dict[str, Any], market: str, collateral: str, borrow_ltv: int,
            liquidation_ltv: int, ramp: int = 0) -> int:
    vault = vault_address(record, market)
    data = encode_call("setLTV(address,uint16,uint16,uint32)", vault_address(record, collateral), borrow_ltv,
                       liquidation_ltv, ramp)
    return _governor_tx(JsonRpcClient(rpc_url), record, f"{market} LTV of {collateral}", vault, data,
                        (vault, GOV_SET_LTV))


# --- deployment


def deploy_euler_v2(rpc_url: str) -> dict[str, Any]:
    """Deploys everything of the module docstring from the node's first dev account in one batch, then lends each
    controller's liquidity and sets up its liquidator; returns the record."""
    rpc = JsonRpcClient(rpc_url)
    code = compile_euler_v2()
    plan = DeployPlan.from_node(rpc, deploy_gas=DEPLOY_GAS, call_gas=CALL_GAS)
    deployer = plan.deployer
    tokens = {t.symbol: plan.create(f"DevToken {t.symbol}", compile_dev_contracts()["DevToken"].bytecode,
                                    ("string", "string", "uint8"), (f"{t.symbol} (Euler v2 devnet)", t.symbol,
                                                                    t.decimals))
              for t in TOKENS}
    tokens["sUSDS"] = plan.create("DevYieldVault sUSDS", code["DevYieldVault"].bytecode,
                                  ("address", "string", "string"), (tokens["USDS"], "Savings USDS (devnet)", "sUSDS"))
    feeds = {f.name: plan.create(f"DevPriceFeed {f.name}", code["DevPriceFeed"].bytecode,
                                 ("uint8", "string", "int256"), (f.decimals, f.name, f.answer)) for f in FEEDS}
    pyth = plan.create("DevPyth", code["DevPyth"].bytecode)
    evc = plan.create("DevEVC", code["DevEVC"].bytecode)
    router = plan.create("DevEulerRouter", code["DevEulerRouter"].bytecode, ("address",), (deployer,))
    units = {"USD": USD, **tokens}
    adapters: dict[str, str] = {}
    for (base, quote), (kind, feed) in ORACLES.items():
        name = f"{base}/{quote}"
        if kind == "chainlink":
            adapters[name] = plan.create(f"DevChainlinkOracle {name}", code["DevChainlinkOracle"].bytecode,
                                         ("address", "address", "address", "uint256"),
                                         (units[base], units[quote], feeds[feed], CHAINLINK_MAX_STALENESS))
        else:
            adapters[name] = plan.create(f"DevPythOracle {name}", code["DevPythOracle"].bytecode,
                                         ("address", "address", "address", "bytes32", "uint256", "uint256"),
                                         (pyth, units[base], units[quote], bytes.fromhex(pyth_id(feed)[2:]),
                                          PYTH_MAX_STALENESS, PYTH_MAX_CONF_WIDTH))
        plan.call(f"router config {name}", router, "govSetConfig(address,address,address)", units[base],
                  units[quote], adapters[name])
    unit_of = {m.name: units[m.unit_of_account] for m in MARKETS}
    vaults = {name: plan.create(f"DevEVault {name}", code["DevEVault"].bytecode,
                                ("address", "address", "address", "address", "string", "string"),
                                (evc, tokens[asset], router, unit_of.get(name, USD), f"EVK Vault {name}", name))
              for name, asset in COLLATERAL_VAULTS.items()}
    for name in (*COLLATERAL_VAULTS, "sUSDS"):
        target = vaults.get(name, tokens["sUSDS"])
        plan.call(f"router resolves {name}", router, "govSetResolvedVault(address,bool)", target, True)
    for m in MARKETS:
        for collateral, (borrow_ltv, liquidation_ltv) in m.ltvs.items():
            plan.call(f"{m.name} LTV {collateral}", vaults[m.name], "setLTV(address,uint16,uint16,uint32)",
                      vaults[collateral], borrow_ltv, liquidation_ltv, 0)
        plan.call(f"{m.name} max discount", vaults[m.name], "setMaxLiquidationDiscount(uint16)", m.max_discount)
        plan.call(f"{m.name} cool-off", vaults[m.name], "setLiquidationCoolOffTime(uint16)", m.cool_off)
    # sUSDS: a first deposit, then a donation lifting its rate to SUSDS_RATE
    seed_usds = 1_000_000 * 10**18
    plan.call("USDS mint", tokens["USDS"], "mint(address,uint256)", deployer, 10 * seed_usds)
    plan.call("USDS approve sUSDS", tokens["USDS"], "approve(address,uint256)", tokens["sUSDS"], UINT256_MAX)
    plan.call("sUSDS first deposit", tokens["sUSDS"], "deposit(uint256,address)", seed_usds, deployer)
    plan.call("sUSDS donation", tokens["sUSDS"], "donate(uint256)", int(seed_usds * (SUSDS_RATE - 1)))
    for m in MARKETS:
        asset = tokens[COLLATERAL_VAULTS[m.name]]
        plan.call(f"{m.name} liquidity mint", asset, "mint(address,uint256)", deployer, m.liquidity)
        plan.call(f"{m.name} liquidity approve", asset, "approve(address,uint256)", vaults[m.name], UINT256_MAX)
        plan.call(f"{m.name} liquidity deposit", vaults[m.name], "deposit(uint256,address)", m.liquidity, deployer)
    with automine_paused(rpc):
        send_and_mine(rpc, plan.txs, "deploy Euler v2")
    record: dict[str, Any] = {
        "deployer": deployer, "evc": evc, "router": router, "pyth": pyth, "usd": USD,
        "tokens": {s: {"address": a, "decimals": _DECIMALS[s]} for s, a in tokens.items()},
        "feeds": {f.name: {"address": feeds[f.name], "decimals": f.decimals, "answer": f.answer} for f in FEEDS},
        "pyth_ids": {name: pyth_id(name) for name in PYTH_FEEDS},
        "adapters": adapters,
        "vaults": {name: {"address": vaults[name], "asset": COLLATERAL_VAULTS[name]} for name in COLLATERAL_VAULTS},
        "markets": {m.name: {"unit_of_account": unit_of[m.name], "ltvs": {c: list(v) for c, v in m.ltvs.items()},
                             "liquidator": sub_account(keyless_address("euler-v2", f"liquidator/{m.name}"), 0),
                             "max_discount": m.max_discount, "cool_off": m.cool_off} for m in MARKETS},
        "contracts": {PREFIX + "EVC": evc, PREFIX + "Router": router, PREFIX + "Pyth": pyth,
                      **{PREFIX + name: vaults[name] for name in COLLATERAL_VAULTS}},
    }
    for feed, price in PYTH_FEEDS.items():  # published at the time of the block recording it: fresh
        set_pyth_price(rpc_url, record, feed, price)
    _setup_liquidators(rpc, record)
    record["block_number"] = int(rpc.call("eth_blockNumber"), 16)
    log.info("Euler v2 devnet deployed block=%d evc=%s router=%s eUSDC=%s eWETH=%s", record["block_number"], evc,
             router, vaults["eUSDC"], vaults["eWETH"])
    return record


def _setup_liquidators(rpc: JsonRpcClient, record: dict[str, Any]) -> None:
    """Each controller's liquidator enables it as controller and holds ample collateral (so that taking over debt
    passes its own account status check)."""
    backing = {"eUSDC": ("eWETH", "WETH", 10_000 * 10**18), "eWETH": ("eUSDC", "USDC", 100_000_000 * 10**6)}
    nonces = NonceBook(rpc)
    txs = []
    for market, (collateral, symbol, amount) in backing.items():
        who = record["markets"][market]["liquidator"]
        rpc.batch([("anvil_setBalance", [who, ETH_FUNDING]), ("anvil_impersonateAccount", [who])])
        token, vault = record["tokens"][symbol]["address"], vault_address(record, collateral)
        evc, controller = record["evc"], vault_address(record, market)
        for step, to, data, expect in (
            ("mint", token, encode_call("mint(address,uint256)", who, amount), (token, TRANSFER)),
            ("approve", token, encode_call("approve(address,uint256)", vault, UINT256_MAX), (token, APPROVAL)),
            ("deposit", vault, encode_call("deposit(uint256,address)", amount, who), (vault, DEPOSIT)),
            ("collateral", evc, encode_call("enableCollateral(address,address)", who, vault),
             (evc, COLLATERAL_STATUS)),
            ("controller", evc, encode_call("enableController(address,address)", who, controller),
             (evc, CONTROLLER_STATUS)),
        ):
            txs.append(Tx(f"{market} liquidator {step}", who, to, data, CALL_GAS, nonces.take(who), 0, expect))
    mine_txs(rpc, txs, "set up the Euler v2 liquidators")


# --- seeding

KINDS = ("weth", "wbtc", "susds", "wsteth_pyth", "multi", "edge", "collateral_only", "usdc_inverse", "wsteth_ramp",
         "multi_weth")
_CYCLE = ("weth", "usdc_inverse", "wbtc", "susds", "wsteth_ramp", "wsteth_pyth", "multi", "edge", "multi_weth",
          "weth", "collateral_only", "susds", "usdc_inverse", "edge", "wbtc")
_COLLATERALS = {
    "weth": ("eUSDC", ("eWETH",)), "wbtc": ("eUSDC", ("eWBTC",)), "susds": ("eUSDC", ("eSUSDS",)),
    "wsteth_pyth": ("eUSDC", ("ewstETH",)), "multi": ("eUSDC", ("eWETH", "eWBTC", "eSUSDS")),
    "edge": ("eUSDC", ("eWETH",)), "collateral_only": ("eUSDC", ("eWETH", "eWBTC")),
    "usdc_inverse": ("eWETH", ("eUSDC",)), "wsteth_ramp": ("eWETH", ("ewstETH",)),
    "multi_weth": ("eWETH", ("eUSDC", "ewstETH")),
}
_SUB_IDS = (0, 1, 2, 7, 42, 255)
_USD_PRICE = {"WETH": 2_500.0, "WBTC": 60_000.0, "sUSDS": 1.05, "wstETH": 2_950.0, "USDC": 1.0}


@dataclass
class SeededEuler:
    """A seeded sub-account: its owner and id, the controller, the collateral deposited (asset units per vault) and
    the amount borrowed (asset units; 0: none). ``late``: borrowed after the interest accumulator moved."""

    account: str
    owner: str
    sub_id: int
    kind: str
    market: str
    collateral: dict[str, int] = field(default_factory=dict)
    borrowed: int = 0
    late: bool = False


def plan_positions(count: int, *, seed: int = 0) -> list[SeededEuler]:
    """The sub-accounts :func:`seed_positions` opens: owners with one to four sub-accounts each (ids among 0, 1, 2,
    7, 42, 255), kinds cycling through :data:`_CYCLE`, collateral worth 2,000 to 400,000 USD (log-uniform)."""
    planned: list[SeededEuler] = []
    owner_index = 0
    while len(planned) < count:
        rng = random.Random(f"indexer-devnet/euler-v2/{seed}/owner/{owner_index}")
        owner = owner_address(seed, owner_index)
        subs = sorted(rng.sample(_SUB_IDS, 1 + owner_index % 4))
        for sub_id in subs:
            if len(planned) >= count:
                break
            kind = _CYCLE[len(planned) % len(_CYCLE)]
            market, vaults = _COLLATERALS[kind]
            p = SeededEuler(sub_account(owner, sub_id), owner, sub_id, kind, market, late=len(planned) % 5 == 3)
            value = math.exp(rng.uniform(math.log(2_000), math.log(400_000)))
            shares = [rng.uniform(0.3, 1.0) for _ in vaults]
            for vault, share in zip(vaults, shares, strict=True):
                symbol = COLLATERAL_VAULTS[vault]
                tokens = value * share / sum(shares) / _USD_PRICE[symbol]
                p.collateral[vault] = int(Decimal(repr(tokens)) * 10 ** _DECIMALS[symbol])
            planned.append(p)
        owner_index += 1
    return planned


def _max_borrow(market: str, record: dict[str, Any], collateral_value: int, rpc: JsonRpcClient) -> int:
    """The largest debt the account status check accepts against ``collateral_value`` (borrow-LTV adjusted, in the
    unit of account): the liability value must stay strictly below it."""
    if collateral_value <= 0:
        return 0
    if market == "eWETH":  # the debt is the unit of account: its value is the amount
        return collateral_value - 1
    # eUSDC: value = amount * 10**18 * answer / 10**(8 + 6) (ChainlinkOracle USDC/USD, quote USD with 18 decimals)
    answer = _feed_answer(rpc, record, "USDC/USD")
    amount = collateral_value * 10**14 // (10**18 * answer)
    while amount > 0 and amount * 10**18 * answer // 10**14 >= collateral_value:
        amount -= 1
    while (amount + 1) * 10**18 * answer // 10**14 < collateral_value:
        amount += 1
    return amount


def _feed_answer(rpc: JsonRpcClient, record: dict[str, Any], feed: str) -> int:
    raw = rpc.call(*eth_call(record["feeds"][feed]["address"], encode_call("latestRoundData()")))
    return int(decode(["uint80", "int256", "uint256", "uint256", "uint80"], raw)[1])


def seed_positions(rpc_url: str, record: dict[str, Any], count: int, *, seed: int = 0) -> list[SeededEuler]:
    """Opens ``count`` sub-account positions (:func:`plan_positions`) in phases, each one batch with automine off:
    owners mint, approve and turn USDS into sUSDS; deposits into the collateral vaults for each sub-account and
    the EVC's enableCollateral / enableController; borrows through ``evc.call`` (shares of each account's borrowing
    power read by ``accountLiquidity(account, false)``; ``edge`` accounts borrow the most the status check takes);
    the eUSDC and eWETH interest accumulators move forward; the ``late`` accounts borrow; finally eWETH lowers
    ewstETH's liquidation LTV from 95 % to 93 % over a day (the ramp starts: the chain's clock is not moved, other
    protocols on the same devnet keep their feeds' ages)."""
    rpc = JsonRpcClient(rpc_url)
    planned = plan_positions(count, seed=seed)
    owners = list(dict.fromkeys(p.owner for p in planned))
    rpc.batch(call for o in owners for call in (("anvil_setBalance", [o, ETH_FUNDING]),
                                                ("anvil_impersonateAccount", [o])))
    nonces = NonceBook(rpc)
    nonces.prefetch([record["deployer"], *owners])
    tokens = {s: t["address"] for s, t in record["tokens"].items()}
    evc = record["evc"]

    def tx(step: str, sender: str, to: str, data: str, expect: tuple[str, str] | None) -> Tx:
        return Tx(step, sender, to, data, CALL_GAS, nonces.take(sender), 0, expect)

    # phase 1: tokens (USDS -> sUSDS for the eSUSDS depositors) and approvals
    first: list[Tx] = []
    for owner in owners:
        mine = [p for p in planned if p.owner == owner]
        need: dict[str, int] = {}
        for p in mine:
            for vault, amount in p.collateral.items():
                need[vault] = need.get(vault, 0) + amount
        for vault, amount in need.items():
            symbol = COLLATERAL_VAULTS[vault]
            if symbol == "sUSDS":  # enough USDS to mint at least `amount` sUSDS at its rate
                usds = int(amount * SUSDS_RATE) + 10**18
                first += [tx(f"USDS mint {owner}", owner, tokens["USDS"],
                             encode_call("mint(address,uint256)", owner, usds), (tokens["USDS"], TRANSFER)),
                          tx(f"USDS approve {owner}", owner, tokens["USDS"],
                             encode_call("approve(address,uint256)", tokens["sUSDS"], UINT256_MAX),
                             (tokens["USDS"], APPROVAL)),
                          tx(f"sUSDS deposit {owner}", owner, tokens["sUSDS"],
                             encode_call("deposit(uint256,address)", usds, owner), (tokens["sUSDS"], DEPOSIT))]
            else:
                first.append(tx(f"{symbol} mint {owner}", owner, tokens[symbol],
                                encode_call("mint(address,uint256)", owner, amount), (tokens[symbol], TRANSFER)))
            first.append(tx(f"{symbol} approve {vault} {owner}", owner, tokens[symbol],
                            encode_call("approve(address,uint256)", vault_address(record, vault), UINT256_MAX),
                            (tokens[symbol], APPROVAL)))
    mine_txs(rpc, first, "seed Euler v2 tokens")

    # phase 2: deposits for each sub-account, collaterals and controller enabled through the EVC
    second: list[Tx] = []
    for p in planned:
        for vault, amount in p.collateral.items():
            address = vault_address(record, vault)
            second.append(tx(f"deposit {vault} for {p.account}", p.owner, address,
                             encode_call("deposit(uint256,address)", amount, p.account), (address, DEPOSIT)))
            second.append(tx(f"enableCollateral {vault} {p.account}", p.owner, evc,
                             encode_call("enableCollateral(address,address)", p.account, address),
                             (evc, COLLATERAL_STATUS)))
        second.append(tx(f"enableController {p.market} {p.account}", p.owner, evc,
                         encode_call("enableController(address,address)", p.account, vault_address(record, p.market)),
                         (evc, CONTROLLER_STATUS)))
    mine_txs(rpc, second, "seed Euler v2 deposits and EVC set-up")

    # phase 3: borrowing power, then the early borrows
    borrowing = [p for p in planned if p.kind != "collateral_only"]
    powers = rpc.batch(eth_call(vault_address(record, p.market),
                                 encode_call("accountLiquidity(address,bool)", p.account, False)) for p in borrowing)
    for p, raw in zip(borrowing, powers, strict=True):
        collateral_value = int(decode(["uint256", "uint256"], raw)[0])
        most = _max_borrow(p.market, record, collateral_value, rpc)
        rng = random.Random(f"indexer-devnet/euler-v2/{seed}/borrow/{p.account}")
        p.borrowed = most if p.kind == "edge" else int(most * rng.uniform(0.35, 0.97))

    def borrows(group: Sequence[SeededEuler]) -> list[Tx]:
        out = []
        for p in group:
            vault = vault_address(record, p.market)
            data = encode_call("borrow(uint256,address)", p.borrowed, p.owner)
            out.append(tx(f"borrow {p.borrowed} {p.market} {p.account}", p.owner, evc,
                          encode_call("call(address,address,uint256,bytes)", vault, p.account, 0,
                                      bytes.fromhex(data[2:])), (vault, BORROW)))
        return out

    mine_txs(rpc, borrows([p for p in borrowing if not p.late and p.borrowed]), "seed Euler v2 borrows")
    # phase 4: interest accrues (the accumulator moves), then the late borrows at the new accumulator
    deployer = record["deployer"]
    moves = [tx(f"{m} accumulator", deployer, vault_address(record, m),
                encode_call("setInterestAccumulator(uint256)", acc), (vault_address(record, m), ACCUMULATOR_SET))
             for m, acc in (("eUSDC", 1_012_345_678_901_234_567_890_123_457), ("eWETH", 1_003_141_592_653_589_793 *
                                                                                10**9 + 238))]
    mine_txs(rpc, moves, "move the Euler v2 interest accumulators")
    # the late borrowers' power is read again: nothing moved their collateral, but the check is the chain's
    mine_txs(rpc, borrows([p for p in borrowing if p.late and p.borrowed]), "seed Euler v2 late borrows")
    # phase 5: the liquidation LTV ramp of ewstETH on eWETH
    ramp_vault = vault_address(record, "eWETH")
    mine_txs(rpc, [tx("eWETH ramps ewstETH down", deployer, ramp_vault,
                   encode_call("setLTV(address,uint16,uint16,uint32)", vault_address(record, "ewstETH"), 9000, 9300,
                               LTV_RAMP), (ramp_vault, GOV_SET_LTV))], "start the Euler v2 LTV ramp")
    log.info("seeded Euler v2 sub-accounts=%d owners=%d borrowers=%d", len(planned), len(owners),
             sum(1 for p in planned if p.borrowed))
    return planned


# -- what `indexer devnet up` and the demo call (indexer.protocols.base.DevnetModule) ---------------------------
def deploy_devnet(rpc_url: str) -> dict[str, Any]:
    """Euler v2 as a record for the devnet deployment file: ``contracts`` names ``EulerV2.EVC``, ``EulerV2.Router``
    and the vaults, so a config can say ``address = "devnet:EulerV2.eUSDC"``."""
    return deploy_euler_v2(rpc_url)


def seed_devnet(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    """Opens about ``count`` sub-account positions; returns each owner once, labelled with its sub-accounts' kinds
    (wallets follow owners; a market with ``discover = true`` finds every sub-account from the EVC's events)."""
    seeded = seed_positions(rpc_url, deployment.protocols[KIND], count)
    kinds: dict[str, list[str]] = {}
    for p in seeded:
        kinds.setdefault(p.owner, []).append(f"{p.kind}#{p.sub_id}")
    return [(owner, "+".join(labels)) for owner, labels in kinds.items()]
