"""Hyperliquid perps (an HTTP venue): cross margin accounts read from ``POST /info``; see ``adapter``."""

from indexer.protocols.hyperliquid.options import HyperliquidOptions

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.hyperliquid.adapter:HyperliquidAdapter"
TRANSPORT = "venue"
OPTIONS: type[HyperliquidOptions] | None = HyperliquidOptions
