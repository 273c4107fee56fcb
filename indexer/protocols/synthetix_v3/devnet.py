"""A Synthetix v3 perps devnet: ``DevPerpsMarket`` (our stand-in for the PerpsMarketProxy, whose cannon-generated
router ships no bytecode; see ``contracts/DevPerpsMarket.sol``) with two markets, ETH (id 100) and BTC (id 200),
and seeded accounts.

The record (``deployment.protocols["synthetix_v3"]``)::

    {"deployer", "block_number", "contracts": {"SynthetixV3.PerpsMarketProxy": proxy},
     "account_token", "markets": {"ETH": {"id", "price"}, "BTC": {...}}}

Typical use::

    record = deploy_synthetix_v3(url)
    seeded = seed_accounts(url, record, 12)       # [(wallet, kind)]
    set_price(url, record, "ETH", 1_900 * 10**18)
    set_stale(url, record, "BTC", True)          # views needing BTC revert OracleDataRequired
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from indexer.devnet.abi import decode, encode_call
from indexer.devnet.calls import eth_call, keyless_address
from indexer.devnet.compile import CompiledContract, compile_stand_in
from indexer.devnet.deployment import Deployment, DeployPlan
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, automine_paused, send_and_mine, transact

log = logging.getLogger(__name__)

KIND = "synthetix_v3"
PROXY = "SynthetixV3.PerpsMarketProxy"
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
WAD = 10**18
CALL_GAS = 1_000_000
ETH_FUNDING = hex(1_000 * 10**18)

# id, name, symbol, price, skewScale, initialMarginRatio, minimumInitialMarginRatio, maintenanceMarginScalar,
# flagRewardRatio, minimumPositionMargin, maker, taker, lockedOiRatio (18 decimals, as the setters take them)
MARKETS = (
    (100, "Ether", "ETH", 2_000 * WAD, 1_000_000 * WAD, 2 * WAD, WAD // 50, WAD // 2, 3 * WAD // 10_000, 50 * WAD,
     2 * WAD // 10_000, 5 * WAD // 10_000, WAD // 2),
    (200, "Bitcoin", "BTC", 60_000 * WAD, 10_000 * WAD, 3 * WAD, WAD // 40, WAD // 2, 3 * WAD // 10_000, 50 * WAD,
     2 * WAD // 10_000, 5 * WAD // 10_000, WAD // 2),
)
GUARDS = (WAD, 3 * WAD // 10, 500 * WAD, WAD // 2)  # min USD, min profit ratio, max USD, max scaling ratio
COLLATERAL_REWARD_RATIO = WAD // 10_000
KEEPER_COSTS = (WAD // 2, 7 * WAD // 10)  # flag, liquidate
FUNDING = {100: 5 * WAD, 200: -40 * WAD}  # the markets' funding value after the positions opened
INTEREST = WAD // 1_000  # accrued interest per dollar after the positions opened

# (kind, market, size in units, entry as a fraction of the price, collateral USD); several per wallet for "two"
PLANS: tuple[tuple[str, tuple[tuple[str, int, tuple[int, int]], ...], int], ...] = (
    ("long_profit", (("ETH", 10 * WAD, (9, 10)),), 3_000 * WAD),
    ("long_loss", (("ETH", 20 * WAD, (11, 10)),), 6_000 * WAD),
    ("short_profit", (("BTC", -WAD, (11, 10)),), 6_000 * WAD),
    ("short_loss", (("BTC", -WAD // 2, (19, 20)),), 3_000 * WAD),
    ("near_line", (("ETH", 30 * WAD, (1, 1)),), 2_400 * WAD),
    ("two_markets", (("ETH", 5 * WAD, (1, 1)), ("BTC", -WAD // 5, (1, 1))), 2_500 * WAD),
)


@functools.cache
def compile_synthetix_v3() -> dict[str, CompiledContract]:
    return compile_stand_in(CONTRACTS_DIR, cache_name="synthetix-v3", deployed=("DevPerpsMarket",))


def wallet_address(index: int) -> str:
    return keyless_address("synthetix-v3", f"wallet/{index}")


def deploy_synthetix_v3(rpc_url: str) -> dict[str, Any]:
    rpc = JsonRpcClient(rpc_url)
    code = compile_synthetix_v3()["DevPerpsMarket"].bytecode
    plan = DeployPlan.from_node(rpc, deploy_gas=8_000_000, call_gas=CALL_GAS)
    deployer = plan.deployer
    proxy = plan.create("DevPerpsMarket", code)
    for (mid, name, symbol, price, skew, imr, min_imr, mms, flag, min_margin, maker, taker, locked) in MARKETS:
        plan.call(f"createMarket {symbol}", proxy, "createMarket(uint128,string,string)", mid, name, symbol)
        plan.call(f"price {symbol}", proxy, "devSetPrice(uint128,uint256)", mid, price)
        plan.call(f"liquidation {symbol}", proxy,
                  "setLiquidationParameters(uint128,uint256,uint256,uint256,uint256,uint256)",
                  mid, imr, min_imr, mms, flag, min_margin)
        plan.call(f"max liquidation {symbol}", proxy,
                  "setMaxLiquidationParameters(uint128,uint256,uint256,uint256,address)",
                  mid, WAD, 30, WAD // 1000, "0x" + "00" * 20)
        plan.call(f"funding {symbol}", proxy, "setFundingParameters(uint128,uint256,uint256)", mid, skew, 9 * WAD)
        plan.call(f"fees {symbol}", proxy, "setOrderFees(uint128,uint256,uint256)", mid, maker, taker)
        plan.call(f"locked oi {symbol}", proxy, "setLockedOiRatio(uint128,uint256)", mid, locked)
    plan.call("guards", proxy, "setKeeperRewardGuards(uint256,uint256,uint256,uint256)", *GUARDS)
    plan.call("collateral reward", proxy, "setCollateralLiquidateRewardRatio(uint128)", COLLATERAL_REWARD_RATIO)
    plan.call("keeper costs", proxy, "devSetKeeperCosts(uint256,uint256)", *KEEPER_COSTS)
    with automine_paused(rpc):
        send_and_mine(rpc, plan.txs, "deploy Synthetix v3 perps")
    (token,) = decode(["address"], rpc.call(*eth_call(proxy, encode_call("getAccountTokenAddress()"))))
    block_number = int(rpc.call("eth_blockNumber"), 16)
    log.info("synthetix_v3 devnet deployed at block %d (proxy %s)", block_number, proxy)
    return {"deployer": deployer, "block_number": block_number, "contracts": {PROXY: proxy},
            "account_token": to_checksum_address(token),
            "markets": {m[2]: {"id": m[0], "price": m[3]} for m in MARKETS}}


def _call(rpc_url: str, record: dict[str, Any], signature: str, *args: Any) -> None:
    transact(JsonRpcClient(rpc_url), signature, record["deployer"], record["contracts"][PROXY],
             encode_call(signature, *args))


def set_price(rpc_url: str, record: dict[str, Any], symbol: str, price: int) -> None:
    _call(rpc_url, record, "devSetPrice(uint128,uint256)", record["markets"][symbol]["id"], price)


def set_stale(rpc_url: str, record: dict[str, Any], symbol: str, stale: bool) -> None:
    _call(rpc_url, record, "devSetStale(uint128,bool)", record["markets"][symbol]["id"], stale)


def account_ids(rpc_url: str, record: dict[str, Any], wallet: str) -> list[int]:
    rpc = JsonRpcClient(rpc_url)
    token = record["account_token"]
    (count,) = decode(["uint256"], rpc.call(*eth_call(token, encode_call("balanceOf(address)", wallet))))
    return [int(decode(["uint256"], rpc.call(*eth_call(token, encode_call("tokenOfOwnerByIndex(address,uint256)",
                                                                          wallet, i))))[0]) for i in range(count)]


def seed_accounts(rpc_url: str, record: dict[str, Any], count: int) -> list[tuple[str, str]]:
    """About ``count`` accounts, cycling through :data:`PLANS`; every third wallet holds two accounts. Returns
    (wallet, kind) per account (a wallet with two appears twice)."""
    rpc = JsonRpcClient(rpc_url)
    proxy, deployer = record["contracts"][PROXY], record["deployer"]
    prices = {symbol: m["price"] for symbol, m in record["markets"].items()}
    ids = {symbol: m["id"] for symbol, m in record["markets"].items()}
    owners: list[tuple[str, str, int]] = []  # (wallet, kind, plan index)
    wallet_index = 0
    while len(owners) < count:
        wallet = wallet_address(wallet_index)
        for _ in range(2 if wallet_index % 3 == 2 else 1):
            if len(owners) < count:
                index = len(owners) % len(PLANS)
                owners.append((wallet, PLANS[index][0], index))
        wallet_index += 1
    wallets = list(dict.fromkeys(w for w, _, _ in owners))
    rpc.batch(call for w in wallets for call in (("anvil_setBalance", [w, ETH_FUNDING]),
                                                  ("anvil_impersonateAccount", [w])))
    nonces = NonceBook(rpc)
    nonces.prefetch([deployer, *wallets])
    creates = [Tx(f"createAccount by {w}", w, proxy, encode_call("createAccount()"), CALL_GAS, nonces.take(w))
               for w, _, _ in owners]
    with automine_paused(rpc):
        send_and_mine(rpc, creates, "create Synthetix v3 accounts")
    owned = {w: account_ids(rpc_url, record, w) for w in wallets}
    txs: list[Tx] = []
    used: dict[str, int] = {}
    for wallet, kind, index in owners:
        account_id = owned[wallet][used.get(wallet, 0)]
        used[wallet] = used.get(wallet, 0) + 1
        _, legs, collateral = PLANS[index]
        txs.append(Tx(f"collateral {kind} {account_id}", wallet, proxy,
                      encode_call("modifyCollateral(uint128,uint128,int256)", account_id, 0, collateral), CALL_GAS,
                      nonces.take(wallet)))
        for symbol, size, (num, den) in legs:
            txs.append(Tx(f"position {kind} {account_id} {symbol}", deployer, proxy,
                          encode_call("devSetPosition(uint128,uint128,int128,uint128)", account_id, ids[symbol], size,
                                      prices[symbol] * num // den), CALL_GAS, nonces.take(deployer)))
    for symbol, mid in ids.items():  # funding and interest accrue after the positions opened
        txs.append(Tx(f"funding {symbol}", deployer, proxy, encode_call("devSetFunding(uint128,int256)", mid,
                                                                        FUNDING[mid]), CALL_GAS, nonces.take(deployer)))
    txs.append(Tx("interest", deployer, proxy, encode_call("devSetInterestAccrued(uint256)", INTEREST), CALL_GAS,
                  nonces.take(deployer)))
    with automine_paused(rpc):
        send_and_mine(rpc, txs, "seed Synthetix v3 positions")
    log.info("synthetix_v3 seeded accounts=%d wallets=%d", len(owners), len(wallets))
    return [(w, kind) for w, kind, _ in owners]


# -- what `indexer devnet up` and the demo call (indexer.protocols.base.DevnetModule) ---------------------------
def deploy_devnet(rpc_url: str) -> dict[str, Any]:
    """The stand-in proxy; ``contracts`` names ``SynthetixV3.PerpsMarketProxy``
    (``address = "devnet:SynthetixV3.PerpsMarketProxy"``)."""
    return deploy_synthetix_v3(rpc_url)


def seed_devnet(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    return seed_accounts(rpc_url, deployment.protocols[KIND], count)
