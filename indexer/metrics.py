"""The process's own counters and histograms (what happened in it, not what the store holds), exposed by both
``indexer run`` and ``indexer serve`` beside their other collectors.

Labels stay bounded: an RPC endpoint is its scheme, host and port (never a path or key), a method is a JSON-RPC
method name, an outcome one of a few words.
"""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from indexer import __version__

REGISTRY = CollectorRegistry(auto_describe=True)

RPC_REQUESTS = Counter(
    "indexer_rpc_requests", "JSON-RPC requests (each item of a batch) by endpoint, method and outcome "
    "(ok, error: answered with a JSON-RPC error, unavailable: HTTP 429/5xx, timeout or no connection, "
    "bad_response: HTTP 4xx or a body that is not JSON-RPC)", ["endpoint", "method", "outcome"], registry=REGISTRY)
RPC_SECONDS = Histogram(
    "indexer_rpc_http_seconds", "Round trip of one HTTP request to an RPC endpoint (a batch is one request)",
    ["endpoint"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY)
BLOCK_PHASE_SECONDS = Histogram(
    "indexer_block_phase_seconds", "Time of one block's phases: read (chain reads and local math) and write "
    "(judging and the commit)", ["chain", "phase"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY)
NEW_HEADS = Counter("indexer_new_heads", "newHeads notifications received over a WebSocket subscription", ["chain"],
                    registry=REGISTRY)
REORGS = Counter("indexer_reorgs", "Reorgs detected and rolled back", ["chain"], registry=REGISTRY)
REORG_DEPTH = Histogram("indexer_reorg_depth_blocks", "Blocks rolled back by each reorg", ["chain"],
                        buckets=(1, 2, 3, 5, 8, 13, 21, 34, 64, 128), registry=REGISTRY)
DELIVERIES = Counter("indexer_deliveries_attempted", "Alert delivery attempts by channel and outcome (delivered, "
                     "retry, failed)", ["channel", "outcome"], registry=REGISTRY)
BUILD_INFO = Gauge("indexer_build_info", "Always 1; the version and Python it runs on as labels",
                   ["version", "python"], registry=REGISTRY)
BUILD_INFO.labels(version=__version__, python=platform.python_version()).set(1)
