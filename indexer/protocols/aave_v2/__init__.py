"""Aave v2 (@aave/protocol-v2) and its forks: the adapter (``adapter``), the exact account math of
GenericLogic (``rules``) and the devnet market on the real 1.0.1 bytecode (``devnet``)."""
