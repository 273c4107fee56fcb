"""The devnet's Aave v2 market: the real @aave/protocol-v2 1.0.1 artifacts, six ETH-quoted reserves and seeded
positions with stable and variable debt (see :mod:`.market`, :mod:`.deploy`, :mod:`.seed`).

``deploy_devnet`` and ``seed_devnet`` are what :mod:`indexer.devnet.stack` calls
(:class:`indexer.protocols.base.DevnetModule`); the market's record sits under ``deployment.protocols["aave_v2"]``
and its contracts in the devnet file as ``AaveV2.NAME`` (a config names the market by
``address = "devnet:AaveV2.LendingPoolAddressesProvider"``).
"""

from __future__ import annotations

from typing import Any

from indexer.devnet.abi import decode, encode_call
from indexer.devnet.deployment import Deployment
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import transact
from indexer.protocols.aave_v2.devnet.deploy import deploy_aave_v2
from indexer.protocols.aave_v2.devnet.seed import KINDS, SeededV2, plan_accounts, seed_positions

KIND = "aave_v2"

__all__ = [
    "KIND",
    "KINDS",
    "SeededV2",
    "aave_v2_record",
    "deploy_aave_v2",
    "deploy_devnet",
    "plan_accounts",
    "seed_devnet",
    "seed_positions",
    "set_asset_price",
]


def aave_v2_record(deployment: Deployment) -> dict[str, Any]:
    """What :func:`deploy_aave_v2` recorded on this devnet."""
    try:
        return deployment.protocols[KIND]
    except KeyError:
        raise KeyError(f"this devnet has no Aave v2 market (protocols: {sorted(deployment.protocols)})") from None


def deploy_devnet(rpc_url: str) -> dict[str, Any]:
    return deploy_aave_v2(rpc_url)


def seed_devnet(rpc_url: str, deployment: Deployment, count: int) -> list[tuple[str, str]]:
    return [(a.address, a.kind) for a in seed_positions(rpc_url, aave_v2_record(deployment), count)]


def set_asset_price(rpc_url: str, record: dict[str, Any], symbol: str, wei: int) -> None:
    """A new round on ``symbol``'s DevPriceFeed (the aggregator behind the proxy AaveOracle reads): ``wei`` per
    whole token. WETH has no feed: AaveOracle prices it at 1 ether whatever happens."""
    asset = next((a for a in record["assets"] if a["symbol"] == symbol), None)
    if asset is None or asset["feed"] is None:
        raise KeyError(f"the Aave v2 devnet has no price feed for {symbol!r}")
    rpc = JsonRpcClient(rpc_url)
    raw = rpc.call("eth_call", [{"to": asset["feed"], "data": encode_call("aggregator()")}, "latest"])
    (aggregator,) = decode(["address"], raw)
    transact(rpc, f"setAnswer {symbol}", record["deployer"], aggregator, encode_call("setAnswer(int256)", wei))
