"""The figures the dashboard and /metrics summarise the store with: positions per health bucket, feeds by
status, open alerts, deliveries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Engine,
    Table,
    and_,
    case,
    func,
    select,
)

from indexer.store.chain_store import ChainHead, chain_heads_on
from indexer.store.db import snapshot_connection
from indexer.store.models import (
    Alert,
    Delivery,
    Market,
    OracleFeed,
    Position,
    Wallet,
)

_markets: Table = Market.__table__  # type: ignore[attr-defined]
_positions: Table = Position.__table__  # type: ignore[attr-defined]
_wallets: Table = Wallet.__table__  # type: ignore[attr-defined]
_feeds: Table = OracleFeed.__table__  # type: ignore[attr-defined]
_alerts: Table = Alert.__table__  # type: ignore[attr-defined]
_deliveries: Table = Delivery.__table__  # type: ignore[attr-defined]


# Health buckets for the dashboard chart and /metrics: (label, lower bound inclusive, upper bound exclusive).
HEALTH_BUCKETS: tuple[tuple[str, Decimal | None, Decimal | None], ...] = (
    ("<1", None, Decimal("1")),
    ("1-1.05", Decimal("1"), Decimal("1.05")),
    ("1.05-1.1", Decimal("1.05"), Decimal("1.1")),
    ("1.1-1.5", Decimal("1.1"), Decimal("1.5")),
    (">=1.5", Decimal("1.5"), None),
)


NO_DEBT_BUCKET = "no_debt"


BUCKET_LABELS = tuple(label for label, _, _ in HEALTH_BUCKETS) + (NO_DEBT_BUCKET,)


@dataclass(frozen=True, slots=True)
class StoreMetrics:
    """Everything /metrics reports, read in one connection at scrape time."""

    heads: list[ChainHead]
    health_buckets: list[tuple[str, str, str, int]]  # chain, market key, bucket label, positions
    feeds: list[tuple[str, str, int]]  # chain, status, feeds
    open_alerts: list[tuple[str, str, str, int]]  # chain, family, severity, alerts
    deliveries: list[tuple[str, str, int]]  # channel, status, rows
    oldest_pending_delivery: float | None  # created_at (unix seconds) of the oldest pending delivery
    # chain, market, positions at health ≤ each HISTOGRAM_BOUNDS, positions, sum of health (with debt)
    health_histogram: list[tuple[str, str, list[int], int, float]] = field(default_factory=list)
    tracked_health: list[tuple[str, str, str, float | None]] = field(default_factory=list)  # chain, market, wallet


# Upper bounds (inclusive, Prometheus ``le``) of the health histogram; positions without debt are in +Inf only.
HISTOGRAM_BOUNDS: tuple[float, ...] = (1.0, 1.02, 1.05, 1.1, 1.2, 1.5, 2.0, 3.0, 5.0)


def _bucket_expression() -> Any:
    health = _positions.c.health
    whens = []
    for label, low, high in HEALTH_BUCKETS:
        condition = and_(*([health >= low] if low is not None else []), *([health < high] if high is not None else []))
        whens.append((condition, label))
    return case((health.is_(None), NO_DEBT_BUCKET), *whens)


def store_metrics(engine: Engine, *, chains: Sequence[str] = (), tracked_limit: int = 0) -> StoreMetrics:
    """``tracked_limit``: also the health of up to that many positions of tracked wallets (0: none)."""
    p, f, a, d = _positions.c, _feeds.c, _alerts.c, _deliveries.c
    bucket = _bucket_expression().label("bucket")
    with snapshot_connection(engine) as connection:
        heads = chain_heads_on(connection, chains)
        buckets = connection.execute(
            select(p.chain, _markets.c.key, bucket, func.count()).join(_markets, _markets.c.id == p.market_id)
            .group_by(p.chain, _markets.c.key, bucket)).all()
        feeds = connection.execute(select(f.chain, f.status, func.count()).group_by(f.chain, f.status)).all()
        alerts = connection.execute(select(a.chain, a.family, a.severity, func.count()).where(a.status == "open")
                                    .group_by(a.chain, a.family, a.severity)).all()
        deliveries = connection.execute(
            select(d.channel, d.status, func.count()).group_by(d.channel, d.status)).all()
        oldest = connection.execute(select(func.min(d.created_at)).where(d.status == "pending")).scalar()
        histogram = connection.execute(
            select(p.chain, _markets.c.key,
                   *(func.sum(case((p.health_float <= bound, 1), else_=0)) for bound in HISTOGRAM_BOUNDS),
                   func.count(), func.sum(func.coalesce(p.health_float, 0.0)))
            .join(_markets, _markets.c.id == p.market_id).group_by(p.chain, _markets.c.key)).all()
        tracked: Sequence[Any] = ()
        if tracked_limit:
            w = _wallets.c
            tracked = connection.execute(
                select(p.chain, _markets.c.key, p.owner, p.health_float)
                .join(_markets, _markets.c.id == p.market_id).join(_wallets, w.address == p.owner)
                .order_by(p.health_float.is_(None), p.health_float, p.chain, _markets.c.key, p.owner)
                .limit(tracked_limit)).all()
    return StoreMetrics(
        heads=heads,
        health_buckets=[tuple(r) for r in buckets],
        feeds=[tuple(r) for r in feeds],
        open_alerts=[tuple(r) for r in alerts],
        deliveries=[tuple(r) for r in deliveries],
        oldest_pending_delivery=None if oldest is None or math.isnan(oldest) else float(oldest),
        health_histogram=[(r[0], r[1], [int(n or 0) for n in r[2:2 + len(HISTOGRAM_BOUNDS)]], int(r[-2]),
                           float(r[-1] or 0.0)) for r in histogram],
        tracked_health=[(r[0], r[1], r[2], r[3]) for r in tracked],
    )
