"""The node goes away for 4 s and comes back with the same state: `indexer run` logs the outage, backs
off, and catches up without a gap. Uses its own anvil (the session's devnet must not be killed) and its
own SQLite database."""

import asyncio
import logging
import time

import sqlalchemy as sa

from indexer.devnet import Anvil, mine, stack
from indexer.jobs.run import run
from indexer.protocols.aave_v3.devnet import seed_borrowers
from indexer.settings import load_settings
from indexer.store.chain_store import checkpoint
from indexer.store.db import ensure_schema, make_engine
from indexer.store.models import Block
from indexer.store.wallet_store import add_wallet

OUTAGE = 4.0  # long enough for several failed steps with growing delays (0.4 s, 0.8 s, 1.6 s, …)


async def wait_for(engine, number, timeout):
    deadline = time.monotonic() + timeout
    while (checkpoint(engine, chain="devnet") or -1) < number:
        assert time.monotonic() < deadline, f"not at block {number} within {timeout}s"
        await asyncio.sleep(0.1)


async def test_outage_backoff_and_catch_up(tmp_path, caplog):
    state = tmp_path / "anvil-state.json"
    node = Anvil(extra_args=("--state", str(state)))
    port = node.port
    engine = None
    try:
        deployment = stack.deploy(node.url, ["aave_v3"])
        accounts = seed_borrowers(node.url, deployment, 8)
        deployment.to_json(tmp_path / "devnet.json")
        config_path = tmp_path / "outage.toml"
        config_path.write_text(
            f'[database]\nurl = "sqlite:///{tmp_path}/outage.db"\n'
            f'[chains.devnet]\nchain_id = 31337\ndevnet = "{tmp_path}/devnet.json"\npoll_interval = 0.2\n'
            '[markets.devnet-aave-v3]\nchain = "devnet"\nprotocol = "aave_v3"\n'
            'address = "devnet:PoolAddressesProvider"\n')
        config = load_settings(config_path)
        engine = make_engine(config.database_url)
        ensure_schema(engine)
        for account in accounts:
            add_wallet(engine, address=account.address)

        caplog.set_level(logging.WARNING, logger="indexer")
        stop = asyncio.Event()
        task = asyncio.create_task(run(config, engine, stop, dispatch=False))
        try:
            before = int(node.rpc().call("eth_blockNumber", []), 16)
            await wait_for(engine, before, 30)
            node.stop()  # SIGTERM: anvil writes its state file on the way out
            await asyncio.sleep(OUTAGE)
            node = Anvil(port=port, extra_args=("--state", str(state)))
            assert int(node.rpc().call("eth_blockNumber", []), 16) == before  # the same chain came back
            mine(node.url, 3)
            await wait_for(engine, before + 3, 90)
        finally:
            stop.set()
            await task
        with engine.connect() as conn:
            stored = sorted(conn.execute(sa.select(Block.__table__.c.number)).scalars())
        assert stored == list(range(stored[0], before + 4))  # caught up, no gap
        outage_logs = [r.message for r in caplog.records if "step failed, retrying" in r.message]
        assert len(outage_logs) >= 2 and "retry_in" in outage_logs[0]
        delays = [float(m.split("retry_in=")[1].split("s")[0]) for m in outage_logs]
        assert delays == sorted(delays) and delays[-1] > delays[0]  # backing off, not hammering
    finally:
        node.stop()
        if engine is not None:
            engine.dispose()
