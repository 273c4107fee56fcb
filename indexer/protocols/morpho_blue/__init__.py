"""Morpho Blue: the source (``adapter``), the protocol's exact integer math (``rules``) and its devnet
deployment (``devnet``: the real Morpho Blue 1.0.0 sources, compiled offline)."""

from indexer.protocols.morpho_blue.options import MorphoOptions

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.morpho_blue.adapter:MorphoBlueAdapter"
TRANSPORT = "chain"
OPTIONS: type[MorphoOptions] | None = MorphoOptions
