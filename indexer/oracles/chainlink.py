"""Reading Chainlink-style feeds (AggregatorV3Interface, and proxies in front of aggregators).

Decimals and description are read only for feeds not seen before (``known``); ``latestRoundData``
and the proxy's ``aggregator()`` are read on every pass, since the proxy emits no event when its
aggregator is swapped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from indexer.chain.abi import load
from indexer.chain.multicall import Call, Failed
from indexer.hexutil import to_checksum_address
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.types import Address

_FEED = load("chainlink", "AggregatorV3")


@dataclass(frozen=True, slots=True)
class FeedMeta:
    decimals: int
    description: str


class ChainlinkFeeds:
    """Builds the calls for a set of feeds and decodes their results, for use inside any plan round."""

    def __init__(self, known: Mapping[Address, FeedMeta] | None = None) -> None:
        self.known = dict(known or {})

    def calls(self, address: Address) -> list[Call]:
        calls = [_FEED.function("latestRoundData").call(address, allow_failure=True),
                 _FEED.function("aggregator").call(address, allow_failure=True)]
        if address not in self.known:
            calls += [_FEED.function("decimals").call(address, allow_failure=True),
                      _FEED.function("description").call(address, allow_failure=True)]
        return calls

    def decode(self, address: Address, results: list[Any], *, kind: str = FeedKind.CHAINLINK,
               asset: Address | None = None, symbol: str | None = None) -> FeedReading:
        round_data, aggregator = results[0], results[1]
        if address in self.known:
            meta = self.known[address]
        else:
            decimals, description = results[2], results[3]
            meta = FeedMeta(decimals[0] if not isinstance(decimals, Failed) else 0,
                            description[0] if not isinstance(description, Failed) else "")
            if not isinstance(decimals, Failed):
                self.known[address] = meta
        agg = None if isinstance(aggregator, Failed) else to_checksum_address(aggregator[0])
        reading = FeedReading(address=address, kind=kind, decimals=meta.decimals, description=meta.description,
                              aggregator=agg, asset=asset, symbol=symbol)
        if isinstance(round_data, Failed):
            return dataclasses.replace(reading, error=f"latestRoundData() {round_data.reason}")
        round_id, answer, started_at, updated_at, _ = round_data
        return dataclasses.replace(reading, round_id=round_id, answer=answer, started_at=started_at,
                                   updated_at=updated_at)
