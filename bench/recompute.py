"""Local recompute: every position's health under a what-if price shock, exact integers, in process.

``AaveV3Adapter.health_at(snapshot, prices)`` over all positions, timed. The result is then checked against
the chain: the same shock is applied on the devnet in an evm snapshot, in a block with the same
timestamp as the one the positions were read at (so interest indexes do not move), and
``Pool.getUserAccountData`` of a sample of accounts must equal the local figures to the last unit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indexer.chain.multicall import Call, MulticallReader
from indexer.chain.rpc import RpcClient
from indexer.devnet import Deployment, revert, set_price, snapshot
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.types import Address, BlockRef, Health, PositionSnapshot


def shocked_prices(snapshots: Sequence[PositionSnapshot], asset: Address, percent: int) -> dict[Address, int]:
    """The asset's price as the positions saw it, moved by ``percent`` (−20 = a 20 % drop)."""
    for s in snapshots:
        for leg in s.legs:
            if leg.asset == asset and leg.price_key == asset:
                return {asset: leg.price * (100 + percent) // 100}
    raise ValueError(f"no position holds {asset}")


def recompute_rate(adapter: AaveV3Adapter, snapshots: Sequence[PositionSnapshot], prices: Mapping[Address, int],
                   *, at_least: int = 0) -> tuple[float, list[Health]]:
    """Positions per second, over as many passes over ``snapshots`` as it takes to do ``at_least`` positions
    (so that small sets are not timed in microseconds); and the last pass's figures."""
    passes = max(1, -(-at_least // max(len(snapshots), 1)))
    started = time.perf_counter()
    for _ in range(passes):
        healths = [adapter.health_at(s, prices) for s in snapshots]
    return passes * len(snapshots) / (time.perf_counter() - started), healths


def figures(s: PositionSnapshot) -> tuple[int, ...]:
    """The six numbers ``getUserAccountData`` returns, from a local (re)computed position."""
    h, d = s.health, s.detail
    return (h.collateral, h.debt, d["available_borrows"], d["liquidation_threshold"], d["ltv"], h.raw)


@dataclass
class ChainCheck:
    block: int  # the block the shock was mined in
    sample: int
    matched: int
    exposed: int  # sampled accounts that hold the shocked asset
    mismatches: list[tuple[str, tuple[int, ...], tuple[int, ...]]]  # (account, local, on-chain)

    @property
    def ok(self) -> bool:
        return self.sample > 0 and self.matched == self.sample


def pick_sample(snapshots: Sequence[PositionSnapshot], asset: Address, size: int) -> list[PositionSnapshot]:
    """About three quarters of accounts holding ``asset`` (the shock moves them), the rest without it."""
    holding = [s for s in snapshots if any(g.asset == asset for g in s.legs)]
    others = [s for s in snapshots if all(g.asset != asset for g in s.legs)]
    want_holding = min(len(holding), max(size - size // 4, size - len(others)))
    picked = holding[:: max(len(holding) // max(want_holding, 1), 1)][:want_holding]
    rest = size - len(picked)
    return picked + others[:: max(len(others) // max(rest, 1), 1)][:rest]


async def check_on_chain(url: str, deployment: Deployment, symbol: str, price: int, block: BlockRef,
                         sample: Sequence[PositionSnapshot], local: Mapping[str, PositionSnapshot]) -> ChainCheck:
    """Mine ``symbol`` at ``price`` right after ``block`` (same timestamp), compare, and revert."""
    rpc = JsonRpcClient(url)
    head = int(rpc.call("eth_blockNumber"), 16)
    if head != block.number:
        raise RuntimeError(f"the positions were read at block {block.number} but the head is {head}")
    taken = snapshot(url)
    try:
        rpc.call("evm_setNextBlockTimestamp", [block.timestamp])
        set_price(url, deployment, symbol, price)
        shocked = int(rpc.call("eth_blockNumber"), 16)
        async with RpcClient([url]) as client:
            pool = deployment.contracts["Pool"]
            got = await MulticallReader(client, shocked).read(
                [Call.of(pool, "getUserAccountData(address)", [s.account], ["address"], ("uint256",) * 6)
                 for s in sample])
    finally:
        revert(url, taken)
    asset = deployment.reserve(symbol)["asset"]
    mismatches = [(s.account, figures(local[s.account]), tuple(onchain))
                  for s, onchain in zip(sample, got, strict=True) if figures(local[s.account]) != tuple(onchain)]
    return ChainCheck(block=shocked, sample=len(sample), matched=len(sample) - len(mismatches),
                      exposed=sum(1 for s in sample if any(g.asset == asset for g in s.legs)),
                      mismatches=mismatches)
