"""HTTP venues (Hyperliquid): a paced session and the per-venue pipeline."""
