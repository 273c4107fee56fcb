"""Reading the protocol's own views at a block, for parity checks (through the same Multicall3); what a pipeline
stored, for tests that compare two pipelines' stores."""

import json

from sqlalchemy import select

from indexer.chain.multicall import Call, MulticallReader
from indexer.chain.rpc import RpcClient
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.store.models import Alert, AlertEvent, AlertState, Market, Position, PositionHistory, PositionLeg
from indexer.store.types import quantize_health


def mine_at(url: str, timestamp: int, txs: list[dict[str, str]]) -> int:
    """The transactions in one block stamped ``timestamp`` (a read's own block time: no interest accrues between
    the read and them); each must succeed. The block's number."""
    rpc = JsonRpcClient(url)
    rpc.call("evm_setAutomine", [False])
    try:
        hashes = [rpc.call("eth_sendTransaction", [{**tx, "gas": hex(3_000_000), "gasPrice": "0x0"}]) for tx in txs]
        rpc.call("evm_setNextBlockTimestamp", [timestamp])
        rpc.call("evm_mine", [])
    finally:
        rpc.call("evm_setAutomine", [True])
    for tx_hash in hashes:
        receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
        assert receipt and int(receipt["status"], 16) == 1, receipt
    block = rpc.call("eth_getBlockByNumber", ["latest", False])
    assert int(block["timestamp"], 16) == timestamp
    return int(block["number"], 16)


async def user_account_data(url: str, pool: str, accounts: list[str], block: int) -> dict[str, tuple[int, ...]]:
    """``Pool.getUserAccountData`` for each account at ``block``."""
    async with RpcClient([url]) as rpc:
        reader = MulticallReader(rpc, block)
        results = await reader.read([
            Call.of(pool, "getUserAccountData(address)", [a], ["address"], ("uint256",) * 6) for a in accounts])
    return dict(zip(accounts, results, strict=True))


def assert_health_at_is_reprices(sources, cached, moved, previous, now) -> None:
    """The fast path's steady check takes a holder's health at the new prices from its rules' ``health_at``: that must
    be the health its repricing gives (``moved``, by ``moved_positions``), for every holder."""
    from indexer.fastpath import PositionCache, feed_move

    move = feed_move(sources, PositionCache.of(cached), previous, now)
    assert move is not None
    repriced = {(s.market, s.account): s for s in moved}
    checked = 0
    for snapshot in cached:
        fast = repriced.get((snapshot.market, snapshot.account))
        if fast is not None:
            assert sources[snapshot.market].health_at(snapshot, move.prices[snapshot.market]) == fast.health
            checked += 1
    assert checked == len(moved)


def stored(engine) -> dict[str, list]:
    """What a pipeline stored, without the ids it draws at random (alert and event uuids)."""
    def table(model, *columns):
        t = model.__table__
        with engine.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(select(*(t.c[c] for c in columns))))

    with engine.connect() as conn:
        t = AlertEvent.__table__
        a = Alert.__table__
        events = sorted(
            (r.dedup_key, r.block_number, r.kind, r.severity, r.previous_severity, r.price_status,
             json.dumps({k: v for k, v in json.loads(r.message).items() if k != "event_id"}, sort_keys=True))
            for r in conn.execute(select(a.c.dedup_key, t.c.block_number, t.c.kind, t.c.severity,
                                         t.c.previous_severity, t.c.price_status, t.c.message)
                                  .join(a, a.c.id == t.c.alert_id)))
    return {
        "events": events,
        "alerts": table(Alert, "dedup_key", "family", "severity", "status", "opened_block", "resolved_block",
                        "updated_block", "price_status", "health"),
        "states": table(AlertState, "market", "account", "family", "level", "pending", "pending_since",
                        "updated_block"),
        "history": table(PositionHistory, "market_id", "account", "block_number", "health_raw", "equity",
                         "collateral_value", "debt_value", "price_status", "detail", "liquidations"),
    }


def history_rows(engine) -> dict[tuple[str, str, int], tuple]:
    """Every stored history row's figures and legs, by (market key, account, block)."""
    h, m, g = PositionHistory.__table__, Market.__table__, PositionLeg.__table__
    columns = [h.c.health_raw, h.c.health, h.c.equity, h.c.requirement, h.c.collateral_value, h.c.debt_value,
               h.c.price_status, h.c.margin_mode, h.c.detail, h.c.liquidations]
    with engine.connect() as connection:
        legs: dict[int, list[tuple]] = {}
        for row in connection.execute(select(g.c.snapshot_id, g.c.asset, g.c.role, g.c.amount, g.c.price, g.c.value,
                                             g.c.round_id, g.c.price_time, g.c.terms).order_by(g.c.id)):
            legs.setdefault(row[0], []).append(tuple(row[1:]))
        rows = connection.execute(select(m.c.key, h.c.account, h.c.block_number, h.c.id, *columns)
                                  .join(m, m.c.id == h.c.market_id))
        return {(key, account, block): (*figures, tuple(legs.get(row_id, ())))
                for key, account, block, row_id, *figures in rows}


def latest_rows(engine) -> list[tuple]:
    """Every position's latest row: where it is, the block it was last read at, its figures."""
    t = Position.__table__
    with engine.connect() as connection:
        return sorted(tuple(r) for r in connection.execute(select(
            t.c.market_id, t.c.account, t.c.block_number, t.c.block_hash, t.c.health_raw, t.c.equity,
            t.c.collateral_value, t.c.debt_value, t.c.price_status, t.c.liquidations)))


def figures_row(figures) -> tuple:
    """``indexer.history.figures_at``'s answer in the shape of ``history_rows``' values."""
    s, h = figures.snapshot, figures.snapshot.health
    return (h.raw, None if h.health is None else quantize_health(h.health), h.equity, h.requirement, h.collateral,
            h.debt, str(s.price_status), s.margin_mode.value, s.detail, figures.liquidations,
            tuple((g.asset, g.role.value, g.amount, g.price, g.value, g.round_id, g.price_time, g.terms)
                  for g in s.legs))
