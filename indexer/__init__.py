"""On-chain DeFi position health indexer."""

__version__ = "0.1.0"
