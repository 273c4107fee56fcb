"""Morpho Blue: the source (``adapter``), the protocol's exact integer math (``rules``) and its devnet
deployment (``devnet``: the real Morpho Blue 1.0.0 sources, compiled offline)."""
