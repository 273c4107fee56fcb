"""Writing one processed block: every row of it commits together or not at all (``write_block``); the pipeline
writes a fast-path block's repriced figures after it, in a transaction of their own (``write_positions``).

Rows go through SQLAlchemy Core in bulk (one executemany per table, dialect upserts), not ORM
objects; the largest (legs, history, latest positions) through the driver's own executemany, or Postgres' COPY
(``indexer.store.bulk``). The asset rows need their history row's id: on SQLite they are the consecutive rowids
ending at ``last_insert_rowid()``, checked; on Postgres they are drawn from the sequence first (see
``_append_history``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table, bindparam, delete, func, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError, StatementError

from indexer.errors import RetryableError, StoreError
from indexer.oracles.status import FeedStatus
from indexer.store.alert_store import write_alerts
from indexer.store.bulk import executemany, insert_rows
from indexer.store.chain_store import add_discovered
from indexer.store.feed_store import mark_unpriced, write_feeds
from indexer.store.models import (
    SYNC_CHECKPOINT,
    Block,
    Checkpoint,
    Market,
    MarketState,
    Position,
    PositionHistory,
    PositionLeg,
)
from indexer.store.types import quantize_health, utc_now
from indexer.store.upsert import upsert_insert
from indexer.types import BlockRef, PositionSnapshot

log = logging.getLogger(__name__)

_markets: Table = Market.__table__  # type: ignore[attr-defined]
_blocks: Table = Block.__table__  # type: ignore[attr-defined]
_history: Table = PositionHistory.__table__  # type: ignore[attr-defined]
_legs: Table = PositionLeg.__table__  # type: ignore[attr-defined]
_positions: Table = Position.__table__  # type: ignore[attr-defined]
_checkpoints: Table = Checkpoint.__table__  # type: ignore[attr-defined]
_states: Table = MarketState.__table__  # type: ignore[attr-defined]


class StateRow(NamedTuple):
    """A market's state at a block (``MarketRead.state``) with the verdicts marking its positions' price status:
    per feed address its ``PriceStatus`` value, and the chain's (the sequencer's)."""

    state: Any
    verdicts: Mapping[str, str]
    chain_status: str


def write_block(engine: Engine, *, chain: str, block: BlockRef, snapshots: list[PositionSnapshot],
                feeds: Sequence[FeedStatus] = (), unpriced: Sequence[tuple[str, str]] = (),
                stale: Sequence[tuple[str, str]] = (), alerts: Any = None,
                discovered: Mapping[str, Mapping[str, tuple[int, int]]] | None = None,
                checks: Mapping[str, tuple[int, int]] | None = None,
                unchanged: Sequence[tuple[str, str]] = (),
                liquidations: Mapping[tuple[str, str], list[dict[str, Any]] | None] | None = None,
                states: Mapping[str, StateRow] | None = None) -> int:
    """Store one block's snapshots in a single transaction; return how many snapshots were written.

    Upserts the markets and the ``blocks`` row, appends ``position_history`` and ``position_legs``,
    moves ``positions`` forward (a stored position from a later block is kept), and sets the
    ``(chain, "sync")`` checkpoint to ``block``. ``feeds`` are the block's oracle readings with their
    verdicts; ``unpriced`` lists (market key, account) pairs the protocol could not value at this block:
    their stored figures stay and their ``price_status`` becomes INVALID; ``stale`` the same for pairs it refused to
    value because a price it needs is stale (a pull oracle's update is due; a venue that cannot value a wallet now):
    their figures stay, marked STALE. ``alerts`` (an
    ``AlertWrites``) are the block's rule states, alert transitions and outbox rows. ``discovered``: per market
    key, the accounts found in this block's logs (account → first and last block); the market's discovery
    checkpoint moves to this block with them. ``unchanged``: (market key, account) of stored positions read at
    this block whose figures did not change (``[writes] mode = "changed"``): their latest rows move to this block
    (block number, hash, time), their figures and history rows stay. ``liquidations``: per (market key, account)
    of ``snapshots``, their liquidation points as stored (``indexer.health.nearest``; absent or None: not
    computed). ``states``: per market key, its state at the block (``[writes] mode = "accrued"``), stored for markets
    the store knows (a market none of whose positions was ever written has nothing to derive). Raises ``StoreError``
    when the
    data or the database rejects the write, ``RetryableError`` when the database is unreachable or
    locked; either way nothing of the block is written.
    """
    _check_pinned(chain, block, snapshots)
    with _translated(f"writing block {block.number} on {chain}"), engine.begin() as connection:
        _upsert_block(connection, chain, block)
        _position_rows(connection, chain, block, snapshots, unchanged, liquidations)
        _mark_checks(connection, chain, block.number, checks or {})
        _write_states(connection, chain, block.number, states or {})
        write_feeds(connection, chain=chain, block=block, feeds=feeds)
        mark_unpriced(connection, chain=chain, block=block, unpriced=unpriced, status="INVALID")
        mark_unpriced(connection, chain=chain, block=block, unpriced=stale, status="STALE")
        write_alerts(connection, alerts)
        for market, seen in (discovered or {}).items():
            add_discovered(connection, chain=chain, market=market, seen=seen, scanned_to=block.number)
        set_checkpoint(connection, chain=chain, name=SYNC_CHECKPOINT, block_number=block.number)
    log.debug("wrote block %s on %s with %d snapshots", block.number, chain, len(snapshots))
    return len(snapshots)


def write_positions(engine: Engine, *, chain: str, block: BlockRef, snapshots: list[PositionSnapshot],
                    unchanged: Sequence[tuple[str, str]] = (),
                    liquidations: Mapping[tuple[str, str], list[dict[str, Any]] | None] | None = None) -> int:
    """The position rows of a block already stored (``write_block`` has committed its block row, alerts and
    checkpoint), in a transaction of their own: what ``write_block`` writes of ``snapshots`` and ``unchanged``,
    nothing else. The pipeline writes a fast-path block's repriced figures this way, after its alert rows. Errors
    as ``write_block``'s; either way none of these rows is written."""
    _check_pinned(chain, block, snapshots)
    with _translated(f"writing the positions of block {block.number} on {chain}"), engine.begin() as connection:
        _position_rows(connection, chain, block, snapshots, unchanged, liquidations)
    return len(snapshots)


def _position_rows(connection: Connection, chain: str, block: BlockRef, snapshots: list[PositionSnapshot],
                   unchanged: Sequence[tuple[str, str]],
                   liquidations: Mapping[tuple[str, str], list[dict[str, Any]] | None] | None) -> None:
    """History and legs appended, latest rows moved forward, replaced same-block rows dropped, unchanged positions'
    latest rows moved to the block (the block's row must exist)."""
    market_ids = _upsert_markets(connection, chain, snapshots)
    points = liquidations or {}
    figures = [_figures(snapshot, market_ids[snapshot.market], points.get((snapshot.market, snapshot.account)))
               for snapshot in snapshots]
    replaced = _same_block_rows(connection, chain, block.number, figures)
    snapshot_ids = _append_history(connection, figures)
    _append_legs(connection, snapshots, snapshot_ids)
    _upsert_positions(connection, snapshots, figures, snapshot_ids)
    _drop_history(connection, replaced)
    _move_unchanged(connection, chain, block, unchanged)


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """The database's errors as the pipeline handles them: ``RetryableError`` when it is unreachable or locked,
    ``StoreError`` when it (or the data) refuses the write."""
    try:
        yield
    except OperationalError as exc:
        raise RetryableError(f"{what}: {exc.orig or exc}") from exc
    except (SQLAlchemyError, ValueError, TypeError) as exc:
        reason = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
        raise StoreError(f"{what}: {reason}") from exc


def set_checkpoint(connection: Connection, *, chain: str, name: str, block_number: int) -> None:
    """Set a named checkpoint inside the caller's transaction."""
    statement = upsert_insert(connection, _checkpoints)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["chain", "name"],
            set_={"block_number": statement.excluded.block_number, "updated_at": statement.excluded.updated_at},
        ),
        {"chain": chain, "name": name, "block_number": block_number, "updated_at": utc_now()},
    )


def _check_pinned(chain: str, block: BlockRef, snapshots: Iterable[PositionSnapshot]) -> None:
    for snapshot in snapshots:
        if snapshot.chain != chain:
            raise StoreError(f"snapshot of {snapshot.account} is for chain {snapshot.chain}, not {chain}")
        if (snapshot.block.number, snapshot.block.hash) != (block.number, block.hash):
            raise StoreError(
                f"snapshot of {snapshot.account} is pinned to block {snapshot.block.number} "
                f"({snapshot.block.hash}), not {block.number} ({block.hash})"
            )


def _upsert_markets(connection: Connection, chain: str, snapshots: list[PositionSnapshot]) -> dict[str, int]:
    wanted = {
        snapshot.market: {
            "chain": chain,
            "key": snapshot.market,
            "protocol": snapshot.protocol,
            "address": snapshot.market_address,
        }
        for snapshot in snapshots
    }
    if not wanted:
        return {}
    statement = upsert_insert(connection, _markets)
    excluded = statement.excluded
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["chain", "key"],
            set_={"protocol": excluded.protocol, "address": excluded.address},
            where=(_markets.c.protocol != excluded.protocol) | (_markets.c.address != excluded.address),
        ),
        list(wanted.values()),
    )
    rows = connection.execute(
        select(_markets.c.key, _markets.c.id).where(_markets.c.chain == chain, _markets.c.key.in_(list(wanted)))
    )
    return {key: market_id for key, market_id in rows}


def _upsert_block(connection: Connection, chain: str, block: BlockRef) -> None:
    statement = upsert_insert(connection, _blocks)
    excluded = statement.excluded
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["chain", "number"],
            set_={"hash": excluded.hash, "parent_hash": excluded.parent_hash, "timestamp": excluded.timestamp},
        ),
        {
            "chain": chain,
            "number": block.number,
            "hash": block.hash,
            "parent_hash": block.parent_hash,
            "timestamp": block.timestamp,
        },
    )


def _figures(snapshot: PositionSnapshot, market_id: int, liquidations: list[dict[str, Any]] | None
             ) -> dict[str, Any]:
    health = snapshot.health
    # The float is taken from the stored (18-place) value so that it orders exactly like it.
    stored_health = None if health.health is None else quantize_health(health.health)
    return {
        "chain": snapshot.chain,
        "market_id": market_id,
        "account": snapshot.account,
        "owner": snapshot.owner,
        "block_number": snapshot.block.number,
        "block_hash": snapshot.block.hash,
        "block_timestamp": snapshot.block.timestamp,
        "health_raw": health.raw,
        "health_decimals": health.decimals,
        "health": stored_health,
        "health_float": None if stored_health is None else float(stored_health),
        "equity": health.equity,
        "requirement": health.requirement,
        "collateral_value": health.collateral,
        "debt_value": health.debt,
        "quote": health.quote,
        "quote_unit": health.quote_unit,
        "margin_mode": snapshot.margin_mode.value,
        "detail": snapshot.detail,
        "price_status": snapshot.price_status,
        "liquidations": liquidations,
    }


def _same_block_rows(connection: Connection, chain: str, number: int, figures: list[dict[str, Any]]) -> list[int]:
    """History rows already stored for these positions at this very block (the block read again, e.g. a second
    `indexer sync` at an unchanged head): the new rows replace them, so a position has one row per block."""
    if not figures:
        return []
    h = _history.c
    wanted = {(row["market_id"], row["account"]) for row in figures}
    rows = connection.execute(select(h.id, h.market_id, h.account).where(h.chain == chain, h.block_number == number))
    return [row_id for row_id, market_id, account in rows if (market_id, account) in wanted]


def _move_unchanged(connection: Connection, chain: str, block: BlockRef, unchanged: Sequence[tuple[str, str]]
                    ) -> None:
    """The latest rows of positions read at ``block`` with the figures they hold: checked at this block. One UPDATE
    per market and ``_MOVE_CHUNK`` accounts (an IN list through the positions' (chain, market, account) key): at
    100,000 positions on SQLite about 0.33 s against 1.25 s for an executemany of one UPDATE per row (bench/RESULTS.md,
    "Storing what accrues")."""
    if not unchanged:
        return
    by_market: dict[str, list[str]] = {}
    for market, account in unchanged:
        by_market.setdefault(market, []).append(account)
    m, p = _markets.c, _positions.c
    ids = dict(connection.execute(select(m.key, m.id).where(m.chain == chain, m.key.in_(list(by_market)))).all())
    statement = (update(_positions)
                 .where(p.chain == chain, p.market_id == bindparam("market"),
                        p.account.in_(bindparam("accounts", expanding=True)), p.block_number <= block.number)
                 .values(block_number=block.number, block_hash=block.hash, block_timestamp=block.timestamp,
                         updated_at=utc_now()))
    for market, accounts in by_market.items():
        if market not in ids:  # no position of it was ever stored: nothing to move
            continue
        for start in range(0, len(accounts), _MOVE_CHUNK):
            connection.execute(statement, {"market": ids[market], "accounts": accounts[start:start + _MOVE_CHUNK]})


_MOVE_CHUNK = 1_000  # accounts per UPDATE: well inside SQLite's 32,766 and Postgres' 65,535 parameters


def _write_states(connection: Connection, chain: str, number: int, states: Mapping[str, StateRow]) -> None:
    if not states:
        return
    ids: dict[str, int] = {key: market_id for key, market_id in connection.execute(
        select(_markets.c.key, _markets.c.id).where(_markets.c.chain == chain, _markets.c.key.in_(list(states))))}
    known = [key for key in states if key in ids]
    if not known:
        return
    connection.execute(delete(_states).where(_states.c.block_number == number,
                                             _states.c.market_id.in_([ids[k] for k in known])))
    connection.execute(_states.insert(), [
        {"chain": chain, "market_id": ids[key], "block_number": number, "state": states[key].state,
         "verdicts": dict(states[key].verdicts), "chain_status": states[key].chain_status} for key in known])


def _mark_checks(connection: Connection, chain: str, number: int, checks: Mapping[str, tuple[int, int]]) -> None:
    """The self-check's marks: per market key, (positions checked, of which disagreed) at this block (on the
    market's row, whether or not the block writes any of its positions)."""
    for key, (checked, mismatched) in checks.items():
        if checked:
            values: dict[str, int] = {"checked_block": number}
            if mismatched:
                values["mismatch_block"] = number
            connection.execute(_markets.update().where(_markets.c.chain == chain, _markets.c.key == key)
                               .values(**values))


def _drop_history(connection: Connection, ids: list[int]) -> None:
    """Once the latest positions point at their new rows: the replaced rows and their legs go."""
    for start in range(0, len(ids), 1_000):
        chunk = ids[start:start + 1_000]
        connection.execute(delete(_legs).where(_legs.c.snapshot_id.in_(chunk)))
        connection.execute(delete(_history).where(_history.c.id.in_(chunk)))


def _append_history(connection: Connection, figures: list[dict[str, Any]]) -> list[int]:
    """Insert the history rows and return their ids in the order of ``figures``.

    On Postgres the ids are drawn from the table's sequence first and the rows inserted with them:
    a plain pipelined executemany is several times faster there than ``INSERT … RETURNING`` batches.
    On SQLite the rows go in one executemany and take consecutive rowids (a new rowid is one above the largest,
    and the transaction holds the database's write lock from its first insert): the last is the connection's
    ``last_insert_rowid()``. That the range holds exactly these rows is checked, not assumed.
    """
    if not figures:
        return []
    if connection.dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(_history.name, _history.c.id.name)
        ids = list(
            connection.execute(
                select(func.nextval(sequence)).select_from(func.generate_series(1, len(figures)))
            ).scalars()
        )
        insert_rows(connection, _history, [{**row, "id": id_} for row, id_ in zip(figures, ids, strict=True)])
        return ids
    insert_rows(connection, _history, figures)
    last = connection.execute(select(func.last_insert_rowid())).scalar_one()
    first = last - len(figures) + 1
    h = _history.c
    ours = connection.execute(select(func.count()).select_from(_history).where(
        h.id.between(first, last), h.chain == figures[0]["chain"], h.block_number == figures[0]["block_number"])
    ).scalar_one()
    if ours != len(figures):
        raise StoreError(f"history rows {first}..{last} are not the {len(figures)} rows just written")
    return list(range(first, last + 1))


def _append_legs(connection: Connection, snapshots: list[PositionSnapshot], snapshot_ids: list[int]) -> None:
    rows = [
        {
            "snapshot_id": snapshot_id,
            "asset": leg.asset,
            "symbol": leg.symbol,
            "decimals": leg.decimals,
            "role": leg.role.value,
            "amount": leg.amount,
            "price": leg.price,
            "price_decimals": leg.price_decimals,
            "price_key": leg.price_key,
            "value": leg.value,
            "feed": leg.feed,
            "round_id": leg.round_id,
            "price_time": leg.price_time,
            "terms": leg.terms,
        }
        for snapshot, snapshot_id in zip(snapshots, snapshot_ids, strict=True)
        for leg in snapshot.legs
    ]
    insert_rows(connection, _legs, rows)


def _upsert_positions(
    connection: Connection,
    snapshots: list[PositionSnapshot],
    figures: list[dict[str, Any]],
    snapshot_ids: list[int],
) -> None:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    now = utc_now()
    for snapshot, row, snapshot_id in zip(snapshots, figures, snapshot_ids, strict=True):
        key = (snapshot.market, snapshot.account)
        if key in latest:
            log.warning("two snapshots of %s on %s in one block; keeping the last", snapshot.account, key[0])
        if snapshot.closed:  # the position is gone: it leaves the latest positions (its history keeps the closing)
            p = _positions.c
            connection.execute(delete(_positions).where(
                p.chain == row["chain"], p.market_id == row["market_id"], p.account == row["account"],
                p.block_number <= row["block_number"]))
            latest.pop(key, None)
            continue
        latest[key] = {**row, "protocol": snapshot.protocol, "snapshot_id": snapshot_id, "updated_at": now}
    if not latest:
        return
    statement = upsert_insert(connection, _positions)
    excluded = statement.excluded
    unchanged = {"id", "chain", "market_id", "account"}
    executemany(connection, statement.on_conflict_do_update(
        index_elements=["chain", "market_id", "account"],
        set_={column.name: excluded[column.name] for column in _positions.c if column.name not in unchanged},
        where=_positions.c.block_number <= excluded.block_number,
    ), _positions, list(latest.values()))
