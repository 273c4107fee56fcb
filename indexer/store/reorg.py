"""Rolling a chain's derived rows back to a common ancestor after a reorg, in one transaction.

Removed above the ancestor: position history and its legs, market states, oracle readings, blocks, and alert
events (with their outbox rows). Latest positions, feed states, alerts and rule states are put back to what the
remaining rows say: the state at the ancestor, as a fresh index of the canonical chain would have it. An event a
channel already delivered cannot be unsent: it goes with its branch all the same, logged at ERROR.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select, update

from indexer.store.models import (
    SYNC_CHECKPOINT,
    Alert,
    AlertEvent,
    AlertState,
    Block,
    Delivery,
    MarginChange,
    Market,
    MarketState,
    OracleFeed,
    OracleReading,
    Position,
    PositionHistory,
    PositionLeg,
)
from indexer.store.types import utc_now
from indexer.store.writer import set_checkpoint

log = logging.getLogger(__name__)


def _t(model: Any) -> Table:
    return model.__table__


def rollback(engine: Engine, *, chain: str, ancestor: int, level_of: Callable[[str, str], int]) -> dict[str, int]:
    """Undo everything ``chain`` stored above block ``ancestor``; returns counts of what went. ``level_of(family,
    severity)`` is the alert rules' level of a severity (the rule states go back to their open alert's)."""
    with engine.begin() as conn:
        margins = _t(MarginChange)
        counts = {"history": _positions(conn, chain, ancestor),
                  "readings": _oracles(conn, chain, ancestor),
                  "margin_changes": conn.execute(delete(margins).where(
                      margins.c.chain == chain, margins.c.block_number > ancestor)).rowcount,
                  "market_states": conn.execute(delete(_t(MarketState)).where(
                      _t(MarketState).c.chain == chain, _t(MarketState).c.block_number > ancestor)).rowcount}
        counts.update(_alerts(conn, chain, ancestor, level_of))
        counts["blocks"] = conn.execute(
            delete(_t(Block)).where(_t(Block).c.chain == chain, _t(Block).c.number > ancestor)).rowcount
        set_checkpoint(conn, chain=chain, name=SYNC_CHECKPOINT, block_number=ancestor)
    log.warning("reorg rollback chain=%s ancestor=%d %s", chain, ancestor,
                " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def _positions(conn: Connection, chain: str, ancestor: int) -> int:
    """Every position with history above the ancestor goes back to its last row at or below it: updated, put
    back (it had closed above the ancestor), or removed (it did not exist then, or had closed by then)."""
    history, legs, positions, markets = _t(PositionHistory), _t(PositionLeg), _t(Position), _t(Market)
    dropped = select(history.c.id).where(history.c.chain == chain, history.c.block_number > ancestor)
    touched = set(conn.execute(select(history.c.market_id, history.c.account).where(
        history.c.chain == chain, history.c.block_number > ancestor).distinct()).all())
    touched |= set(conn.execute(select(positions.c.market_id, positions.c.account).where(
        positions.c.chain == chain, positions.c.block_number > ancestor)).all())
    figures = [c.name for c in history.columns if c.name not in ("id",) and c.name in positions.c]
    protocols = dict(conn.execute(select(markets.c.id, markets.c.protocol).where(markets.c.chain == chain)).all())
    for market_id, account in sorted(touched):
        where = (positions.c.chain == chain, positions.c.market_id == market_id, positions.c.account == account)
        previous = conn.execute(
            select(history).where(history.c.chain == chain, history.c.market_id == market_id,
                                  history.c.account == account, history.c.block_number <= ancestor)
            .order_by(history.c.block_number.desc(), history.c.id.desc()).limit(1)).mappings().first()
        if previous is None or (previous["detail"] or {}).get("closed") is True:
            conn.execute(delete(positions).where(*where))
            continue
        values = {"snapshot_id": previous["id"], **{f: previous[f] for f in figures}}
        if conn.execute(update(positions).where(*where).values(**values)).rowcount == 0:
            conn.execute(positions.insert().values(protocol=protocols[market_id], updated_at=utc_now(), **values))
    conn.execute(delete(legs).where(legs.c.snapshot_id.in_(dropped)))
    return conn.execute(delete(history).where(history.c.chain == chain, history.c.block_number > ancestor)).rowcount


def _oracles(conn: Connection, chain: str, ancestor: int) -> int:
    readings, feeds = _t(OracleReading), _t(OracleFeed)
    removed = conn.execute(delete(readings).where(readings.c.chain == chain, readings.c.block_number > ancestor))
    for feed_id in conn.execute(select(feeds.c.id).where(feeds.c.chain == chain)).scalars():
        last = conn.execute(select(readings).where(readings.c.feed_id == feed_id)
                            .order_by(readings.c.block_number.desc()).limit(1)).mappings().first()
        if last is not None:
            conn.execute(update(feeds).where(feeds.c.id == feed_id).values(
                status=last["status"], round_id=last["round_id"], aggregator=last["aggregator"]))
    return removed.rowcount


def _alerts(conn: Connection, chain: str, ancestor: int, level_of: Callable[[str, str], int]) -> dict[str, int]:
    events, deliveries, alerts, states = _t(AlertEvent), _t(Delivery), _t(Alert), _t(AlertState)
    above = conn.execute(select(events.c.id, events.c.alert_id).where(
        events.c.chain == chain, events.c.block_number > ancestor)).all()
    sent = set(conn.execute(select(deliveries.c.event_id).where(
        deliveries.c.event_id.in_([e for e, _ in above]), deliveries.c.status == "delivered")).scalars())
    for event_id in sorted(sent):
        log.error("reorg: alert event %s from a dropped branch had already been delivered; it is dropped with "
                  "its branch chain=%s ancestor=%d", event_id, chain, ancestor)
    # Every event of the dropped branch goes, delivered or not: the alerts are rebuilt from what remains, the
    # state at the ancestor. Keeping a delivered one would keep its alert open beside the alert the rollback
    # reopens (an alert resolved in the branch, then another opened for the same position): two open alerts
    # for one key, which the store refuses, and the chain would stay wedged.
    dropped = [e for e, _ in above]
    for start in range(0, len(dropped), 1_000):
        chunk = dropped[start:start + 1_000]
        conn.execute(delete(deliveries).where(deliveries.c.event_id.in_(chunk)))
        conn.execute(delete(events).where(events.c.id.in_(chunk)))
    lasts = {alert_id: conn.execute(select(events).where(events.c.alert_id == alert_id)
                                    .order_by(events.c.block_number.desc(), events.c.created_at.desc()).limit(1)
                                    ).mappings().first()
             for alert_id in sorted({a for _, a in above})}
    born = [alert_id for alert_id, last in lasts.items() if last is None]
    # alerts born in the branch go first (one may hold the key the rollback reopens an older alert under); the
    # rule states that pointed at them are put back below, with the others changed above the ancestor
    conn.execute(update(states).where(states.c.alert_id.in_(born)).values(alert_id=None))
    conn.execute(delete(alerts).where(alerts.c.id.in_(born)))
    for alert_id, last in lasts.items():
        if last is None:
            continue
        resolved = last["kind"] == "resolved"
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
            severity=last["severity"], status="resolved" if resolved else "open",
            resolved_block=last["block_number"] if resolved else None, updated_block=last["block_number"]))
    # rule states changed above the ancestor go back to what their alert now says
    rows = conn.execute(select(states).where(states.c.chain == chain, states.c.updated_block > ancestor)).mappings()
    for row in list(rows):
        alert = conn.execute(select(alerts).where(
            alerts.c.dedup_key == f"{chain}/{row['market']}/{row['account']}/{row['family']}",
            alerts.c.status == "open")).mappings().first()
        level = level_of(row["family"], alert["severity"]) if alert else 0
        conn.execute(update(states).where(states.c.id == row["id"]).values(
            level=level, pending=None, pending_since=None, alert_id=alert["id"] if alert else None,
            updated_block=ancestor))
    return {"events_dropped": len(dropped), "events_already_delivered": len(sent)}



def stored_hashes(engine: Engine, *, chain: str, since: int) -> dict[int, str]:
    blocks = _t(Block)
    with engine.connect() as conn:
        rows = conn.execute(select(blocks.c.number, blocks.c.hash).where(
            blocks.c.chain == chain, blocks.c.number >= since))
        return {number: block_hash for number, block_hash in rows}


def lowest_block(engine: Engine, *, chain: str) -> int | None:
    blocks = _t(Block)
    with engine.connect() as conn:
        return conn.execute(select(func.min(blocks.c.number)).where(blocks.c.chain == chain)).scalar()
