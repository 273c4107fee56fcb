"""A Compound v3 (Comet) devnet: two markets of DevComet, our own contract with Comet's external ABI and its
arithmetic, and seeded positions.

No npm package ships Comet's bytecode, so ``contracts/DevComet.sol`` implements the part of
compound-finance/comet (CometWithExtendedAssetList, CometMainInterface, CometExt) that positions and the indexer
use, rule for rule: the asset list at four decimals of each factor, per-second kink rates, stored vs accrued
indices, ``isBorrowCollateralized`` / ``isLiquidatable`` on the stored index, ``absorb``. It compiles with the
repository's solcjs (npm ``solc``, 0.8.37; optimizer 200 runs, shanghai), cached under ``.build/compound-v3/``.
Tokens are ``DevToken`` (anyone may mint); prices come from fresh ``DevPriceFeed`` contracts (8 decimals),
one per market and asset, so moving one never moves another market.

Markets (:data:`MARKETS`):

* ``cUSDCv3``: base USDC priced in USD; collaterals WETH, WBTC (8 decimals), wstETH and COMP;
* ``cWETHv3``: base WETH whose feed answers a constant 1e8 (its figures are in ETH, as mainnet's
  ConstantPriceFeed makes them); collaterals wstETH and cbETH priced in ETH.

Everything is sent as JSON-RPC batches with automine off: the deployment from the node's first dev account
(addresses predicted from its nonce), and each seeded account is a keyless address acting through anvil's
auto-impersonation. Typical use::

    with Anvil() as node:
        record = deploy_compound_v3(node.url)
        seeded = seed_positions(node.url, record, 60)
        set_feed_price(node.url, record, "cUSDCv3", "WETH", 1_800 * 10**8)
        is_liquidatable(node.url, record["markets"]["cUSDCv3"]["comet"], seeded[0].account)

The record (``deployment.protocols["compound_v3"]``)::

    {"deployer", "lender", "block_number",
     "contracts": {"CompoundV3.cUSDCv3": comet, "CompoundV3.cWETHv3": comet},
     "tokens": {symbol: address},
     "markets": {name: {"comet", "quote", "base_borrow_min", "base_scale",
                        "base": {"symbol", "address", "decimals", "feed", "price"},
                        "assets": [{"symbol", "address", "decimals", "feed", "offset", "price", "scale",
                                    "borrow_collateral_factor", "liquidate_collateral_factor",
                                    "liquidation_factor", "supply_cap"}, ...]}},
     "feeds": {"<market>/<symbol>": feed}}

Asset factors and caps in the record are what ``getAssetInfo`` returns (Comet keeps four decimals of each factor
and whole tokens of the cap); ``price`` is the feed's initial answer. There are no ``reserves``: the devnet's
shared, USD-priced reserves belong to Aave.
"""

from __future__ import annotations

import functools
import logging
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from indexer.devnet.abi import decode, encode_call, selector
from indexer.devnet.calls import eth_call, event_topic, keyless_address
from indexer.devnet.compile import CompiledContract, compile_dev_contracts, compile_stand_in
from indexer.devnet.deployment import Deployment, DeployPlan
from indexer.devnet.errors import DevnetError, DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, automine_paused, send_and_mine, transact

log = logging.getLogger(__name__)

KIND = "compound_v3"
PREFIX = "CompoundV3."  # contract names in the devnet file: "devnet:CompoundV3.cUSDCv3"
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"


# Comet's constants (contracts/CometCore.sol)
PRICE_DECIMALS = 8
FACTOR_SCALE = 10**18
BASE_INDEX_SCALE = 10**15
SECONDS_PER_YEAR = 31_536_000
FACTOR_PRECISION = 10**14  # AssetList.sol keeps four decimals of every factor

UINT256_MAX = 2**256 - 1
DEPLOY_GAS = 15_000_000
CALL_GAS = 1_000_000
ETH_FUNDING = hex(1_000 * 10**18)

RATES_TYPE = "(uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64)"
ASSET_CONFIGS_TYPE = "(address,address,uint8,uint64,uint64,uint64,uint128)[]"
ASSET_INFO_TYPES = ["uint8", "address", "address", "uint64", "uint64", "uint64", "uint64", "uint128"]
TOTALS_BASIC_TYPES = ["uint64", "uint64", "uint64", "uint64", "uint104", "uint104", "uint40", "uint8"]
USER_BASIC_TYPES = ["int104", "uint64", "uint64", "uint16", "uint8"]



TRANSFER = event_topic("Transfer(address,address,uint256)")
APPROVAL = event_topic("Approval(address,address,uint256)")
SUPPLY = event_topic("Supply(address,address,uint256)")
SUPPLY_COLLATERAL = event_topic("SupplyCollateral(address,address,address,uint256)")
WITHDRAW = event_topic("Withdraw(address,address,uint256)")
ABSORB_DEBT = event_topic("AbsorbDebt(address,address,uint256,uint256)")
ABSORB_COLLATERAL = event_topic("AbsorbCollateral(address,address,address,uint256,uint256)")

# Comet's custom errors by selector (contracts/CometMainInterface.sol, contracts/CometMath.sol)
ERRORS = {
    selector(f"{name}()"): name
    for name in (
        "BadAsset", "BadDecimals", "BadPrice", "BorrowCFTooLarge", "BorrowTooSmall", "LiquidateCFTooLarge",
        "NotCollateralized", "NotLiquidatable", "SupplyCapExceeded", "TimestampTooLarge", "TooManyAssets",
        "TransferInFailed", "TransferOutFailed", "InvalidUInt64", "InvalidUInt104", "InvalidUInt128",
        "InvalidInt104", "InvalidInt256", "NegativeNumber",
    )
}  # fmt: skip


def _wad(text: str) -> int:
    """A decimal string as an 18-decimal integer ("0.83" -> 830000000000000000)."""
    return int(Decimal(text) * FACTOR_SCALE)


def _price(text: str) -> int:
    """A decimal string as an 8-decimal feed answer."""
    return int(Decimal(text) * 10**PRICE_DECIMALS)


@dataclass(frozen=True)
class TokenSpec:
    symbol: str
    name: str
    decimals: int


TOKENS = (
    TokenSpec("USDC", "USD Coin (Compound v3 devnet)", 6),
    TokenSpec("WETH", "Wrapped Ether (Compound v3 devnet)", 18),
    TokenSpec("WBTC", "Wrapped BTC (Compound v3 devnet)", 8),
    TokenSpec("wstETH", "Wrapped liquid staked Ether (Compound v3 devnet)", 18),
    TokenSpec("cbETH", "Coinbase Wrapped Staked ETH (Compound v3 devnet)", 18),
    TokenSpec("COMP", "Compound (Compound v3 devnet)", 18),
)
_TOKEN = {t.symbol: t for t in TOKENS}


@dataclass(frozen=True)
class AssetSpec:
    """One collateral as configured (1e18 factors, cap in token units); Comet truncates on storing them."""

    symbol: str
    price: int  # initial answer of this market's feed for it, 8 decimals, in the market's quote
    borrow_collateral_factor: int
    liquidate_collateral_factor: int
    liquidation_factor: int
    supply_cap: int


@dataclass(frozen=True)
class RateSpec:
    """The eight interest-rate fields of Comet's Configuration, per year, 1e18 (the contract divides each by
    SECONDS_PER_YEAR)."""

    supply_kink: int
    supply_slope_low: int
    supply_slope_high: int
    supply_base: int
    borrow_kink: int
    borrow_slope_low: int
    borrow_slope_high: int
    borrow_base: int

    def as_tuple(self) -> tuple[int, ...]:
        return (self.supply_kink, self.supply_slope_low, self.supply_slope_high, self.supply_base,
                self.borrow_kink, self.borrow_slope_low, self.borrow_slope_high, self.borrow_base)  # fmt: skip


@dataclass(frozen=True)
class MarketSpec:
    name: str
    base: str
    quote: str  # what the base feed and every collateral feed are priced in
    base_price: int
    base_borrow_min: int  # base units
    rates: RateSpec
    assets: tuple[AssetSpec, ...]
    liquidity: int  # base units the lender supplies at deployment
    position_value: tuple[float, float]  # a seeded position's collateral value, in whole base tokens (log-uniform)


def _cap(symbol: str, tokens: str) -> int:
    return int(Decimal(tokens) * 10 ** _TOKEN[symbol].decimals)


MARKETS = (
    MarketSpec(
        name="cUSDCv3", base="USDC", quote="USD", base_price=_price("1"), base_borrow_min=100 * 10**6,
        rates=RateSpec(
            supply_kink=_wad("0.9"), supply_slope_low=_wad("0.03"), supply_slope_high=_wad("2.8"),
            supply_base=0,
            borrow_kink=_wad("0.9"), borrow_slope_low=_wad("0.0333"), borrow_slope_high=_wad("3.2"),
            borrow_base=_wad("0.015"),
        ),
        assets=(
            AssetSpec("WETH", _price("2500"), _wad("0.83"), _wad("0.90"), _wad("0.95"), _cap("WETH", "500000")),
            # the cap has half a token more than Comet keeps: getAssetInfo answers 18,000 WBTC
            AssetSpec("WBTC", _price("60000"), _wad("0.70"), _wad("0.77"), _wad("0.95"), _cap("WBTC", "18000.5")),
            AssetSpec("wstETH", _price("2950"), _wad("0.80"), _wad("0.85"), _wad("0.90"), _cap("wstETH", "200000")),
            # configured with digits below Comet's four decimals: getAssetInfo answers 0.65 (AssetList truncates)
            AssetSpec("COMP", _price("50"), _wad("0.650049999999999999"), _wad("0.70"), _wad("0.88"),
                      _cap("COMP", "5000000")),
        ),
        liquidity=2_000_000 * 10**6,
        position_value=(1_000.0, 1_000_000.0),
    ),
    MarketSpec(
        name="cWETHv3", base="WETH", quote="ETH", base_price=_price("1"), base_borrow_min=10**17,
        rates=RateSpec(
            supply_kink=_wad("0.9"), supply_slope_low=_wad("0.018"), supply_slope_high=_wad("1.0"),
            supply_base=0,
            borrow_kink=_wad("0.9"), borrow_slope_low=_wad("0.02"), borrow_slope_high=_wad("1.2"),
            borrow_base=_wad("0.01"),
        ),
        assets=(
            AssetSpec("wstETH", _price("1.18"), _wad("0.90"), _wad("0.93"), _wad("0.975"), _cap("wstETH", "300000")),
            AssetSpec("cbETH", _price("1.08"), _wad("0.90"), _wad("0.93"), _wad("0.975"), _cap("cbETH", "100000")),
        ),
        liquidity=1_000 * 10**18,
        position_value=(0.5, 400.0),
    ),
)
_MARKET = {m.name: m for m in MARKETS}


# --- compiling


@functools.cache
def compile_compound_v3() -> dict[str, CompiledContract]:
    """DevComet and the devnet's shared contracts, by name; compiled once per set of inputs."""
    return compile_stand_in(CONTRACTS_DIR, cache_name="compound-v3", deployed=("DevComet",))


# --- addresses, calls and reads



def account_address(seed: int, index: int) -> str:
    """Seeded account ``index`` of ``seed``: a keyless address, used through auto-impersonation."""
    return keyless_address("compound-v3", f"account/{seed}/{index}")




def revert_error(exc: DevnetRpcError) -> str | None:
    """The Comet custom error a reverted eth_call raised ("NotLiquidatable"), if its payload names one."""
    data = exc.data
    if isinstance(data, dict):  # some nodes wrap the payload
        data = data.get("data")
    if not isinstance(data, str) or len(data) < 10:
        return None
    return ERRORS.get(data[:10].lower())


@dataclass(frozen=True)
class TotalsBasic:
    """``totalsBasic()``: the STORED market state."""

    base_supply_index: int
    base_borrow_index: int
    tracking_supply_index: int
    tracking_borrow_index: int
    total_supply_base: int
    total_borrow_base: int
    last_accrual_time: int
    pause_flags: int


@dataclass(frozen=True)
class UserBasic:
    """``userBasic(account)``."""

    principal: int
    base_tracking_index: int
    base_tracking_accrued: int
    assets_in: int
    reserved: int


@dataclass(frozen=True)
class RateModel:
    """The per-second rate immutables of one Comet."""

    supply_kink: int
    supply_base: int
    supply_slope_low: int
    supply_slope_high: int
    borrow_kink: int
    borrow_base: int
    borrow_slope_low: int
    borrow_slope_high: int


_RATE_GETTERS = (
    "supplyKink", "supplyPerSecondInterestRateBase", "supplyPerSecondInterestRateSlopeLow",
    "supplyPerSecondInterestRateSlopeHigh", "borrowKink", "borrowPerSecondInterestRateBase",
    "borrowPerSecondInterestRateSlopeLow", "borrowPerSecondInterestRateSlopeHigh",
)  # fmt: skip


def read_totals_basic(rpc_url: str, comet: str, block: int | str = "latest") -> TotalsBasic:
    raw = JsonRpcClient(rpc_url).call(*eth_call(comet, encode_call("totalsBasic()"), block))
    return TotalsBasic(*(int(v) for v in decode(["(" + ",".join(TOTALS_BASIC_TYPES) + ")"], raw)[0]))


def read_user_basic(rpc_url: str, comet: str, account: str, block: int | str = "latest") -> UserBasic:
    raw = JsonRpcClient(rpc_url).call(*eth_call(comet, encode_call("userBasic(address)", account), block))
    return UserBasic(*(int(v) for v in decode(USER_BASIC_TYPES, raw)))


def read_rate_model(rpc_url: str, comet: str) -> RateModel:
    raws = JsonRpcClient(rpc_url).batch(eth_call(comet, encode_call(f"{g}()")) for g in _RATE_GETTERS)
    return RateModel(*(int(decode(["uint256"], raw)[0]) for raw in raws))


def read_asset_info(rpc_url: str, comet: str, offset: int, block: int | str = "latest") -> tuple[Any, ...]:
    """``getAssetInfo(offset)``: (offset, asset, priceFeed, scale, borrowCF, liquidateCF, liquidationFactor,
    supplyCap)."""
    raw = JsonRpcClient(rpc_url).call(*eth_call(comet, encode_call("getAssetInfo(uint8)", offset), block))
    return tuple(decode(["(" + ",".join(ASSET_INFO_TYPES) + ")"], raw)[0])


def collateral_balance(rpc_url: str, comet: str, account: str, asset: str, block: int | str = "latest") -> int:
    data = encode_call("collateralBalanceOf(address,address)", account, asset)
    return int(decode(["uint128"], JsonRpcClient(rpc_url).call(*eth_call(comet, data, block)))[0])


def get_price(rpc_url: str, comet: str, feed: str, block: int | str = "latest") -> int:
    """``getPrice(feed)`` as the Comet answers it (raises DevnetRpcError on BadPrice)."""
    raw = JsonRpcClient(rpc_url).call(*eth_call(comet, encode_call("getPrice(address)", feed), block))
    return int(decode(["uint256"], raw)[0])


def _bool_view(rpc_url: str, comet: str, signature: str, account: str, block: int | str) -> bool:
    raw = JsonRpcClient(rpc_url).call(*eth_call(comet, encode_call(signature, account), block))
    return bool(decode(["bool"], raw)[0])


def is_liquidatable(rpc_url: str, comet: str, account: str, block: int | str = "latest") -> bool:
    """The ``isLiquidatable`` view: the STORED borrow index, no accrual."""
    return _bool_view(rpc_url, comet, "isLiquidatable(address)", account, block)


def is_borrow_collateralized(rpc_url: str, comet: str, account: str, block: int | str = "latest") -> bool:
    return _bool_view(rpc_url, comet, "isBorrowCollateralized(address)", account, block)


def borrow_balance(rpc_url: str, comet: str, account: str, block: int | str = "latest") -> int:
    """``borrowBalanceOf``: the debt at the index accrued to the block's timestamp."""
    raw = JsonRpcClient(rpc_url).call(*eth_call(comet, encode_call("borrowBalanceOf(address)", account), block))
    return int(decode(["uint256"], raw)[0])


ABSORBER = keyless_address("compound-v3", "absorber")


def absorb_succeeds(rpc_url: str, comet: str, account: str, block: int | str = "latest") -> bool:
    """Whether ``absorb(absorber, [account])`` would go through, by an eth_call at ``block``.

    ``absorb`` accrues first (to the block's timestamp, as anvil runs a call at a past block), so this answers
    with the accrued index where the ``isLiquidatable`` view uses the stored one. False on ``NotLiquidatable``;
    any other revert (``BadPrice`` of a feed answering ≤ 0, …) raises :class:`DevnetError`.
    """
    data = encode_call("absorb(address,address[])", ABSORBER, [account])
    try:
        JsonRpcClient(rpc_url).call(*eth_call(comet, data, block, sender=ABSORBER))
    except DevnetRpcError as exc:
        if revert_error(exc) == "NotLiquidatable":
            return False
        raise DevnetError(f"absorb({account}) on {comet} reverted for another reason "
                          f"({revert_error(exc) or exc.rpc_message})") from exc  # fmt: skip
    return True


# --- Comet's accrual, mirrored (to plan exact borrows)


def _kink_rate(utilization: int, kink: int, base: int, low: int, high: int) -> int:
    """getSupplyRate / getBorrowRate (CometWithExtendedAssetList.sol): each product truncated on its own."""
    if utilization <= kink:
        return base + low * utilization // FACTOR_SCALE
    return base + low * kink // FACTOR_SCALE + high * (utilization - kink) // FACTOR_SCALE


def accrued_indices(totals: TotalsBasic, rates: RateModel, now: int) -> tuple[int, int]:
    """accruedInterestIndices(now - lastAccrualTime): (supply index, borrow index), from the stored state."""
    supply_index, borrow_index = totals.base_supply_index, totals.base_borrow_index
    elapsed = now - totals.last_accrual_time
    if elapsed > 0:
        supplied = totals.total_supply_base * supply_index // BASE_INDEX_SCALE
        borrowed = totals.total_borrow_base * borrow_index // BASE_INDEX_SCALE
        utilization = 0 if supplied == 0 else borrowed * FACTOR_SCALE // supplied
        supply_rate = _kink_rate(utilization, rates.supply_kink, rates.supply_base, rates.supply_slope_low,
                                 rates.supply_slope_high)  # fmt: skip
        borrow_rate = _kink_rate(utilization, rates.borrow_kink, rates.borrow_base, rates.borrow_slope_low,
                                 rates.borrow_slope_high)  # fmt: skip
        supply_index += supply_index * (supply_rate * elapsed) // FACTOR_SCALE
        borrow_index += borrow_index * (borrow_rate * elapsed) // FACTOR_SCALE
    return supply_index, borrow_index


def _weighted(units: int, price: int, decimals: int, factor: int) -> int:
    """mulFactor(mulPrice(units, price, scale), factor): one collateral's weight in price units."""
    return units * price // 10**decimals * factor // FACTOR_SCALE


def borrow_accepted(amount: int, weighted: int, base_price: int, base_scale: int, borrow_index: int,
                    base_borrow_min: int) -> bool:  # fmt: skip
    """Whether ``withdraw(base, amount)`` from an account without base balance passes withdrawBase's checks at
    ``borrow_index``: ``amount >= baseBorrowMin``, then isBorrowCollateralized with the principal rounded up
    (principalValueBorrow) and back down to a present value, priced with signedMulPrice (truncation toward 0)
    against ``weighted`` = the sum of the account's collateral weights (mulFactor(mulPrice(...), borrowCF))."""
    if amount < base_borrow_min:
        return False
    principal = (amount * BASE_INDEX_SCALE + borrow_index - 1) // borrow_index
    present = principal * borrow_index // BASE_INDEX_SCALE
    return weighted - present * base_price // base_scale >= 0


def max_borrow(weighted: int, base_price: int, base_scale: int, borrow_index: int, base_borrow_min: int) -> int:
    """The largest amount :func:`borrow_accepted` accepts (0 when even baseBorrowMin is refused)."""
    if not borrow_accepted(base_borrow_min, weighted, base_price, base_scale, borrow_index, base_borrow_min):
        return 0
    lo, hi = base_borrow_min, (weighted + 1) * base_scale // base_price + 1  # lo accepted, hi refused
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if borrow_accepted(mid, weighted, base_price, base_scale, borrow_index, base_borrow_min):
            lo = mid
        else:
            hi = mid
    return lo


# --- deployment


def deploy_compound_v3(rpc_url: str) -> dict[str, Any]:
    """Deploys the tokens, feeds and both Comets of :data:`MARKETS` from the node's first dev account, and has
    the lender supply each market's initial liquidity; returns the record (see the module docstring)."""
    rpc = JsonRpcClient(rpc_url)
    code = compile_compound_v3()
    feed_code = compile_dev_contracts()["DevPriceFeed"].bytecode
    plan = DeployPlan.from_node(rpc, deploy_gas=DEPLOY_GAS, call_gas=CALL_GAS)
    deployer = plan.deployer
    lender = keyless_address("compound-v3", "lender")

    tokens = {
        t.symbol: plan.create(f"DevToken {t.symbol}", compile_dev_contracts()["DevToken"].bytecode,
                              ("string", "string", "uint8"), (t.name, t.symbol, t.decimals))
        for t in TOKENS
    }  # fmt: skip
    feeds: dict[str, str] = {}
    for m in MARKETS:
        for symbol, price in [(m.base, m.base_price), *((a.symbol, a.price) for a in m.assets)]:
            constant = symbol == m.base and m.quote == "ETH"  # WETH in ETH: a feed that always answers 1e8
            description = f"{symbol} / {m.quote}" + (" (constant)" if constant else "")
            feeds[f"{m.name}/{symbol}"] = plan.create(
                f"DevPriceFeed {m.name}/{symbol}", feed_code, ("uint8", "string", "int256"),
                (PRICE_DECIMALS, description, price))
    comets: dict[str, str] = {}
    for m in MARKETS:
        configs = [
            (tokens[a.symbol], feeds[f"{m.name}/{a.symbol}"], _TOKEN[a.symbol].decimals, a.borrow_collateral_factor,
             a.liquidate_collateral_factor, a.liquidation_factor, a.supply_cap)
            for a in m.assets
        ]  # fmt: skip
        comet = comets[m.name] = plan.create(
            f"DevComet {m.name}", code["DevComet"].bytecode, ("address", "address", RATES_TYPE, "uint256",
                                                             ASSET_CONFIGS_TYPE),
            (tokens[m.base], feeds[f"{m.name}/{m.base}"], m.rates.as_tuple(), m.base_borrow_min, configs),
        )  # fmt: skip
        base = tokens[m.base]
        plan.call(f"{m.base}.mint for the {m.name} lender", base, "mint(address,uint256)", deployer, m.liquidity)
        plan.call(f"{m.base}.approve {m.name}", base, "approve(address,uint256)", comet, UINT256_MAX)
        plan.call(f"{m.name}.supplyTo the lender", comet, "supplyTo(address,address,uint256)", lender, base,
                  m.liquidity)  # fmt: skip

    with automine_paused(rpc):
        send_and_mine(rpc, plan.txs, "deploy Compound v3")
    block_number = int(rpc.call("eth_blockNumber"), 16)

    markets = {m.name: _read_market(rpc, m, comets[m.name], tokens, feeds) for m in MARKETS}
    log.info("compound_v3 devnet deployed at block %d (%s; %d transactions)", block_number,
             ", ".join(f"{name} {c}" for name, c in comets.items()), len(plan.txs))  # fmt: skip
    return {
        "deployer": deployer,
        "lender": lender,
        "block_number": block_number,
        "contracts": {PREFIX + name: comet for name, comet in comets.items()},
        "tokens": tokens,
        "markets": markets,
        "feeds": feeds,
    }


def _read_market(rpc: JsonRpcClient, m: MarketSpec, comet: str, tokens: dict[str, str],
                 feeds: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """Confirms what the Comet at ``comet`` says about itself, and builds its record from its answers."""
    calls = [eth_call(comet, encode_call(f"{g}()")) for g in
             ("baseToken", "baseTokenPriceFeed", "baseScale", "baseBorrowMin", "numAssets")]  # fmt: skip
    calls += [eth_call(comet, encode_call("getAssetInfo(uint8)", i)) for i in range(len(m.assets))]
    base_token, base_feed, base_scale, borrow_min, count, *infos = rpc.batch(calls)
    base_token = to_checksum_address(decode(["address"], base_token)[0])
    base_feed = to_checksum_address(decode(["address"], base_feed)[0])
    if (base_token, base_feed) != (tokens[m.base], feeds[f"{m.name}/{m.base}"]):
        raise DevnetError(f"{m.name}: the Comet at {comet} reports base {base_token} / feed {base_feed}")
    if int(decode(["uint8"], count)[0]) != len(m.assets):
        raise DevnetError(f"{m.name}: the Comet at {comet} lists {int(decode(['uint8'], count)[0])} assets")
    assets = []
    for spec, raw in zip(m.assets, infos, strict=True):
        offset, asset, feed, scale, borrow_cf, liquidate_cf, liquidation_f, cap = decode(
            ["(" + ",".join(ASSET_INFO_TYPES) + ")"], raw)[0]
        if to_checksum_address(asset) != tokens[spec.symbol]:
            raise DevnetError(f"{m.name}: asset {offset} is {asset}, expected {spec.symbol} {tokens[spec.symbol]}")
        assets.append({
            "symbol": spec.symbol, "address": tokens[spec.symbol], "decimals": _TOKEN[spec.symbol].decimals,
            "feed": to_checksum_address(feed), "offset": int(offset), "price": spec.price,
            "borrow_collateral_factor": int(borrow_cf), "liquidate_collateral_factor": int(liquidate_cf),
            "liquidation_factor": int(liquidation_f), "supply_cap": int(cap), "scale": int(scale),
        })  # fmt: skip
    return {
        "comet": comet,
        "quote": m.quote,
        "base_borrow_min": int(decode(["uint256"], borrow_min)[0]),
        "base_scale": int(decode(["uint256"], base_scale)[0]),
        "base": {"symbol": m.base, "address": tokens[m.base], "decimals": _TOKEN[m.base].decimals,
                 "feed": base_feed, "price": m.base_price},  # fmt: skip
        "assets": assets,
    }


# --- chain control


def compound_record(deployment: Deployment) -> dict[str, Any]:
    """What :func:`deploy_compound_v3` recorded on this devnet."""
    try:
        return deployment.protocols[KIND]
    except KeyError:
        raise KeyError(f"this devnet has no Compound v3 markets (protocols: {sorted(deployment.protocols)})") from None


def _market(record: dict[str, Any], market: str) -> dict[str, Any]:
    try:
        return dict(record["markets"][market])
    except KeyError:
        raise KeyError(f"no Compound v3 market {market!r} (markets: {sorted(record['markets'])})") from None


def feed_address(record: dict[str, Any], market: str, symbol: str) -> str:
    """The DevPriceFeed the ``market``'s Comet reads for ``symbol`` (its base or a collateral)."""
    key = f"{market}/{symbol}"
    if key not in record["feeds"]:
        raise KeyError(f"no Compound v3 feed {key!r} (feeds: {sorted(record['feeds'])})")
    return str(record["feeds"][key])


def feed_answer(rpc_url: str, record: dict[str, Any], market: str, symbol: str, block: int | str = "latest") -> int:
    """The ``latestRoundData`` answer of ``market``'s feed for ``symbol`` (raw, 8 decimals)."""
    raw = JsonRpcClient(rpc_url).call(*eth_call(feed_address(record, market, symbol),
                                                 encode_call("latestRoundData()"), block))  # fmt: skip
    return int(decode(["uint80", "int256", "uint256", "uint256", "uint80"], raw)[1])


def set_feed_price(rpc_url: str, record: dict[str, Any], market: str, symbol: str, answer: int) -> None:
    """Starts the next round of ``market``'s feed for ``symbol`` with ``answer`` (raw, 8 decimals; 0 or a
    negative number too, which Comet's getPrice refuses with BadPrice), stamped now; one mined transaction."""
    transact(JsonRpcClient(rpc_url), f"setAnswer {market}/{symbol}", record["deployer"],
             feed_address(record, market, symbol), encode_call("setAnswer(int256)", answer))  # fmt: skip


def set_feed_round(rpc_url: str, record: dict[str, Any], market: str, symbol: str, round_id: int, answer: int,
                   started_at: int, updated_at: int) -> None:  # fmt: skip
    """Writes an arbitrary round and makes it the feed's latest (ids may go backwards, any answer, any time)."""
    data = encode_call("setRoundData(uint80,int256,uint256,uint256)", round_id, answer, started_at, updated_at)
    transact(JsonRpcClient(rpc_url), f"setRoundData {market}/{symbol}", record["deployer"],
             feed_address(record, market, symbol), data)  # fmt: skip


def _receipt(rpc: JsonRpcClient, tx_hash: str) -> dict[str, Any]:
    receipt: dict[str, Any] = rpc.call("eth_getTransactionReceipt", [tx_hash])
    return receipt


def accrue(rpc_url: str, record: dict[str, Any], market: str, account: str | None = None) -> int:
    """``accrueAccount(account)`` (default: the deployer) on ``market``'s Comet, which stores the indices accrued
    to that block's timestamp; returns the block number."""
    rpc = JsonRpcClient(rpc_url)
    comet = _market(record, market)["comet"]
    tx_hash = transact(rpc, f"accrueAccount on {market}", record["deployer"], comet,
                       encode_call("accrueAccount(address)", account or record["deployer"]))  # fmt: skip
    return int(_receipt(rpc, tx_hash)["blockNumber"], 16)


def absorb(rpc_url: str, record: dict[str, Any], market: str, accounts: Sequence[str],
           absorber: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Sends ``absorb(absorber, accounts)`` (absorber: the deployer by default) from the deployer; returns the
    receipt (its logs hold AbsorbCollateral and AbsorbDebt). Raises TransactionFailedError when it reverts."""
    rpc = JsonRpcClient(rpc_url)
    comet = _market(record, market)["comet"]
    data = encode_call("absorb(address,address[])", absorber or record["deployer"], list(accounts))
    return _receipt(rpc, transact(rpc, f"absorb on {market}", record["deployer"], comet, data, gas=5_000_000))


# --- seeding

KINDS = ("single", "multi", "edge", "min_borrow", "supplier", "collateral_only", "wbtc", "eth")
# position i goes to market _MARKET_CYCLE[i % 3]; within a market, kinds follow its cycle
_MARKET_CYCLE = ("cUSDCv3", "cUSDCv3", "cWETHv3")
_KIND_CYCLE = {
    "cUSDCv3": ("single", "multi", "edge", "wbtc", "min_borrow", "supplier", "single", "collateral_only", "multi",
                "edge"),
    "cWETHv3": ("eth", "edge", "multi", "min_borrow", "eth", "supplier", "collateral_only"),
}  # fmt: skip
_BORROW_SHARE = (0.5, 0.95)  # of the borrowing power, for single / multi / wbtc / eth
TARGET_UTILIZATION = 0.6  # seeding tops the lender's supply up so that utilisation stays at most about this
EDGE_CHUNK = 1_000  # edge borrows per block: each block's index is computed before it is mined


@dataclass
class SeededComet:
    """A seeded position. ``borrowed``: base units withdrawn as a borrow; ``supplied``: base units supplied;
    ``block``: the block of the borrow where known (always for ``edge``: the index it was computed at)."""

    account: str
    market: str
    comet: str
    kind: str
    collateral: dict[str, int] = field(default_factory=dict)  # symbol -> token units
    supplied: int = 0
    borrowed: int = 0
    block: int | None = None


def _read_prices(rpc: JsonRpcClient, record: dict[str, Any]) -> dict[str, int]:
    """Every feed's current answer, by "<market>/<symbol>"."""
    keys = sorted(record["feeds"])
    raws = rpc.batch(eth_call(record["feeds"][k], encode_call("latestRoundData()")) for k in keys)
    return {k: int(decode(["uint80", "int256", "uint256", "uint256", "uint80"], raw)[1])
            for k, raw in zip(keys, raws, strict=True)}  # fmt: skip


class _Planner:
    def __init__(self, record: dict[str, Any], prices: dict[str, int], borrow_indices: dict[str, int],
                 seed: int) -> None:  # fmt: skip
        self.record = record
        self.prices = prices
        self.borrow_indices = borrow_indices
        self.seed = seed
        self.rank = {name: 0 for name in _MARKET_CYCLE}

    def plan(self, index: int) -> SeededComet:
        name = _MARKET_CYCLE[index % len(_MARKET_CYCLE)]
        market = self.record["markets"][name]
        j = self.rank[name]
        self.rank[name] += 1
        kind = _KIND_CYCLE[name][j % len(_KIND_CYCLE[name])]
        rng = random.Random(f"indexer-devnet/compound-v3/{self.seed}/{index}")
        p = SeededComet(account_address(self.seed, index), name, market["comet"], kind)
        assets = market["assets"]
        low, high = _MARKET[name].position_value
        value = math.exp(rng.uniform(math.log(low), math.log(high)))  # whole base tokens
        if kind == "supplier":
            p.supplied = self._base_units(market, value)
            return p
        if kind in ("single", "eth"):
            pool = [a for a in assets if a["symbol"] != "WBTC"]
            chosen = [pool[j % len(pool)]]
        elif kind == "wbtc":
            chosen = [a for a in assets if a["symbol"] == "WBTC"]
        elif kind == "multi":
            chosen = rng.sample(assets, min(len(assets), 2 + j % 3))
        elif kind == "edge":
            first = assets[(j // 2) % len(assets)]
            chosen = [first] if j % 3 != 1 else [first, assets[(j // 2 + 1) % len(assets)]]
        elif kind == "min_borrow":
            chosen = [assets[j % len(assets)]]
            value = self._tokens(market, market["base_borrow_min"]) * rng.uniform(3, 10)
        else:  # collateral_only
            chosen = rng.sample(assets, 1 + j % 2)
        shares = [rng.uniform(0.3, 1.0) for _ in chosen]
        for asset, share in zip(sorted(chosen, key=lambda a: a["offset"]), shares, strict=True):
            p.collateral[asset["symbol"]] = self._collateral_units(name, market, asset, value * share / sum(shares))
        if kind in ("single", "multi", "wbtc", "eth"):
            power = self.weighted(name, market, p.collateral) * market["base_scale"] // self._base_price(name, market)
            p.borrowed = int(power * rng.uniform(*_BORROW_SHARE))
        elif kind == "min_borrow":
            # a present value whose rounded-up principal still lands just above baseBorrowMin at today's index
            target = market["base_borrow_min"] + rng.randint(10, 1_000) * 10 ** max(market["base"]["decimals"] - 6, 0)
            p.borrowed = -(-target * self.borrow_indices[name] // BASE_INDEX_SCALE)
        if p.borrowed and p.borrowed < market["base_borrow_min"]:
            raise DevnetError(f"position {index} ({kind} on {name}) plans a borrow below baseBorrowMin")
        return p

    def _base_price(self, name: str, market: dict[str, Any]) -> int:
        return self.prices[f"{name}/{market['base']['symbol']}"]

    def _base_units(self, market: dict[str, Any], tokens: float) -> int:
        return int(Decimal(repr(tokens)) * market["base_scale"])

    def _tokens(self, market: dict[str, Any], units: int) -> float:
        return float(units) / market["base_scale"]

    def _collateral_units(self, name: str, market: dict[str, Any], asset: dict[str, Any], base_tokens: float) -> int:
        """Collateral worth ``base_tokens`` of the base at the market's current prices."""
        value = int(Decimal(repr(base_tokens)) * self._base_price(name, market))  # price units
        return max(value * 10 ** asset["decimals"] // self.prices[f"{name}/{asset['symbol']}"], 1)

    def weighted(self, name: str, market: dict[str, Any], collateral: dict[str, int]) -> int:
        """Sum of mulFactor(mulPrice(balance, price, scale), borrowCF) over the account's collaterals."""
        by_symbol = {a["symbol"]: a for a in market["assets"]}
        return sum(_weighted(units, self.prices[f"{name}/{s}"], by_symbol[s]["decimals"],
                             by_symbol[s]["borrow_collateral_factor"]) for s, units in collateral.items())  # fmt: skip


def plan_positions(record: dict[str, Any], n: int, *, seed: int = 0, prices: dict[str, int] | None = None,
                   borrow_indices: dict[str, int] | None = None) -> list[SeededComet]:  # fmt: skip
    """The positions :func:`seed_positions` would open (edge borrows left at 0: they are computed when sent).
    ``prices`` ("<market>/<symbol>" -> answer) default to the initial ones, ``borrow_indices`` (market -> index)
    to BASE_INDEX_SCALE."""
    if prices is None:
        prices = {}
        for name, market in record["markets"].items():
            prices[f"{name}/{market['base']['symbol']}"] = market["base"]["price"]
            prices.update({f"{name}/{a['symbol']}": a["price"] for a in market["assets"]})
    indices = borrow_indices or dict.fromkeys(record["markets"], BASE_INDEX_SCALE)
    planner = _Planner(record, prices, indices, seed)
    return [planner.plan(i) for i in range(n)]


def _latest_timestamp(rpc: JsonRpcClient) -> int:
    return int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


def seed_positions(rpc_url: str, record: dict[str, Any], n: int, *, seed: int = 0) -> list[SeededComet]:
    """Opens ``n`` deterministic positions across both Comets (:func:`plan_positions` at the current prices).

    Phases, each one batch with automine off: every account mints, approves and supplies its collateral (or its
    base, for a supplier) while the deployer tops the lender's supply up; then the borrows; then the ``edge``
    borrows, in blocks whose timestamp is set beforehand so that the borrow index they run at is computed
    exactly (:func:`accrued_indices`) and each borrows :func:`max_borrow`, the largest amount the Comet accepts.
    Raises :class:`~indexer.devnet.errors.TransactionFailedError` naming the phase and step if anything fails.
    """
    rpc = JsonRpcClient(rpc_url)
    markets = record["markets"]
    prices = _read_prices(rpc, record)
    totals = {name: read_totals_basic(rpc_url, m["comet"]) for name, m in markets.items()}
    rates = {name: read_rate_model(rpc_url, m["comet"]) for name, m in markets.items()}
    now = _latest_timestamp(rpc)
    indices = {name: accrued_indices(totals[name], rates[name], now)[1] for name in markets}
    planned = plan_positions(record, n, seed=seed, prices=prices, borrow_indices=indices)
    planner = _Planner(record, prices, indices, seed)
    deployer = record["deployer"]

    rpc.batch(call for p in planned for call in (("anvil_setBalance", [p.account, ETH_FUNDING]),
                                                  ("anvil_impersonateAccount", [p.account])))  # fmt: skip
    nonces = NonceBook(rpc)
    nonces.prefetch([deployer, *(p.account for p in planned)])

    def tx(step: str, sender: str, to: str, data: str, expect: tuple[str, str]) -> Tx:
        return Tx(step, sender, to, data, CALL_GAS, nonces.take(sender), 0, expect)

    fund: list[Tx] = []
    for name, market in markets.items():  # the lender's top-up: borrows (edge ones at full power) ≤ 60 % of supply
        ours = [p for p in planned if p.market == name]
        base_price = prices[f"{name}/{market['base']['symbol']}"]
        wanted = sum(p.borrowed for p in ours) + sum(
            planner.weighted(name, market, p.collateral) * market["base_scale"] // base_price
            for p in ours if p.kind == "edge")  # fmt: skip
        t = totals[name]
        supplied = t.total_supply_base * t.base_supply_index // BASE_INDEX_SCALE
        borrowed = t.total_borrow_base * t.base_borrow_index // BASE_INDEX_SCALE
        top_up = math.ceil((borrowed + wanted) / TARGET_UTILIZATION) - supplied - sum(p.supplied for p in ours)
        if wanted and top_up > 0:
            base, comet = market["base"]["address"], market["comet"]
            fund.append(tx(f"mint {top_up} for the {name} lender", deployer, base,
                           encode_call("mint(address,uint256)", deployer, top_up), (base, TRANSFER)))  # fmt: skip
            fund.append(tx(f"supplyTo the {name} lender", deployer, comet,
                           encode_call("supplyTo(address,address,uint256)", record["lender"], base, top_up),
                           (comet, SUPPLY)))  # fmt: skip
    for p in planned:
        market = markets[p.market]
        address = {a["symbol"]: a["address"] for a in market["assets"]}
        legs = [(s, address[s], units, SUPPLY_COLLATERAL) for s, units in p.collateral.items()]
        if p.supplied:
            legs.append((market["base"]["symbol"], market["base"]["address"], p.supplied, SUPPLY))
        for symbol, token, units, event in legs:
            who = f"{symbol} by {p.account} on {p.market}"
            fund += [
                tx(f"mint {who}", p.account, token, encode_call("mint(address,uint256)", p.account, units),
                   (token, TRANSFER)),
                tx(f"approve {who}", p.account, token, encode_call("approve(address,uint256)", p.comet, UINT256_MAX),
                   (token, APPROVAL)),
                tx(f"supply {who}", p.account, p.comet, encode_call("supply(address,uint256)", token, units),
                   (p.comet, event)),
            ]  # fmt: skip
    borrowing = [p for p in planned if p.borrowed]
    borrows = [
        tx(f"borrow {p.borrowed} by {p.account} on {p.market}", p.account, p.comet,
           encode_call("withdraw(address,uint256)", markets[p.market]["base"]["address"], p.borrowed),
           (p.comet, WITHDRAW))
        for p in borrowing
    ]  # fmt: skip
    edges = [p for p in planned if p.kind == "edge"]
    sent = len(fund) + len(borrows)
    with automine_paused(rpc):
        send_and_mine(rpc, fund, "seed Compound v3 collateral and supply")
        head = int(rpc.call("eth_blockNumber"), 16)
        send_and_mine(rpc, borrows, "seed Compound v3 borrows")
        after = int(rpc.call("eth_blockNumber"), 16)
        for p in borrowing:
            p.block = after if after == head + 1 else None
        for start in range(0, len(edges), EDGE_CHUNK):
            sent += _send_edge_borrows(rpc_url, record, edges[start : start + EDGE_CHUNK], planner, nonces)
    log.info("compound_v3 seeded positions=%d transactions=%d", n, sent)
    return planned


def _send_edge_borrows(url: str, record: dict[str, Any], edges: list[SeededComet], planner: _Planner,
                       nonces: NonceBook) -> int:  # fmt: skip
    """One block of edge borrows: its timestamp fixed first, each amount the largest the Comet accepts at the
    borrow index that block's first transaction accrues to."""
    rpc = JsonRpcClient(url)
    markets = record["markets"]
    timestamp = _latest_timestamp(rpc) + 1
    index = {}
    for name in {p.market for p in edges}:
        totals = read_totals_basic(url, markets[name]["comet"])
        index[name] = accrued_indices(totals, read_rate_model(url, markets[name]["comet"]), timestamp)[1]
    txs = []
    for p in edges:
        market = markets[p.market]
        base_price = planner.prices[f"{p.market}/{market['base']['symbol']}"]
        p.borrowed = max_borrow(planner.weighted(p.market, market, p.collateral), base_price, market["base_scale"],
                                index[p.market], market["base_borrow_min"])  # fmt: skip
        if not p.borrowed:
            raise DevnetError(f"edge position {p.account} on {p.market} cannot borrow even baseBorrowMin")
        txs.append(Tx(f"edge borrow {p.borrowed} by {p.account} on {p.market}", p.account, p.comet,
                      encode_call("withdraw(address,uint256)", market["base"]["address"], p.borrowed), CALL_GAS,
                      nonces.take(p.account), 0, (p.comet, WITHDRAW)))  # fmt: skip
    head = int(rpc.call("eth_blockNumber"), 16)
    rpc.call("evm_setNextBlockTimestamp", [timestamp])
    send_and_mine(rpc, txs, "seed Compound v3 edge borrows")
    block = int(rpc.call("eth_blockNumber"), 16)
    if block != head + 1:
        raise DevnetError(f"edge borrows spread over blocks {head + 1}..{block}, not one")
    for p in edges:
        p.block = block
    return len(txs)


def seed_accounts(positions: Iterable[SeededComet]) -> list[tuple[str, str]]:
    return [(p.account, p.kind) for p in positions]


# -- what `indexer devnet up` and the demo call (indexer.protocols.base.DevnetModule) ---------------------------
def deploy_devnet(rpc_url: str) -> dict[str, Any]:
    """Both Comets, as a record for the devnet deployment file: ``contracts`` names ``CompoundV3.cUSDCv3`` and
    ``CompoundV3.cWETHv3``, so a config can say ``address = "devnet:CompoundV3.cUSDCv3"``."""
    return deploy_compound_v3(rpc_url)


def seed_devnet(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    return seed_accounts(seed_positions(rpc_url, compound_record(deployment), count))
