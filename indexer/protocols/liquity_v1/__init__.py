"""Liquity v1: the source (``adapter``), the protocol's exact integer math (``rules``) and its devnet deployment
(``devnet``: a stand-in of our own behind Liquity v1's external ABI, ``contracts/``; no package ships Liquity's
bytecode)."""
