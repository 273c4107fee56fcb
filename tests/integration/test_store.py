"""The store against real databases: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, func, select, text
from sqlmodel import SQLModel

from indexer.errors import StoreError
from indexer.store import db as store_db
from indexer.store.chain_store import checkpoint, latest_block
from indexer.store.db import current_revision, ensure_schema, head_revision, make_engine
from indexer.store.models import Block, Market, Position, PositionHistory, PositionLeg
from indexer.store.position_store import list_positions, position_legs
from indexer.store.wallet_store import add_wallet, list_wallets, remove_wallet
from indexer.store.writer import write_block
from indexer.types import UINT256_MAX, BlockRef, Health, Leg, MarginMode, PositionSnapshot, Role
from tests.fixtures.db import embedded_postgres

CHAIN = "devnet"
MARKETS = {"aave-main": "0x" + "aa" * 20, "aave-lido": "0x" + "bb" * 20}
TABLES = {
    "markets": Market,
    "blocks": Block,
    "position_history": PositionHistory,
    "position_legs": PositionLeg,
    "positions": Position,
}


def account(n: int) -> str:
    return f"0x{n:040x}"


def block_ref(number: int, tag: str = "a") -> BlockRef:
    return BlockRef(
        number=number,
        hash=f"0x{tag * 2}{number:062x}",
        timestamp=1_700_000_000 + 12 * number,
        parent_hash=f"0x{tag * 2}{number - 1:062x}",
    )


def leg(n: int, *, amount: int = 10**18, role: Role = Role.COLLATERAL, price: int = 2_000 * 10**8) -> Leg:
    return Leg(
        asset=f"0x{'c' * 38}{n:02x}",
        symbol=f"TKN{n}",
        decimals=18,
        role=role,
        amount=amount,
        price=price,
        price_decimals=8,
        price_key=f"0x{'f' * 38}{n:02x}",
        value=amount * price // 10**18,
        feed=f"0x{'e' * 38}{n:02x}",
        round_id=(1 << 64) + n,
        terms={"liquidation_threshold": 8250, "ltv": 8000} if role is Role.COLLATERAL else {},
    )


def snapshot(
    who: int,
    block: BlockRef,
    *,
    health: Decimal | None = Decimal("1.5"),
    debt_base: int = 1_000 * 10**8,
    market: str = "aave-main",
    legs: list[Leg] | None = None,
    native_raw: int | None = None,
) -> PositionSnapshot:
    if native_raw is None:
        native_raw = UINT256_MAX if health is None else int(health * 10**18)
    return PositionSnapshot(
        chain=CHAIN,
        protocol="aave_v3",
        market=market,
        market_address=MARKETS[market],
        account=account(who),
        block=block,
        legs=legs if legs is not None else [leg(1), leg(2, amount=5 * 10**17, role=Role.DEBT), leg(3)],
        health=Health(
            raw=native_raw,
            decimals=18,
            health=health,
            equity=2_475 * 10**8,
            requirement=debt_base,
            collateral=3_000 * 10**8,
            debt=debt_base,
            quote="USD",
            quote_unit=10**8,
        ),
        detail={"emode_category": 1, "user_configuration": str(2**200 + 3), "available_borrows": 500 * 10**8},
    )


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(model.__table__)).scalar_one()  # type: ignore[attr-defined]
            for name, model in TABLES.items()
        }


def by_account(engine: Engine) -> dict[str, Any]:
    return {view.account: view for view in list_positions(engine)}


# -- exact numbers ---------------------------------------------------------------------------------


def test_uint256_round_trips_exactly(engine: Engine) -> None:
    edges = [0, 1, 2**255, UINT256_MAX]
    legs = [
        dataclasses.replace(leg(i, amount=v, price=v, role=Role.DEBT if i % 2 else Role.COLLATERAL), value=v,
                            round_id=v)
        for i, v in enumerate(edges)
    ]
    snap = dataclasses.replace(snapshot(1, block_ref(1), legs=legs, native_raw=UINT256_MAX, debt_base=2**255),
                               margin_mode=MarginMode.ISOLATED)
    write_block(engine, chain=CHAIN, block=block_ref(1), snapshots=[snap])
    [view] = list_positions(engine)
    assert view.health_raw == UINT256_MAX
    assert view.debt_value == 2**255
    assert (view.equity, view.requirement, view.quote, view.quote_unit, view.margin_mode) == (
        2_475 * 10**8, 2**255, "USD", 10**8, "isolated")
    assert view.detail == snap.detail  # the protocol's record, a 201-bit integer string included
    stored = position_legs(engine, snapshot_id=view.snapshot_id)
    assert stored == legs  # role, price key, provenance and terms included
    assert [type(g.amount) for g in stored] == [int] * 4

    table = PositionLeg.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        found = connection.execute(select(table.c.symbol).where(table.c.amount == UINT256_MAX)).scalars().all()
        if engine.dialect.name == "sqlite":
            storage = connection.execute(text("select distinct typeof(amount) from position_legs")).scalars()
        else:
            storage = connection.execute(text("select distinct pg_typeof(amount)::text from position_legs"))
            storage = storage.scalars()
        assert set(storage) == ({"text"} if engine.dialect.name == "sqlite" else {"numeric"})
    assert found == ["TKN3"]


def test_health_decimal_round_trips_exactly(engine: Engine) -> None:
    values = {
        1: Decimal("1.000000000000000001"),
        2: Decimal("0.000000000000000001"),
        3: Decimal("123456789012345678901234567890.123456789012345678"),
        4: Decimal("-0.5"),
        5: None,
    }
    block = block_ref(7)
    snaps = [snapshot(who, block, health=h, native_raw=1) for who, h in values.items()]
    write_block(engine, chain=CHAIN, block=block, snapshots=snaps)
    views = by_account(engine)
    for who, value in values.items():
        assert views[account(who)].health == value
        if value is not None:
            assert views[account(who)].health.as_tuple().exponent == -18


def test_usd_properties_are_exact(engine: Engine) -> None:
    block = block_ref(3)
    write_block(engine, chain=CHAIN, block=block, snapshots=[snapshot(1, block, debt_base=123_456_789_012)])
    [view] = list_positions(engine)
    assert view.debt == Decimal("1234.56789012")
    assert view.collateral == Decimal(3000)


# -- one transaction per block ---------------------------------------------------------------------


def test_write_block_writes_everything_in_one_transaction(engine: Engine) -> None:
    block = block_ref(100)
    snaps = [snapshot(i, block, market="aave-main" if i % 2 else "aave-lido") for i in range(10)]
    commits: list[object] = []
    event.listen(engine, "commit", commits.append)

    written = write_block(engine, chain=CHAIN, block=block, snapshots=snaps)

    assert written == 10
    assert len(commits) == 1
    assert row_counts(engine) == {
        "markets": 2,
        "blocks": 1,
        "position_history": 10,
        "position_legs": 30,
        "positions": 10,
    }
    assert checkpoint(engine, chain=CHAIN) == 100
    assert latest_block(engine, chain=CHAIN) == block
    assert latest_block(engine, chain="other") is None
    views = list_positions(engine)
    assert {v.market: v.market_address for v in views} == MARKETS
    with engine.connect() as connection:
        history = PositionHistory.__table__  # type: ignore[attr-defined]
        history_ids = set(connection.execute(select(history.c.id)).scalars())
    assert {v.snapshot_id for v in views} == history_ids
    for view in views:
        assert [g.symbol for g in position_legs(engine, snapshot_id=view.snapshot_id)] == ["TKN1", "TKN2", "TKN3"]


def test_bad_value_mid_block_leaves_nothing(engine: Engine) -> None:
    write_block(engine, chain=CHAIN, block=block_ref(1), snapshots=[snapshot(1, block_ref(1))])
    before = row_counts(engine)
    block = block_ref(2)
    broken = snapshot(9, block, market="aave-lido", legs=[leg(1), leg(2, amount=-1, role=Role.DEBT)])
    snaps = [snapshot(1, block), snapshot(2, block), broken]

    with pytest.raises(StoreError, match="uint256"):
        write_block(engine, chain=CHAIN, block=block, snapshots=snaps)

    assert row_counts(engine) == before
    assert checkpoint(engine, chain=CHAIN) == 1
    assert latest_block(engine, chain=CHAIN) == block_ref(1)


def test_failure_at_the_last_statement_rolls_back_everything(engine: Engine) -> None:
    write_block(engine, chain=CHAIN, block=block_ref(1), snapshots=[snapshot(1, block_ref(1))])
    before = row_counts(engine)
    statements: list[str] = []

    def fail_on_checkpoint(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)
        if "INSERT INTO checkpoints" in statement:
            raise RuntimeError("disk full")

    event.listen(engine, "before_cursor_execute", fail_on_checkpoint)
    block = block_ref(2)
    with pytest.raises(RuntimeError, match="disk full"):
        write_block(
            engine,
            chain=CHAIN,
            block=block,
            snapshots=[snapshot(1, block, health=Decimal("0.5")), snapshot(2, block, market="aave-lido")],
        )
    event.remove(engine, "before_cursor_execute", fail_on_checkpoint)

    # the failure really came last: after the latest positions (the legs before them may go by COPY, unseen here)
    assert any("INSERT INTO positions" in s for s in statements)
    assert row_counts(engine) == before
    [view] = list_positions(engine)
    assert (view.block_number, view.health) == (1, Decimal("1.5"))


@pytest.mark.one_database("sqlite")
def test_history_ids_that_are_not_the_rows_just_written_are_refused_and_nothing_is_left(engine: Engine) -> None:
    # SQLite gives a new row the rowid above the largest; once the largest possible is taken it picks them at random,
    # so the ids a block's history rows took are not the range below the last: the writer must notice, not link
    # legs and positions to other rows
    write_block(engine, chain=CHAIN, block=block_ref(1), snapshots=[snapshot(1, block_ref(1))])
    history = PositionHistory.__table__  # type: ignore[attr-defined]
    columns = [c.name for c in history.c if c.name not in ("id", "block_number")]
    with engine.begin() as connection:
        connection.execute(text(f"INSERT INTO position_history (id, block_number, {', '.join(columns)}) "
                                f"SELECT {2**63 - 1}, 0, {', '.join(columns)} FROM position_history LIMIT 1"))
    before = row_counts(engine)
    block = block_ref(2)
    with pytest.raises(StoreError, match="not the 5 rows just written"):
        write_block(engine, chain=CHAIN, block=block, snapshots=[snapshot(i, block) for i in range(5)])
    assert row_counts(engine) == before
    assert checkpoint(engine, chain=CHAIN) == 1


@pytest.mark.one_database("postgres")
def test_a_row_postgres_refuses_in_a_copy_fails_the_block_in_one_line_and_leaves_nothing(engine: Engine) -> None:
    # the legs go by COPY on Postgres: the server's refusal (a NUL in a text column) is the store's error, as a
    # statement's would be, and the block's transaction leaves nothing
    write_block(engine, chain=CHAIN, block=block_ref(1), snapshots=[snapshot(1, block_ref(1))])
    before = row_counts(engine)
    block = block_ref(2)
    broken = snapshot(9, block, legs=[dataclasses.replace(leg(1), symbol="TK\x00N")])
    with pytest.raises(StoreError, match="copying 4 rows into position_legs") as raised:
        write_block(engine, chain=CHAIN, block=block, snapshots=[snapshot(1, block), broken])
    assert "\n" not in str(raised.value).strip()
    assert row_counts(engine) == before
    assert checkpoint(engine, chain=CHAIN) == 1


def test_snapshot_pinned_to_another_block_is_refused(engine: Engine) -> None:
    with pytest.raises(StoreError, match="pinned"):
        write_block(engine, chain=CHAIN, block=block_ref(2), snapshots=[snapshot(1, block_ref(1))])
    assert row_counts(engine)["blocks"] == 0


def test_latest_position_keeps_the_newer_block(engine: Engine) -> None:
    write_block(engine, chain=CHAIN, block=block_ref(11), snapshots=[snapshot(1, block_ref(11), health=Decimal(2))])
    write_block(engine, chain=CHAIN, block=block_ref(10), snapshots=[snapshot(1, block_ref(10), health=Decimal(3))])
    [view] = list_positions(engine)
    assert (view.block_number, view.health) == (11, Decimal(2))

    write_block(engine, chain=CHAIN, block=block_ref(12), snapshots=[snapshot(1, block_ref(12), health=Decimal(1))])
    replaced = block_ref(12, tag="b")  # same height, new hash (a reorg)
    write_block(engine, chain=CHAIN, block=replaced, snapshots=[snapshot(1, replaced, health=Decimal("0.8"))])
    [view] = list_positions(engine)
    assert (view.block_number, view.block_hash, view.health) == (12, replaced.hash, Decimal("0.8"))
    assert latest_block(engine, chain=CHAIN) == replaced
    # one row per position per block height: the replaced block's row went with it (10, 11, 12b)
    assert row_counts(engine)["position_history"] == 3
    assert row_counts(engine)["blocks"] == 3


# -- queries -----------------------------------------------------------------------------------------


def test_list_positions_riskiest_first_and_max_health(engine: Engine) -> None:
    block = block_ref(5)
    add_wallet(engine, address=account(2), label="treasury")
    snaps = [
        snapshot(1, block, health=Decimal("1.5"), debt_base=999),
        snapshot(2, block, health=Decimal("0.9"), debt_base=10),
        snapshot(3, block, health=None, debt_base=0),
        snapshot(4, block, health=Decimal("1.5"), debt_base=1000),  # same health, larger debt: first
        snapshot(5, block, health=Decimal("1.2"), debt_base=5),
        snapshot(6, block, health=Decimal("1.200000000000000001"), debt_base=5, market="aave-lido"),
    ]
    write_block(engine, chain=CHAIN, block=block, snapshots=snaps)

    order = [int(v.account, 16) for v in list_positions(engine)]
    assert order == [2, 5, 6, 4, 1, 3]

    # 1.2 and 1.200000000000000001 are the same float; the filter must still tell them apart.
    at_most = list_positions(engine, max_health=Decimal("1.2"))
    assert [int(v.account, 16) for v in at_most] == [2, 5]
    assert list_positions(engine, max_health=Decimal("0.5")) == []
    assert len(list_positions(engine, max_health=Decimal(10**6))) == 5

    assert [int(v.account, 16) for v in list_positions(engine, limit=2)] == [2, 5]
    assert [int(v.account, 16) for v in list_positions(engine, market="aave-lido")] == [6]
    assert list_positions(engine, chain="elsewhere") == []
    [mine] = list_positions(engine, wallet=account(2))
    assert mine.wallet_label == "treasury"
    assert mine.liquidatable
    assert all(v.wallet_label is None for v in list_positions(engine) if v.account != account(2))


def test_wallets_add_remove_idempotent(engine: Engine) -> None:
    first = add_wallet(engine, address=account(1))
    again = add_wallet(engine, address=account(1))
    assert (again.id, again.label, again.created_at) == (first.id, None, first.created_at)
    assert first.created_at.tzinfo is not None

    labelled = add_wallet(engine, address=account(1), label="whale")
    assert (labelled.id, labelled.label) == (first.id, "whale")
    assert add_wallet(engine, address=account(1)).label == "whale"  # no label given: kept
    add_wallet(engine, address=account(2), label="desk")
    assert [(w.address, w.label) for w in list_wallets(engine)] == [(account(1), "whale"), (account(2), "desk")]

    assert remove_wallet(engine, address=account(1)) is True
    assert remove_wallet(engine, address=account(1)) is False
    assert [w.address for w in list_wallets(engine)] == [account(2)]


# -- schema ----------------------------------------------------------------------------------------


def test_alembic_head_matches_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_ensure_schema_upgrades_an_empty_database(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        assert current_revision(engine) is None
        ensure_schema(engine)
        assert current_revision(engine) == head_revision()
        ensure_schema(engine)  # at head: nothing to do
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_ensure_schema_refuses_an_older_or_unknown_revision(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    current = current_revision(engine)
    monkeypatch.setattr(store_db, "SCHEMA_HEAD", "9999")
    with pytest.raises(StoreError, match="run `indexer db upgrade`"):
        ensure_schema(engine)
    monkeypatch.undo()

    with engine.begin() as connection:
        connection.execute(text("update alembic_version set version_num = 'ffffffff'"))
    with pytest.raises(StoreError, match="unknown revision ffffffff"):
        ensure_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("update alembic_version set version_num = :v"), {"v": current})


def test_ensure_schema_refuses_foreign_tables(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("create table something_else (id integer)"))
        with pytest.raises(StoreError, match="no migration history"):
            ensure_schema(engine)
    finally:
        engine.dispose()


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "nested" / "dir" / "indexer.db")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("pragma journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("pragma foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("pragma busy_timeout").scalar() == store_db.SQLITE_BUSY_TIMEOUT_MS
        assert (tmp_path / "nested" / "dir" / "indexer.db").exists()
    finally:
        engine.dispose()


def test_embedded_postgres_starts_and_answers(tmp_path: Path) -> None:
    started = time.monotonic()
    with embedded_postgres(tmp_path) as url:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("select 1")).scalar() == 1
        finally:
            engine.dispose()
    assert time.monotonic() - started < 20
    assert not (tmp_path / "pgdata").exists()


def test_upgrade_to_neutral_positions_moves_stored_aave_rows(empty_db_url: str) -> None:
    """A database written before revision 0005 (Aave-shaped rows) keeps every figure after the upgrade:
    asset rows become collateral and debt legs, LT/LTV/available borrows move into the detail, equity
    is percentMul(collateral, LT), and (0006) the position's owner is its account."""
    store_db.upgrade(empty_db_url, "0004")
    engine = make_engine(empty_db_url)
    wide = (lambda v: str(v)) if engine.dialect.name == "sqlite" else (lambda v: v)
    figures = {"chain": CHAIN, "market_id": 1, "account": account(1), "block_number": 5, "block_hash": "0x05",
               "block_timestamp": 60, "health_factor_raw": wide(1_300_000_000_000_000_001), "native_decimals": 18,
               "health": "1.300000000000000001" if engine.dialect.name == "sqlite" else Decimal("1.300000000000000001"),
               "health_float": 1.3, "collateral_base": wide(3_000 * 10**8 + 1), "debt_base": wide(1_904 * 10**8),
               "base_unit": wide(10**8), "liquidation_threshold": 8250, "ltv": 8000,
               "available_borrows_base": wide(496 * 10**8), "price_status": "FRESH"}
    try:
        with engine.begin() as connection:
            connection.execute(text("insert into markets (id, chain, key, protocol, address) "
                                    "values (1, :c, 'aave-main', 'aave_v3', :a)"),
                               {"c": CHAIN, "a": MARKETS["aave-main"]})
            columns = ", ".join(figures)
            connection.execute(text(f"insert into position_history (id, {columns}) values (7, :"
                                    + ", :".join(figures) + ")"), figures)
            connection.execute(text(f"insert into positions (protocol, snapshot_id, updated_at, {columns}) values "
                                    "('aave_v3', 7, '2026-01-01 00:00:00+00:00', :" + ", :".join(figures) + ")"),
                               figures)
            asset_row = {"snapshot_id": 7, "asset": "0x" + "c1" * 20, "symbol": "WETH", "decimals": 18,
                         "collateral": wide(15 * 10**17), "debt": wide(10**17), "price": wide(2_000 * 10**8),
                         "price_source": None, "feed": "0x" + "e1" * 20, "round_id": wide(2**64 + 9),
                         "collateral_base": wide(3_000 * 10**8), "debt_base": wide(200 * 10**8),
                         "is_collateral": True, "liquidation_threshold": 8250, "ltv": 8000}
            connection.execute(text("insert into position_assets (" + ", ".join(asset_row) + ") values (:"
                                    + ", :".join(asset_row) + ")"), asset_row)
        engine.dispose()
        store_db.upgrade(empty_db_url)
        engine = make_engine(empty_db_url)
        [view] = list_positions(engine)
        assert (view.health_raw, view.health_decimals, view.health) == (
            1_300_000_000_000_000_001, 18, Decimal("1.300000000000000001"))
        assert (view.collateral_value, view.debt_value, view.quote, view.quote_unit, view.margin_mode) == (
            3_000 * 10**8 + 1, 1_904 * 10**8, "USD", 10**8, "cross")
        assert (view.equity, view.requirement) == (((3_000 * 10**8 + 1) * 8250 + 5_000) // 10_000, 1_904 * 10**8)
        assert view.detail == {"liquidation_threshold": 8250, "ltv": 8000, "available_borrows": 496 * 10**8}
        assert view.owner == view.account == account(1)  # 0006: a position stored before is owned by its account
        legs = position_legs(engine, snapshot_id=view.snapshot_id)
        assert [(g.role, g.amount, g.value, g.price_key, g.terms) for g in legs] == [
            (Role.COLLATERAL, 15 * 10**17, 3_000 * 10**8, "0x" + "c1" * 20,
             {"liquidation_threshold": 8250, "ltv": 8000}),
            (Role.DEBT, 10**17, 200 * 10**8, "0x" + "c1" * 20, {})]
        assert legs[0].round_id == 2**64 + 9 and legs[0].feed == "0x" + "e1" * 20
        with engine.connect() as connection:  # the rebuilt tables kept their keys, indexes and constraints
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_retention_keeps_each_positions_last_row_below_the_cut(engine: Engine) -> None:
    """A position written at blocks 1, 2 and 5 (its figures unchanged between): after pruning below block 4, its
    figures at blocks 4 to 6 read as before, from its row at block 2; another written every block keeps rows 3 on."""
    from indexer.store.position_store import row_at
    from indexer.store.retention import prune

    sparse, dense = {1, 2, 5}, set(range(1, 7))
    for number in range(1, 7):
        block = block_ref(number)
        write_block(engine, chain=CHAIN, block=block, snapshots=[
            snapshot(n, block, debt_base=(1_000 + number) * 10**8) for n, blocks in ((1, sparse), (2, dense))
            if number in blocks])

    def as_of() -> dict[tuple[int, int], int | None]:
        found = {}
        for who in (1, 2):
            for number in range(4, 7):
                row = row_at(engine, chain=CHAIN, market="aave-main", account=account(who), block=number)
                found[who, number] = None if row is None else row.snapshot.health.debt
        return found

    before = as_of()
    assert before[1, 4] == 1_002 * 10**8 and before[2, 4] == 1_004 * 10**8
    counts = prune(engine, chain=CHAIN, keep_blocks=2)  # the checkpoint is block 6: rows below block 4 go
    assert counts["history"] == 3  # account 1's row at block 1, account 2's at blocks 1 and 2
    with engine.connect() as connection:
        kept = sorted(connection.execute(select(PositionHistory.__table__.c.account,
                                                PositionHistory.__table__.c.block_number)).all())
    assert kept == [(account(1), 2), (account(1), 5)] + [(account(2), b) for b in range(3, 7)]
    assert as_of() == before
    assert row_counts(engine)["position_legs"] == 3 * len(kept)  # the pruned rows' legs went with them
