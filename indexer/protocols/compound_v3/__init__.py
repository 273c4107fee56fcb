"""Compound v3 (Comet): one configured market per Comet."""

from indexer.protocols.compound_v3.options import CometOptions

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.compound_v3.adapter:CompoundV3Adapter"
TRANSPORT = "chain"
OPTIONS: type[CometOptions] | None = CometOptions
