"""GMX v2 (gmx-synthetics) perps: one configured market is one Reader + DataStore pair, every GMX market in it."""

from indexer.protocols.gmx_v2.options import GmxV2Options

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.gmx_v2.adapter:GmxV2Adapter"
TRANSPORT = "chain"
OPTIONS: type[GmxV2Options] | None = GmxV2Options
