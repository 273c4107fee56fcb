"""An acknowledgement reaches the services that paged someone: after `indexer alerts ack` (or
``POST /v1/alerts/{id}/ack``), an ``acknowledged`` event of the alert goes to every channel that delivered one of
its events and forwards acknowledgements — PagerDuty acknowledges the incident (Events API v2
``event_action: acknowledge`` on the alert's dedup key), a webhook receives the event as JSON. It is stored and sent
through the outbox like any event (retried, recorded), once per alert: its id is the alert's own plus ``:ack``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import TYPE_CHECKING

from indexer.alerts.message import AlertMessage
from indexer.alerts.registry import build_channels
from indexer.store.alert_store import acknowledgement_source, add_event_deliveries

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from indexer.settings import Settings

log = logging.getLogger(__name__)


def forward_acknowledgement(engine: Engine, settings: Settings, *, alert_id: str, by: str | None,
                            now: float) -> list[str]:
    """Queue the alert's ``acknowledged`` event for the channels that took its events and forward
    acknowledgements; the channels it was queued for (none when it was forwarded already, or none qualifies)."""
    source = acknowledgement_source(engine, alert_id=alert_id)
    if source is None:
        return []
    event, delivered = source
    channels = build_channels(settings.channels)
    targets = [name for name in delivered if name in channels and channels[name].forwards_acks]
    if not targets:
        return []
    last = AlertMessage.from_json(json.loads(event["message"]))
    message = dataclasses.replace(last, event_id=f"{alert_id}:ack", kind="acknowledged",
                                  previous_severity=last.severity, previous_health=last.health,
                                  detail=f"acknowledged by {by}" if by else "acknowledged")
    stored = add_event_deliveries(engine, event={
        "id": message.event_id, "alert_id": alert_id, "chain": event["chain"], "kind": message.kind,
        "severity": message.severity, "previous_severity": message.previous_severity,
        "block_number": event["block_number"], "block_hash": event["block_hash"],
        "price_status": event["price_status"], "message": json.dumps(message.to_json())}, channels=targets, now=now)
    if not stored:
        return []
    log.info("acknowledgement forwarded alert=%s channels=%s", alert_id, ",".join(targets))
    return targets
