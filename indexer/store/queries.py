"""Read and small write queries; every argument after the engine is keyword-only."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select

from indexer.store.models import (
    SYNC_CHECKPOINT,
    Block,
    Checkpoint,
    Market,
    Position,
    PositionLeg,
    Wallet,
    WalletPublic,
)
from indexer.store.ordering import riskiest_first
from indexer.store.types import utc_now
from indexer.store.upsert import upsert_insert
from indexer.store.views import OracleView, PositionView
from indexer.types import BlockRef, Leg, Role

_wallets: Table = Wallet.__table__  # type: ignore[attr-defined]
_markets: Table = Market.__table__  # type: ignore[attr-defined]
_positions: Table = Position.__table__  # type: ignore[attr-defined]
_legs: Table = PositionLeg.__table__  # type: ignore[attr-defined]
_blocks: Table = Block.__table__  # type: ignore[attr-defined]
_checkpoints: Table = Checkpoint.__table__  # type: ignore[attr-defined]


def add_wallet(engine: Engine, *, address: str, label: str | None = None, warn_health: Decimal | None = None,
               critical_health: Decimal | None = None) -> WalletPublic:
    """Track ``address``; calling again is harmless and sets the label (and alert levels) if given.

    The address is stored as given: pass it checksummed, as positions store accounts that way.
    ``warn_health``/``critical_health`` are this wallet's own alert enter levels.
    """
    with engine.begin() as connection:
        statement = upsert_insert(connection, _wallets).values(
            address=address, label=label, created_at=utc_now(), warn_health=warn_health,
            critical_health=critical_health)
        excluded = statement.excluded
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["address"],
                set_={"label": func.coalesce(excluded.label, _wallets.c.label),
                      "warn_health": func.coalesce(excluded.warn_health, _wallets.c.warn_health),
                      "critical_health": func.coalesce(excluded.critical_health, _wallets.c.critical_health)},
            )
        )
        row = connection.execute(select(_wallets).where(_wallets.c.address == address)).mappings().one()
    return WalletPublic.model_validate(dict(row))


def remove_wallet(engine: Engine, *, address: str) -> bool:
    """Stop tracking ``address``; ``False`` if it was not tracked."""
    with engine.begin() as connection:
        result = connection.execute(delete(_wallets).where(_wallets.c.address == address))
    return result.rowcount > 0


def list_wallets(engine: Engine) -> list[WalletPublic]:
    with engine.connect() as connection:
        rows = connection.execute(select(_wallets).order_by(_wallets.c.id)).mappings()
        return [WalletPublic.model_validate(dict(row)) for row in rows]


def wallet_addresses(engine: Engine) -> list[str]:
    """Every tracked address, in the order they were added: what a refresh reads (no model objects built)."""
    with engine.connect() as connection:
        return list(connection.execute(select(_wallets.c.address).order_by(_wallets.c.id)).scalars())



def list_positions(
    engine: Engine,
    *,
    wallet: str | None = None,
    chain: str | None = None,
    market: str | None = None,
    max_health: Decimal | None = None,
    price_status: str | None = None,
    limit: int | None = None,
) -> list[PositionView]:
    """Latest positions, riskiest first: lowest health, then positions without debt, larger debt first.

    ``max_health`` keeps positions whose health is at most that value (exactly, not via the float);
    positions without debt never match it. ``market`` is the market's config key.
    """
    p = _positions.c
    query = (
        select(
            p.chain,
            p.protocol,
            _markets.c.key.label("market"),
            _markets.c.address.label("market_address"),
            p.account,
            _wallets.c.label.label("wallet_label"),
            p.snapshot_id,
            p.block_number,
            p.block_hash,
            p.block_timestamp,
            p.health_raw,
            p.health_decimals,
            p.health,
            p.equity,
            p.requirement,
            p.collateral_value,
            p.debt_value,
            p.quote,
            p.quote_unit,
            p.margin_mode,
            p.detail,
            p.price_status,
            p.updated_at,
        )
        .join(_markets, _markets.c.id == p.market_id)
        .outerjoin(_wallets, _wallets.c.address == p.account)
    )
    if wallet is not None:
        query = query.where(p.account == wallet)
    if chain is not None:
        query = query.where(p.chain == chain)
    if market is not None:
        query = query.where(_markets.c.key == market)
    if price_status is not None:
        query = query.where(p.price_status == price_status)
    if max_health is not None:
        # The float bound can only over-select (float() is monotonic); the exact column decides.
        query = query.where(p.health_float <= float(max_health), p.health <= max_health)
    query = query.order_by(*riskiest_first(_positions, engine.dialect.name))
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        return [PositionView(**row) for row in connection.execute(query).mappings()]


def position_legs(engine: Engine, *, snapshot_id: int) -> list[Leg]:
    """The legs of one stored snapshot (``PositionView.snapshot_id``), in written order."""
    g = _legs.c
    query = select(g.asset, g.symbol, g.decimals, g.role, g.amount, g.price, g.price_decimals, g.price_key, g.value,
                   g.feed, g.round_id, g.price_time, g.terms).where(g.snapshot_id == snapshot_id)
    with engine.connect() as connection:
        return [Leg(**{**row, "role": Role(row["role"])})
                for row in connection.execute(query.order_by(g.id)).mappings()]


def latest_block(engine: Engine, *, chain: str) -> BlockRef | None:
    """The highest stored block of ``chain``, or ``None`` before the first one."""
    b = _blocks.c
    query = (
        select(b.number, b.hash, b.timestamp, b.parent_hash).where(b.chain == chain).order_by(b.number.desc()).limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else BlockRef(**row)


def checkpoint(engine: Engine, *, chain: str, name: str = SYNC_CHECKPOINT) -> int | None:
    """The block number a named checkpoint is at, or ``None`` if it was never set."""
    c = _checkpoints.c
    with engine.connect() as connection:
        return connection.execute(select(c.block_number).where(c.chain == chain, c.name == name)).scalar()


def forget_chain(engine: Engine, *, chain: str) -> int:
    """Delete every derived row of ``chain`` in one transaction: positions, history, assets, blocks,
    checkpoints, oracle feeds and readings, alert states, alerts, events and their deliveries; tracked wallets
    stay. For a devnet that was started afresh: a new chain under an old name, whose rows would otherwise
    shadow or confuse it. Returns the number of position rows removed."""
    from indexer.store.models import (
        Alert,
        AlertEvent,
        AlertState,
        Delivery,
        OracleFeed,
        OracleReading,
        PositionHistory,
    )

    history: Table = PositionHistory.__table__  # type: ignore[attr-defined]
    events: Table = AlertEvent.__table__  # type: ignore[attr-defined]
    deliveries: Table = Delivery.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        removed = conn.execute(delete(_positions).where(_positions.c.chain == chain)).rowcount
        snapshot_ids = select(history.c.id).where(history.c.chain == chain).scalar_subquery()
        conn.execute(delete(_legs).where(_legs.c.snapshot_id.in_(snapshot_ids)))
        conn.execute(delete(history).where(history.c.chain == chain))
        conn.execute(delete(deliveries).where(deliveries.c.event_id.in_(
            select(events.c.id).where(events.c.chain == chain).scalar_subquery())))
        for model in (AlertEvent, Alert, AlertState, OracleReading, OracleFeed):
            table: Table = model.__table__  # type: ignore[union-attr]
            conn.execute(delete(table).where(table.c.chain == chain))
        conn.execute(delete(_blocks).where(_blocks.c.chain == chain))
        conn.execute(delete(_checkpoints).where(_checkpoints.c.chain == chain))
    return removed


def feed_states(engine: Engine, *, chain: str) -> dict[str, tuple[int | None, str | None, str]]:
    """Each stored feed of ``chain``: key → (latest round id, aggregator, status), for judging the next read."""
    from indexer.store.models import OracleFeed

    f = OracleFeed.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(select(f.key, f.round_id, f.aggregator, f.status).where(f.chain == chain))
        return {key: (round_id, aggregator, status) for key, round_id, aggregator, status in rows}


def feed_metadata(engine: Engine, *, chain: str) -> dict[str, tuple[int, str]]:
    """Decimals and description of every Chainlink-style feed already stored (read once, not every pass)."""
    from indexer.store.models import OracleFeed

    f = OracleFeed.__table__.c  # type: ignore[attr-defined]
    query = select(f.address, f.decimals, f.description).where(
        f.chain == chain, f.price_id.is_(None), f.decimals.is_not(None))
    with engine.connect() as connection:
        return {address: (decimals, description or "") for address, decimals, description in connection.execute(query)}


def list_oracles(engine: Engine, *, chain: str | None = None, not_fresh: bool = False) -> list[OracleView]:
    """Every feed with its latest stored reading; least trustworthy first when ``not_fresh``."""
    from indexer.store.models import OracleFeed, OracleReading

    f = OracleFeed.__table__.c  # type: ignore[attr-defined]
    r_table = OracleReading.__table__  # type: ignore[attr-defined]
    r = r_table.c
    latest = (select(r.feed_id, func.max(r.block_number).label("block_number"))
              .group_by(r.feed_id).subquery())
    query = (
        select(f.chain, f.key, f.kind, f.asset, f.symbol, f.description, f.decimals, f.heartbeat,
               f.heartbeat_source, f.deviation, f.aggregator, r.block_number, r.block_timestamp, r.round_id,
               r.answer, r.updated_at, r.status, r.reason, r.age)
        .join(latest, latest.c.feed_id == f.id)
        .join(r_table, (r.feed_id == f.id) & (r.block_number == latest.c.block_number))
        .order_by(f.chain, f.kind, f.symbol, f.key)
    )
    if chain is not None:
        query = query.where(f.chain == chain)
    if not_fresh:
        query = query.where(r.status != "FRESH")
    with engine.connect() as connection:
        return [OracleView(**row) for row in connection.execute(query).mappings()]


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


def position_healths(engine: Engine, *, chain: str) -> dict[tuple[str, str], Decimal | None]:
    """The stored (previous) health of every position of ``chain``, by (market key, account)."""
    p = _positions.c
    query = select(_markets.c.key, p.account, p.health).join(_markets, _markets.c.id == p.market_id).where(
        p.chain == chain)
    with engine.connect() as connection:
        return {(m, a): h for m, a, h in connection.execute(query)}


def wallet_alert_settings(engine: Engine) -> dict[str, tuple[str | None, Decimal | None, Decimal | None]]:
    """account → (label, warn enter level, critical enter level) for every tracked wallet."""
    w = _wallets.c
    with engine.connect() as connection:
        rows = connection.execute(select(w.address, w.label, w.warn_health, w.critical_health))
        return {a: (label, warn, critical) for a, label, warn, critical in rows}


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


DISCOVERY_CHECKPOINT_PREFIX = "discovery:"  # + market key: how far discovery has scanned that market


def discovery_checkpoint_name(market: str) -> str:
    return f"{DISCOVERY_CHECKPOINT_PREFIX}{market}"


def record_discovered(engine: Engine, *, chain: str, market: str, seen: dict[str, tuple[int, int]],
                      scanned_to: int) -> int:
    """Store the accounts seen in one scanned range (account → first and last block seen there) and move
    the market's discovery checkpoint to ``scanned_to``, in one transaction. Returns how many were new."""
    with engine.begin() as connection:
        return add_discovered(connection, chain=chain, market=market, seen=seen, scanned_to=scanned_to)


def add_discovered(connection: Connection, *, chain: str, market: str, seen: Mapping[str, tuple[int, int]],
                   scanned_to: int) -> int:
    """``record_discovered`` inside the caller's transaction (a block's, when following the head)."""
    from sqlalchemy import case

    from indexer.store.models import MarketAccount
    from indexer.store.writer import set_checkpoint

    table: Table = MarketAccount.__table__  # type: ignore[attr-defined]
    m = table.c
    accounts = sorted(seen)
    known = 0
    for n in range(0, len(accounts), 500):
        part = accounts[n: n + 500]
        known += connection.execute(select(func.count()).select_from(table).where(
            m.chain == chain, m.market == market, m.account.in_(part))).scalar_one()
    if accounts:
        statement = upsert_insert(connection, table)
        excluded = statement.excluded
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["chain", "market", "account"],
                set_={"first_block": case((excluded.first_block < m.first_block, excluded.first_block),
                                          else_=m.first_block),
                      "last_block": case((excluded.last_block > m.last_block, excluded.last_block),
                                         else_=m.last_block)},
            ),
            [{"chain": chain, "market": market, "account": a, "first_block": seen[a][0],
              "last_block": seen[a][1]} for a in accounts],
        )
    set_checkpoint(connection, chain=chain, name=discovery_checkpoint_name(market), block_number=scanned_to)
    return len(accounts) - known


def discovered_accounts(engine: Engine, *, chain: str, market: str) -> list[str]:
    """The accounts discovery has seen on a market, in the order they first appeared."""
    from indexer.store.models import MarketAccount

    m = MarketAccount.__table__.c  # type: ignore[attr-defined]
    query = select(m.account).where(m.chain == chain, m.market == market).order_by(m.first_block, m.account)
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def rewind_discovery(engine: Engine, *, chain: str, to_block: int) -> None:
    """After a reorg: move every discovery checkpoint of ``chain`` above ``to_block`` (the common ancestor)
    back to it, so the replaced blocks are scanned again. Accounts already found stay (a superset is harmless:
    an account without a position is left out by the adapter's read)."""
    from sqlalchemy import update

    c = _checkpoints.c
    with engine.begin() as connection:
        connection.execute(update(_checkpoints).where(
            c.chain == chain, c.name.startswith(DISCOVERY_CHECKPOINT_PREFIX, autoescape=True),
            c.block_number > to_block).values(block_number=to_block, updated_at=utc_now()))


def forget_discovered(engine: Engine, *, chain: str) -> int:
    """Delete the accounts discovery found on ``chain`` and its checkpoints; returns the accounts removed."""
    from indexer.store.models import MarketAccount

    table: Table = MarketAccount.__table__  # type: ignore[attr-defined]
    c = _checkpoints.c
    with engine.begin() as connection:
        removed = connection.execute(delete(table).where(table.c.chain == chain)).rowcount
        connection.execute(delete(_checkpoints).where(
            c.chain == chain, c.name.startswith(DISCOVERY_CHECKPOINT_PREFIX, autoescape=True)))
    return removed
