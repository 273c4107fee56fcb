"""Moving the devnet's prices: new rounds on a reserve's DevPriceFeed, or a new aggregator behind its proxy.

Answers are raw feed integers (8 decimals for the feeds the deployment creates: 2000 USD = 2000 * 10**8).
Every function sends one transaction from the deployment's deployer and returns once it is mined.
"""

from __future__ import annotations

from eth_utils import to_checksum_address

from indexer.devnet.abi import create_address, decode, encode_args, encode_call
from indexer.devnet.chain_control import advance_time, mine, revert, snapshot
from indexer.devnet.compile import compile_dev_contracts
from indexer.devnet.deployment import Deployment
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.oracles import PRICE_DECIMALS
from indexer.devnet.txbatch import transact

__all__ = [
    "advance_time",
    "deploy_price_feed",
    "feed_aggregator",
    "mine",
    "revert",
    "set_aggregator",
    "set_price",
    "set_round",
    "set_updated_at",
    "snapshot",
]


def set_price(rpc_url: str, deployment: Deployment, symbol: str, answer: int) -> None:
    """Starts the next round of ``symbol``'s current aggregator with ``answer``, stamped now."""
    aggregator = feed_aggregator(rpc_url, deployment, symbol)
    rpc = JsonRpcClient(rpc_url)
    transact(rpc, f"setAnswer {symbol}", deployment.deployer, aggregator, encode_call("setAnswer(int256)", answer))


def set_round(
    rpc_url: str,
    deployment: Deployment,
    symbol: str,
    round_id: int,
    answer: int,
    started_at: int,
    updated_at: int,
) -> None:
    """Writes an arbitrary round (ids may go backwards; updated_at may be 0 or in the future) and makes it
    the latest one of ``symbol``'s current aggregator."""
    aggregator = feed_aggregator(rpc_url, deployment, symbol)
    data = encode_call("setRoundData(uint80,int256,uint256,uint256)", round_id, answer, started_at, updated_at)
    transact(JsonRpcClient(rpc_url), f"setRoundData {symbol}", deployment.deployer, aggregator, data)


def set_updated_at(rpc_url: str, deployment: Deployment, symbol: str, updated_at: int) -> None:
    """Rewrites the latest round's updatedAt without a new round or any event (a silently stale feed)."""
    aggregator = feed_aggregator(rpc_url, deployment, symbol)
    data = encode_call("setUpdatedAt(uint256)", updated_at)
    transact(JsonRpcClient(rpc_url), f"setUpdatedAt {symbol}", deployment.deployer, aggregator, data)


def deploy_price_feed(
    rpc_url: str, answer: int, *, description: str = "DEV / USD", decimals: int = PRICE_DECIMALS, sender: str
) -> str:
    """Deploys a fresh DevPriceFeed (round 1 = ``answer``) and returns its address."""
    rpc = JsonRpcClient(rpc_url)
    code = compile_dev_contracts()["DevPriceFeed"].bytecode
    nonce = int(rpc.call("eth_getTransactionCount", [sender, "pending"]), 16)
    address = create_address(sender, nonce)
    data = code + encode_args(("uint8", "string", "int256"), (decimals, description, answer))
    transact(rpc, "deploy DevPriceFeed", sender, None, data, gas=3_000_000)
    return address


def set_aggregator(rpc_url: str, deployment: Deployment, symbol: str, aggregator: str) -> None:
    """Points ``symbol``'s feed proxy at ``aggregator`` (a new phase; no event, as on real proxies)."""
    proxy = deployment.reserve(symbol)["feed"]
    data = encode_call("setAggregator(address)", aggregator)
    transact(JsonRpcClient(rpc_url), f"setAggregator {symbol}", deployment.deployer, proxy, data)


def feed_aggregator(rpc_url: str, deployment: Deployment, symbol: str) -> str:
    """The aggregator ``symbol``'s proxy currently reads (it changes with :func:`set_aggregator`)."""
    proxy = deployment.reserve(symbol)["feed"]
    raw = JsonRpcClient(rpc_url).call("eth_call", [{"to": proxy, "data": encode_call("aggregator()")}, "latest"])
    return to_checksum_address(decode(["address"], raw)[0])
