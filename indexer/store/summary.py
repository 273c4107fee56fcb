"""The figures the dashboard and /metrics summarise the store with: positions per health bucket, feeds by
status, open alerts, deliveries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
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
)

_markets: Table = Market.__table__  # type: ignore[attr-defined]
_positions: Table = Position.__table__  # type: ignore[attr-defined]
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


def _bucket_expression() -> Any:
    health = _positions.c.health
    whens = []
    for label, low, high in HEALTH_BUCKETS:
        condition = and_(*([health >= low] if low is not None else []), *([health < high] if high is not None else []))
        whens.append((condition, label))
    return case((health.is_(None), NO_DEBT_BUCKET), *whens)


def store_metrics(engine: Engine, *, chains: Sequence[str] = ()) -> StoreMetrics:
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
    return StoreMetrics(
        heads=heads,
        health_buckets=[tuple(r) for r in buckets],
        feeds=[tuple(r) for r in feeds],
        open_alerts=[tuple(r) for r in alerts],
        deliveries=[tuple(r) for r in deliveries],
        oldest_pending_delivery=None if oldest is None or math.isnan(oldest) else float(oldest),
    )
