"""Liquity v2 (BOLD): the source (``adapter``), the protocol's exact integer math (``rules``) and its devnet deployment
(``devnet``: a stand-in of our own behind Liquity v2's external ABI, ``contracts/``; no package ships Liquity v2's
bytecode)."""

from indexer.protocols.liquity_v2.options import LiquityV2Options

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.liquity_v2.adapter:LiquityV2Adapter"
TRANSPORT = "chain"
OPTIONS: type[LiquityV2Options] | None = LiquityV2Options
