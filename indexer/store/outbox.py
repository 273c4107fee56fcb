"""The delivery outbox on the database, for the dispatcher (``indexer.alerts.dispatcher.Outbox``); the rows it
claims are built by the caller's ``make`` (the dispatcher's own row type: the store does not import alerts).

Claiming takes a lease on rows (``claimed_until``); recording an outcome counts the attempt. A dispatcher
that dies mid-batch leaves its rows leased, and they are claimed again once the lease has run out. Delivery is
therefore at-least-once; the event id travels as the idempotency key so receivers can drop repeats.

Any number of dispatchers may claim from one database: claims are serialized (SQLite: ``BEGIN IMMEDIATE``;
Postgres: a transaction-level advisory lock), each one short (a read of the pending rows and one UPDATE), so every
claim sees the leases of the ones before it, and the sending runs in parallel. Row locks alone (``FOR UPDATE SKIP
LOCKED``) would not do: a claim must see a whole alert's pending rows to send only its newest, and only when none of
its rows is leased, or one alert's events could reach a channel out of order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, Table, select, text, update

from indexer.store.lease import lock_key
from indexer.store.models import Alert, AlertEvent, Delivery

_CLAIM_LOCK = lock_key("_outbox_claim")

_deliveries: Table = Delivery.__table__  # type: ignore[attr-defined]
_events: Table = AlertEvent.__table__  # type: ignore[attr-defined]
_alerts: Table = Alert.__table__  # type: ignore[attr-defined]


class DbOutbox:
    """``make(id=, event_id=, channel=, message=, attempts=, created_at=, next_attempt_at=)`` builds one claimed
    row; ``message`` is the event's message as stored (parsed JSON)."""

    def __init__(self, engine: Engine, make: Callable[..., Any], *, lease_seconds: float = 30.0) -> None:
        self.engine = engine
        self.make = make
        self.lease = lease_seconds

    def claim(self, *, now: float, limit: int) -> list[Any]:
        """Lease up to ``limit`` due rows. Per (channel, alert) only the newest pending row is sent (older
        pending ones are superseded), and never while another row of that alert is leased, so one alert's
        events reach a channel in order (a PagerDuty resolve never overtakes its trigger)."""
        d, e, a = _deliveries.c, _events.c, _alerts.c
        pending = (select(d.id, d.channel, d.next_attempt_at, d.claimed_until, d.event_id, a.dedup_key)
                   .join(_events, e.id == d.event_id).join(_alerts, a.id == e.alert_id)
                   .where(d.status == "pending").order_by(d.id))
        with self.engine.connect() as plain, plain.execution_options(sqlite_immediate=True).begin() as txn:
            conn = txn.connection
            if conn.dialect.name == "postgresql":  # one claim at a time; released with the transaction
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CLAIM_LOCK})
            newest: dict[tuple[str, str], Any] = {}
            busy: set[tuple[str, str]] = set()
            superseded: list[tuple[int, str]] = []
            for row in conn.execute(pending):
                key = (row.channel, row.dedup_key)
                if row.claimed_until is not None and row.claimed_until > now:
                    busy.add(key)
                    continue
                if key in newest:
                    superseded.append((newest[key].id, row.event_id))
                newest[key] = row
            due = sorted((r for k, r in newest.items() if k not in busy and r.next_attempt_at <= now),
                         key=lambda r: (r.next_attempt_at, r.id))[:limit]
            for row_id, by in superseded:
                conn.execute(update(_deliveries).where(d.id == row_id).values(
                    status="superseded", last_error=f"superseded by event {by}", finished_at=now))
            if not due:
                return []
            ids = [r.id for r in due]
            conn.execute(update(_deliveries).where(d.id.in_(ids)).values(claimed_until=now + self.lease))
            rows = conn.execute(
                select(d.id, d.event_id, d.channel, d.attempts, d.created_at, d.next_attempt_at, e.message)
                .join(_events, e.id == d.event_id).where(d.id.in_(ids))).mappings().all()
        by_id = {r["id"]: r for r in rows}
        return [self.make(id=i, event_id=by_id[i]["event_id"], channel=by_id[i]["channel"],
                          message=json.loads(by_id[i]["message"]), attempts=by_id[i]["attempts"],
                          created_at=by_id[i]["created_at"], next_attempt_at=by_id[i]["next_attempt_at"])
                for i in ids]

    def _finish(self, id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(_deliveries).where(_deliveries.c.id == id).values(
                claimed_until=None, attempts=_deliveries.c.attempts + 1, **values))

    def delivered(self, id: int, *, status: int, now: float) -> None:
        self._finish(id, status="delivered", response_status=status, finished_at=now, last_error=None)

    def retry(self, id: int, *, at: float, error: str, now: float) -> None:
        self._finish(id, next_attempt_at=at, last_error=error[:500])

    def failed(self, id: int, *, error: str, now: float) -> None:
        self._finish(id, status="failed", last_error=error[:500], finished_at=now)
