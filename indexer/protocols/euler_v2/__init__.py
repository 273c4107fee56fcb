"""Euler v2 (Euler Vault Kit vaults on the Ethereum Vault Connector, priced through an EulerRouter): exact liquidity,
sub-accounts, stale pull oracles. See ``adapter`` for the design, ``rules`` for the arithmetic."""

from indexer.protocols.euler_v2.options import EulerOptions

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.euler_v2.adapter:EulerV2Adapter"
TRANSPORT = "chain"
OPTIONS: type[EulerOptions] | None = EulerOptions
