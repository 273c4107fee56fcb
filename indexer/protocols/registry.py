"""Every protocol source, one line each. Settings validate protocol names and options against this table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.base import MarketRef, Source
from indexer.protocols.morpho_blue.adapter import MorphoBlueAdapter

if TYPE_CHECKING:
    from indexer.settings import Settings

SOURCES: dict[str, type[Source]] = {
    AaveV3Adapter.kind: AaveV3Adapter,
    MorphoBlueAdapter.kind: MorphoBlueAdapter,
}


def market_ref(settings: Settings, key: str) -> MarketRef:
    market = settings.markets[key]
    options = {name: settings.resolve_address(market.chain, value, f"market {key!r} option {name!r}")
               if isinstance(value, str) else value for name, value in market.options.items()}
    return MarketRef(key=key, chain=market.chain, address=settings.market_address(key),
                     verify_onchain=market.verify_onchain, options=options)


def source_for(settings: Settings, key: str) -> Source:
    """The source reading the configured market ``key``."""
    return SOURCES[settings.markets[key].protocol](market_ref(settings, key))
