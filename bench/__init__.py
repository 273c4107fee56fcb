"""Benchmarks: the indexer side by side with the naive per-account loop and with the node's own limit.

Run ``python -m bench --accounts 1000 10000 --repeat 3`` from the repository root (``--help`` lists the
options). Every measurement happens on a fresh devnet the benchmark starts itself; results and the
machine they came from are recorded in ``bench/RESULTS.md``.
"""
