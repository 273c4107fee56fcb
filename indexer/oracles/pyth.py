"""Reading Pyth pull-oracle prices (``getPriceUnsafe``: the stored price, however old; we judge its age)."""

from __future__ import annotations

from typing import Any

from indexer.chain.multicall import Call, Failed
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.types import Address

PRICE = ("int64", "uint64", "int32", "uint256")  # Price{price, conf, expo, publishTime}


def pyth_calls(address: Address, price_id: str) -> list[Call]:
    return [Call.of(address, "getPriceUnsafe(bytes32)", [bytes.fromhex(price_id.removeprefix("0x"))],
                    ["bytes32"], PRICE, allow_failure=True)]


def pyth_decode(address: Address, price_id: str, results: list[Any], *, asset: Address | None = None,
                symbol: str | None = None) -> FeedReading:
    common = dict(address=address, kind=FeedKind.PYTH, price_id=price_id.lower(), asset=asset, symbol=symbol)
    (got,) = results
    if isinstance(got, Failed):
        return FeedReading(**common, error=f"getPriceUnsafe() {got.reason}")
    price, conf, expo, publish_time = got
    return FeedReading(**common, answer=price, conf=conf, decimals=-expo, updated_at=publish_time,
                       started_at=publish_time)
