"""The adapter contract every protocol implements, lending and perps alike.

An adapter reads positions as a *plan*: a generator that yields rounds of contract calls and receives
their results. The caller merges the rounds of every market on a chain into one pinned Multicall3
pass per round, so an adapter never talks to the RPC and never chooses the block. Protocols whose
reads depend on earlier reads (Aave: which reserves a user touches decides which balances to read)
take several rounds; a protocol with fixed reads takes one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from indexer.chain.multicall import Plan
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.types import Address, BlockRef, Health, PositionSnapshot


@dataclass(frozen=True, slots=True)
class EventSource:
    """Where a protocol's accounts show up, for discovery: the contract that emits the events (resolved from
    the market's configured address by one argument-less view), and, per event topic0, which topic holds
    the account."""

    contract_getter: str
    account_topic: Mapping[str, int]

    def topics(self) -> list[list[str]]:
        return [sorted(self.account_topic)]


@dataclass(frozen=True, slots=True)
class MarketRef:
    """A configured market: its key, chain and on-chain address (the protocol's entry point)."""

    key: str
    chain: str
    address: Address
    verify_onchain: bool = False


@dataclass(slots=True)
class MarketRead:
    """What one market's read produced: positions, the feeds behind their prices, and the accounts whose
    position could not be valued because the protocol itself could not price one of their assets."""

    snapshots: list[PositionSnapshot]
    feeds: list[FeedReading] = field(default_factory=list)
    unpriced: list[Address] = field(default_factory=list)
    hint: object | None = None  # handed to the market's next ``read`` (see ``ProtocolAdapter.read``)


class ProtocolAdapter(Protocol):
    kind: ClassVar[str]
    events: ClassVar[EventSource | None]  # None: discovery is not available for this protocol

    def __init__(self, market: MarketRef) -> None: ...

    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None) -> Plan[MarketRead]:
        """Positions of ``accounts`` at ``block``, exact integers; accounts with no position are left out.
        The oracle feeds behind the prices are read in the same rounds (``feeds`` builds those calls).
        ``hint`` is the ``MarketRead.hint`` of this market's previous read (None on the first): an adapter
        may use it to read what it resolved before (entry points, layouts) in a later round, but must
        confirm it at ``block`` before relying on it — a hint saves round trips, it is never trusted."""
        ...

    def health(self, snapshot: PositionSnapshot, prices: Mapping[Address, int]) -> Health:
        """Recompute health locally from the snapshot's components with other prices (what-ifs, fast path)."""
        ...

    def healthy_at(self, snapshot: PositionSnapshot, key: Address) -> Callable[[int], bool]:
        """``price → health ≥ 1`` (or no debt) with the assets priced by ``key`` at ``price``, the rest as in
        the snapshot; the same answer as ``health(snapshot, {key: price})``, asked cheaply many times."""
        ...

    def price_from_feed(self, reading: FeedReading) -> int | None:
        """The price the protocol would use for an asset, given its feed's new reading (the fast path);
        None when that cannot be known without a full read."""
        ...
