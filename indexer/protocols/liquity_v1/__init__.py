"""Liquity v1: the source (``adapter``), the protocol's exact integer math (``rules``) and its devnet deployment
(``devnet``: a stand-in of our own behind Liquity v1's external ABI, ``contracts/``; no package ships Liquity's
bytecode)."""

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.liquity_v1.adapter:LiquityV1Adapter"
TRANSPORT = "chain"
OPTIONS = None
