"""A Liquity v1 devnet: a stand-in of our own behind Liquity v1's external ABI (``contracts/``), a DevPriceFeed as
the ETH/USD Chainlink feed (8 decimals, 2500 USD), and seeded troves.

No package ships Liquity v1's bytecode, so ``contracts/`` implements its external functions, return layouts and
events (TroveManager, BorrowerOperations, PriceFeed, StabilityPool, ActivePool, DefaultPool, LUSDToken) and its
documented math; what is left out is listed in each contract's header (the sorted list and hints, redemptions
and the base rate, LQTY, the Stability Pool's per-depositor bookkeeping, Tellor: the fallback oracle is taken
as always frozen). Compiled with the npm ``solc`` (0.8.x), cached under ``.build/liquity-v1/``.

Everything goes out as JSON-RPC batches with automine off (``indexer.devnet.txbatch``): the deployment from the
node's first dev account (every address predicted from its nonce), each trove from a keyless address through
anvil's impersonation. Typical use::

    with Anvil() as node:
        record = deploy_devnet(node.url)
        deployment = LiquityDeployment.from_dict(record)
        seeded = seed_troves(node.url, deployment, 60)
        set_eth_price(node.url, deployment, 1_700 * 10**8)
        liquidation_succeeds(node.url, deployment, seeded[0].account)
"""

from __future__ import annotations

import functools
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from indexer.devnet.abi import decode, encode_call
from indexer.devnet.calls import call_uints, eth_call, event_topic, keyless_address, revert_reason
from indexer.devnet.compile import CompiledContract, compile_stand_in
from indexer.devnet.deployment import Deployment, DeployPlan
from indexer.devnet.errors import DevnetError, DevnetRpcError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, automine_paused, mine_txs, send_and_mine
from indexer.protocols.liquity_v1 import rules
from indexer.types import ZERO_ADDRESS

log = logging.getLogger(__name__)

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
_DEPLOYED = ("TroveManager", "BorrowerOperations", "PriceFeed", "StabilityPool", "ActivePool", "DefaultPool",
             "LUSDToken")

FEED_DECIMALS = 8
INITIAL_ANSWER = 2_500 * 10**FEED_DECIMALS  # ETH/USD, as the Chainlink feed answers it
DEPLOY_GAS = 15_000_000
CALL_GAS = 3_000_000
ETH_FUNDING = 10**24  # a million ETH per seeded address: anvil_setBalance, never spent
MAX_FEE = 5 * 10**16  # the borrowers accept up to 5 % (the devnet charges the 0.5 % floor)

# seeding: the whale keeps the TCR far above CCR however the other troves land in a block
WHALE_DEBT = 2_000_000 * 10**18
WHALE_ICR = 3 * 10**18
# the Stability Pool's deposits (from the whale): troves with less entire debt are covered in recovery mode
STABILITY_POOL_DEPOSIT = 60_000 * 10**18
# troves opened before the redistribution are opened at this higher price, then the price returns to the initial one
OPENING_ANSWER = 3_000 * 10**FEED_DECIMALS
VICTIMS = 2
VICTIM_ICR = 95 * 10**16  # at the initial price: under 100 %, so the liquidation redistributes everything

KINDS = ("whale", "pending_rewards", "adjusted", "fresh", "liquidated")



TROVE_UPDATED = event_topic("TroveUpdated(address,uint256,uint256,uint256,uint8)")
LIQUIDATION = event_topic("Liquidation(uint256,uint256,uint256,uint256)")
DEPOSIT_CHANGED = event_topic("UserDepositChanged(address,uint256)")
ANSWER_UPDATED = event_topic("AnswerUpdated(int256,uint256,uint256)")
NOTHING_TO_LIQUIDATE = "TroveManager: nothing to liquidate"


@dataclass
class LiquityDeployment:
    """Where the devnet's Liquity v1 lives (checksummed addresses). ``feed`` is the Chainlink ETH/USD feed (a
    DevPriceFeed) behind the PriceFeed; ``fee_recipient`` collects borrowing fees; ``liquidator`` is the keyless
    address liquidations are sent (or eth_call'ed) from."""

    rpc_url: str
    chain_id: int
    deployer: str
    block_number: int
    trove_manager: str
    borrower_operations: str
    price_feed: str
    stability_pool: str
    active_pool: str
    default_pool: str
    lusd_token: str
    feed: str
    fee_recipient: str
    liquidator: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiquityDeployment:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def contracts(self) -> dict[str, str]:
        return {"LiquityV1.TroveManager": self.trove_manager, "LiquityV1.BorrowerOperations": self.borrower_operations,
                "LiquityV1.PriceFeed": self.price_feed, "LiquityV1.StabilityPool": self.stability_pool,
                "LiquityV1.ActivePool": self.active_pool, "LiquityV1.DefaultPool": self.default_pool,
                "LiquityV1.LUSDToken": self.lusd_token, "LiquityV1.ETHUSDFeed": self.feed}


@dataclass(frozen=True)
class LiquitySeeded:
    """A seeded trove: who, what kind (``KINDS``), the ETH it was opened with and the LUSD it drew."""

    account: str
    kind: str
    coll: int
    lusd: int


# --- compiling


@functools.cache
def compile_liquity_v1() -> dict[str, CompiledContract]:
    """The stand-in's contracts and the devnet's shared ones (DevPriceFeed), by name; compiled once per input."""
    return compile_stand_in(CONTRACTS_DIR, cache_name="liquity-v1", deployed=_DEPLOYED)


# --- addresses and calls



def borrower_address(seed: int, index: int) -> str:
    """Seeded borrower ``index`` of ``seed``: a keyless address, used through impersonation."""
    return keyless_address("liquity-v1", f"borrower/{seed}/{index}")





# --- deployment


def deploy_liquity_v1(rpc_url: str) -> LiquityDeployment:
    """Deploys the feed and the stand-in from the node's first dev account and wires them (each contract's
    setAddresses, which renounces ownership as Liquity's does). The feed gets a second round at the same
    answer before the PriceFeed reads it: PriceFeed.setAddresses refuses a Chainlink without a valid previous
    round."""
    rpc = JsonRpcClient(rpc_url)
    code = compile_liquity_v1()
    chain_id_hex = rpc.call("eth_chainId")
    plan = DeployPlan.from_node(rpc, deploy_gas=DEPLOY_GAS, call_gas=CALL_GAS)
    deployer = plan.deployer
    feed = plan.create("DevPriceFeed ETH / USD", code["DevPriceFeed"].bytecode, ("uint8", "string", "int256"),
                       (FEED_DECIMALS, "ETH / USD", INITIAL_ANSWER))
    plan.call("ETH / USD second round", feed, "setAnswer(int256)", INITIAL_ANSWER)
    made = {name: plan.create(name, code[name].bytecode) for name in _DEPLOYED}
    tm, bo, pf, sp = made["TroveManager"], made["BorrowerOperations"], made["PriceFeed"], made["StabilityPool"]
    ap, dp, lusd = made["ActivePool"], made["DefaultPool"], made["LUSDToken"]
    fee_recipient = keyless_address("liquity-v1", "fee-recipient")
    plan.call("ActivePool.setAddresses", ap, "setAddresses(address,address,address,address)", bo, tm, sp, dp)
    plan.call("DefaultPool.setAddresses", dp, "setAddresses(address,address)", tm, ap)
    plan.call("StabilityPool.setAddresses", sp, "setAddresses(address,address,address)", tm, ap, lusd)
    plan.call("LUSDToken.setAddresses", lusd, "setAddresses(address,address,address)", tm, sp, bo)
    plan.call("PriceFeed.setAddresses", pf, "setAddresses(address,address)", feed,
              ZERO_ADDRESS)
    plan.call("TroveManager.setAddresses", tm, "setAddresses(address,address,address,address,address,address)",
              bo, ap, dp, sp, pf, lusd)
    plan.call("BorrowerOperations.setAddresses", bo,
              "setAddresses(address,address,address,address,address,address,address)", tm, ap, dp, sp, pf, lusd,
              fee_recipient)
    with automine_paused(rpc):
        hashes = send_and_mine(rpc, plan.txs, "deploy Liquity v1")
    block_number = int(rpc.call("eth_getTransactionReceipt", [hashes[-1]])["blockNumber"], 16)
    deployment = LiquityDeployment(
        rpc_url=rpc_url, chain_id=int(chain_id_hex, 16), deployer=deployer, block_number=block_number,
        trove_manager=tm, borrower_operations=bo, price_feed=pf, stability_pool=sp, active_pool=ap,
        default_pool=dp, lusd_token=lusd, feed=feed, fee_recipient=fee_recipient,
        liquidator=keyless_address("liquity-v1", "liquidator"))
    (last_good,), (status,) = call_uints(rpc, [eth_call(pf, encode_call("lastGoodPrice()")),
                                           eth_call(pf, encode_call("status()"))])
    if last_good != rules.scale_chainlink_price(INITIAL_ANSWER, FEED_DECIMALS) or status != 0:
        raise DevnetError(f"the PriceFeed starts at lastGoodPrice={last_good} status={status}")
    log.info("Liquity v1 devnet deployed block=%d trove_manager=%s price_feed=%s feed=%s", block_number, tm, pf, feed)
    return deployment


# --- reads


@dataclass(frozen=True)
class SystemState:
    coll: int
    debt: int
    stability_pool: int
    trove_owners: int
    last_good_price: int
    price_feed_status: int


def read_system(rpc_url: str, d: LiquityDeployment, *, block: int | str = "latest") -> SystemState:
    tm = d.trove_manager
    got = call_uints(JsonRpcClient(rpc_url), [
        eth_call(tm, encode_call("getEntireSystemColl()"), block),
        eth_call(tm, encode_call("getEntireSystemDebt()"), block),
        eth_call(d.stability_pool, encode_call("getTotalLUSDDeposits()"), block),
        eth_call(tm, encode_call("getTroveOwnersCount()"), block),
        eth_call(d.price_feed, encode_call("lastGoodPrice()"), block),
        eth_call(d.price_feed, encode_call("status()"), block),
    ])
    return SystemState(*(v for (v,) in got))


def read_entire_debt_and_coll(rpc_url: str, d: LiquityDeployment, borrowers: Sequence[str], *,
                              block: int | str = "latest") -> list[rules.EntireTrove]:
    """``getEntireDebtAndColl`` of each borrower: (debt, coll, pending debt, pending coll)."""
    got = call_uints(JsonRpcClient(rpc_url), [
        eth_call(d.trove_manager, encode_call("getEntireDebtAndColl(address)", b), block) for b in borrowers], 4)
    return [rules.EntireTrove(*g) for g in got]


def read_current_icr(rpc_url: str, d: LiquityDeployment, borrowers: Sequence[str], price: int, *,
                     block: int | str = "latest") -> list[int]:
    """``getCurrentICR(borrower, price)`` of each borrower."""
    got = call_uints(JsonRpcClient(rpc_url), [
        eth_call(d.trove_manager, encode_call("getCurrentICR(address,uint256)", b, price), block) for b in borrowers])
    return [v for (v,) in got]


def read_trove_status(rpc_url: str, d: LiquityDeployment, borrowers: Sequence[str], *,
                      block: int | str = "latest") -> list[int]:
    got = call_uints(JsonRpcClient(rpc_url), [
        eth_call(d.trove_manager, encode_call("getTroveStatus(address)", b), block) for b in borrowers])
    return [v for (v,) in got]


def read_tcr(rpc_url: str, d: LiquityDeployment, price: int, *, block: int | str = "latest") -> tuple[int, bool]:
    """The TroveManager's ``getTCR(price)`` and ``checkRecoveryMode(price)``."""
    rpc = JsonRpcClient(rpc_url)
    tcr_raw, mode_raw = rpc.batch([eth_call(d.trove_manager, encode_call("getTCR(uint256)", price), block),
                                   eth_call(d.trove_manager, encode_call("checkRecoveryMode(uint256)", price), block)])
    return int(decode(["uint256"], tcr_raw)[0]), bool(decode(["bool"], mode_raw)[0])


def read_feed_answer(rpc_url: str, d: LiquityDeployment, *, block: int | str = "latest") -> tuple[int, int]:
    """The Chainlink feed's latest (round id, answer)."""
    raw = JsonRpcClient(rpc_url).call(*eth_call(d.feed, encode_call("latestRoundData()"), block))
    round_id, answer, _, _, _ = decode(["uint80", "int256", "uint256", "uint256", "uint80"], raw)
    return int(round_id), int(answer)


def liquidation_succeeds(rpc_url: str, d: LiquityDeployment, borrower: str, *, block: int | str = "latest") -> bool:
    """Whether ``TroveManager.liquidate(borrower)`` goes through, by an eth_call from the liquidator at ``block``
    (the call runs fetchPrice at that block's state and time). False when it reverts "nothing to liquidate";
    any other revert raises :class:`DevnetError`."""
    data = encode_call("liquidate(address)", borrower)
    try:
        JsonRpcClient(rpc_url).call(*eth_call(d.trove_manager, data, block, sender=d.liquidator))
    except DevnetRpcError as exc:
        if NOTHING_TO_LIQUIDATE in exc.rpc_message or NOTHING_TO_LIQUIDATE in revert_reason(exc.data):
            return False
        raise DevnetError(f"liquidate({borrower}) reverted for another reason: {exc}") from exc
    return True



# --- chain control



def _price_txs(d: LiquityDeployment, answer: int, nonces: NonceBook) -> list[Tx]:
    data = encode_call("setAnswer(int256)", answer)
    return [Tx(f"ETH / USD answer {answer} ({n})", d.deployer, d.feed, data, CALL_GAS, nonces.take(d.deployer), 0,
               (d.feed, ANSWER_UPDATED)) for n in (1, 2)]


def set_eth_price(rpc_url: str, d: LiquityDeployment, answer: int) -> int:
    """Writes ``answer`` (8 decimals) as two consecutive Chainlink rounds in one block, so that PriceFeed's
    previous-round checks (and its 50 % rule) see no jump; returns the block. Nothing calls fetchPrice:
    ``lastGoodPrice`` moves only when something does (a trove operation, a liquidation, :func:`fetch_price`)."""
    rpc = JsonRpcClient(rpc_url)
    return mine_txs(rpc, _price_txs(d, answer, NonceBook(rpc)), "set the ETH price")


def set_feed_round(rpc_url: str, d: LiquityDeployment, round_id: int, answer: int, started_at: int,
                   updated_at: int) -> int:
    """Writes one arbitrary round (ids may go backwards, times may be stale or in the future); returns the block."""
    rpc = JsonRpcClient(rpc_url)
    data = encode_call("setRoundData(uint80,int256,uint256,uint256)", round_id, answer, started_at, updated_at)
    tx = Tx("ETH / USD round", d.deployer, d.feed, data, CALL_GAS, NonceBook(rpc).take(d.deployer))
    return mine_txs(rpc, [tx], "set an ETH / USD round")


def fetch_price(rpc_url: str, d: LiquityDeployment) -> int:
    """Sends ``PriceFeed.fetchPrice()`` (stores lastGoodPrice or moves the status); returns the block."""
    rpc = JsonRpcClient(rpc_url)
    tx = Tx("PriceFeed.fetchPrice", d.deployer, d.price_feed, encode_call("fetchPrice()"), CALL_GAS,
            NonceBook(rpc).take(d.deployer))
    return mine_txs(rpc, [tx], "fetch the Liquity price")


def liquidate(rpc_url: str, d: LiquityDeployment, borrowers: Sequence[str]) -> int:
    """Liquidates each borrower by its own ``liquidate`` transaction from the liquidator; returns the block."""
    rpc = JsonRpcClient(rpc_url)
    rpc.batch([("anvil_setBalance", [d.liquidator, hex(ETH_FUNDING)]), ("anvil_impersonateAccount", [d.liquidator])])
    nonces = NonceBook(rpc)
    txs = [Tx(f"liquidate {b}", d.liquidator, d.trove_manager, encode_call("liquidate(address)", b), CALL_GAS,
              nonces.take(d.liquidator), 0, (d.trove_manager, LIQUIDATION)) for b in borrowers]
    return mine_txs(rpc, txs, "liquidate troves")


# --- seeding


@dataclass(frozen=True)
class _Planned:
    account: str
    kind: str
    icr: int  # at the initial price, 1e18 = 100 %
    lusd: int  # drawn; the trove's debt adds the 0.5 % fee and the 200 LUSD gas compensation


def _composite_debt(lusd: int) -> int:
    """BorrowerOperations.openTrove in normal mode: drawn + fee (the 0.5 % floor) + gas compensation."""
    return lusd + rules.BORROWING_FEE_FLOOR * lusd // rules.DECIMAL_PRECISION + rules.LUSD_GAS_COMPENSATION


def _coll_for(icr: int, lusd: int, price: int) -> int:
    """The ETH that makes ICR >= ``icr`` at ``price`` (rounded up)."""
    debt = _composite_debt(lusd)
    return -(-icr * debt // price)


def plan_troves(count: int, *, seed: int = 0) -> list[_Planned]:
    """The troves :func:`seed_troves` opens, without the chain: one whale, ``VICTIMS`` troves under water, the rest
    split between troves opened before the victims' liquidation (``pending_rewards``; one in four of them then
    adjusts, which applies its rewards: ``adjusted``) and after it (``fresh``). ICR at the initial price: one in
    four between 110 % and 125 %, the rest between 125 % and 400 %; LUSD drawn log-uniform from 2,000 to 200,000."""
    planned = [_Planned(borrower_address(seed, 0), "whale", WHALE_ICR, WHALE_DEBT)]
    rest = max(count - 1 - VICTIMS, 2)
    for index in range(1, rest + 1):
        rng = random.Random(f"indexer-devnet/liquity-v1/{seed}/{index}")
        low, high = (1.1005, 1.25) if rng.random() < 0.25 else (1.25, 4.0)
        icr = int(rng.uniform(low, high) * 10**6) * 10**12
        lusd = int(math.exp(rng.uniform(math.log(2_000), math.log(200_000)))) * 10**18
        early = index <= rest // 2
        kind = ("adjusted" if index % 4 == 0 else "pending_rewards") if early else "fresh"
        planned.append(_Planned(borrower_address(seed, index), kind, icr, lusd))
    for v in range(VICTIMS):
        planned.append(_Planned(borrower_address(seed, 10_000 + v), "liquidated", VICTIM_ICR, (20_000 + 5_000 * v)
                                * 10**18))
    return planned


def seed_troves(rpc_url: str, d: LiquityDeployment, count: int, *, seed: int = 0) -> list[LiquitySeeded]:
    """Opens about ``count`` troves (:func:`plan_troves`) in phases: the whale; at a higher ETH price the troves
    that will carry pending rewards and the victims; back at the initial price the victims are liquidated with
    an empty Stability Pool (everything redistributed: L_ETH and L_LUSDDebt move); then the fresh troves open,
    one in four early troves adds collateral (applying its rewards) and the whale deposits into the Stability
    Pool. Raises :class:`~indexer.devnet.errors.TransactionFailedError` naming the phase and step on failure."""
    rpc = JsonRpcClient(rpc_url)
    planned = plan_troves(count, seed=seed)
    initial = rules.scale_chainlink_price(INITIAL_ANSWER, FEED_DECIMALS)
    opening = rules.scale_chainlink_price(OPENING_ANSWER, FEED_DECIMALS)
    senders = [p.account for p in planned] + [d.liquidator]
    rpc.batch(call for a in senders for call in (("anvil_setBalance", [a, hex(ETH_FUNDING)]),
                                                 ("anvil_impersonateAccount", [a])))
    nonces = NonceBook(rpc)
    nonces.prefetch([d.deployer, *senders])
    coll = {p.account: _coll_for(p.icr, p.lusd, initial) for p in planned}

    def open_tx(p: _Planned) -> Tx:
        data = encode_call("openTrove(uint256,uint256,address,address)", MAX_FEE, p.lusd, p.account, p.account)
        return Tx(f"openTrove {p.kind} {p.account}", p.account, d.borrower_operations, data, CALL_GAS,
                  nonces.take(p.account), coll[p.account], (d.borrower_operations, TROVE_UPDATED))

    whale = planned[0]
    early = [p for p in planned if p.kind in ("pending_rewards", "adjusted", "liquidated")]
    victims = [p for p in planned if p.kind == "liquidated"]
    fresh = [p for p in planned if p.kind == "fresh"]
    mine_txs(rpc, [open_tx(whale), *_price_txs(d, OPENING_ANSWER, nonces)], "seed the Liquity whale")
    mine_txs(rpc, [open_tx(p) for p in early], f"seed Liquity troves at {opening // 10**18} USD")
    mine_txs(rpc, _price_txs(d, INITIAL_ANSWER, nonces), "return the ETH price")
    mine_txs(rpc, [Tx(f"liquidate {p.account}", d.liquidator, d.trove_manager,
                   encode_call("liquidate(address)", p.account), CALL_GAS, nonces.take(d.liquidator), 0,
                   (d.trove_manager, LIQUIDATION)) for p in victims],
          "liquidate the Liquity victims (redistribution)")
    later = [open_tx(p) for p in fresh]
    later += [Tx(f"addColl {p.account}", p.account, d.borrower_operations,
                 encode_call("addColl(address,address)", p.account, p.account), CALL_GAS, nonces.take(p.account),
                 coll[p.account] // 20, (d.borrower_operations, TROVE_UPDATED)) for p in early if p.kind == "adjusted"]
    later.append(Tx("provideToSP by the whale", whale.account, d.stability_pool,
                    encode_call("provideToSP(uint256,address)", STABILITY_POOL_DEPOSIT,
                                ZERO_ADDRESS),
                    CALL_GAS, nonces.take(whale.account), 0, (d.stability_pool, DEPOSIT_CHANGED)))
    mine_txs(rpc, later, "seed the fresh Liquity troves, adjustments and the Stability Pool")
    log.info("seeded Liquity v1 troves=%d victims=%d stability_pool_lusd=%d", len(planned) - len(victims),
             len(victims), STABILITY_POOL_DEPOSIT // 10**18)
    return [LiquitySeeded(p.account, p.kind, coll[p.account], p.lusd) for p in planned]


# -- what `indexer devnet up` and the demo call (indexer.protocols.base.DevnetModule) ---------------------------
def deploy_devnet(rpc_url: str) -> dict[str, Any]:
    """Liquity v1 as a record for the devnet deployment file: ``contracts`` names ``LiquityV1.TroveManager`` (a
    market's address: ``devnet:LiquityV1.TroveManager``), the other contracts and the ETH/USD feed."""
    deployment = deploy_liquity_v1(rpc_url)
    return {**deployment.to_dict(), "contracts": deployment.contracts()}


def seed_devnet(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    liquity = LiquityDeployment.from_dict(deployment.protocols["liquity_v1"])
    return [(s.account, s.kind) for s in seed_troves(rpc_url, liquity, count)]
