"""Euler v2 (Euler Vault Kit vaults on the Ethereum Vault Connector, priced through an EulerRouter): exact liquidity,
sub-accounts, stale pull oracles. See ``adapter`` for the design, ``rules`` for the arithmetic."""
