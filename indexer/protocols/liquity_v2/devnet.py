"""A Liquity v2 devnet: two collateral branches of a stand-in of our own behind Liquity v2's external ABI
(``contracts/``) — WETH (MCR 110 %, CCR 150 %, SCR 110 %) and wstETH (MCR 120 %, CCR 160 %, SCR 120 %), the values of
liquity/bold ``contracts/src/Dependencies/Constants.sol`` — with their Chainlink feeds (DevPriceFeeds, 8 decimals:
ETH / USD 2,500 shared by both branches as on mainnet, STETH / USD 2,497), the wstETH rate provider (1.2 stETH per
wstETH), BOLD, and seeded troves.

No package ships Liquity v2's bytecode, so ``contracts/`` implements its external views, liquidation entry point,
price feeds and math; what is left out is listed in each contract's header (the sorted list and hints, redemptions,
batch managers, the upfront fee, gas compensation in WETH, per-depositor Stability Pool accounting). Compiled with
the npm ``solc`` (0.8.x), cached under ``.build/liquity-v2/``.

Everything goes out as JSON-RPC batches with automine off (``indexer.devnet.txbatch``): the deployment from the
node's first dev account (every address predicted from its nonce, so each branch's AddressesRegistry is filled
before the contracts that read it in their constructors exist), each trove from a keyless owner through anvil's
impersonation. Seeding moves only this devnet's own feeds and never the chain clock (other protocols may share the
node): the interest accrued is what a few blocks give; a test that wants months calls :func:`elapse`. Typical use::

    with Anvil() as node:
        record = deploy_devnet(node.url)
        deployment = LiquityV2Deployment.from_dict(record)
        troves = seed_troves(node.url, deployment, 60)
        elapse(node.url, deployment, 90 * 86_400)
        set_prices(node.url, deployment, eth_usd=1_900 * 10**8)
        liquidation_succeeds(node.url, deployment, "WETH", [troves[0].trove_id])
"""

from __future__ import annotations

import functools
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from indexer.devnet.abi import create_address, decode, encode_args, encode_call, selector
from indexer.devnet.calls import call_uints, eth_call, event_topic, keyless_address
from indexer.devnet.compile import CompiledContract, compile_stand_in
from indexer.devnet.deployment import Deployment, DeployPlan
from indexer.devnet.errors import DevnetError, DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, automine_paused, mine_txs, send_and_mine, transact
from indexer.protocols.liquity_v2 import rules

log = logging.getLogger(__name__)

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
_DEPLOYED = ("AddressesRegistry", "TroveManager", "BorrowerOperations", "TroveNFT", "ActivePool", "DefaultPool",
             "StabilityPool", "WETHPriceFeed", "WSTETHPriceFeed", "DevStEthRate", "CollateralRegistry")
NAMESPACE = "liquity-v2"

FEED_DECIMALS = 8
ETH_USD = 2_500 * 10**FEED_DECIMALS
STETH_USD = 2_497 * 10**FEED_DECIMALS
STETH_PER_WSTETH = 12 * 10**17  # 1.2
STALENESS = 86_400  # both oracles' staleness threshold (seconds)
# troves opened before the redistribution are opened at these higher answers; then the price returns
OPENING_ETH_USD = 3_000 * 10**FEED_DECIMALS
OPENING_STETH_USD = 2_997 * 10**FEED_DECIMALS

DEPLOY_GAS = 15_000_000
CALL_GAS = 3_000_000
WHALE_DEBT = 2_000_000 * 10**18
WHALE_ICR = 4 * 10**18
EARLY_SP_DEPOSIT = 1_000 * 10**18  # in each branch's pool when the victims are liquidated: most is redistributed
SP_DEPOSIT = 100_000 * 10**18  # added afterwards
VICTIM_DEBT = (20_000 * 10**18, 25_000 * 10**18)

WETH, WSTETH = "WETH", "wstETH"
KINDS = ("whale", "early", "adjusted", "fresh", "liquidated")
OWNER_KINDS = ("whale", "multi", "single", "liquidated")

TRANSFER = event_topic("Transfer(address,address,uint256)")
APPROVAL = event_topic("Approval(address,address,uint256)")
ANSWER_UPDATED = event_topic("AnswerUpdated(int256,uint256,uint256)")
TROVE_OPERATION = event_topic("TroveOperation(uint256,uint8,uint256,uint256,uint256,int256,uint256,int256)")
LIQUIDATION = event_topic("Liquidation(uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,"
                          "uint256)")
DEPOSIT_UPDATED = event_topic("DepositUpdated(address,uint256)")
NOTHING_TO_LIQUIDATE = selector("NothingToLiquidate()")
ONLY_ONE_TROVE_LEFT = selector("OnlyOneTroveLeft()")
MAX_UINT = 2**256 - 1


@dataclass(frozen=True)
class BranchParams:
    """A branch's risk constants (AddressesRegistry's constructor arguments), Constants.sol's for WETH and LSTs."""

    ccr: int
    mcr: int
    bcr: int
    scr: int
    penalty_sp: int
    penalty_redistribution: int


PARAMS = {
    WETH: BranchParams(rules.CCR_WETH, rules.MCR_WETH, 10 * rules.PCT, rules.SCR_WETH, 5 * rules.PCT, 10 * rules.PCT),
    WSTETH: BranchParams(rules.CCR_SETH, rules.MCR_SETH, 10 * rules.PCT, rules.SCR_SETH, 5 * rules.PCT,
                         20 * rules.PCT),
}


@dataclass
class BranchDeployment:
    """One branch's contracts (checksummed addresses) and constants."""

    name: str
    registry: str
    trove_manager: str
    borrower_operations: str
    trove_nft: str
    price_feed: str
    active_pool: str
    default_pool: str
    stability_pool: str
    coll_token: str
    mcr: int
    ccr: int
    scr: int
    rate_provider: str | None = None


@dataclass
class LiquityV2Deployment:
    """Where the devnet's Liquity v2 lives. ``eth_usd_feed`` and ``steth_usd_feed`` are the DevPriceFeeds the
    branches' price feeds read; ``liquidator`` is the keyless address liquidations are sent (or eth_call'ed) from."""

    rpc_url: str
    chain_id: int
    deployer: str
    block_number: int
    bold_token: str
    collateral_registry: str
    eth_usd_feed: str
    steth_usd_feed: str
    liquidator: str
    branches: dict[str, BranchDeployment] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiquityV2Deployment:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["branches"] = {name: b if isinstance(b, BranchDeployment) else BranchDeployment(**b)
                              for name, b in data.get("branches", {}).items()}
        return cls(**values)

    def branch(self, name: str) -> BranchDeployment:
        return self.branches[name]

    def contracts(self) -> dict[str, str]:
        out = {"LiquityV2.BOLD": self.bold_token, "LiquityV2.CollateralRegistry": self.collateral_registry,
               "LiquityV2.ETHUSDFeed": self.eth_usd_feed, "LiquityV2.STETHUSDFeed": self.steth_usd_feed}
        for name, b in self.branches.items():
            parts = {"TroveManager": b.trove_manager, "AddressesRegistry": b.registry,
                     "BorrowerOperations": b.borrower_operations, "TroveNFT": b.trove_nft, "PriceFeed": b.price_feed,
                     "ActivePool": b.active_pool, "DefaultPool": b.default_pool, "StabilityPool": b.stability_pool,
                     "Collateral": b.coll_token}
            out.update({f"LiquityV2.{name}.{part}": address for part, address in parts.items()})
            if b.rate_provider:
                out[f"LiquityV2.{name}.RateProvider"] = b.rate_provider
        return out


@dataclass(frozen=True)
class SeededTrove:
    """A seeded trove: its owner, branch, id, what kind (``KINDS``), the owner's kind (``OWNER_KINDS``), and what it
    was opened with (collateral, BOLD drawn = its recorded debt, annual rate)."""

    owner: str
    branch: str
    trove_id: int
    kind: str
    owner_kind: str
    coll: int
    debt: int
    rate: int


# --- compiling


@functools.cache
def compile_liquity_v2() -> dict[str, CompiledContract]:
    """The stand-in's contracts and the devnet's shared ones (DevPriceFeed, DevToken), by name."""
    return compile_stand_in(CONTRACTS_DIR, cache_name="liquity-v2", deployed=_DEPLOYED)


# --- addresses and ids


def owner_address(seed: int, index: int) -> str:
    """Seeded owner ``index`` of ``seed``: a keyless address, used through impersonation."""
    return keyless_address(NAMESPACE, f"owner/{seed}/{index}")


def trove_id_of(sender: str, owner: str, owner_index: int) -> int:
    """BorrowerOperations.openTrove: ``uint256(keccak256(abi.encode(msg.sender, _owner, _ownerIndex)))``."""
    return int.from_bytes(keccak(bytes.fromhex(encode_args(("address", "address", "uint256"),
                                                           (sender, owner, owner_index)))), "big")



# --- deployment


def deploy_liquity_v2(rpc_url: str) -> LiquityV2Deployment:
    """Deploys the feeds, tokens and both branches from the node's first dev account in one batch."""
    rpc = JsonRpcClient(rpc_url)
    code = compile_liquity_v2()
    chain_id_hex = rpc.call("eth_chainId")
    plan = DeployPlan.from_node(rpc, deploy_gas=DEPLOY_GAS, call_gas=CALL_GAS)
    deployer = plan.deployer
    feed_types = ("uint8", "string", "int256")
    eth_usd = plan.create("DevPriceFeed ETH / USD", code["DevPriceFeed"].bytecode, feed_types,
                          (FEED_DECIMALS, "ETH / USD", ETH_USD))
    steth_usd = plan.create("DevPriceFeed STETH / USD", code["DevPriceFeed"].bytecode, feed_types,
                            (FEED_DECIMALS, "STETH / USD", STETH_USD))
    token_types = ("string", "string", "uint8")
    bold = plan.create("BOLD", code["DevToken"].bytecode, token_types, ("BOLD Stablecoin", "BOLD", 18))
    weth = plan.create("WETH", code["DevToken"].bytecode, token_types, ("Wrapped Ether", "WETH", 18))
    wsteth = plan.create("wstETH", code["DevToken"].bytecode, token_types, ("Wrapped liquid staked Ether 2.0",
                                                                            "wstETH", 18))
    rate = plan.create("DevStEthRate", code["DevStEthRate"].bytecode, ("uint256",), (STETH_PER_WSTETH,))
    per_branch = 9  # AddressesRegistry, its setAddresses, then seven contracts
    collateral_registry = create_address(deployer, plan.nonce + 2 * per_branch)
    branches = {}
    for name, coll in ((WETH, weth), (WSTETH, wsteth)):
        branches[name] = _plan_branch(plan, code, name, coll, bold, collateral_registry, eth_usd, steth_usd, rate)
    made = plan.create("CollateralRegistry", code["CollateralRegistry"].bytecode,
                       ("address", "address[]", "address[]"),
                       (bold, [weth, wsteth], [b.trove_manager for b in branches.values()]))
    if made != collateral_registry:
        raise DevnetError(f"CollateralRegistry deployed at {made}, predicted {collateral_registry}")
    with automine_paused(rpc):
        hashes = send_and_mine(rpc, plan.txs, "deploy Liquity v2")
    block_number = int(rpc.call("eth_getTransactionReceipt", [hashes[-1]])["blockNumber"], 16)
    deployment = LiquityV2Deployment(
        rpc_url=rpc_url, chain_id=int(chain_id_hex, 16), deployer=deployer, block_number=block_number,
        bold_token=bold, collateral_registry=collateral_registry, eth_usd_feed=eth_usd, steth_usd_feed=steth_usd,
        liquidator=keyless_address(NAMESPACE, "liquidator"), branches=branches)
    prices = call_uints(rpc, [eth_call(b.price_feed, encode_call("lastGoodPrice()")) for b in branches.values()])
    expected = [rules.scale_to_18(ETH_USD, FEED_DECIMALS),
                rules.scale_to_18(STETH_USD, FEED_DECIMALS) * STETH_PER_WSTETH // rules.DECIMAL_PRECISION]
    if [p for (p,) in prices] != expected:
        raise DevnetError(f"the branches' price feeds start at {prices}, expected {expected}")
    log.info("Liquity v2 devnet deployed block=%d weth_trove_manager=%s wsteth_trove_manager=%s", block_number,
             branches[WETH].trove_manager, branches[WSTETH].trove_manager)
    return deployment


def _plan_branch(plan: DeployPlan, code: dict[str, CompiledContract], name: str, coll: str, bold: str,
                 collateral_registry: str, eth_usd: str, steth_usd: str, rate: str) -> BranchDeployment:
    """A branch's nine transactions: its AddressesRegistry, filled with the addresses of the seven contracts that
    follow (predicted from the deployer's nonce), then those contracts, each reading the registry when built."""
    p = PARAMS[name]
    registry = plan.create(f"{name} AddressesRegistry", code["AddressesRegistry"].bytecode, ("uint256",) * 6,
                           (p.ccr, p.mcr, p.bcr, p.scr, p.penalty_sp, p.penalty_redistribution))
    ap, dp, sp, nft, tm, bo, pf = (create_address(plan.deployer, plan.nonce + k) for k in range(1, 8))
    plan.call(f"{name} AddressesRegistry.setAddresses", registry, "setAddresses(" + ",".join(["address"] * 10) + ")",
              coll, bo, tm, nft, sp, pf, ap, dp, bold, collateral_registry)
    one = ("address",)
    made = [plan.create(f"{name} ActivePool", code["ActivePool"].bytecode, one, (registry,)),
            plan.create(f"{name} DefaultPool", code["DefaultPool"].bytecode, one, (registry,)),
            plan.create(f"{name} StabilityPool", code["StabilityPool"].bytecode, one, (registry,)),
            plan.create(f"{name} TroveNFT", code["TroveNFT"].bytecode, ("address", "string", "string"),
                        (registry, f"Liquity V2 - {name}", f"LV2_{name}")),
            plan.create(f"{name} TroveManager", code["TroveManager"].bytecode, one, (registry,)),
            plan.create(f"{name} BorrowerOperations", code["BorrowerOperations"].bytecode, one, (registry,))]
    if name == WETH:
        made.append(plan.create(f"{name} WETHPriceFeed", code["WETHPriceFeed"].bytecode,
                                ("address", "uint256", "address"), (eth_usd, STALENESS, bo)))
    else:
        made.append(plan.create(f"{name} WSTETHPriceFeed", code["WSTETHPriceFeed"].bytecode,
                                ("address", "address", "address", "uint256", "uint256", "address"),
                                (eth_usd, steth_usd, rate, STALENESS, STALENESS, bo)))
    if made != [ap, dp, sp, nft, tm, bo, pf]:
        raise DevnetError(f"{name} branch: deployed addresses differ from the predicted ones")
    return BranchDeployment(name=name, registry=registry, trove_manager=tm, borrower_operations=bo, trove_nft=nft,
                            price_feed=pf, active_pool=ap, default_pool=dp, stability_pool=sp, coll_token=coll,
                            mcr=p.mcr, ccr=p.ccr, scr=p.scr, rate_provider=rate if name == WSTETH else None)


# --- chain control



def _feed_txs(d: LiquityV2Deployment, nonces: NonceBook, eth_usd: int | None, steth_usd: int | None) -> list[Tx]:
    txs = []
    for feed, answer in ((d.eth_usd_feed, eth_usd), (d.steth_usd_feed, steth_usd)):
        if answer is not None:
            txs.append(Tx(f"feed {feed} answer {answer}", d.deployer, feed, encode_call("setAnswer(int256)", answer),
                          CALL_GAS, nonces.take(d.deployer), 0, (feed, ANSWER_UPDATED)))
    return txs


def set_prices(rpc_url: str, d: LiquityV2Deployment, *, eth_usd: int | None = None,
               steth_usd: int | None = None) -> int:
    """A new round of the ETH / USD and/or STETH / USD feed (in the feed's decimals); returns the block. Nothing
    calls fetchPrice: ``lastGoodPrice`` moves at the next trove operation or liquidation."""
    rpc = JsonRpcClient(rpc_url)
    return mine_txs(rpc, _feed_txs(d, NonceBook(rpc), eth_usd, steth_usd), "set the Liquity v2 prices")


def feed_answers(rpc_url: str, d: LiquityV2Deployment, *, block: int | str = "latest") -> tuple[int, int]:
    """The ETH / USD and STETH / USD feeds' latest answers."""
    raws = JsonRpcClient(rpc_url).batch([eth_call(f, encode_call("latestRoundData()"), block)
                                        for f in (d.eth_usd_feed, d.steth_usd_feed)])
    eth, steth = (int(decode(["uint80", "int256", "uint256", "uint256", "uint80"], raw)[1]) for raw in raws)
    return eth, steth


def elapse(rpc_url: str, d: LiquityV2Deployment, seconds: int) -> int:
    """Moves the chain clock ``seconds`` forward and writes fresh rounds of both feeds at their current answers in the
    block that follows (so the branches' oracles stay within their staleness threshold); returns that block."""
    rpc = JsonRpcClient(rpc_url)
    eth, steth = feed_answers(rpc_url, d)
    rpc.call("evm_increaseTime", [int(seconds)])
    return mine_txs(rpc, _feed_txs(d, NonceBook(rpc), eth, steth), "refresh the Liquity v2 feeds")


def set_feed_round(rpc_url: str, d: LiquityV2Deployment, feed: str, round_id: int, answer: int, started_at: int,
                   updated_at: int) -> int:
    """Writes one arbitrary round of ``feed`` (stale, future-dated, ...); returns the block."""
    rpc = JsonRpcClient(rpc_url)
    data = encode_call("setRoundData(uint80,int256,uint256,uint256)", round_id, answer, started_at, updated_at)
    return mine_txs(rpc, [Tx("feed round", d.deployer, feed, data, CALL_GAS, NonceBook(rpc).take(d.deployer))],
                 "set a Liquity v2 feed round")


def set_rate(rpc_url: str, d: LiquityV2Deployment, rate: int) -> int:
    """Sets wstETH's ``stEthPerToken`` (the rate provider's); returns the block."""
    rpc = JsonRpcClient(rpc_url)
    provider = d.branch(WSTETH).rate_provider
    assert provider is not None
    tx = Tx("stEthPerToken", d.deployer, provider, encode_call("setStEthPerToken(uint256)", rate), CALL_GAS,
            NonceBook(rpc).take(d.deployer))
    return mine_txs(rpc, [tx], "set the wstETH rate")


def fetch_price(rpc_url: str, d: LiquityV2Deployment, branch: str) -> int:
    """Sends ``PriceFeed.fetchPrice()`` of ``branch`` (stores lastGoodPrice, or shuts the branch down on a failed
    oracle); returns the block."""
    rpc = JsonRpcClient(rpc_url)
    tx = Tx(f"{branch} fetchPrice", d.deployer, d.branch(branch).price_feed, encode_call("fetchPrice()"), CALL_GAS,
            NonceBook(rpc).take(d.deployer))
    return mine_txs(rpc, [tx], "fetch a Liquity v2 price")


def use_18_decimal_feeds(rpc_url: str, d: LiquityV2Deployment) -> None:
    """Makes both feeds answer with 18 decimals from here on, at their current prices, so a test can set a price to
    the unit of Liquity's: each DevPriceFeed's code is swapped for one built with 18 (its decimals are immutable), the
    decimals the branches' price feeds stored in their ``Oracle`` records are rewritten (storage slots of
    ``contracts/PriceFeeds.sol``: ethUsdOracle's decimals in slot 4, stEthUsdOracle's in slot 9), and fresh rounds are
    written (the stored 8-decimal rounds would mean nothing at 18)."""
    rpc = JsonRpcClient(rpc_url)
    eth, steth = feed_answers(rpc_url, d)
    code = compile_liquity_v2()["DevPriceFeed"].bytecode
    sender = d.deployer
    nonce = int(rpc.call("eth_getTransactionCount", [sender, "pending"]), 16)
    template = create_address(sender, nonce)
    transact(rpc, "deploy an 18-decimal DevPriceFeed", sender, None,
             code + encode_args(("uint8", "string", "int256"), (18, "18 decimals", 1)), DEPLOY_GAS)
    runtime = rpc.call("eth_getCode", [template, "latest"])
    word = "0x" + f"{18:064x}"
    calls: list[tuple[str, list[Any]]] = [("anvil_setCode", [f, runtime]) for f in (d.eth_usd_feed, d.steth_usd_feed)]
    calls += [("anvil_setStorageAt", [d.branch(WETH).price_feed, hex(4), word]),
              ("anvil_setStorageAt", [d.branch(WSTETH).price_feed, hex(4), word]),
              ("anvil_setStorageAt", [d.branch(WSTETH).price_feed, hex(9), word])]
    rpc.batch(calls)
    oracles = [decode(["address", "uint256", "uint8"], raw) for raw in rpc.batch([
        eth_call(d.branch(WETH).price_feed, encode_call("ethUsdOracle()")),
        eth_call(d.branch(WSTETH).price_feed, encode_call("ethUsdOracle()")),
        eth_call(d.branch(WSTETH).price_feed, encode_call("stEthUsdOracle()"))])]
    if [o[2] for o in oracles] != [18, 18, 18]:
        raise DevnetError(f"the price feeds' oracle records did not take 18 decimals: {oracles}")
    scale = 10 ** (18 - FEED_DECIMALS)
    set_prices(rpc_url, d, eth_usd=eth * scale, steth_usd=steth * scale)


# --- reads


def _tm_call(d: LiquityV2Deployment, branch: str, signature: str, *args: Any,
             block: int | str) -> tuple[str, list[Any]]:
    return eth_call(d.branch(branch).trove_manager, encode_call(signature, *args), block)


def read_latest(rpc_url: str, d: LiquityV2Deployment, branch: str, trove_ids: Sequence[int], *,
                block: int | str = "latest") -> list[tuple[int, ...]]:
    """``getLatestTroveData`` of each trove (ten words: entireDebt, entireColl, redistBoldDebtGain, redistCollGain,
    accruedInterest, recordedDebt, annualInterestRate, weightedRecordedDebt, accruedBatchManagementFee,
    lastInterestRateAdjTime)."""
    return call_uints(JsonRpcClient(rpc_url), [_tm_call(d, branch, "getLatestTroveData(uint256)", t, block=block)
                                           for t in trove_ids], 10)


def read_current_icr(rpc_url: str, d: LiquityV2Deployment, branch: str, trove_ids: Sequence[int], price: int, *,
                     block: int | str = "latest") -> list[int]:
    got = call_uints(JsonRpcClient(rpc_url), [
        _tm_call(d, branch, "getCurrentICR(uint256,uint256)", t, price, block=block) for t in trove_ids])
    return [v for (v,) in got]


def read_status(rpc_url: str, d: LiquityV2Deployment, branch: str, trove_ids: Sequence[int], *,
                block: int | str = "latest") -> list[int]:
    got = call_uints(JsonRpcClient(rpc_url), [_tm_call(d, branch, "getTroveStatus(uint256)", t, block=block)
                                          for t in trove_ids])
    return [v for (v,) in got]


def read_trove_ids(rpc_url: str, d: LiquityV2Deployment, branch: str, *, block: int | str = "latest") -> list[int]:
    """The TroveManager's array of open troves."""
    rpc = JsonRpcClient(rpc_url)
    ((count,),) = call_uints(rpc, [_tm_call(d, branch, "getTroveIdsCount()", block=block)])
    return [v for (v,) in call_uints(rpc, [_tm_call(d, branch, "getTroveFromTroveIdsArray(uint256)", i, block=block)
                                       for i in range(count)])]


@dataclass(frozen=True)
class BranchState:
    coll: int
    debt: int
    trove_count: int
    shutdown_time: int
    last_good_price: int
    price_source: int


def read_branch(rpc_url: str, d: LiquityV2Deployment, branch: str, *, block: int | str = "latest") -> BranchState:
    b = d.branch(branch)
    got = call_uints(JsonRpcClient(rpc_url), [
        _tm_call(d, branch, "getEntireBranchColl()", block=block),
        _tm_call(d, branch, "getEntireBranchDebt()", block=block),
        _tm_call(d, branch, "getTroveIdsCount()", block=block),
        _tm_call(d, branch, "shutdownTime()", block=block),
        eth_call(b.price_feed, encode_call("lastGoodPrice()"), block),
        eth_call(b.price_feed, encode_call("priceSource()"), block),
    ])
    return BranchState(*(v for (v,) in got))


def fetch_price_call(rpc_url: str, d: LiquityV2Deployment, branch: str, *, block: int | str = "latest") -> tuple[
        int, bool]:
    """What ``PriceFeed.fetchPrice()`` returns at ``block``, by eth_call (its effects discarded)."""
    raw = JsonRpcClient(rpc_url).call(*eth_call(d.branch(branch).price_feed, encode_call("fetchPrice()"), block))
    price, failure = decode(["uint256", "bool"], raw)
    return int(price), bool(failure)


def liquidation_succeeds(rpc_url: str, d: LiquityV2Deployment, branch: str, trove_ids: Sequence[int], *,
                         block: int | str = "latest") -> list[bool]:
    """Whether ``TroveManager.batchLiquidateTroves([troveId])`` goes through for each trove, by one eth_call each from
    the liquidator at ``block`` (each runs fetchPrice at that block's state and time). False when it reverts
    NothingToLiquidate; any other revert raises :class:`DevnetError`."""
    calls = [eth_call(d.branch(branch).trove_manager, encode_call("batchLiquidateTroves(uint256[])", [t]), block,
                      sender=d.liquidator) for t in trove_ids]
    _, errors = JsonRpcClient(rpc_url).batch_raw(calls)
    out = []
    for trove_id, error in zip(trove_ids, errors, strict=True):
        if error is None:
            out.append(True)
        elif _revert_data(error).startswith(NOTHING_TO_LIQUIDATE):
            out.append(False)
        else:
            raise DevnetError(f"batchLiquidateTroves([{trove_id}]) on {branch} reverted for another reason: {error}")
    return out


def _revert_data(error: DevnetRpcError) -> str:
    data = error.data
    if isinstance(data, dict):
        data = data.get("data")
    return data if isinstance(data, str) else ""


def liquidate(rpc_url: str, d: LiquityV2Deployment, branch: str, trove_ids: Sequence[int]) -> int:
    """Liquidates ``trove_ids`` in one batchLiquidateTroves transaction from the liquidator; returns the block."""
    rpc = JsonRpcClient(rpc_url)
    rpc.call("anvil_impersonateAccount", [d.liquidator])
    tm = d.branch(branch).trove_manager
    tx = Tx(f"{branch} batchLiquidateTroves", d.liquidator, tm,
            encode_call("batchLiquidateTroves(uint256[])", list(trove_ids)), CALL_GAS,
            NonceBook(rpc).take(d.liquidator), 0, (tm, LIQUIDATION))
    return mine_txs(rpc, [tx], "liquidate Liquity v2 troves")


def transfer_trove(rpc_url: str, d: LiquityV2Deployment, branch: str, trove_id: int, owner: str, to: str) -> int:
    """Moves a trove's NFT from ``owner`` to ``to`` (TroveNFT.transferFrom); returns the block."""
    rpc = JsonRpcClient(rpc_url)
    rpc.call("anvil_impersonateAccount", [owner])
    nft = d.branch(branch).trove_nft
    tx = Tx(f"transfer trove {trove_id}", owner, nft, encode_call("transferFrom(address,address,uint256)", owner, to,
                                                                  trove_id),
            CALL_GAS, NonceBook(rpc).take(owner), 0, (nft, TRANSFER))
    return mine_txs(rpc, [tx], "transfer a Liquity v2 trove")


def open_trove(rpc_url: str, d: LiquityV2Deployment, branch: str, owner: str, owner_index: int, coll: int, debt: int,
               rate: int) -> int:
    """Opens one trove for ``owner`` (minting and approving its collateral first); returns its id."""
    rpc = JsonRpcClient(rpc_url)
    rpc.batch([("anvil_setBalance", [owner, hex(10**22)]), ("anvil_impersonateAccount", [owner])])
    nonces = NonceBook(rpc)
    mine_txs(rpc, _open_txs(d, d.branch(branch), nonces, owner, owner_index, coll, debt, rate, approve=True),
          "open a Liquity v2 trove")
    return trove_id_of(owner, owner, owner_index)


def _open_txs(d: LiquityV2Deployment, b: BranchDeployment, nonces: NonceBook, owner: str, owner_index: int, coll: int,
              debt: int, rate: int, *, approve: bool) -> list[Tx]:
    txs = [Tx(f"mint {b.name} to {owner}", owner, b.coll_token, encode_call("mint(address,uint256)", owner, coll),
              CALL_GAS, nonces.take(owner), 0, (b.coll_token, TRANSFER))]
    if approve:
        txs.append(Tx(f"approve {b.name} by {owner}", owner, b.coll_token,
                      encode_call("approve(address,uint256)", b.borrower_operations, MAX_UINT), CALL_GAS,
                      nonces.take(owner), 0, (b.coll_token, APPROVAL)))
    data = encode_call("openTrove(address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,address,address,"
                       "address)", owner, owner_index, coll, debt, 0, 0, rate, MAX_UINT, owner, owner, owner)
    txs.append(Tx(f"openTrove {b.name} {owner}/{owner_index}", owner, b.borrower_operations, data, CALL_GAS,
                  nonces.take(owner), 0, (b.trove_nft, TRANSFER)))
    return txs


# --- seeding


@dataclass(frozen=True)
class _Planned:
    owner: str
    owner_kind: str
    branch: str
    owner_index: int
    kind: str
    icr: int  # at the devnet's initial prices, 1e18 = 100 %
    debt: int  # BOLD drawn: the recorded debt (no upfront fee on the devnet)
    rate: int


def initial_price(branch: str) -> int:
    """The branch's price at the devnet's initial feed answers (18 decimals)."""
    if branch == WETH:
        return rules.scale_to_18(ETH_USD, FEED_DECIMALS)
    return rules.scale_to_18(STETH_USD, FEED_DECIMALS) * STETH_PER_WSTETH // rules.DECIMAL_PRECISION


def plan_troves(count: int, *, seed: int = 0) -> list[_Planned]:
    """The troves :func:`seed_troves` opens, without the chain: a whale with one trove on each branch, two victims
    (one trove on each branch, opened under MCR at the initial prices), and about ``count - 2`` others: a fifth of
    the owners hold three troves across both branches (``multi``), the rest one (``single``); half are opened before
    the victims' liquidation (``early``: pending redistribution gains; one in four adds collateral afterwards,
    applying them: ``adjusted``), half after (``fresh``). ICR at the initial prices: one in four within 15 % over the
    branch's MCR, the rest up to 300 %; BOLD drawn log-uniform from 2,000 to 100,000; rates from 0.5 % to 25 %."""
    planned = [_Planned(owner_address(seed, 0), "whale", branch, n, "whale", WHALE_ICR, WHALE_DEBT, 5 * rules.PCT)
               for n, branch in enumerate((WETH, WSTETH))]
    for v, debt in enumerate(VICTIM_DEBT):
        owner = owner_address(seed, 10_000 + v)
        for n, branch in enumerate((WETH, WSTETH)):
            icr = (95 if branch == WETH else 105) * rules.PCT
            planned.append(_Planned(owner, "liquidated", branch, n, "liquidated", icr, debt, 3 * rules.PCT))
    rest = max(count - 2, 2)
    multi = rest // 5
    slots: list[tuple[str, str, int, int]] = []  # (owner, owner kind, owner's number, owner index)
    for i in range(multi):
        slots += [(owner_address(seed, 1 + i), "multi", i, n) for n in range(3)]
    slots += [(owner_address(seed, 1 + multi + i), "single", multi + i, 0) for i in range(rest - 3 * multi)]
    for index, (owner, owner_kind, number, owner_index) in enumerate(slots):
        rng = random.Random(f"indexer-devnet/{NAMESPACE}/{seed}/{index}")
        branch = (WETH, WSTETH)[(number + owner_index) % 2]  # a multi owner holds troves on both branches
        mcr = PARAMS[branch].mcr
        near = rng.random() < 0.25
        icr = mcr + int((rng.uniform(0.003, 0.15) if near else rng.uniform(0.15, 3.0 - mcr / 1e18)) * 10**6) * 10**12
        debt = int(math.exp(rng.uniform(math.log(2_000), math.log(100_000)))) * 10**18
        rate = int(rng.uniform(0.005, 0.25) * 10**6) * 10**12
        early = rng.random() < 0.5
        kind = ("adjusted" if rng.random() < 0.25 else "early") if early else "fresh"
        planned.append(_Planned(owner, owner_kind, branch, owner_index, kind, icr, debt, rate))
    return planned


def seed_troves(rpc_url: str, d: LiquityV2Deployment, count: int, *, seed: int = 0) -> list[SeededTrove]:
    """Opens about ``count`` troves (:func:`plan_troves`) in phases, each in its own blocks and none moving the clock:
    at the opening answers (ETH 3,000, STETH 2,997) the whale, the early troves and the victims open and the whale
    puts 1,000 BOLD in each Stability Pool; back at the initial answers the victims are liquidated (the pools absorb
    999 BOLD of them, the rest is redistributed: every early trove gains coll and debt); then the fresh troves open,
    the adjusted ones add collateral (applying their gains and interest) and the whale deposits 100,000 BOLD more in
    each pool. Raises :class:`~indexer.devnet.errors.TransactionFailedError` naming the phase and step on failure."""
    rpc = JsonRpcClient(rpc_url)
    planned = plan_troves(count, seed=seed)
    owners = list(dict.fromkeys(p.owner for p in planned))
    rpc.batch(call for a in [*owners, d.liquidator] for call in (("anvil_setBalance", [a, hex(10**22)]),
                                                                 ("anvil_impersonateAccount", [a])))
    nonces = NonceBook(rpc)
    nonces.prefetch([d.deployer, *owners, d.liquidator])
    approved: set[tuple[str, str]] = set()
    coll = {(p.owner, p.branch, p.owner_index): -(-p.icr * p.debt // initial_price(p.branch)) for p in planned}

    def open_txs(p: _Planned) -> list[Tx]:
        first = (p.owner, p.branch) not in approved
        approved.add((p.owner, p.branch))
        return _open_txs(d, d.branch(p.branch), nonces, p.owner, p.owner_index, coll[(p.owner, p.branch,
                                                                                         p.owner_index)],
                         p.debt, p.rate, approve=first)

    def deposit_txs(amount: int) -> list[Tx]:
        whale = planned[0].owner
        txs = []
        for b in d.branches.values():
            if (whale, f"sp:{b.name}") not in approved:
                approved.add((whale, f"sp:{b.name}"))
                txs.append(Tx(f"approve BOLD to the {b.name} pool", whale, d.bold_token,
                              encode_call("approve(address,uint256)", b.stability_pool, MAX_UINT), CALL_GAS,
                              nonces.take(whale), 0, (d.bold_token, APPROVAL)))
            txs.append(Tx(f"provideToSP {b.name}", whale, b.stability_pool,
                          encode_call("provideToSP(uint256,bool)", amount, False), CALL_GAS, nonces.take(whale), 0,
                          (b.stability_pool, DEPOSIT_UPDATED)))
        return txs

    early = [p for p in planned if p.kind in ("whale", "early", "adjusted", "liquidated")]
    fresh = [p for p in planned if p.kind == "fresh"]
    mine_txs(rpc, _feed_txs(d, nonces, OPENING_ETH_USD, OPENING_STETH_USD), "Liquity v2 opening prices")
    mine_txs(rpc, [tx for p in early for tx in open_txs(p)] + deposit_txs(EARLY_SP_DEPOSIT),
          "seed the early Liquity v2 troves")
    mine_txs(rpc, _feed_txs(d, nonces, ETH_USD, STETH_USD), "Liquity v2 initial prices")
    victims = {b: [trove_id_of(p.owner, p.owner, p.owner_index) for p in planned
                   if p.kind == "liquidated" and p.branch == b] for b in d.branches}
    mine_txs(rpc, [Tx(f"liquidate the {b} victims", d.liquidator, d.branch(b).trove_manager,
                   encode_call("batchLiquidateTroves(uint256[])", ids), CALL_GAS, nonces.take(d.liquidator), 0,
                   (d.branch(b).trove_manager, LIQUIDATION)) for b, ids in victims.items()],
          "liquidate the Liquity v2 victims (redistribution)")
    later = [tx for p in fresh for tx in open_txs(p)]
    for p in planned:
        if p.kind == "adjusted":
            b = d.branch(p.branch)
            extra = coll[(p.owner, p.branch, p.owner_index)] // 10
            trove_id = trove_id_of(p.owner, p.owner, p.owner_index)
            later += [Tx(f"mint {b.name} to {p.owner}", p.owner, b.coll_token,
                         encode_call("mint(address,uint256)", p.owner, extra), CALL_GAS, nonces.take(p.owner), 0,
                         (b.coll_token, TRANSFER)),
                      Tx(f"addColl {trove_id}", p.owner, b.borrower_operations,
                         encode_call("addColl(uint256,uint256)", trove_id, extra), CALL_GAS, nonces.take(p.owner), 0,
                         (b.trove_manager, TROVE_OPERATION))]
    later += deposit_txs(SP_DEPOSIT)
    mine_txs(rpc, later, "seed the fresh Liquity v2 troves, adjustments and deposits")
    log.info("seeded Liquity v2 troves=%d owners=%d victims=%d", len(planned) - 2 * len(VICTIM_DEBT), len(owners),
             2 * len(VICTIM_DEBT))
    return [SeededTrove(p.owner, p.branch, trove_id_of(p.owner, p.owner, p.owner_index), p.kind, p.owner_kind,
                        coll[(p.owner, p.branch, p.owner_index)], p.debt, p.rate) for p in planned]


# -- what `indexer devnet up` and the demo call (indexer.protocols.base.DevnetModule) ---------------------------
def deploy_devnet(rpc_url: str) -> dict[str, Any]:
    """Liquity v2 as a record for the devnet deployment file: ``contracts`` names each branch's TroveManager (a
    market's address: ``devnet:LiquityV2.WETH.TroveManager``, with ``options.addresses_registry =
    "devnet:LiquityV2.WETH.AddressesRegistry"``), its other contracts, BOLD and the feeds."""
    deployment = deploy_liquity_v2(rpc_url)
    return {**deployment.to_dict(), "contracts": deployment.contracts()}


def seed_devnet(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    """Seeds about ``count`` troves; returns each owner once, with its kind (``OWNER_KINDS``)."""
    record = LiquityV2Deployment.from_dict(deployment.protocols["liquity_v2"])
    troves = seed_troves(rpc_url, record, count)
    return list(dict.fromkeys((t.owner, t.owner_kind) for t in troves))
