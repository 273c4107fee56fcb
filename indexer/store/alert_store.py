"""Alerts: rule states, alerts, their events and deliveries (written in the block's transaction), and
alerts as people list them. The outbox claim is ``indexer.store.outbox``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from indexer.store.bulk import executemany, insert_rows
from indexer.store.models import (
    Alert,
    AlertEvent,
    AlertState,
    Delivery,
    MarginChange,
    Silence,
)
from indexer.store.types import utc_now
from indexer.store.upsert import upsert_insert

_alerts: Table = Alert.__table__  # type: ignore[attr-defined]
_deliveries: Table = Delivery.__table__  # type: ignore[attr-defined]
_states: Table = AlertState.__table__  # type: ignore[attr-defined]
_events: Table = AlertEvent.__table__  # type: ignore[attr-defined]
_margin_changes: Table = MarginChange.__table__  # type: ignore[attr-defined]
_silences: Table = Silence.__table__  # type: ignore[attr-defined]
SILENCED = "silenced"  # a delivery status: written, never sent (a silence or an acknowledgement held it back)


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


def list_alerts(engine: Engine, *, open_only: bool = False, limit: int | None = None,
                alert_id: str | None = None) -> list[dict[str, Any]]:
    """Alerts (newest first) with their events, oldest first, and each event's deliveries; ``alert_id``: that one."""
    from indexer.store.models import Alert, AlertEvent, Delivery

    a = Alert.__table__.c  # type: ignore[attr-defined]
    e = AlertEvent.__table__.c  # type: ignore[attr-defined]
    d = Delivery.__table__.c  # type: ignore[attr-defined]
    query = select(Alert.__table__).order_by(a.updated_block.desc(), a.id)  # type: ignore[attr-defined]
    if open_only:
        query = query.where(a.status == "open")
    if alert_id is not None:
        query = query.where(a.id == alert_id)
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
    # plain inserts and the states' upsert through the driver (Postgres: COPY), as a block's position rows: a feed
    # update's alert transaction carries a row or more per crossing holder (``indexer.store.bulk``)
    insert_rows(connection, _alerts, writes.new_alerts)
    if writes.alert_updates:
        connection.execute(
            update(_alerts).where(_alerts.c.id == bindparam("alert_id")).values(
                severity=bindparam("severity"), status=bindparam("status"),
                resolved_block=bindparam("resolved_block"), updated_block=bindparam("updated_block"),
                price_status=bindparam("price_status"), health=bindparam("health")),
            [{**row, "alert_id": row["id"]} for row in writes.alert_updates])
    events = writes.events
    if events and "created_at" not in events[0]:  # the column's default, which only SQLAlchemy's insert would add
        at = utc_now()
        events = [{**row, "created_at": at} for row in events]
    insert_rows(connection, _events, events)
    if writes.deliveries:
        insert_rows(connection, _deliveries, _held_back(connection, writes))
    insert_rows(connection, _margin_changes, getattr(writes, "margin_changes", None) or [])
    if writes.states:
        statement = upsert_insert(connection, _states)
        fields = ("level", "pending", "pending_since", "alert_id", "updated_block")
        executemany(connection, statement.on_conflict_do_update(
            index_elements=["chain", "market", "account", "family"],
            set_={f: statement.excluded[f] for f in fields}), _states, writes.states)


@dataclass(frozen=True, slots=True)
class SilenceRow:
    id: int
    chain: str | None
    market: str | None
    wallet: str | None
    starts_at: float
    ends_at: float
    reason: str | None
    created_by: str | None

    def matches(self, chain: str, market: str, wallet: str) -> bool:
        return ((self.chain is None or self.chain == chain) and (self.market is None or self.market == market)
                and (self.wallet is None or self.wallet.lower() == wallet.lower()))

    def describe(self) -> str:
        scope = " ".join(f"{k}={v}" for k, v in (("chain", self.chain), ("market", self.market),
                                                  ("wallet", self.wallet)) if v) or "everything"
        return f"silence #{self.id} ({scope}" + (f": {self.reason}" if self.reason else "") + ")"


def _silence(row: Any) -> SilenceRow:
    return SilenceRow(id=row.id, chain=row.chain, market=row.market, wallet=row.wallet, starts_at=row.starts_at,
                      ends_at=row.ends_at, reason=row.reason, created_by=row.created_by)


def _held_back(connection: Connection, writes: Any) -> list[dict[str, Any]]:
    """The block's outbox rows, those of silenced events and of acknowledged alerts' de-escalations marked
    ``silenced`` (written, so the record says why nothing was sent; never claimed by a dispatcher)."""
    rows: list[dict[str, Any]] = writes.deliveries
    now = max(row["created_at"] for row in rows)
    silences = [_silence(r) for r in connection.execute(
        select(_silences).where(_silences.c.starts_at <= now, _silences.c.ends_at > now).order_by(_silences.c.id))]
    lowered = {e["id"]: e["alert_id"] for e in writes.events if e["kind"] == "deescalated"}
    acknowledged: set[str] = set()
    if lowered:
        acknowledged = set(connection.execute(select(_alerts.c.id).where(
            _alerts.c.id.in_(set(lowered.values())), _alerts.c.acknowledged_at.is_not(None))).scalars())
    if not silences and not acknowledged:
        return rows
    why: dict[str, str] = {}
    for message in writes.messages:
        if message.test:
            continue
        wallet = message.account.split(":", 1)[0]
        hit = next((x for x in silences if x.matches(message.chain, message.market, wallet)), None)
        if hit is not None:
            why[message.event_id] = f"held back by {hit.describe()}"
        elif lowered.get(message.event_id) in acknowledged:
            why[message.event_id] = "held back: the alert is acknowledged (a de-escalation)"
    # every row with the same keys: an executemany insert takes its columns from the first row
    return [{**row, "status": SILENCED, "last_error": why[row["event_id"]], "finished_at": row["created_at"]}
            if row["event_id"] in why else {**row, "last_error": None, "finished_at": None} for row in rows]


def alert_ids_starting(engine: Engine, prefix: str, *, limit: int = 10) -> list[str]:
    """Alert ids that start with ``prefix`` (a hex id as the table shows it), at most ``limit`` of them."""
    if not prefix or any(c not in "0123456789abcdef" for c in prefix):
        return []
    with engine.connect() as connection:
        return list(connection.execute(select(_alerts.c.id).where(_alerts.c.id.startswith(prefix))
                                       .order_by(_alerts.c.id).limit(limit)).scalars())


def acknowledge_alert(engine: Engine, *, alert_id: str, by: str | None, now: float) -> dict[str, Any] | None:
    """Mark an open alert acknowledged (its later de-escalations are not delivered; escalations and its resolution
    are). Returns the alert, or None when there is no such alert. Acknowledging twice keeps the first."""
    with engine.begin() as connection:
        row = connection.execute(select(_alerts).where(_alerts.c.id == alert_id)).mappings().first()
        if row is None:
            return None
        if row["acknowledged_at"] is None and row["status"] == "open":
            connection.execute(update(_alerts).where(_alerts.c.id == alert_id).values(
                acknowledged_at=now, acknowledged_by=by))
        return dict(connection.execute(select(_alerts).where(_alerts.c.id == alert_id)).mappings().one())


def acknowledgement_source(engine: Engine, *, alert_id: str) -> tuple[dict[str, Any], list[str]] | None:
    """What an acknowledgement is forwarded from: the alert's latest event (its stored message and where it was
    read) and the channels that delivered any of the alert's events; None when the alert has no event."""
    e, d = _events.c, _deliveries.c
    with engine.connect() as connection:
        event = connection.execute(select(_events).where(e.alert_id == alert_id)
                                   .order_by(e.block_number.desc(), e.created_at.desc()).limit(1)).mappings().first()
        if event is None:
            return None
        channels = connection.execute(
            select(d.channel).distinct().join(_events, e.id == d.event_id)
            .where(e.alert_id == alert_id, d.status == "delivered").order_by(d.channel)).scalars().all()
    return dict(event), list(channels)


def add_event_deliveries(engine: Engine, *, event: dict[str, Any], channels: list[str], now: float) -> bool:
    """Store one event outside a block (an acknowledgement) with a pending outbox row per channel, in one
    transaction; False when an event with its id is stored already (the same acknowledgement twice)."""
    with engine.begin() as connection:
        if connection.execute(select(_events.c.id).where(_events.c.id == event["id"])).first() is not None:
            return False
        connection.execute(_events.insert(), [event])
        if channels:
            connection.execute(_deliveries.insert(), [{"event_id": event["id"], "channel": channel,
                                                       "status": "pending", "attempts": 0, "created_at": now,
                                                       "next_attempt_at": now} for channel in channels])
    return True


def add_silence(engine: Engine, *, chain: str | None, market: str | None, wallet: str | None, starts_at: float,
                ends_at: float, reason: str | None, created_by: str | None) -> SilenceRow:
    if not starts_at < ends_at:
        raise ValueError("a silence must end after it starts")
    with engine.begin() as connection:
        new_id = connection.execute(insert(_silences).values(
            chain=chain, market=market, wallet=wallet, starts_at=starts_at, ends_at=ends_at, reason=reason,
            created_by=created_by).returning(_silences.c.id)).scalar_one()
        return _silence(connection.execute(select(_silences).where(_silences.c.id == new_id)).one())


def list_silences(engine: Engine, *, now: float, active_only: bool = True) -> list[SilenceRow]:
    query = select(_silences).order_by(_silences.c.ends_at, _silences.c.id)
    if active_only:
        query = query.where(_silences.c.ends_at > now)
    with engine.connect() as connection:
        return [_silence(r) for r in connection.execute(query)]


def remove_silence(engine: Engine, *, silence_id: int) -> bool:
    with engine.begin() as connection:
        return connection.execute(delete(_silences).where(_silences.c.id == silence_id)).rowcount > 0


def open_alert_messages(engine: Engine) -> list[dict[str, Any]]:
    """The latest event's message (as stored: ``AlertMessage.to_json``) of every open alert, for channels that
    re-assert them."""
    import json

    query = (select(_events.c.alert_id, _events.c.message)
             .join(_alerts, _alerts.c.id == _events.c.alert_id).where(_alerts.c.status == "open")
             .order_by(_events.c.alert_id, _events.c.block_number, _events.c.created_at))
    latest: dict[str, str] = {}
    with engine.connect() as connection:
        for alert_id, message in connection.execute(query):
            latest[alert_id] = message
    return [json.loads(message) for message in latest.values()]
