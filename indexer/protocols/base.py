"""The adapter contract every protocol implements, lending and perps alike.

An adapter reads positions as a *plan*: a generator that yields rounds of contract calls and receives
their results. The caller merges the rounds of every market on a chain into one pinned Multicall3
pass per round, so an adapter never talks to the RPC and never chooses the block. Protocols whose
reads depend on earlier reads (Aave: which reserves a user touches decides which balances to read)
take several rounds; a protocol with fixed reads takes one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from indexer.chain.multicall import Plan
from indexer.types import Address, BlockRef, Health, PositionSnapshot


@dataclass(frozen=True, slots=True)
class MarketRef:
    """A configured market: its key, chain and on-chain address (the protocol's entry point)."""

    key: str
    chain: str
    address: Address
    verify_onchain: bool = False


class ProtocolAdapter(Protocol):
    kind: ClassVar[str]

    def __init__(self, market: MarketRef) -> None: ...

    def read(self, accounts: Sequence[Address], block: BlockRef) -> Plan[list[PositionSnapshot]]:
        """Positions of ``accounts`` at ``block``, exact integers; accounts with no position are left out."""
        ...

    def health(self, snapshot: PositionSnapshot, prices: Mapping[Address, int]) -> Health:
        """Recompute health locally from the snapshot's components with other prices (what-ifs, fast path)."""
        ...
