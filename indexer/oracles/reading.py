"""What one oracle feed said at one block, as read inside a snapshot's Multicall3 pass."""

from __future__ import annotations

from dataclasses import dataclass

from indexer.types import Address


class FeedKind:
    CHAINLINK = "chainlink"
    SEQUENCER = "sequencer-uptime"
    PYTH = "pyth"


@dataclass(frozen=True, slots=True)
class FeedReading:
    """One feed at one block. ``error`` is set (and the figures are None) when the read failed.

    For Chainlink-style feeds ``address`` is the proxy the protocol reads and ``aggregator`` the
    contract behind it (None when the feed is not a proxy). For Pyth, ``address`` is the Pyth contract,
    ``price_id`` the feed id, ``round_id`` None, ``updated_at`` the publish time, ``decimals`` = -expo.
    """

    address: Address
    kind: str
    round_id: int | None = None
    answer: int | None = None
    started_at: int | None = None
    updated_at: int | None = None
    decimals: int | None = None
    description: str | None = None
    aggregator: Address | None = None
    price_id: str | None = None
    conf: int | None = None
    asset: Address | None = None
    symbol: str | None = None
    error: str | None = None

    @property
    def key(self) -> str:
        """Identity of the feed on its chain: the address, plus the price id for Pyth."""
        return self.address if self.price_id is None else f"{self.address}:{self.price_id}"
