"""Scale-out (issue #17): three `indexer run` workers share one Postgres and one chain split into three shards
(``[chains.devnet] shards = 3``, ``[run] max_chains = 1``), ten markets over them. Each worker follows one shard;
after a `kill -9` of one, another takes its shard over once it has stayed free ``takeover_seconds``, and catches up:
no block of any shard is missed or stored twice, no position row or alert event is doubled.

The ten markets are ten config keys on the session devnet's one real Aave v3 pool (every tracked wallet has a
position in each): what is under test is how the work is divided, not the protocol.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from indexer.devnet import mine
from indexer.settings import load_settings, shard_of
from indexer.store.chain_store import checkpoint
from indexer.store.models import AlertEvent, Block, Market, PositionHistory
from indexer.store.wallet_store import add_wallet
from tests.integration.test_standby import _head, _start, _until

MARKETS = [f"devnet-aave-{i}" for i in range(10)]
SHARDS = ["devnet.0", "devnet.1", "devnet.2"]
TAKEOVER = 6.0  # long enough for three workers started together to have each taken its shard


def _config(write_devnet_config) -> Path:
    markets = "".join(f'[markets.{key}]\nchain = "devnet"\nprotocol = "aave_v3"\n'
                      'address = "devnet:PoolAddressesProvider"\n\n' for key in MARKETS)
    config = write_devnet_config(chain="poll_interval = 0.1\nshards = 3\n", tail=markets)
    text = config.read_text().replace(
        '[run]\nlisten = "127.0.0.1:0"\n',
        f'[run]\nlisten = "127.0.0.1:0"\nlease_poll = 0.2\nmax_chains = 1\ntakeover_seconds = {TAKEOVER}\n')
    config.write_text(text)  # the helper's own market is one more key on the pool, on whichever shard it hashes to
    return config


def _following(log: Path) -> list[str]:
    """The chains a worker follows: those it said at start (its ``indexer running chains=…`` line), then those it
    took over (a worker under its ``max_chains`` takes a free chain at its next lease poll: one it found held at
    start, for a moment, by another worker's probe)."""
    text = log.read_text()
    found = re.search(r"indexer running chains=(\S*)", text)
    start = [] if found is None or found.group(1) in ("", "-") else found.group(1).split(",")
    return start + re.findall(r"took over chain=([^\s:]+)", text)


@pytest.mark.one_database("postgres")
async def test_three_workers_share_a_sharded_chain_and_one_takes_over_a_killed_ones_shard(
        devnet, chain_state, write_devnet_config, engine, tmp_path):
    config = _config(write_devnet_config)
    settings = load_settings(config)
    assert sorted(settings.chains) == SHARDS
    by_shard = Counter(settings.markets[key].chain for key in settings.markets)
    assert set(by_shard) == set(SHARDS), by_shard  # every shard has markets to follow
    assert all(settings.markets[k].chain == f"devnet.{shard_of(k, 3)}" for k in MARKETS)
    for account in devnet.accounts[:8]:  # a WARN level above their health: alerts are raised and written
        add_wallet(engine, address=account.address, label=account.kind, warn_health=Decimal(5))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "INDEXER_CONFIG")}
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    workers = [_start(env, config, log) for log in logs]  # started together, as a deployment would
    try:
        await _until("every worker to start", lambda: all("indexer running" in log.read_text() for log in logs))
        await _until("every shard to be followed", lambda: sorted(c for log in logs for c in _following(log)) == SHARDS)
        following = [_following(log) for log in logs]
        assert sorted(len(chains) for chains in following) == [1, 1, 1], following  # one shard each
        await _until("every shard to be current",
                     lambda: all((checkpoint(engine, chain=c) or -1) >= _head(devnet) for c in SHARDS))
        mine(devnet.url, 3)
        await _until("every shard to store them", lambda: all(checkpoint(engine, chain=c) == _head(devnet)
                                                              for c in SHARDS))

        victim = next(i for i, chains in enumerate(following) if chains == ["devnet.1"])
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait(timeout=10)
        killed = time.monotonic()
        for _ in range(5):  # blocks keep coming while nobody follows the shard
            mine(devnet.url, 1)
            await asyncio.sleep(0.2)
        await _until("the shard to be current again", lambda: checkpoint(engine, chain="devnet.1") == _head(devnet))
        took = time.monotonic() - killed
        print(f"\n[scale-out] devnet.1 current again {took:.1f}s after the kill -9 (takeover_seconds = {TAKEOVER})")
        assert took >= TAKEOVER  # nobody took it while it could still be someone's at start
        survivors = [i for i in range(3) if i != victim]
        taken = [i for i in survivors if "took over chain=devnet.1" in logs[i].read_text()]
        assert len(taken) == 1, [logs[i].read_text()[-2000:] for i in survivors]
        mine(devnet.url, 2)
        await _until("every shard to store the last blocks", lambda: all(checkpoint(engine, chain=c) == _head(devnet)
                                                                          for c in SHARDS))
        async with aiohttp.ClientSession() as http:  # each survivor is ready: the shards it follows are current
            for i in survivors:
                status = re.search(r"status=(http://\S+)", logs[i].read_text())
                assert status is not None
                async with http.get(f"{status.group(1)}/readyz") as response:
                    body = await response.json()
                    assert response.status == 200, body
                assert {c["chain"] for c in body["chains"] if c["role"] == "active"} == \
                    set(following[i]) | ({"devnet.1"} if i in taken else set())
    finally:
        for process in workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()

    head = _head(devnet)
    b, h, m, e = Block.__table__.c, PositionHistory.__table__.c, Market.__table__.c, AlertEvent.__table__.c
    with engine.connect() as connection:
        for chain in SHARDS:
            numbers = sorted(n for (n,) in connection.execute(sa.select(b.number).where(b.chain == chain)))
            assert numbers == list(range(numbers[0], head + 1)), f"{chain}: no block missed or stored twice"
        history = Counter(connection.execute(sa.select(h.market_id, h.account, h.block_number)).all())
        events = Counter(connection.execute(sa.select(e.alert_id, e.kind, e.block_number)).all())
        stored_markets = {key: chain for key, chain in connection.execute(sa.select(m.key, m.chain))}
    assert history and max(history.values()) == 1, "one history row per position per block"
    assert events and max(events.values()) == 1, "no alert event doubled"
    assert {stored_markets[k] for k in MARKETS} == set(SHARDS)
    assert all(stored_markets[k] == settings.markets[k].chain for k in MARKETS)  # each market under its shard
