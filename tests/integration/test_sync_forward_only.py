"""`indexer sync` only moves the store forward: a block below the checkpoint is refused with one line and
nothing changes; the same block synced twice keeps one history row per position (a wallet added in between
is stored too), and raises no alert twice."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

from sqlalchemy import func, select

from indexer.devnet import mine
from indexer.store.alert_store import list_alerts
from indexer.store.chain_store import checkpoint
from indexer.store.models import AlertEvent, PositionHistory
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "indexer", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as connection:
        history = connection.execute(select(func.count()).select_from(PositionHistory)).scalar_one()
        events = connection.execute(select(func.count()).select_from(AlertEvent)).scalar_one()
    return history, events


def test_a_block_below_the_checkpoint_is_refused_and_the_same_block_twice_is_one_row(chain_state, devnet_config,
                                                                                    engine):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    env["INDEXER_CONFIG"] = str(devnet_config)
    first, second = chain_state.accounts_of("near_liquidation")[:2]
    add_wallet(engine, address=first.address, warn_health=Decimal(50))  # a WARN level far above its health
    old = int(chain_state.rpc.call("eth_blockNumber"), 16)
    mine(chain_state.url, 3)
    synced = _cli(env, "sync")
    assert synced.returncode == 0, synced.stderr
    head = checkpoint(engine, chain="devnet")
    assert head == old + 3
    before = _counts(engine)
    assert before[1] > 0  # the WARN alert of the first wallet opened

    below = _cli(env, "sync", "--block", str(old))
    assert below.returncode != 0
    assert below.stderr.strip().count("\n") == 0, below.stderr
    assert f"block {old} is below the stored checkpoint {head}" in below.stderr
    assert _counts(engine) == before and checkpoint(engine, chain="devnet") == head

    add_wallet(engine, address=second.address)  # then the same head again: one more position, no duplicate
    again = _cli(env, "sync", "--block", str(head))
    assert again.returncode == 0, again.stderr
    assert _counts(engine)[0] == before[0] + 1
    # the first wallet's alert was opened once; the second wallet opens its own (near liquidation: under WARN)
    events = {a["account"]: [e["kind"] for e in a["events"]] for a in list_alerts(engine) if a["family"] == "health"}
    assert events == {first.address: ["opened"], second.address: ["opened"]}
    with engine.connect() as connection:
        table = PositionHistory.__table__  # type: ignore[attr-defined]
        rows = connection.execute(select(table.c.account, func.count()).group_by(table.c.account)).all()
    assert dict(rows) == {first.address: 1, second.address: 1}
    assert {p.account for p in list_positions(engine)} == {first.address, second.address}
