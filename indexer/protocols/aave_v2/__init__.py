"""Aave v2 (@aave/protocol-v2) and its forks: the adapter (``adapter``), the exact account math of
GenericLogic (``rules``) and the devnet market on the real 1.0.1 bytecode (``devnet``)."""

from indexer.protocols.aave_v2.options import AaveV2Options

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.aave_v2.adapter:AaveV2Adapter"
TRANSPORT = "chain"
OPTIONS: type[AaveV2Options] | None = AaveV2Options
