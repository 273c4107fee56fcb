"""The devnet's non-Aave oracles: a Pyth pull oracle (DevPyth) and an L2 sequencer-uptime feed.

Neither is wired into a protocol's market; they exist for consumers that read such oracles directly
(:mod:`indexer.devnet.chain` deploys them).

* Pyth prices are ``price * 10**expo`` with a confidence interval ``conf`` in the same units, keyed by a
  32-byte price id (:data:`PYTH_PRICE_IDS`, the ids Pyth uses on mainnet). DevPyth's setter stores any
  publish time, so stale, future-dated and out-of-order prices can all be staged.
* The sequencer-uptime feed is a Chainlink-style feed with 0 decimals: answer 0 means the sequencer is
  up, 1 that it is down, and ``startedAt`` is when the status last changed (what a grace period counts from).

Every setter sends one transaction from the deployment's deployer and returns once it is mined.
"""

from __future__ import annotations

from indexer.devnet.abi import decode, encode_call, encode_words
from indexer.devnet.deployment import Deployment
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import transact

__all__ = [
    "PRICE_DECIMALS",
    "PYTH_DEFAULT_EXPO",
    "PYTH_PRICE_IDS",
    "SEQUENCER_DESCRIPTION",
    "SEQUENCER_DOWN",
    "SEQUENCER_UP",
    "default_conf",
    "pyth_set_price_call",
    "set_pyth_price",
    "set_sequencer",
]

# Pyth's own price ids for the feeds the devnet publishes (ETH/USD for WETH, as Pyth prices ETH itself).
PYTH_PRICE_IDS: dict[str, str] = {
    "WETH": "0xff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace",
}
PRICE_DECIMALS = 8  # the devnet's Chainlink-style feeds answer in USD with 8 decimals
PYTH_DEFAULT_EXPO = -PRICE_DECIMALS  # -8: the same scale as the devnet's Chainlink-style feeds

SEQUENCER_DESCRIPTION = "L2 Sequencer Uptime Status Feed"
SEQUENCER_UP = 0
SEQUENCER_DOWN = 1

_SET_PRICE = "setPrice(bytes32,int64,uint64,int32,uint64)"


def default_conf(price: int) -> int:
    """The confidence interval the devnet uses unless told otherwise: 0.1 % of the price."""
    return abs(price) // 1_000


def pyth_set_price_call(price_id: str, price: int, conf: int, expo: int, publish_time: int) -> str:
    """Calldata of ``DevPyth.setPrice`` (shared by the deployment batch and :func:`set_pyth_price`)."""
    return encode_call(_SET_PRICE, bytes.fromhex(price_id.removeprefix("0x")), price, conf, expo, publish_time)


def set_pyth_price(
    rpc_url: str,
    deployment: Deployment,
    symbol: str,
    price: int,
    *,
    conf: int | None = None,
    expo: int = PYTH_DEFAULT_EXPO,
    publish_time: int | None = None,
) -> None:
    """Publishes a Pyth price for ``symbol`` (``price * 10**expo`` USD) on the deployment's DevPyth.

    ``conf`` defaults to 0.1 % of ``price``; ``publish_time`` to the latest block's timestamp, so the
    price is fresh but never ahead of the block that records it.
    """
    try:
        price_id = deployment.pyth_price_ids[symbol]
    except KeyError:
        known = sorted(deployment.pyth_price_ids)
        raise KeyError(f"no Pyth price id for {symbol!r} in this deployment; known: {known}") from None
    rpc = JsonRpcClient(rpc_url)
    if publish_time is None:
        publish_time = _latest_timestamp(rpc)
    data = pyth_set_price_call(price_id, price, default_conf(price) if conf is None else conf, expo, publish_time)
    transact(rpc, f"DevPyth.setPrice {symbol}", deployment.deployer, deployment.contracts["Pyth"], data)


def set_sequencer(rpc_url: str, deployment: Deployment, *, down: bool, started_at: int | None = None) -> None:
    """Reports the L2 sequencer down (answer 1) or up (answer 0) in a new round of the uptime feed.

    ``started_at`` is when the status changed: by default the latest block's timestamp, i.e. just now;
    pass an older time to stage a change that is already past (or still inside) a grace period.
    The round's updatedAt is the latest block's timestamp.
    """
    feed = deployment.contracts["SequencerUptimeFeed"]
    rpc = JsonRpcClient(rpc_url)
    latest_round, block = rpc.batch([
        ("eth_call", [{"to": feed, "data": encode_call("latestRound()")}, "latest"]),
        ("eth_getBlockByNumber", ["latest", False]),
    ])  # fmt: skip
    now = int(block["timestamp"], 16)
    (round_id,) = decode(["uint256"], latest_round)
    answer = SEQUENCER_DOWN if down else SEQUENCER_UP
    started = now if started_at is None else started_at
    data = encode_words("setRoundData(uint80,int256,uint256,uint256)", round_id + 1, answer, started, now)
    transact(rpc, f"sequencer {'down' if down else 'up'}", deployment.deployer, feed, data)


def _latest_timestamp(rpc: JsonRpcClient) -> int:
    return int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
