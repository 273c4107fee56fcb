"""Maker / Sky vaults (dss): the source (``adapter``), the protocol's exact integer math (``rules``) and its devnet
deployment (``devnet``: a stand-in of our own behind dss's external ABI, ``contracts/``; no package ships dss's
bytecode)."""

from indexer.protocols.maker.options import MakerOptions

# what the registry (``indexer.protocols.registry``) reads without importing the adapter
SOURCE = "indexer.protocols.maker.adapter:MakerAdapter"
TRANSPORT = "chain"
OPTIONS: type[MakerOptions] | None = MakerOptions
