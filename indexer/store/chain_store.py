"""Chain state: stored blocks, checkpoints, the accounts discovery found and its progress, what a
chain's store holds at its head, and forgetting a chain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    case,
    delete,
    func,
    select,
    update,
)

from indexer.store.models import (
    SYNC_CHECKPOINT,
    Alert,
    AlertEvent,
    AlertState,
    Block,
    Checkpoint,
    Delivery,
    OracleFeed,
    OracleReading,
    Position,
    PositionHistory,
    PositionLeg,
)
from indexer.store.types import utc_now
from indexer.store.upsert import upsert_insert
from indexer.types import BlockRef

_positions: Table = Position.__table__  # type: ignore[attr-defined]
_legs: Table = PositionLeg.__table__  # type: ignore[attr-defined]
_blocks: Table = Block.__table__  # type: ignore[attr-defined]
_checkpoints: Table = Checkpoint.__table__  # type: ignore[attr-defined]


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


# -- chain heads -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChainHead:
    chain: str
    block_number: int | None
    block_hash: str | None
    block_timestamp: int | None
    checkpoints: dict[str, int]  # checkpoint name → block number


def chain_heads(engine: Engine, *, chains: Sequence[str] = ()) -> list[ChainHead]:
    """The latest stored block and the checkpoints of every chain in ``chains`` or in the store."""
    with engine.connect() as connection:
        return chain_heads_on(connection, chains)


def chain_heads_on(connection: Connection, chains: Sequence[str]) -> list[ChainHead]:
    """``chain_heads`` on the caller's connection (one snapshot with other reads)."""
    b, c = _blocks.c, _checkpoints.c
    newest = select(b.chain, func.max(b.number).label("number")).group_by(b.chain).subquery()
    heads = {row.chain: row for row in connection.execute(
        select(b.chain, b.number, b.hash, b.timestamp).join(
            newest, and_(newest.c.chain == b.chain, newest.c.number == b.number)))}
    marks: dict[str, dict[str, int]] = {}
    for chain, name, number in connection.execute(select(c.chain, c.name, c.block_number)):
        marks.setdefault(chain, {})[name] = number
    out = []
    for chain in sorted(set(chains) | set(heads) | set(marks)):
        head = heads.get(chain)
        out.append(ChainHead(chain, head.number if head else None, head.hash if head else None,
                             head.timestamp if head else None, marks.get(chain, {})))
    return out
