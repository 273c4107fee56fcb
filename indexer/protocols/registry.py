"""Every protocol source, one line each. Settings validate protocol names and options against this table."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from indexer.protocols.aave_v2.adapter import AaveV2Adapter
from indexer.protocols.aave_v3.adapter import AaveV3Adapter
from indexer.protocols.base import MarketRef, PositionRules, Source, VenueSource
from indexer.protocols.compound_v3.adapter import CompoundV3Adapter
from indexer.protocols.euler_v2.adapter import EulerV2Adapter
from indexer.protocols.gmx_v2.adapter import GmxV2Adapter
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter
from indexer.protocols.liquity_v1.adapter import LiquityV1Adapter
from indexer.protocols.liquity_v2.adapter import LiquityV2Adapter
from indexer.protocols.maker.adapter import MakerAdapter
from indexer.protocols.morpho_blue.adapter import MorphoBlueAdapter
from indexer.protocols.synthetix_v3.adapter import SynthetixV3Adapter

if TYPE_CHECKING:
    from indexer.settings import Settings

SOURCES: dict[str, type[Source] | type[VenueSource]] = {
    AaveV3Adapter.kind: AaveV3Adapter,
    MorphoBlueAdapter.kind: MorphoBlueAdapter,
    AaveV2Adapter.kind: AaveV2Adapter,
    HyperliquidAdapter.kind: HyperliquidAdapter,
    CompoundV3Adapter.kind: CompoundV3Adapter,
    LiquityV1Adapter.kind: LiquityV1Adapter,
    MakerAdapter.kind: MakerAdapter,
    EulerV2Adapter.kind: EulerV2Adapter,
    LiquityV2Adapter.kind: LiquityV2Adapter,
    SynthetixV3Adapter.kind: SynthetixV3Adapter,
    GmxV2Adapter.kind: GmxV2Adapter,
}


def market_ref(settings: Settings, key: str) -> MarketRef:
    market = settings.markets[key]
    venue = settings.is_venue(market.chain)
    options = {name: settings.resolve_address(market.chain, value, f"market {key!r} option {name!r}")
               if isinstance(value, str) and not venue else value for name, value in market.options.items()}
    return MarketRef(key=key, chain=market.chain, address=settings.market_address(key),
                     verify_onchain=market.verify_onchain, options=options)


def source_for(settings: Settings, key: str) -> Source:
    """The contract-reading source of the configured market ``key`` (on a chain)."""
    source = SOURCES[settings.markets[key].protocol](market_ref(settings, key))
    if source.transport != "chain":
        raise TypeError(f"market {key!r} is read from an HTTP venue, not a chain")
    return cast(Source, source)


def venue_source_for(settings: Settings, key: str) -> VenueSource:
    """The HTTP venue source of the configured market ``key``."""
    source = SOURCES[settings.markets[key].protocol](market_ref(settings, key))
    if source.transport != "venue":
        raise TypeError(f"market {key!r} is read from a chain, not an HTTP venue")
    return cast(VenueSource, source)


def rules_for(settings: Settings, key: str) -> PositionRules | None:
    """What can be asked about the configured market ``key``'s positions without reading anything (liquidation
    points, what-ifs), whatever its transport; None when ``key`` is not configured (a stored market since
    removed from the config)."""
    market = settings.markets.get(key)
    if market is None or market.protocol not in SOURCES:
        return None
    return SOURCES[market.protocol](market_ref(settings, key))
