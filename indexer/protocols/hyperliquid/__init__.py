"""Hyperliquid perps (an HTTP venue): cross margin accounts read from ``POST /info``; see ``adapter``."""
