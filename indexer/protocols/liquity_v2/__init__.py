"""Liquity v2 (BOLD): the source (``adapter``), the protocol's exact integer math (``rules``) and its devnet deployment
(``devnet``: a stand-in of our own behind Liquity v2's external ABI, ``contracts/``; no package ships Liquity v2's
bytecode)."""
