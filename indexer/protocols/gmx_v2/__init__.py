"""GMX v2 (gmx-synthetics) perps: one configured market is one Reader + DataStore pair, every GMX market in it."""
