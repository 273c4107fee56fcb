"""Maker / Sky vaults (dss): the source (``adapter``), the protocol's exact integer math (``rules``) and its devnet
deployment (``devnet``: a stand-in of our own behind dss's external ABI, ``contracts/``; no package ships dss's
bytecode)."""
