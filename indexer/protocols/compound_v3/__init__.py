"""Compound v3 (Comet): one configured market per Comet."""
