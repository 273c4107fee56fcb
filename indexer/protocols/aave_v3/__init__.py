"""Aave v3 and its forks: the adapter (``adapter``), the exact account math (``rules``) and Aave's
fixed-point helpers (``wadray``)."""
