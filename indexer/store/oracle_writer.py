"""Oracle rows of one block, written inside the block's transaction (see ``writer.write_block``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, and_, or_, select, update

from indexer.oracles.status import FeedStatus
from indexer.store.models import Market, OracleFeed, OracleReading, Position
from indexer.store.types import utc_now
from indexer.store.upsert import upsert_insert
from indexer.types import BlockRef

_feeds: Table = OracleFeed.__table__  # type: ignore[attr-defined]
_readings: Table = OracleReading.__table__  # type: ignore[attr-defined]
_positions: Table = Position.__table__  # type: ignore[attr-defined]
_markets: Table = Market.__table__  # type: ignore[attr-defined]
_FEED_FIELDS = ("address", "kind", "price_id", "asset", "symbol", "description", "decimals", "heartbeat",
                "heartbeat_source", "deviation", "aggregator", "round_id", "status", "updated_at")


def write_feeds(connection: Connection, *, chain: str, block: BlockRef, feeds: Sequence[FeedStatus]) -> None:
    if not feeds:
        return
    now = utc_now()
    rows = [{"chain": chain, "key": f.reading.key, "address": f.reading.address, "kind": f.reading.kind,
             "price_id": f.reading.price_id, "asset": f.reading.asset, "symbol": f.reading.symbol,
             "description": f.reading.description, "decimals": f.reading.decimals, "heartbeat": f.heartbeat,
             "heartbeat_source": f.heartbeat_source, "deviation": f.deviation, "aggregator": f.reading.aggregator,
             "round_id": f.reading.round_id, "status": f.verdict.status.value, "updated_at": now} for f in feeds]
    statement = upsert_insert(connection, _feeds)
    connection.execute(statement.on_conflict_do_update(
        index_elements=["chain", "key"], set_={k: statement.excluded[k] for k in _FEED_FIELDS}), rows)
    query = select(_feeds.c.key, _feeds.c.id).where(_feeds.c.chain == chain,
                                                    _feeds.c.key.in_([r["key"] for r in rows]))
    ids = {key: feed_id for key, feed_id in connection.execute(query)}
    readings = [{"feed_id": ids[f.reading.key], "chain": chain, "block_number": block.number,
                 "block_hash": block.hash, "block_timestamp": block.timestamp, "round_id": f.reading.round_id,
                 "answer": f.reading.answer, "started_at": f.reading.started_at, "updated_at": f.reading.updated_at,
                 "aggregator": f.reading.aggregator, "conf": f.reading.conf, "status": f.verdict.status.value,
                 "reason": f.verdict.reason, "age": f.verdict.age, "changed": f.changed} for f in feeds]
    statement = upsert_insert(connection, _readings)
    replace = {k: statement.excluded[k] for k in readings[0] if k not in ("feed_id", "block_number")}
    connection.execute(statement.on_conflict_do_update(index_elements=["feed_id", "block_number"], set_=replace),
                       readings)


def mark_unpriced(connection: Connection, *, chain: str, block: BlockRef,
                  unpriced: Sequence[tuple[str, str]], status: str) -> None:
    """Positions the protocol could not value at ``block``: keep their last figures, but flag their prices."""
    if not unpriced:
        return
    query = select(_markets.c.key, _markets.c.id).where(_markets.c.chain == chain)
    market_ids = {key: market_id for key, market_id in connection.execute(query)}
    pairs = [(market_ids[m], a) for m, a in unpriced if m in market_ids]
    if not pairs:
        return
    connection.execute(
        update(_positions)
        .where(_positions.c.chain == chain,
               or_(*[and_(_positions.c.market_id == m, _positions.c.account == a) for m, a in pairs]))
        .values(price_status=status, updated_at=utc_now()))
