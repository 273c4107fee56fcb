"""Positions: the latest of each, their legs, their history, pages of them, and the markets they are in.

Uint256 columns are canonical decimal TEXT on SQLite, so their comparisons go through ``_uint_cmp``
(longer text = larger number); health columns are fixed-width sortable text there, so they compare as-is."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    true,
    union,
)

from indexer.store import read_tables
from indexer.store.db import snapshot_connection
from indexer.store.ordering import largest_debt_first, riskiest_first
from indexer.store.views import PositionView
from indexer.types import BlockRef, Health, Leg, MarginMode, PositionSnapshot, Role

_wallets = read_tables.wallets
_markets = read_tables.markets
_positions = read_tables.positions
_legs = read_tables.legs
_history = read_tables.history
_states = read_tables.states


def list_positions(
    engine: Engine,
    *,
    wallet: str | None = None,
    account: str | None = None,
    chain: str | None = None,
    market: str | None = None,
    protocol: str | None = None,
    margin_mode: str | None = None,
    side: str | None = None,
    max_health: Decimal | None = None,
    price_status: str | None = None,
    limit: int | None = None,
) -> list[PositionView]:
    """Latest positions, riskiest first: lowest health, then positions without debt, larger debt first.

    ``wallet``: the positions a wallet owns (every account id it holds); ``account``: one account id.
    ``side``: ``long`` or ``short``, the positions holding a perp of that side (``margin_mode``: cross, isolated).

    ``max_health`` keeps positions whose health is at most that value (exactly, not via the float);
    positions without debt never match it. ``market`` is the market's config key.
    """
    p = _positions.c
    query = (
        select(*_position_columns())
        .join(_markets, _markets.c.id == p.market_id)
        .outerjoin(_wallets, _wallets.c.address == p.owner)
    )
    if wallet is not None:
        query = query.where(p.owner == wallet)
    if account is not None:
        query = query.where(p.account == account)
    if chain is not None:
        query = query.where(p.chain == chain)
    if market is not None:
        query = query.where(_markets.c.key == market)
    for column, value in ((p.protocol, protocol), (p.margin_mode, margin_mode)):
        if value is not None:
            query = query.where(column == value)
    if side is not None:
        query = query.where(_holds_side(side))
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


def _holds_side(side: str) -> ColumnElement[bool]:
    """The position's latest snapshot has a perp leg of ``side`` (long | short)."""
    g = _legs.c
    return exists().where(g.snapshot_id == _positions.c.snapshot_id, g.role == side)


def position_legs(engine: Engine, *, snapshot_id: int) -> list[Leg]:
    """The legs of one stored snapshot (``PositionView.snapshot_id``), in written order."""
    g = _legs.c
    query = select(g.asset, g.symbol, g.decimals, g.role, g.amount, g.price, g.price_decimals, g.price_key, g.value,
                   g.feed, g.round_id, g.price_time, g.terms).where(g.snapshot_id == snapshot_id)
    with engine.connect() as connection:
        return [Leg(**{**row, "role": Role(row["role"])})
                for row in connection.execute(query.order_by(g.id)).mappings()]


def legs_of(engine: Engine, snapshot_ids: Sequence[int]) -> dict[int, list[Leg]]:
    """The legs of several stored snapshots in one query, by snapshot id, each in written order."""
    with engine.connect() as connection:
        return _legs_by_snapshot(connection, snapshot_ids)


def _legs_by_snapshot(connection: Connection, snapshot_ids: Sequence[int]) -> dict[int, list[Leg]]:
    g = _legs.c
    found: dict[int, list[Leg]] = {snapshot_id: [] for snapshot_id in snapshot_ids}
    query = select(g.snapshot_id, g.asset, g.symbol, g.decimals, g.role, g.amount, g.price, g.price_decimals,
                   g.price_key, g.value, g.feed, g.round_id, g.price_time, g.terms)
    for chunk in (list(found)[i:i + 500] for i in range(0, len(found), 500)):
        for row in connection.execute(query.where(g.snapshot_id.in_(chunk)).order_by(g.id)).mappings():
            data = dict(row)
            found[data.pop("snapshot_id")].append(Leg(**{**data, "role": Role(data["role"])}))
    return found


def count_positions(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(_positions)).scalar_one())


def position_owners(engine: Engine) -> list[str]:
    """Every wallet that holds a stored position."""
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(select(_positions.c.owner).distinct())]


def position_healths(engine: Engine, *, chain: str) -> dict[tuple[str, str], Decimal | None]:
    """The stored (previous) health of every position of ``chain``, by (market key, account)."""
    p = _positions.c
    query = select(_markets.c.key, p.account, p.health).join(_markets, _markets.c.id == p.market_id).where(
        p.chain == chain)
    with engine.connect() as connection:
        return {(m, a): h for m, a, h in connection.execute(query)}


def position_terms(engine: Engine, *, chain: str) -> dict[tuple[str, str], list[tuple[str, str, dict[str, int]]]]:
    """The legs' terms (the protocol's per-leg risk parameters) of every latest position of ``chain``, by (market
    key, account): ``(asset, symbol, terms)`` per leg, in written order."""
    p, g = _positions.c, _legs.c
    query = (select(_markets.c.key, p.account, g.asset, g.symbol, g.terms)
             .join(_markets, _markets.c.id == p.market_id).join(_legs, g.snapshot_id == p.snapshot_id)
             .where(p.chain == chain).order_by(g.id))
    found: dict[tuple[str, str], list[tuple[str, str, dict[str, int]]]] = {}
    with engine.connect() as connection:
        for market, account, asset, symbol, terms in connection.execute(query):
            found.setdefault((market, account), []).append((asset, symbol, dict(terms or {})))
    return found


PositionSort = Literal["health", "debt"]


def _uint_cmp(column: ColumnElement[Any], op: Callable[[Any, Any], Any], value: int,
              dialect: str) -> ColumnElement[bool]:
    """``column <op> value`` for a Uint256 column, numerically on every dialect (op: lt, le, gt, ge)."""
    if dialect != "sqlite":
        return op(column, value)
    digits = len(str(value))
    length = func.length(column)
    longer_wins = operator.gt if op in (operator.gt, operator.ge) else operator.lt
    return or_(longer_wins(length, digits), and_(length == digits, op(column, value)))


# -- positions, one page at a time ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PageKey:
    """Where a page of positions ended: the sort key of its last row (the cursor, before encoding)."""

    health: Decimal | None
    debt_value: int
    id: int


def _after(key: PageKey, sort: PositionSort, dialect: str) -> ColumnElement[bool]:
    """Rows strictly after ``key`` in the page order (a keyset condition, so pages never overlap)."""
    p = _positions.c
    health_gt: ColumnElement[bool]
    health_eq: ColumnElement[bool]
    if key.health is None:  # inside the no-debt segment, which sorts last by health
        health_gt, health_eq = false(), p.health.is_(None)
    else:
        health_gt = or_(p.health.is_(None), p.health > key.health)
        health_eq = p.health == key.health
    debt_gt = _uint_cmp(p.debt_value, operator.lt, key.debt_value, dialect)  # debt sorts larger first
    debt_eq = p.debt_value == key.debt_value
    id_gt = p.id > key.id
    steps = [(health_gt, health_eq), (debt_gt, debt_eq)] if sort == "health" else [
        (debt_gt, debt_eq), (health_gt, health_eq)]
    steps.append((id_gt, true()))
    terms = []
    for i, (gt, _) in enumerate(steps):
        terms.append(and_(*[eq for _, eq in steps[:i]], gt))
    return or_(*terms)


def _min_debt_condition(connection: Connection, minimum: Decimal, dialect: str) -> ColumnElement[bool]:
    """``debt_value / quote_unit >= minimum`` exactly: per distinct quote unit, an integer bound on debt_value."""
    p = _positions.c
    units = connection.execute(select(p.quote_unit).distinct()).scalars().all()
    terms = []
    for unit in units:
        bound = int((minimum * unit).to_integral_value(rounding=ROUND_CEILING))
        terms.append(and_(p.quote_unit == unit, _uint_cmp(p.debt_value, operator.ge, max(bound, 0), dialect)))
    return or_(false(), *terms)


def _position_columns() -> list[Any]:
    p = _positions.c
    return [
        p.chain, p.protocol, _markets.c.key.label("market"), _markets.c.address.label("market_address"), p.account,
        p.owner, _wallets.c.label.label("wallet_label"), p.snapshot_id, p.block_number, p.block_hash, p.block_timestamp,
        p.health_raw, p.health_decimals, p.health, p.equity, p.requirement, p.collateral_value, p.debt_value,
        p.quote, p.quote_unit, p.margin_mode, p.detail, p.price_status, p.updated_at, p.liquidations,
    ]


def positions_page(
    engine: Engine,
    *,
    sort: PositionSort = "health",
    after: PageKey | None = None,
    limit: int = 50,
    wallet: str | None = None,
    chain: str | None = None,
    protocol: str | None = None,
    market: str | None = None,
    margin_mode: str | None = None,
    side: str | None = None,
    max_health: Decimal | None = None,
    min_debt: Decimal | None = None,
    price_status: str | None = None,
) -> list[tuple[PageKey, PositionView]]:
    """Up to ``limit`` latest positions after ``after``, each with its page key.

    ``sort="health"``: riskiest first, the order of ``queries.list_positions`` (lowest health, positions
    without debt last, then larger debt first). ``sort="debt"``: larger debt first, then lower health.
    Filters are exact: ``max_health`` on the stored decimal, ``min_debt`` on the integer debt.
    """
    p = _positions.c
    dialect = engine.dialect.name
    query = (
        select(p.id, *_position_columns())
        .join(_markets, _markets.c.id == p.market_id)
        .outerjoin(_wallets, _wallets.c.address == p.owner)
    )
    order = riskiest_first(_positions, dialect) if sort == "health" else largest_debt_first(_positions, dialect)
    with engine.connect() as connection:
        for column, value in ((p.owner, wallet), (p.chain, chain), (p.protocol, protocol),
                              (_markets.c.key, market), (p.margin_mode, margin_mode), (p.price_status, price_status)):
            if value is not None:
                query = query.where(column == value)
        if side is not None:
            query = query.where(_holds_side(side))
        if max_health is not None:
            query = query.where(p.health <= max_health)
        if min_debt is not None:
            query = query.where(_min_debt_condition(connection, min_debt, dialect))
        if after is not None:
            query = query.where(_after(after, sort, dialect))
        rows = connection.execute(query.order_by(*order).limit(limit)).mappings().all()
    out = []
    for row in rows:
        fields = dict(row)
        row_id = fields.pop("id")
        view = PositionView(**fields)
        out.append((PageKey(view.health, view.debt_value, row_id), view))
    return out


# -- history ------------------------------------------------------------------------------------------
def sample_indices(total: int, points: int) -> list[int]:
    """At most ``points`` indices into ``range(total)``, evenly spaced, always with the last (and the first
    when ``points`` ≥ 2). Every index when ``total`` ≤ ``points``."""
    if points < 1:
        raise ValueError("points must be at least 1")
    if total <= points:
        return list(range(total))
    if points == 1:
        return [total - 1]
    span, gaps = total - 1, points - 1
    return [(i * span + gaps // 2) // gaps for i in range(points)]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    block_number: int
    block_hash: str
    block_timestamp: int
    health_raw: int
    health_decimals: int
    health: Decimal | None
    collateral_value: int
    debt_value: int
    quote: str
    quote_unit: int
    price_status: str
    stored_block: int  # the block of the stored row the figures come from (``block_number`` unless derived)
    derived: bool = False  # advanced from that row with the market's state at ``block_number``


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    total: int  # rows in the window before downsampling
    rows: list[HistoryRow]


def position_history(engine: Engine, *, chain: str, market: str, account: str, since: int | None = None,
                     until: int | None = None, points: int = 500) -> HistoryWindow:
    """A position's stored snapshots with ``since ≤ block ≤ until``, oldest first, downsampled to at most
    ``points`` rows (``sample_indices``) by row number in the database, so a long range is never loaded whole."""
    h = _history.c
    columns = [h.block_number, h.block_hash, h.block_timestamp, h.health_raw, h.health_decimals, h.health,
               h.collateral_value, h.debt_value, h.quote, h.quote_unit, h.price_status,
               h.block_number.label("stored_block")]
    query = select(*columns).join(_markets, _markets.c.id == h.market_id).where(
        _markets.c.chain == chain, _markets.c.key == market, h.chain == chain, h.account == account)
    if since is not None:
        query = query.where(h.block_number >= since)
    if until is not None:
        query = query.where(h.block_number <= until)
    with snapshot_connection(engine) as connection:
        total = connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        if total <= points:
            rows = connection.execute(query.order_by(h.block_number, h.id)).mappings().all()
        else:
            numbered = query.add_columns(
                func.row_number().over(order_by=(h.block_number, h.id)).label("row_number")).subquery()
            wanted = [i + 1 for i in sample_indices(total, points)]
            rows = connection.execute(
                select(*[numbered.c[c.name] for c in columns]).where(numbered.c.row_number.in_(wanted))
                .order_by(numbered.c.row_number)).mappings().all()
    return HistoryWindow(total=total, rows=[HistoryRow(**row) for row in rows])


@dataclass(frozen=True, slots=True)
class StoredState:
    """A market's stored state at one block (``[writes] mode = "accrued"``): its protocol's record and the
    verdicts marking its positions' price status (feed key → ``PriceStatus`` value; the chain's)."""

    block: BlockRef
    state: Any
    verdicts: dict[str, str]
    chain_status: str


def market_state(engine: Engine, *, chain: str, market: str, block: int) -> StoredState | None:
    """The market's state stored at exactly ``block``, or None (not stored: another write mode, a block the fast
    path served, pruned, or never read)."""
    query = _state_query().join(_markets, _markets.c.id == _states.c.market_id).where(
        _markets.c.chain == chain, _markets.c.key == market, _states.c.chain == chain, _states.c.block_number == block)
    with snapshot_connection(engine) as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else _stored_state(row)


def _state_query() -> Select[Any]:
    s, b = _states.c, read_tables.blocks.c
    return (select(s.block_number, s.state, s.verdicts, s.chain_status, b.hash, b.parent_hash, b.timestamp)
            .join(read_tables.blocks, (b.chain == s.chain) & (b.number == s.block_number)))


def _stored_state(row: RowMapping) -> StoredState:
    return StoredState(BlockRef(number=row["block_number"], hash=row["hash"], timestamp=row["timestamp"],
                                parent_hash=row["parent_hash"]),
                       row["state"], dict(row["verdicts"]), row["chain_status"])


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One stored history row of a position: the snapshot it was written from, its id and liquidation points."""

    id: int
    snapshot: PositionSnapshot
    liquidations: list[dict[str, Any]] | None


def row_at(engine: Engine, *, chain: str, market: str, account: str, block: int) -> StoredRow | None:
    """The position's last stored history row at or before ``block`` (None: none), with its legs."""
    h, m = _history.c, _markets.c
    query = (_row_query().where(m.chain == chain, m.key == market, h.chain == chain, h.account == account,
                                h.block_number <= block)
             .order_by(h.block_number.desc(), h.id.desc()).limit(1))
    with snapshot_connection(engine) as connection:
        rows = _stored_rows(connection, chain, query)
    return rows[0] if rows else None


def _row_query() -> Select[Any]:
    h, m = _history.c, _markets.c
    return (select(h.id, h.account, h.owner, h.block_number, h.block_hash, h.block_timestamp, h.health_raw,
                   h.health_decimals, h.health, h.equity, h.requirement, h.collateral_value, h.debt_value, h.quote,
                   h.quote_unit, h.margin_mode, h.detail, h.price_status, h.liquidations, m.protocol, m.key,
                   m.address)
            .join(_markets, m.id == h.market_id))


def _stored_rows(connection: Connection, chain: str, query: Select[Any]) -> list[StoredRow]:
    """``_row_query``'s rows as stored snapshots, with their legs."""
    rows = connection.execute(query).mappings().all()
    legs = _legs_by_snapshot(connection, [row["id"] for row in rows])
    found = []
    for row in rows:
        health = Health(raw=row["health_raw"], decimals=row["health_decimals"], health=row["health"],
                        equity=row["equity"], requirement=row["requirement"], collateral=row["collateral_value"],
                        debt=row["debt_value"], quote=row["quote"], quote_unit=row["quote_unit"])
        snapshot = PositionSnapshot(
            chain=chain, protocol=row["protocol"], market=row["key"], market_address=row["address"],
            account=row["account"], owner=row["owner"], legs=legs[row["id"]], health=health,
            block=BlockRef(number=row["block_number"], hash=row["block_hash"], timestamp=row["block_timestamp"]),
            margin_mode=MarginMode(row["margin_mode"]), price_status=row["price_status"], detail=dict(row["detail"]))
        found.append(StoredRow(row["id"], snapshot, row["liquidations"]))
    return found


@dataclass(frozen=True, slots=True)
class AccruedWindow:
    """What a position's history over a window takes where its market stored its states: ``total`` blocks in the
    window (those with a row of the position or a state of its market, from its first row on), the sampled ones
    each with the id of its last row at or before it, those rows, and the market's states at the sampled blocks."""

    total: int
    blocks: list[tuple[int, int]]  # (block, governing row id), oldest first
    rows: dict[int, StoredRow]
    states: dict[int, StoredState]


def accrued_window(engine: Engine, *, chain: str, market: str, account: str, since: int | None, until: int | None,
                   points: int) -> AccruedWindow | None:
    """The position's history window over every block its market stored a state at (``[writes] mode =
    "accrued"``) and every block it has a row at, downsampled to at most ``points`` blocks in the database
    (``sample_indices``); None when the market stored no state in the window (its rows are the history) or the
    position has no row at all. Read in one snapshot."""
    h, s, m = _history.c, _states.c, _markets.c
    with snapshot_connection(engine) as connection:
        market_id = connection.execute(select(m.id).where(m.chain == chain, m.key == market)).scalar()
        first = None if market_id is None else connection.execute(
            select(func.min(h.block_number)).where(h.market_id == market_id, h.account == account)).scalar()
        if market_id is None or first is None:
            return None
        low = first if since is None else max(since, first)
        in_window: list[ColumnElement[bool]] = [s.market_id == market_id, s.block_number >= low]
        if until is not None:
            in_window.append(s.block_number <= until)
        if connection.execute(select(exists().where(*in_window))).scalar() is not True:
            return None
        mine: list[ColumnElement[bool]] = [h.market_id == market_id, h.account == account, h.block_number >= low]
        if until is not None:
            mine.append(h.block_number <= until)
        blocks = union(select(s.block_number.label("block")).where(*in_window),
                       select(h.block_number.label("block")).where(*mine)).subquery()
        total = connection.execute(select(func.count()).select_from(blocks)).scalar_one()
        numbered = select(blocks.c.block, func.row_number().over(order_by=blocks.c.block).label("n")).subquery()
        governing = (select(h.id).where(h.market_id == market_id, h.account == account,
                                        h.block_number <= numbered.c.block)
                     .order_by(h.block_number.desc(), h.id.desc()).limit(1).correlate(numbered).scalar_subquery())
        query = select(numbered.c.block, governing).order_by(numbered.c.block)
        if total > points:
            query = query.where(numbered.c.n.in_([i + 1 for i in sample_indices(total, points)]))
        sampled = [(block, row_id) for block, row_id in connection.execute(query)]
        rows = {row.id: row for row in _stored_rows(
            connection, chain, _row_query().where(h.id.in_(sorted({row_id for _, row_id in sampled}))))}
        wanted = [block for block, row_id in sampled if rows[row_id].snapshot.block.number != block]
        states = _states_at(connection, market_id, wanted)
    return AccruedWindow(total, sampled, rows, states)


def _states_at(connection: Connection, market_id: int, blocks: Sequence[int]) -> dict[int, StoredState]:
    """The market's states stored at ``blocks`` (those it has), by block."""
    found: dict[int, StoredState] = {}
    for start in range(0, len(blocks), 500):
        query = _state_query().where(_states.c.market_id == market_id,
                                     _states.c.block_number.in_(blocks[start:start + 500]))
        for row in connection.execute(query).mappings():
            found[row["block_number"]] = _stored_state(row)
    return found


# -- markets ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MarketSummary:
    chain: str
    key: str
    protocol: str
    address: str
    positions: int
    with_debt: int
    liquidatable: int
    min_health: Decimal | None
    block_number: int | None  # the newest block any of its positions was read at
    checked_block: int | None = None  # the self-check's last block, and the last that found a disagreement
    mismatch_block: int | None = None


def list_markets(engine: Engine) -> list[MarketSummary]:
    """Every stored market with counts over its latest positions."""
    m, p = _markets.c, _positions.c
    query = (
        select(m.chain, m.key, m.protocol, m.address, func.count(p.id).label("positions"),
               func.count(p.health).label("with_debt"),
               func.coalesce(func.sum(case((p.health < Decimal(1), 1), else_=0)), 0).label("liquidatable"),
               func.min(p.health).label("min_health"), func.max(p.block_number).label("block_number"),
               m.checked_block, m.mismatch_block)
        .outerjoin(_positions, p.market_id == m.id)
        .group_by(m.id, m.chain, m.key, m.protocol, m.address, m.checked_block, m.mismatch_block)
        .order_by(m.chain, m.key)
    )
    with engine.connect() as connection:
        return [MarketSummary(**row) for row in connection.execute(query).mappings()]
