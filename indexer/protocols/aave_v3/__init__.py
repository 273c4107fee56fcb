"""Aave v3 and its forks: the adapter (``adapter``), the exact account math (``rules``) and Aave's
fixed-point helpers (``wadray``)."""

from indexer.protocols.aave_v3.options import AaveV3Options

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.aave_v3.adapter:AaveV3Adapter"
TRANSPORT = "chain"
OPTIONS: type[AaveV3Options] | None = AaveV3Options
