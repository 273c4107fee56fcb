"""Alert rows of one block, written inside the block's transaction (see ``writer.write_block``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, bindparam, update

from indexer.store.models import Alert, AlertEvent, AlertState, Delivery
from indexer.store.upsert import upsert_insert

_states: Table = AlertState.__table__  # type: ignore[attr-defined]
_alerts: Table = Alert.__table__  # type: ignore[attr-defined]
_events: Table = AlertEvent.__table__  # type: ignore[attr-defined]
_deliveries: Table = Delivery.__table__  # type: ignore[attr-defined]


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
    if writes.states:
        statement = upsert_insert(connection, _states)
        fields = ("level", "pending", "pending_since", "alert_id", "updated_block")
        connection.execute(statement.on_conflict_do_update(
            index_elements=["chain", "market", "account", "family"],
            set_={f: statement.excluded[f] for f in fields}), writes.states)
