"""Alerts: rule states, alerts, their events and deliveries (written in the block's transaction), and
alerts as people list them. The outbox claim is ``indexer.store.outbox``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    select,
    update,
)

from indexer.store.models import (
    Alert,
    AlertEvent,
    AlertState,
    Delivery,
    MarginChange,
)
from indexer.store.upsert import upsert_insert

_alerts: Table = Alert.__table__  # type: ignore[attr-defined]
_deliveries: Table = Delivery.__table__  # type: ignore[attr-defined]
_states: Table = AlertState.__table__  # type: ignore[attr-defined]
_events: Table = AlertEvent.__table__  # type: ignore[attr-defined]
_margin_changes: Table = MarginChange.__table__  # type: ignore[attr-defined]


def alert_states(engine: Engine, *, chain: str) -> dict[tuple[str, str, str], tuple[int, int | None, int | None,
                                                                                 str | None]]:
    """Every non-idle rule state of ``chain``: (market, account, family) → (level, pending level, pending
    since, open alert id)."""
    from indexer.store.models import AlertState

    s = AlertState.__table__.c  # type: ignore[attr-defined]
    query = select(s.market, s.account, s.family, s.level, s.pending, s.pending_since, s.alert_id).where(
        s.chain == chain, (s.level != 0) | s.pending.is_not(None) | s.alert_id.is_not(None))
    with engine.connect() as connection:
        return {(m, a, f): (level, pending, since, alert_id)
                for m, a, f, level, pending, since, alert_id in connection.execute(query)}


def list_alerts(engine: Engine, *, open_only: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
    """Alerts (newest first) with their events, oldest first, and each event's deliveries."""
    from indexer.store.models import Alert, AlertEvent, Delivery

    a = Alert.__table__.c  # type: ignore[attr-defined]
    e = AlertEvent.__table__.c  # type: ignore[attr-defined]
    d = Delivery.__table__.c  # type: ignore[attr-defined]
    query = select(Alert.__table__).order_by(a.updated_block.desc(), a.id)  # type: ignore[attr-defined]
    if open_only:
        query = query.where(a.status == "open")
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        alerts = [dict(r) for r in connection.execute(query).mappings()]
        ids = [x["id"] for x in alerts]
        events = connection.execute(
            select(e.id, e.alert_id, e.kind, e.severity, e.previous_severity, e.block_number, e.price_status)
            .where(e.alert_id.in_(ids)).order_by(e.block_number, e.created_at)).mappings().all()
        deliveries = connection.execute(
            select(d.event_id, d.channel, d.status, d.attempts, d.last_error)
            .where(d.event_id.in_([x["id"] for x in events]))).mappings().all()
    by_event: dict[str, list[dict[str, Any]]] = {}
    for row in deliveries:
        by_event.setdefault(row["event_id"], []).append(dict(row))
    by_alert: dict[str, list[dict[str, Any]]] = {}
    for row in events:
        by_alert.setdefault(row["alert_id"], []).append({**row, "deliveries": by_event.get(row["id"], [])})
    return [{**x, "events": by_alert.get(x["id"], [])} for x in alerts]


def list_deliveries(engine: Engine, *, failed_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    """Outbox rows, newest first, with the event they carry."""
    from indexer.store.models import Alert, AlertEvent, Delivery

    d = Delivery.__table__.c  # type: ignore[attr-defined]
    e = AlertEvent.__table__.c  # type: ignore[attr-defined]
    a = Alert.__table__.c  # type: ignore[attr-defined]
    query = (select(d.id, d.event_id, d.channel, d.status, d.attempts, d.created_at, d.next_attempt_at,
                    d.last_error, d.response_status, d.finished_at, e.kind, e.severity, e.block_number,
                    a.dedup_key)
             .join(AlertEvent.__table__, e.id == d.event_id)  # type: ignore[attr-defined]
             .join(Alert.__table__, a.id == e.alert_id)  # type: ignore[attr-defined]
             .order_by(d.id.desc()).limit(limit))
    if failed_only:
        query = query.where(d.status == "failed")
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def write_alerts(connection: Connection, writes: Any) -> None:
    """``writes`` is an ``indexer.alerts.engine.AlertWrites``."""
    if writes is None:
        return
    if writes.new_alerts:
        connection.execute(_alerts.insert(), writes.new_alerts)
    if writes.alert_updates:
        connection.execute(
            update(_alerts).where(_alerts.c.id == bindparam("alert_id")).values(
                severity=bindparam("severity"), status=bindparam("status"),
                resolved_block=bindparam("resolved_block"), updated_block=bindparam("updated_block"),
                price_status=bindparam("price_status"), health=bindparam("health")),
            [{**row, "alert_id": row["id"]} for row in writes.alert_updates])
    if writes.events:
        connection.execute(_events.insert(), writes.events)
    if writes.deliveries:
        connection.execute(_deliveries.insert(), writes.deliveries)
    if getattr(writes, "margin_changes", None):
        connection.execute(_margin_changes.insert(), writes.margin_changes)
    if writes.states:
        statement = upsert_insert(connection, _states)
        fields = ("level", "pending", "pending_since", "alert_id", "updated_block")
        connection.execute(statement.on_conflict_do_update(
            index_elements=["chain", "market", "account", "family"],
            set_={f: statement.excluded[f] for f in fields}), writes.states)
