"""Risk analytics over stored positions: what-if shocks, what it takes to be safe, liquidation curves, VaR."""
