"""Every protocol source, one line each. Settings validate protocol names and options against this table."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from pydantic import BaseModel

    from indexer.protocols.base import MarketRef, PositionRules, Source, VenueSource
    from indexer.settings import Settings

    SourceClass = type[Source] | type[VenueSource]

# One line per protocol: its kind, and its package. The package names its source class (``SOURCE``), its transport
# (``TRANSPORT``) and its options model (``OPTIONS``) without importing the adapter, so settings validate a config
# from these alone; the source class is imported the first time a market of that kind is built.
MODULES: dict[str, str] = {
    "aave_v3": "indexer.protocols.aave_v3",
    "morpho_blue": "indexer.protocols.morpho_blue",
    "aave_v2": "indexer.protocols.aave_v2",
    "hyperliquid": "indexer.protocols.hyperliquid",
    "compound_v3": "indexer.protocols.compound_v3",
    "liquity_v1": "indexer.protocols.liquity_v1",
    "maker": "indexer.protocols.maker",
    "euler_v2": "indexer.protocols.euler_v2",
    "liquity_v2": "indexer.protocols.liquity_v2",
    "synthetix_v3": "indexer.protocols.synthetix_v3",
    "gmx_v2": "indexer.protocols.gmx_v2",
}
SOURCES: dict[str, SourceClass] = {}  # the classes loaded so far (``source_class`` fills it)


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """What a protocol's package says of it: where its source class is, its transport, its options model."""

    kind: str
    source: str  # "module:Class"
    transport: str  # "chain" or "venue"
    options: type[BaseModel] | None


def protocol_spec(kind: str) -> ProtocolSpec | None:
    """The package-level facts of protocol ``kind`` (its package imported, not its adapter); None for a kind no
    line names."""
    package = MODULES.get(kind)
    if package is None:
        return None
    module = importlib.import_module(package)
    return ProtocolSpec(kind, module.SOURCE, module.TRANSPORT, module.OPTIONS)


def source_class(kind: str) -> SourceClass | None:
    """The source class of protocol ``kind``, imported on first use; None for a kind no line names."""
    if kind not in SOURCES:
        spec = protocol_spec(kind)
        if spec is None:
            return None
        module, name = spec.source.split(":")
        loaded = getattr(importlib.import_module(module), name)
        if loaded.kind != kind:
            raise RuntimeError(f"the registry line {kind!r} names {spec.source}, whose kind is {loaded.kind!r}")
        SOURCES[kind] = loaded
    return SOURCES[kind]


def known_kinds() -> list[str]:
    """Every protocol kind, in registry order, without importing any."""
    return list(MODULES)


def all_sources() -> dict[str, SourceClass]:
    """Every protocol's source class (imports them all)."""
    return {kind: cls for kind in MODULES if (cls := source_class(kind)) is not None}


def market_ref(settings: Settings, key: str) -> MarketRef:
    from indexer.protocols.base import MarketRef

    market = settings.markets[key]
    venue = settings.is_venue(market.chain)
    options = {name: settings.resolve_address(market.chain, value, f"market {key!r} option {name!r}")
               if isinstance(value, str) and not venue else value for name, value in market.options.items()}
    return MarketRef(key=key, chain=market.chain, address=settings.market_address(key),
                     verify_onchain=market.verify_onchain, options=options)


def source_for(settings: Settings, key: str) -> Source:
    """The contract-reading source of the configured market ``key`` (on a chain)."""
    source = _source(settings, key)
    if source.transport != "chain":
        raise TypeError(f"market {key!r} is read from an HTTP venue, not a chain")
    return cast("Source", source)


def venue_source_for(settings: Settings, key: str) -> VenueSource:
    """The HTTP venue source of the configured market ``key``."""
    source = _source(settings, key)
    if source.transport != "venue":
        raise TypeError(f"market {key!r} is read from a chain, not an HTTP venue")
    return cast("VenueSource", source)


def rules_for(settings: Settings, key: str) -> PositionRules | None:
    """What can be asked about the configured market ``key``'s positions without reading anything (liquidation
    points, what-ifs), whatever its transport; None when ``key`` is not configured (a stored market since
    removed from the config)."""
    market = settings.markets.get(key)
    cls = None if market is None else source_class(market.protocol)
    return None if cls is None else cls(market_ref(settings, key))


def _source(settings: Settings, key: str) -> Source | VenueSource:
    cls = source_class(settings.markets[key].protocol)
    if cls is None:
        raise KeyError(f"market {key!r}: unknown protocol {settings.markets[key].protocol!r}")
    return cls(market_ref(settings, key))
