"""The chain's unfinalized headers, kept in memory, checked before anything of a block is read.

Seeded from the stored blocks when the pipeline starts, then fed each block's header as it is fetched.
A header whose parent hash differs from the one remembered for the block below is a reorg: the tracker
walks back, asking the node for its headers, to the highest block it remembers that is still canonical
(the common ancestor). Headers deeper than the finality depth are forgotten (finalized); a reorg reaching
below them is a ``PermanentError``: that chain stops, loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from indexer.chain.rpc import RpcClient
from indexer.errors import PermanentError
from indexer.metrics import REORG_DEPTH, REORGS
from indexer.types import BlockRef

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NewBlock:
    header: BlockRef


@dataclass(frozen=True, slots=True)
class Reorg:
    """The block asked for does not extend what was processed: everything above ``ancestor`` is replaced."""

    ancestor: int
    at: int  # the block whose parent did not match


class HeadTracker:
    def __init__(self, rpc: RpcClient, *, chain: str, finality_depth: int, known: Mapping[int, str]) -> None:
        self.rpc = rpc
        self.chain = chain
        self.finality_depth = finality_depth
        self.hashes: dict[int, str] = dict(known)  # block number → hash of the blocks processed

    async def check(self, header: BlockRef) -> NewBlock | Reorg:
        """Whether ``header`` extends the processed chain; on a reorg, where the common ancestor is."""
        parent = self.hashes.get(header.number - 1)
        if parent is None or parent == header.parent_hash:
            return NewBlock(header)
        ancestor = await self._ancestor(header.number - 1)
        log.warning("reorg detected chain=%s block=%d remembered_parent=%s new_parent=%s ancestor=%d", self.chain,
                    header.number, parent, header.parent_hash, ancestor)
        return self._rolled_back(ancestor, header.number)

    async def verify(self, header: BlockRef, *, processed_up_to: int) -> Reorg | None:
        """``header`` of a block already processed (the tip, or the node's head when it is below the tip),
        fetched again: a different hash at the same height, or a node whose chain ends below what was
        processed, is a reorg that no new block has revealed yet."""
        remembered = self.hashes.get(header.number)
        if remembered is None:
            return None
        if remembered == header.hash:
            if header.number >= processed_up_to:
                return None
            ancestor = header.number  # the node's chain is shorter: what was processed above it is gone
        else:
            ancestor = await self._ancestor(header.number - 1)
        log.warning("reorg detected at the tip chain=%s block=%d remembered=%s now=%s ancestor=%d", self.chain,
                    header.number, remembered, header.hash, ancestor)
        return self._rolled_back(ancestor, header.number)

    def _rolled_back(self, ancestor: int, number: int) -> Reorg:
        gone = [n for n in self.hashes if n > ancestor]
        for n in gone:
            del self.hashes[n]
        REORGS.labels(self.chain).inc()
        REORG_DEPTH.labels(self.chain).observe(len(gone))
        return Reorg(ancestor, number)

    def accept(self, header: BlockRef) -> None:
        """``header`` was processed and committed; headers past the finality depth are forgotten."""
        self.hashes[header.number] = header.hash
        floor = header.number - self.finality_depth
        for number in [n for n in self.hashes if n < floor]:
            del self.hashes[number]

    async def _ancestor(self, number: int) -> int:
        """The highest remembered block that the node still has, at most ``finality_depth`` back."""
        floor = number - self.finality_depth
        for candidate in range(number, floor - 1, -1):
            remembered = self.hashes.get(candidate)
            if remembered is None:
                break
            if (await self.rpc.block(candidate)).hash == remembered:
                return candidate
        raise PermanentError(f"chain {self.chain!r}: reorg deeper than the finality depth "
                             f"({self.finality_depth} blocks) below block {number}; stopping this chain")
