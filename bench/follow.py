"""Row 7: following the chain, one new block at a time, as `indexer run` does, beside the peer and the raw replay.

The refresh (rows 1 – 3) reads every account at a block, as a one-shot `indexer sync` or a script would. A process
that follows the chain knows more: the block's logs name the accounts that acted, the others are rebuilt from what
its last read kept (``ChangeReads``), and under ``[writes] mode = "accrued"`` with an ``epsilon`` those whose row is
within epsilon at the block and whose alert level cannot move are not even assembled (dormant positions). What any
block's figures were is still exact from the store (the market's state every block, each account's inputs).

Per series one pipeline of `indexer run` (``ChainPipeline``, its collector schedule), three blocks untimed to warm
it (the first compares every stored row, the second works out their headroom); then per repeat, each timed from
the block existing to it stored (the pipeline's step, head detection by one ``eth_blockNumber`` included):
* a quiet block: mined 12 s after the last, nobody acted (every debt accrued);
* an active block: ``share`` of the accounts each borrow one unit more of a debt they hold, in that block.
Each block's peer refresh (every account's ``getUserAccountData`` through Multicall3) runs at that same block after
the step, and the step's own JSON-RPC requests are replayed raw (the floor).

Two series: ``[writes]`` as configured by default (``changed``, exact) and ``accrued`` with ``epsilon``.
``python -m bench`` reports them as rows 7, 7b and 7c.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bench.alert_latency import as_run
from bench.devnet import CHAIN, BenchDevnet
from bench.floor import FloorRun, replay
from bench.peer import PeerRun, peer_refresh
from indexer.chain.rpc import RpcClient
from indexer.devnet.abi import encode_call
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.devnet.txbatch import NonceBook, Tx, mine_txs
from indexer.pipeline.chain import ChainPipeline
from indexer.pipeline.chain_read import ChainRead
from indexer.settings import Settings

WARM_BLOCKS = 3
BLOCK_SECONDS = 12


@dataclass(frozen=True)
class FollowRun:
    """One timed block."""

    seconds: float  # from the block existing to it stored (the pipeline's step)
    read: float  # of which the read (``ChainReader.read``: the requests, decoding, rebuilding the accounts)
    block: int
    acted: int  # accounts that sent a transaction in the block
    dormant: int  # positions not assembled in it (``ChainPipeline.dormant``)
    requests: int  # the step's JSON-RPC requests (eth_blockNumber included)
    http_posts: int
    floor: FloorRun  # those requests replayed raw
    peer: PeerRun  # every account's getUserAccountData at the block, through Multicall3


@dataclass(frozen=True)
class Following:
    epsilon: Decimal
    share: float  # of the accounts, those acting in an active block
    changed: list[FollowRun]  # quiet blocks, ``[writes]`` as by default (``changed``, exact)
    quiet: list[FollowRun]  # quiet blocks, ``accrued`` with ``epsilon``
    active: list[FollowRun]  # active blocks, ``accrued`` with ``epsilon``


class _RecordingRpc(RpcClient):
    """The pipeline's client, keeping every payload posted (what the floor replays)."""

    payloads: list[list[dict[str, Any]]]

    async def _post(self, url: str, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.payloads.append(payload)
        return await super()._post(url, payload)


def _settings(dev: BenchDevnet, epsilon: Decimal | None) -> Settings:
    if epsilon is None:
        return dev.settings
    writes = dev.settings.writes.model_copy(update={"mode": "accrued", "epsilon": epsilon})
    return dev.settings.model_copy(update={"writes": writes})


def _borrows(dev: BenchDevnet, count: int, rng: random.Random) -> list[Tx]:
    """``count`` borrowers, each borrowing one unit more of a debt it holds (one transaction each)."""
    pool = dev.deployment.contracts["Pool"]
    borrowers = rng.sample([a for a in dev.accounts if a.borrows], count)
    nonces = NonceBook(JsonRpcClient(dev.url))
    nonces.prefetch([a.address for a in borrowers])
    txs = []
    for account in borrowers:
        symbol = sorted(account.borrows)[0]
        data = encode_call("borrow(address,uint256,uint256,uint16,address)", dev.deployment.reserve(symbol)["asset"],
                           1, 2, 0, account.address)
        txs.append(Tx("borrow one unit", account.address, pool, data, 1_500_000, nonces.take(account.address)))
    return txs


async def _series(dev: BenchDevnet, epsilon: Decimal | None, repeat: int, acting: int, batch_size: int
                  ) -> tuple[list[FollowRun], list[FollowRun]]:
    """(quiet blocks, active blocks) of one pipeline; no active blocks where ``acting`` is 0."""
    settings = _settings(dev, epsilon)
    rpc = _RecordingRpc(settings.rpc_urls(CHAIN), timeout=settings.chains[CHAIN].rpc_timeout)
    rpc.payloads = []
    node = JsonRpcClient(dev.url)
    pool, addresses = dev.deployment.contracts["Pool"], [a.address for a in dev.accounts]
    rng = random.Random(7)
    quiet: list[FollowRun] = []
    active: list[FollowRun] = []
    with as_run() as heap:
        pipeline = ChainPipeline(settings, dev.engine, CHAIN, max_blocks_per_step=1, rpc=rpc,
                                 on_block=lambda chain, block, seconds: heap.settle())
        reads: list[float] = []
        read = pipeline.reads.read

        async def timed_read(*args: Any, **kwargs: Any) -> ChainRead:
            done = await read(*args, **kwargs)
            reads.append(done.timings["read"])
            return done

        pipeline.reads.read = timed_read  # type: ignore[method-assign]  # the step's read, timed as it times itself

        async def timed(acted: int) -> FollowRun:
            block = int(node.call("eth_blockNumber", []), 16)
            rpc.payloads, reads[:] = [], []
            before = rpc.stats.copy()
            started = time.perf_counter()
            done = await pipeline.step()
            seconds = time.perf_counter() - started
            if done != 1 or pipeline.last_stored != block:
                raise RuntimeError(f"the pipeline stored {pipeline.last_stored} in {done} steps, not block {block}")
            stats = rpc.stats.since(before)
            payloads = rpc.payloads
            peer = await peer_refresh(dev.url, pool, addresses, block, batch_size=batch_size)
            floor = await replay(dev.url, payloads)
            heap.sweep()  # where `run` would: between blocks, when due (not timed)
            return FollowRun(seconds, sum(reads), block, acted, pipeline.dormant, stats.requests, stats.http_posts,
                             floor, peer)

        try:
            while await pipeline.step():  # catches up from the store's checkpoint (not timed)
                pass
            for _ in range(WARM_BLOCKS):
                node.call("anvil_mine", [hex(1), hex(BLOCK_SECONDS)])
                await pipeline.step()
            for _ in range(repeat):
                node.call("anvil_mine", [hex(1), hex(BLOCK_SECONDS)])
                quiet.append(await timed(0))
                if acting:
                    mine_txs(node, _borrows(dev, acting, rng), "borrow one unit")
                    active.append(await timed(acting))
        finally:
            await pipeline.close()
    return quiet, active


async def measure(dev: BenchDevnet, repeat: int, *, epsilon: Decimal = Decimal("0.0001"), share: float = 0.01,
                  batch_size: int = 1000) -> Following:
    """The default series (quiet blocks), then the accrued one (quiet and active blocks), on ``dev``'s chain and
    database; it mines blocks and stores them, so it runs after the rows that read the chain as it was.
    ``batch_size``: the peer's accounts per aggregate3 (as in row 1b)."""
    acting = max(1, round(len(dev.accounts) * share))
    changed, _ = await _series(dev, None, repeat, 0, batch_size)
    quiet, active = await _series(dev, epsilon, repeat, acting, batch_size)
    return Following(epsilon, share, changed, quiet, active)
