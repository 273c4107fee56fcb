"""Per chain: the head tracker, the long-lived pipeline that reads, judges and stores each block, and what
it remembers of the store between blocks."""
