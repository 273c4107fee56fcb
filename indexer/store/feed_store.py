"""Oracle feeds and their readings: the rows of one block (written in the block's transaction), the
states the next block is judged against, and the feeds as people list them."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    func,
    or_,
    select,
    update,
)

from indexer.oracles.status import FeedStatus
from indexer.store.models import (
    Market,
    OracleFeed,
    OracleReading,
    Position,
)
from indexer.store.types import utc_now
from indexer.store.upsert import upsert_insert
from indexer.store.views import OracleView
from indexer.types import BlockRef

_markets: Table = Market.__table__  # type: ignore[attr-defined]
_positions: Table = Position.__table__  # type: ignore[attr-defined]
_feeds: Table = OracleFeed.__table__  # type: ignore[attr-defined]
_readings: Table = OracleReading.__table__  # type: ignore[attr-defined]


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


def mark_stale_before(engine: Engine, *, chain: str, before: float) -> int:
    """Positions of ``chain`` (a venue) whose stored snapshot is older than ``before`` (unix seconds) and still
    marked as trusted: their prices are STALE now (the venue could not be read since). Returns how many."""
    p = _positions.c
    with engine.begin() as connection:
        result = connection.execute(
            update(_positions)
            .where(p.chain == chain, p.block_timestamp < before, p.price_status != "STALE",
                   p.price_status != "INVALID")
            .values(price_status="STALE", updated_at=utc_now()))
    return int(result.rowcount or 0)


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


# A reading that says nothing about the price: no answer (the read failed) or judged INVALID (not positive,
# an incomplete round, a round id going backwards, outside the configured bounds). STALE readings are kept:
# their answer is still the price every protocol reading the feed used.
_UNUSABLE_STATUS = "INVALID"


class FeedSpan(NamedTuple):
    """One price feed of the given symbols and its usable readings: how many, first and last block time."""

    feed_id: int
    chain: str
    key: str
    symbol: str
    description: str | None
    readings: int
    first: int
    last: int


def reading_spans(engine: Engine, *, symbols: Collection[str]) -> list[FeedSpan]:
    """Every feed whose symbol is one of ``symbols`` (case-insensitively) with at least one usable reading
    (an answer, status not INVALID), ordered by chain and key."""
    wanted = sorted({s.lower() for s in symbols})
    if not wanted:
        return []
    f, r = _feeds.c, _readings.c
    query = (
        select(f.id, f.chain, f.key, f.symbol, f.description, func.count(r.id), func.min(r.block_timestamp),
               func.max(r.block_timestamp))
        .join(_readings, r.feed_id == f.id)
        .where(func.lower(f.symbol).in_(wanted), r.answer.is_not(None), r.status != _UNUSABLE_STATUS)
        .group_by(f.id, f.chain, f.key, f.symbol, f.description)
        .order_by(f.chain, f.key)
    )
    with engine.connect() as connection:
        return [FeedSpan(int(feed_id), chain, key, symbol, description, int(count), int(first), int(last))
                for feed_id, chain, key, symbol, description, count, first, last in connection.execute(query)]


def feed_answers(engine: Engine, *, feed_id: int) -> Iterator[tuple[int, int]]:
    """The usable readings of one feed (an answer, status not INVALID) as ``(block_timestamp, answer)``, oldest
    first, ties by block number; streamed, since a feed read every block has many. A non-positive answer is judged
    INVALID by the monitor; the answer itself is not compared here (it is text on SQLite)."""
    r = _readings.c
    query = (select(r.block_timestamp, r.answer)
             .where(r.feed_id == feed_id, r.answer.is_not(None), r.status != _UNUSABLE_STATUS)
             .order_by(r.block_timestamp, r.block_number))
    with engine.connect() as connection:
        for timestamp, answer in connection.execution_options(yield_per=5_000).execute(query):
            yield int(timestamp), int(answer)
