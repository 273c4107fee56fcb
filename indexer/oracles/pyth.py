"""Reading Pyth pull-oracle prices (``getPriceUnsafe``: the stored price, however old; we judge its age)."""

from __future__ import annotations

import dataclasses
from typing import Any

from indexer.chain.abi import load
from indexer.chain.multicall import Call, Failed
from indexer.oracles.reading import FeedKind, FeedReading
from indexer.types import Address

_GET_PRICE = load("pyth", "Pyth").function("getPriceUnsafe")  # Price{price, conf, expo, publishTime}, flat


def pyth_calls(address: Address, price_id: str) -> list[Call]:
    return [_GET_PRICE.call(address, bytes.fromhex(price_id.removeprefix("0x")), allow_failure=True)]


def pyth_decode(address: Address, price_id: str, results: list[Any], *, asset: Address | None = None,
                symbol: str | None = None) -> FeedReading:
    reading = FeedReading(address=address, kind=FeedKind.PYTH, price_id=price_id.lower(), asset=asset, symbol=symbol)
    (got,) = results
    if isinstance(got, Failed):
        return dataclasses.replace(reading, error=f"getPriceUnsafe() {got.reason}")
    price, conf, expo, publish_time = got
    return dataclasses.replace(reading, answer=price, conf=conf, decimals=-expo, updated_at=publish_time,
                               started_at=publish_time)
