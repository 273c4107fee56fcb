"""A GMX v2 devnet: our own stand-in DataStore and Reader (``contracts/DevGmx.sol``: the real v2.2 ABI of
``getMarkets``, ``getAccountPositionInfoList`` and ``isPositionLiquidatable``, the liquidation rules of
gmx-synthetics' contracts/position/PositionUtils.sol), Chainlink-compatible ``DevPriceFeed`` reference feeds
registered in the DataStore under the real ``Keys.sol`` keys, and seeded positions.

No package ships gmx-synthetics' bytecode (only ABIs: the ``web3-ethereum-defi`` wheel's ``gmx/Reader.json``), so
positions are written straight into the stand-in DataStore (``openPosition``) rather than through orders and
keepers. Markets (:data:`MARKETS`): ETH/USD (long WETH, short USDC) and BTC/USD (long WBTC, short USDC).

The record (``deployment.protocols["gmx_v2"]``)::

    {"deployer", "block_number",
     "contracts": {"GmxV2.Reader", "GmxV2.DataStore", "GmxV2.ReferralStorage"},
     "tokens": {symbol: {"address", "decimals", "feed", "multiplier", "answer"}},
     "markets": {name: {"market_token", "index", "long", "short", "min_collateral_factor",
                        "min_collateral_factor_for_liquidation", "max_position_impact_factor_for_liquidations",
                        "position_fee_factor", "close_price_impact_usd"}},
     "min_collateral_usd"}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.devnet.abi import decode, encode_call
from indexer.devnet.calls import eth_call, keyless_address
from indexer.devnet.compile import CompiledContract, compile_dev_contracts, compile_stand_in
from indexer.devnet.deployment import Deployment, DeployPlan
from indexer.devnet.errors import DevnetError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import mine_txs
from indexer.protocols.gmx_v2 import rules

log = logging.getLogger(__name__)

KIND = "gmx_v2"
PREFIX = "GmxV2."
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
FEED_DECIMALS = 8
USD = rules.FLOAT_PRECISION
DEPLOY_GAS = 8_000_000
CALL_GAS = 500_000
HEARTBEAT = 86_400
MIN_COLLATERAL_USD = 1 * USD
PRICE_PROPS = "(uint256,uint256)"
MARKET_PRICES = f"({PRICE_PROPS},{PRICE_PROPS},{PRICE_PROPS})"
MARKET_PROPS = "(address,address,address,address)"


@dataclass(frozen=True)
class TokenSpec:
    symbol: str
    decimals: int
    answer: int  # the feed's initial answer, 8 decimals


TOKENS = (TokenSpec("WETH", 18, 2_500 * 10**8), TokenSpec("USDC", 6, 10**8), TokenSpec("WBTC", 8, 60_000 * 10**8))


@dataclass(frozen=True)
class MarketSpec:
    name: str
    index: str
    long: str
    short: str
    min_collateral_factor: int
    min_collateral_factor_for_liquidation: int
    max_position_impact_factor_for_liquidations: int
    position_fee_factor: int
    close_price_impact_usd: int


MARKETS = (
    MarketSpec("ETH-USD", "WETH", "WETH", "USDC", USD // 100, USD // 200, USD // 1000, USD // 2000, -5 * USD),
    MarketSpec("BTC-USD", "WBTC", "WBTC", "USDC", USD // 100, USD // 200, USD // 1000, USD // 2000, 0),
)
_MARKET = {m.name: m for m in MARKETS}


def compile_gmx_v2() -> dict[str, CompiledContract]:
    return compile_stand_in(CONTRACTS_DIR, cache_name="gmx-v2", deployed=["DevGmxDataStore", "DevGmxReader"])


def market_token(name: str) -> str:
    return keyless_address("gmx-v2", f"market/{name}")


def deploy_devnet(rpc_url: str) -> dict[str, Any]:
    """Tokens, reference feeds, the DataStore (markets, feeds, factors), the Reader and a ReferralStorage
    placeholder (the stand-in Reader gives no referral discount), in one batch from the node's first account."""
    rpc = JsonRpcClient(rpc_url)
    code = compile_gmx_v2()
    shared = compile_dev_contracts()
    plan = DeployPlan.from_node(rpc, deploy_gas=DEPLOY_GAS, call_gas=CALL_GAS)
    deployer = plan.deployer
    tokens: dict[str, dict[str, Any]] = {}
    for t in TOKENS:
        address = plan.create(f"DevToken {t.symbol}", shared["DevToken"].bytecode, ("string", "string", "uint8"),
                              (f"{t.symbol} (GMX v2 devnet)", t.symbol, t.decimals))
        feed = plan.create(f"DevPriceFeed {t.symbol}", shared["DevPriceFeed"].bytecode, ("uint8", "string", "int256"),
                           (FEED_DECIMALS, f"{t.symbol.removeprefix('W')} / USD", t.answer))
        tokens[t.symbol] = {"address": address, "decimals": t.decimals, "feed": feed, "answer": t.answer,
                            "multiplier": rules.price_multiplier(FEED_DECIMALS, t.decimals)}
    store = plan.create("DevGmxDataStore", code["DevGmxDataStore"].bytecode)
    referral = plan.create("ReferralStorage placeholder", code["DevGmxDataStore"].bytecode)
    reader = plan.create("DevGmxReader", code["DevGmxReader"].bytecode)
    set_uint, set_int = "setUint(bytes32,uint256)", "setInt(bytes32,int256)"
    plan.call("MIN_COLLATERAL_USD", store, set_uint, rules.MIN_COLLATERAL_USD_KEY, MIN_COLLATERAL_USD)
    for symbol, info in tokens.items():
        plan.call(f"priceFeed {symbol}", store, "setAddress(bytes32,address)", rules.price_feed_key(info["address"]),
                  info["feed"])
        plan.call(f"multiplier {symbol}", store, set_uint, rules.price_feed_multiplier_key(info["address"]),
                  info["multiplier"])
        plan.call(f"heartbeat {symbol}", store, set_uint, rules.price_feed_heartbeat_duration_key(info["address"]),
                  HEARTBEAT)
    markets: dict[str, dict[str, Any]] = {}
    for m in MARKETS:
        token = market_token(m.name)
        index, long, short = (tokens[s]["address"] for s in (m.index, m.long, m.short))
        plan.call(f"addMarket {m.name}", store, "addMarket(address,address,address,address)", token, index, long, short)
        plan.call(f"minCollateralFactor {m.name}", store, set_uint, rules.min_collateral_factor_key(token),
                  m.min_collateral_factor)
        plan.call(f"minCollateralFactorForLiquidation {m.name}", store, set_uint,
                  rules.min_collateral_factor_for_liquidation_key(token), m.min_collateral_factor_for_liquidation)
        plan.call(f"maxPositionImpactFactorForLiquidations {m.name}", store, set_uint,
                  rules.max_position_impact_factor_for_liquidations_key(token),
                  m.max_position_impact_factor_for_liquidations)
        plan.call(f"position fee factor {m.name}", store, set_uint, rules.keyed("DEV_POSITION_FEE_FACTOR", token),
                  m.position_fee_factor)
        plan.call(f"close impact {m.name}", store, set_int, rules.keyed("DEV_CLOSE_PRICE_IMPACT_USD", token),
                  m.close_price_impact_usd)
        markets[m.name] = {"market_token": token, "index": index, "long": long, "short": short,
                           "min_collateral_factor": m.min_collateral_factor,
                           "min_collateral_factor_for_liquidation": m.min_collateral_factor_for_liquidation,
                           "max_position_impact_factor_for_liquidations": m.max_position_impact_factor_for_liquidations,
                           "position_fee_factor": m.position_fee_factor,
                           "close_price_impact_usd": m.close_price_impact_usd}
    block = mine_txs(rpc, plan.txs, "deploy GMX v2")
    log.info("gmx_v2 devnet deployed at block %d (Reader %s, DataStore %s)", block, reader, store)
    return {"deployer": deployer, "block_number": block,
            "contracts": {PREFIX + "Reader": reader, PREFIX + "DataStore": store, PREFIX + "ReferralStorage": referral},
            "tokens": tokens, "markets": markets, "min_collateral_usd": MIN_COLLATERAL_USD}


# --- seeding

# (market, collateral symbol, is_long, leverage x100, entry price / current price in 1e4); the seven (market,
# collateral, side) combinations differ, so a wallet's three consecutive kinds are three distinct positions
KINDS: dict[str, tuple[str, str, bool, int, int]] = {
    "eth_long_usdc_profit": ("ETH-USD", "USDC", True, 500, 9_700),
    "eth_short_usdc_loss": ("ETH-USD", "USDC", False, 400, 9_800),
    "eth_long_weth_loss": ("ETH-USD", "WETH", True, 300, 10_300),
    "btc_long_usdc_loss": ("BTC-USD", "USDC", True, 800, 10_400),
    "btc_short_usdc_profit": ("BTC-USD", "USDC", False, 600, 10_500),
    "eth_short_weth": ("ETH-USD", "WETH", False, 200, 10_000),
    "btc_long_wbtc_edge": ("BTC-USD", "WBTC", True, 5_000, 10_120),
}
_CYCLE = tuple(KINDS)
PER_WALLET = 3


@dataclass
class SeededPosition:
    wallet: str
    kind: str
    market: str
    collateral: str
    is_long: bool
    size_in_usd: int
    entry_price: int
    collateral_amount: int
    key: str


def wallet_address(seed: int, index: int) -> str:
    return keyless_address("gmx-v2", f"wallet/{seed}/{index}")


def gmx_record(deployment: Deployment) -> dict[str, Any]:
    try:
        return deployment.protocols[KIND]
    except KeyError:
        raise KeyError(f"this devnet has no GMX v2 deployment (protocols: {sorted(deployment.protocols)})") from None


def token_price(record: dict[str, Any], symbol: str, answer: int | None = None) -> int:
    """GMX units (USD × 1e30 per smallest unit) of ``symbol`` at ``answer`` (default: the initial one)."""
    t = record["tokens"][symbol]
    price = rules.feed_price(t["answer"] if answer is None else answer, t["multiplier"])
    if price is None:
        raise DevnetError(f"{symbol}: a feed answer <= 0 has no GMX price")
    return price


def seed_positions(rpc_url: str, record: dict[str, Any], count: int, *, seed: int = 0) -> list[SeededPosition]:
    """``count`` positions, :data:`PER_WALLET` per wallet, kinds cycling through :data:`KINDS` (long and short,
    profit and loss, same-token collateral, one near its liquidation line), with pending fees set per position."""
    rpc = JsonRpcClient(rpc_url)
    store = record["contracts"][PREFIX + "DataStore"]
    deployer = record["deployer"]
    plan = DeployPlan(deployer, int(rpc.call("eth_getTransactionCount", [deployer, "pending"]), 16),
                      deploy_gas=DEPLOY_GAS, call_gas=CALL_GAS)
    seeded: list[SeededPosition] = []
    for i in range(count):
        kind = _CYCLE[i % len(_CYCLE)]
        name, collateral, is_long, leverage, entry_ratio = KINDS[kind]
        spec, market = _MARKET[name], record["markets"][name]
        wallet = wallet_address(seed, i // PER_WALLET)
        size = (1_000 + (i * 7_919) % 49_000) * USD
        now = token_price(record, spec.index)
        entry = now * entry_ratio // 10_000
        collateral_price = token_price(record, collateral)
        amount = size * 100 // leverage // collateral_price
        token = record["tokens"][collateral]["address"]
        key = "0x" + rules.position_key(wallet, market["market_token"], token, is_long).hex()
        plan.call(f"openPosition {kind} {wallet}", store,
                  "openPosition(address,address,address,bool,uint256,uint256,uint256)", wallet,
                  market["market_token"], token, is_long, size, entry, amount)
        borrowing_usd = size // 1_000  # 0.1 % of the size pending
        funding_tokens = amount // 500  # 0.2 % of the collateral
        plan.call(f"setPendingFees {kind} {wallet}", store, "setPendingFees(bytes32,uint256,uint256)",
                  bytes.fromhex(key[2:]), borrowing_usd, funding_tokens)
        seeded.append(SeededPosition(wallet, kind, name, collateral, is_long, size, entry, amount, key))
    mine_txs(rpc, plan.txs, "seed GMX v2 positions")
    log.info("gmx_v2 seeded positions=%d wallets=%d", count, len({p.wallet for p in seeded}))
    return seeded


def seed_devnet(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    """One (wallet, kinds) per wallet: its positions' kinds joined by ``+``."""
    kinds: dict[str, list[str]] = {}
    for p in seed_positions(rpc_url, gmx_record(deployment), count):
        kinds.setdefault(p.wallet, []).append(p.kind)
    return [(wallet, "+".join(k)) for wallet, k in kinds.items()]


# --- chain control and the protocol's own view


def set_answer(rpc_url: str, record: dict[str, Any], symbol: str, answer: int) -> int:
    """Starts a new round of ``symbol``'s reference feed; returns the block it was mined in."""
    rpc = JsonRpcClient(rpc_url)
    deployer = record["deployer"]
    plan = DeployPlan(deployer, int(rpc.call("eth_getTransactionCount", [deployer, "pending"]), 16),
                      deploy_gas=DEPLOY_GAS, call_gas=CALL_GAS)
    plan.call(f"setAnswer {symbol}", record["tokens"][symbol]["feed"], "setAnswer(int256)", answer)
    return mine_txs(rpc, plan.txs, f"move the {symbol} feed")


def set_factor_for_liquidation(rpc_url: str, record: dict[str, Any], name: str, factor: int) -> int:
    """Sets market ``name``'s ``MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION`` in the DataStore (what GMX's controllers
    do with ``Config.setUint``); returns the block it was mined in."""
    rpc = JsonRpcClient(rpc_url)
    deployer = record["deployer"]
    plan = DeployPlan(deployer, int(rpc.call("eth_getTransactionCount", [deployer, "pending"]), 16),
                      deploy_gas=DEPLOY_GAS, call_gas=CALL_GAS)
    token = record["markets"][name]["market_token"]
    plan.call(f"minCollateralFactorForLiquidation {name}", record["contracts"][PREFIX + "DataStore"],
              "setUint(bytes32,uint256)", rules.min_collateral_factor_for_liquidation_key(token), factor)
    return mine_txs(rpc, plan.txs, f"set {name}'s factor for liquidation")


def market_prices(record: dict[str, Any], name: str, answers: dict[str, int]) -> tuple[Any, ...]:
    """``MarketUtils.MarketPrices`` (min = max) of market ``name`` at feed ``answers`` by symbol."""
    spec = _MARKET[name]
    return tuple((p, p) for p in (token_price(record, s, answers[s]) for s in (spec.index, spec.long, spec.short)))


def is_position_liquidatable(rpc_url: str, record: dict[str, Any], position: SeededPosition,
                             answers: dict[str, int], block: int | str = "latest") -> tuple[bool, str, tuple[int, ...]]:
    """The stand-in Reader's ``isPositionLiquidatable(..., shouldValidateMinCollateralUsd=true, forLiquidation=true)``
    at ``block`` with the market priced at ``answers``: (verdict, reason, (remaining, min, min for leverage))."""
    m = record["markets"][position.market]
    data = encode_call(f"isPositionLiquidatable(address,address,bytes32,{MARKET_PROPS},{MARKET_PRICES},bool,bool)",
                       record["contracts"][PREFIX + "DataStore"], record["contracts"][PREFIX + "ReferralStorage"],
                       bytes.fromhex(position.key[2:]), (m["market_token"], m["index"], m["long"], m["short"]),
                       market_prices(record, position.market, answers), True, True)
    raw = JsonRpcClient(rpc_url).call(*eth_call(record["contracts"][PREFIX + "Reader"], data, block))
    verdict, reason, info = decode(["bool", "string", "(int256,int256,int256)"], raw)
    return bool(verdict), str(reason), tuple(int(v) for v in info)
