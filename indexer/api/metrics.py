"""/metrics: Prometheus text from a collector that reads the store at scrape time (nothing is kept in
process memory, so any number of API processes report the same figures)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from indexer.api import params
from indexer.api.keys import EXECUTOR, REGISTRY
from indexer.api.models import NoQuery
from indexer.metrics import REGISTRY as PROCESS_REGISTRY
from indexer.oracles.status import PriceStatus
from indexer.store.summary import BUCKET_LABELS, HISTOGRAM_BOUNDS, StoreMetrics, store_metrics

log = logging.getLogger(__name__)

UNHEALTHY_FEED_STATUSES = (PriceStatus.STALE.value, PriceStatus.INVALID.value)
ALWAYS_REPORTED_DELIVERIES = ("pending", "failed")  # reported as 0 for every configured channel


class StoreCollector(Collector):
    def __init__(self, engine: Callable[[], Engine], chains: Sequence[str], channels: Sequence[str] = (),
                 clock: Callable[[], float] = time.time, position_series: int = 0) -> None:
        self._engine = engine
        self._position_series = position_series
        self._chains = tuple(chains)
        self._channels = tuple(channels)
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("indexer_store_up", "1 when the store answered this scrape, else 0")
        try:
            snapshot = store_metrics(self._engine(), chains=self._chains, tracked_limit=self._position_series)
        except SQLAlchemyError:
            log.exception("metrics: the store did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._families(snapshot, self._clock())
        duration = GaugeMetricFamily("indexer_metrics_collect_seconds", "Time spent reading the store for this scrape")
        duration.add_metric([], time.perf_counter() - started)
        yield duration

    def _families(self, m: StoreMetrics, now: float) -> Iterator[Metric]:
        block = GaugeMetricFamily("indexer_chain_block", "Latest stored block number", labels=["chain"])
        stamp = GaugeMetricFamily("indexer_chain_block_timestamp_seconds", "Timestamp of the latest stored block",
                                  labels=["chain"])
        lag = GaugeMetricFamily("indexer_head_lag_seconds",
                                "Seconds between now and the timestamp of the latest stored block", labels=["chain"])
        mark = GaugeMetricFamily("indexer_checkpoint_block", "Block number a named checkpoint is at",
                                 labels=["chain", "checkpoint"])
        mark_lag = GaugeMetricFamily("indexer_checkpoint_lag_blocks",
                                     "Blocks between the latest stored block and a named checkpoint",
                                     labels=["chain", "checkpoint"])
        for head in m.heads:
            if head.block_number is not None and head.block_timestamp is not None:
                block.add_metric([head.chain], head.block_number)
                stamp.add_metric([head.chain], head.block_timestamp)
                lag.add_metric([head.chain], max(0.0, now - head.block_timestamp))
            for name, number in sorted(head.checkpoints.items()):
                mark.add_metric([head.chain, name], number)
                if head.block_number is not None:
                    mark_lag.add_metric([head.chain, name], max(0, head.block_number - number))
        yield from (block, stamp, lag, mark, mark_lag)

        positions = GaugeMetricFamily("indexer_positions", "Latest positions by health bucket (no_debt: no debt)",
                                      labels=["chain", "market", "bucket"])
        counts: dict[tuple[str, str], dict[str, int]] = {}
        for chain, market, bucket, n in m.health_buckets:
            counts.setdefault((chain, market), dict.fromkeys(BUCKET_LABELS, 0))[bucket] = n
        for (chain, market), by_bucket in sorted(counts.items()):
            for bucket in BUCKET_LABELS:
                positions.add_metric([chain, market, bucket], by_bucket[bucket])
        yield positions

        health = HistogramMetricFamily("indexer_position_health", "Latest positions by health (le: at most; "
                                       "positions without debt only in +Inf, and count 0 in the sum)",
                                       labels=["chain", "market"])
        for chain, market, at_most, count, total in sorted(m.health_histogram):
            buckets = [(_le(bound), n) for bound, n in zip(HISTOGRAM_BOUNDS, at_most, strict=True)]
            health.add_metric([chain, market], [*buckets, ("+Inf", count)], total)
        yield health
        if self._position_series:
            tracked = GaugeMetricFamily("indexer_tracked_position_health", "Health of tracked wallets' positions, "
                                        "riskiest first, at most api.position_series of them (no debt: +Inf)",
                                        labels=["chain", "market", "wallet"])
            for chain, market, wallet, value in m.tracked_health:
                tracked.add_metric([chain, market, wallet], math.inf if value is None else value)
            yield tracked

        feeds = GaugeMetricFamily("indexer_oracle_feeds", "Oracle feeds by the status of their latest reading",
                                  labels=["chain", "status"])
        unhealthy = GaugeMetricFamily("indexer_oracle_feeds_stale_or_invalid",
                                      "Oracle feeds whose latest reading is STALE or INVALID", labels=["chain"])
        by_chain: dict[str, dict[str, int]] = {c: {} for c in self._chains}
        for chain, status, n in m.feeds:
            by_chain.setdefault(chain, {})[status] = n
        for chain, statuses in sorted(by_chain.items()):
            for status in sorted(set(statuses) | set(UNHEALTHY_FEED_STATUSES) | {PriceStatus.FRESH.value}):
                feeds.add_metric([chain, status], statuses.get(status, 0))
            unhealthy.add_metric([chain], sum(statuses.get(s, 0) for s in UNHEALTHY_FEED_STATUSES))
        yield feeds
        yield unhealthy

        alerts = GaugeMetricFamily("indexer_alerts_open", "Open alerts", labels=["chain", "family", "severity"])
        for chain, family, severity, n in sorted(m.open_alerts):
            alerts.add_metric([chain, family, severity], n)
        yield alerts

        deliveries = GaugeMetricFamily("indexer_deliveries", "Outbox rows by channel and status",
                                       labels=["channel", "status"])
        by_channel = {c: dict.fromkeys(ALWAYS_REPORTED_DELIVERIES, 0) for c in self._channels}
        for channel, status, n in m.deliveries:
            by_channel.setdefault(channel, dict.fromkeys(ALWAYS_REPORTED_DELIVERIES, 0))[status] = n
        for channel, statuses in sorted(by_channel.items()):
            for status, n in sorted(statuses.items()):
                deliveries.add_metric([channel, status], n)
        yield deliveries
        oldest = GaugeMetricFamily("indexer_delivery_oldest_pending_age_seconds",
                                   "Age of the oldest pending delivery (0 when none is pending)")
        oldest.add_metric([], 0.0 if m.oldest_pending_delivery is None else max(0.0, now - m.oldest_pending_delivery))
        yield oldest


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != int(bound) else f"{bound:.1f}"


def make_registry(engine: Callable[[], Engine], chains: Sequence[str], channels: Sequence[str], *,
                  position_series: int = 0) -> CollectorRegistry:
    """A registry of this app's own (not the process-global one), so several apps never collide."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(engine, chains, channels, position_series=position_series))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The app's registry and the process's own counters (``indexer.metrics``), in one text exposition."""
    return generate_latest(registry) + generate_latest(PROCESS_REGISTRY)


async def metrics_handler(request: web.Request) -> web.Response:
    params.query(request, NoQuery)
    loop = asyncio.get_running_loop()
    body = await loop.run_in_executor(request.app[EXECUTOR], exposition, request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
