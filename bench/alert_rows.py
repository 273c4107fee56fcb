"""A feed update's alert rows through the driver's executemany or Postgres' COPY (``indexer.store.bulk``) against
SQLAlchemy's executemany, the way ``write_alerts`` wrote them before.

A block in which N positions cross an alert level writes, per crossing, an alert, an event (its message as JSON), an
outbox row per channel and a rule state (``indexer.alerts.engine.AlertWrites``). The rows here are built as the
engine builds them, for N made-up positions (each event's message from a real ``AlertMessage`` with a liquidation
price and two steps to safety), and written with ``write_alerts`` in one transaction, one way or the other,
alternating, which goes first alternating too. Timed: the transaction.

``python -m bench.alert_rows --crossings 5000 --repeat 6`` (``--postgres``: a scratch database on a Postgres server,
as ``bench.scale`` finds one). 5,690 holders cross at 100,000 positions when WETH falls 5 % on ``bench.scale``'s
devnet, 13,580 when it falls 20 %.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import indexer.store.alert_store as alert_store
from bench.bulk import _sqlalchemy_executemany, _sqlalchemy_insert, print_ways
from bench.scale import _store
from indexer.alerts.engine import AlertWrites
from indexer.alerts.message import AlertMessage, LiquidationPrice, SafeStep
from indexer.store.db import make_engine, upgrade

_DRIVER = (alert_store.executemany, alert_store.insert_rows)


def _use(driver: bool) -> None:
    alert_store.executemany, alert_store.insert_rows = _DRIVER if driver else (
        _sqlalchemy_executemany, _sqlalchemy_insert)


def crossings(count: int, block: int) -> AlertWrites:
    """The rows of ``count`` positions crossing into WARN at ``block``, two channels each."""
    out = AlertWrites()
    now = time.time()
    for n in range(count):
        account = f"0x{n:040x}"
        key = f"devnet/bench-market/{account}/health/{block}"  # one open alert per key: a new one per block
        alert_id = uuid.uuid4().hex
        message = AlertMessage(
            event_id=uuid.uuid4().hex, dedup_key=key, kind="opened", family="health", severity="WARN",
            previous_severity=None, chain="devnet", protocol="aave_v3", market="bench-market", account=account,
            wallet_label=None, health="1.071234567890123456", previous_health="1.151234567890123456",
            collateral_value="12345.67890123", debt_value="9876.54321", quote="USD",
            liquidation_price=LiquidationPrice("WETH", "1523.41", "1743.20", True), block_number=block,
            price_status="FRESH", to_be_safe=(SafeStep("repay", "USDC", "1234.567891", "1.5"),
                                              SafeStep("add", "WETH", "0.812345678901234567", "1.5")))
        out.new_alerts.append({"id": alert_id, "dedup_key": key, "chain": "devnet", "market": "bench-market",
                               "account": account, "family": "health", "severity": "WARN", "status": "open",
                               "opened_block": block, "resolved_block": None, "updated_block": block,
                               "price_status": "FRESH", "health": Decimal("1.071234567890123456")})
        out.events.append({"id": message.event_id, "alert_id": alert_id, "chain": "devnet", "kind": "opened",
                           "severity": "WARN", "previous_severity": None, "block_number": block,
                           "block_hash": f"0x{block:064x}", "price_status": "FRESH",
                           "message": json.dumps(message.to_json())})
        for channel in ("webhook", "slack"):
            out.deliveries.append({"event_id": message.event_id, "channel": channel, "status": "pending",
                                   "attempts": 0, "created_at": now, "next_attempt_at": now})
        out.states.append({"chain": "devnet", "market": "bench-market", "account": account, "family": "health",
                           "level": 1, "pending": None, "pending_since": None, "alert_id": alert_id,
                           "updated_block": block})
    return out


def main(count: int, repeat: int, postgres: str | None) -> None:
    seconds: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as scratch, _store(postgres, Path(scratch)) as (database, store):
        url = database or f"sqlite:///{Path(scratch) / 'alerts.db'}"
        upgrade(url)
        engine = make_engine(url)
        block = 0
        try:
            for r in range(repeat):
                for driver in (True, False) if r % 2 == 0 else (False, True):
                    block += 1
                    writes = crossings(count, block)
                    _use(driver)
                    started = time.perf_counter()
                    with engine.begin() as connection:
                        alert_store.write_alerts(connection, writes)
                    seconds[driver].append(time.perf_counter() - started)
        finally:
            _use(True)
            engine.dispose()

    print(f"{count:,} crossings a block ({count:,} alerts, events and states, {2 * count:,} outbox rows), stored in "
          f"{store}, {repeat} blocks each way, alternating\n")
    print_ways([("the alert rows' transaction", seconds)], digits=3)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.alert_rows", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crossings", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help="store in a scratch database on a Postgres server instead of SQLite")
    args = parser.parse_args()
    main(args.crossings, args.repeat, args.postgres)
