"""Synthetix v3 perps: the source (``adapter``), the protocol's margin math (``rules``) and its devnet deployment
(``devnet``)."""

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.synthetix_v3.adapter:SynthetixV3Adapter"
TRANSPORT = "chain"
OPTIONS = None
