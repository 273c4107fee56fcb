"""What every protocol on the devnet shares: the chain itself, Multicall3 at its canonical address, a Pyth
pull oracle (DevPyth) and an L2 sequencer-uptime feed.

:func:`start` opens the deployment record and pins the first block to the wall clock; protocols deploy
after it (:mod:`indexer.devnet.stack`); :func:`deploy_services` then adds the shared services, Pyth
publishing the reserves' initial prices. See :mod:`indexer.devnet.oracles` for moving them afterwards.
"""

from __future__ import annotations

import logging
import time

from eth_utils import to_checksum_address

from indexer.devnet.compile import compile_dev_contracts
from indexer.devnet.deployment import Deployment, DeployPlan
from indexer.devnet.errors import DevnetError
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.oracles import (
    PRICE_DECIMALS,
    PYTH_PRICE_IDS,
    SEQUENCER_DESCRIPTION,
    SEQUENCER_UP,
    default_conf,
    pyth_set_price_call,
)
from indexer.devnet.txbatch import automine_paused, send_and_mine

log = logging.getLogger(__name__)

CANONICAL_MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"

# how long before the deployment the sequencer-uptime feed says the sequencer came up: well past any
# grace period (Aave's PriceOracleSentinel and most protocols use an hour or less)
SEQUENCER_UP_SINCE = 2 * 86_400


def start(rpc_url: str) -> Deployment:
    """The record of a new devnet on the node at ``rpc_url``: its chain id and deployer (the first dev
    account). The next block is pinned to now (the head may be a genesis block from long before, e.g.
    after a cold compile), so every deployment's timestamps are the wall clock's."""
    rpc = JsonRpcClient(rpc_url)
    chain_id_hex, accounts, head = rpc.batch([
        ("eth_chainId", []), ("eth_accounts", []), ("eth_getBlockByNumber", ["latest", False]),
    ])  # fmt: skip
    if not accounts:
        raise DevnetError(f"the node at {rpc_url} has no unlocked dev account to deploy from")
    rpc.call("evm_setNextBlockTimestamp", [max(int(head["timestamp"], 16) + 1, int(time.time()))])
    return Deployment(
        rpc_url=rpc_url, chain_id=int(chain_id_hex, 16), deployer=to_checksum_address(accounts[0]),
        block_number=int(head["number"], 16),
    )  # fmt: skip


def deploy_services(rpc_url: str, deployment: Deployment) -> None:
    """Multicall3 (DevMulticall3, its code also set at the canonical address), DevPyth with the price of
    every reserve Pyth has an id for, and the sequencer-uptime feed (up for two days); recorded in
    ``deployment``."""
    rpc = JsonRpcClient(rpc_url)
    dev = compile_dev_contracts()
    head = rpc.call("eth_getBlockByNumber", ["latest", False])
    now = max(int(head["timestamp"], 16) + 1, int(time.time()))
    rpc.call("evm_setNextBlockTimestamp", [now])
    nonce = int(rpc.call("eth_getTransactionCount", [deployment.deployer, "pending"]), 16)
    plan = DeployPlan(deployment.deployer, nonce)
    c = deployment.contracts
    c["DevMulticall3"] = plan.create("DevMulticall3", dev["DevMulticall3"].bytecode)
    c["Multicall3"] = CANONICAL_MULTICALL3

    pyth = c["Pyth"] = plan.create("DevPyth", dev["DevPyth"].bytecode)
    for reserve in deployment.reserves:
        price_id = PYTH_PRICE_IDS.get(reserve["symbol"])
        if price_id is None or reserve["symbol"] in deployment.pyth_price_ids:
            continue
        price = reserve["price"]  # the feed's answer: PRICE_DECIMALS decimals, i.e. expo -8
        data = pyth_set_price_call(price_id, price, default_conf(price), -PRICE_DECIMALS, now)
        plan.send(f"DevPyth.setPrice {reserve['symbol']}", pyth, data)
        deployment.pyth_price_ids[reserve["symbol"]] = price_id

    feed_code = dev["DevPriceFeed"].bytecode
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
        send_and_mine(rpc, plan.txs, "deploy the chain's shared services")
    rpc.call("anvil_setCode", [CANONICAL_MULTICALL3, dev["DevMulticall3"].deployed_bytecode])
    if len(rpc.call("eth_getCode", [CANONICAL_MULTICALL3, "latest"])) <= 2:
        raise DevnetError("anvil_setCode left no code at the canonical Multicall3 address")
    deployment.block_number = int(rpc.call("eth_blockNumber"), 16)
    log.info("devnet services deployed block=%d multicall3=%s pyth=%s", deployment.block_number,
             CANONICAL_MULTICALL3, pyth)  # fmt: skip
