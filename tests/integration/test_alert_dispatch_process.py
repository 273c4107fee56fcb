"""The real `indexer alerts dispatch` process over the database outbox, against a real loopback receiver.

SIGKILL in the middle of a batch, then a restart: every pending alert reaches the receiver, and no
idempotency key is ever answered 2xx twice (the receiver answers a repeat with 409, which the
dispatcher counts as delivered).
"""

import asyncio
import contextlib
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa
from aiohttp import web

from indexer.devnet import set_price
from indexer.settings import load_settings
from indexer.store.models import Delivery
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once

SECRET = "kill-test-secret"


class SlowReceiver:
    """Answers after ``delay`` seconds: 200 for a new idempotency key, 409 for one it already took."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.ok: list[str] = []
        self.repeats: list[str] = []
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if request.headers.get("X-Signature") != expected:
            self.bad_signatures += 1
        key = request.headers["X-Idempotency-Key"]
        await asyncio.sleep(self.delay)
        if key in self.ok:
            self.repeats.append(key)
            return web.Response(status=409, text="duplicate")
        self.ok.append(key)
        return web.json_response({"ok": True})


def start_dispatcher(env, config):
    return subprocess.Popen([sys.executable, "-m", "indexer", "--config", str(config), "-v", "alerts", "dispatch",
                             "--poll", "0.1", "--lease", "3"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def pending_ids(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Delivery.__table__.c.event_id, Delivery.__table__.c.status)).all()
    return {e for e, _ in rows}, {s for _, s in rows}


@contextlib.asynccontextmanager
async def pending_alerts(receiver, devnet, write_devnet_config, engine, port):
    """``receiver`` listening on loopback ``port`` as the webhook channel of a devnet config; every devnet account
    tracked and WETH halved, then synced: many alerts, each with a pending delivery. Yields (env, config, event
    ids) for dispatcher processes."""
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        channels = (f'[channels.hook]\nkind = "webhook"\nbase_url = "http://127.0.0.1:{port}/hook"\n'
                    'secret_env = "KILL_TEST_SECRET"\n')
        config = write_devnet_config(tail=channels)
        env = {**os.environ, "KILL_TEST_SECRET": SECRET}
        os.environ["KILL_TEST_SECRET"] = SECRET
        for account in devnet.accounts:
            add_wallet(engine, address=account.address, label=account.kind)
        weth = devnet.deployment.reserve("WETH")
        set_price(devnet.url, devnet.deployment, "WETH", weth["price"] // 2)  # many positions at once
        await sync_once(load_settings(config), engine)
        events, statuses = pending_ids(engine)
        assert len(events) >= 10 and statuses == {"pending"}
        yield env, config, events
    finally:
        os.environ.pop("KILL_TEST_SECRET", None)
        await runner.cleanup()


async def test_sigkill_mid_batch_then_restart(devnet, chain_state, write_devnet_config, engine, unused_tcp_port):
    receiver = SlowReceiver(delay=0.15)
    async with pending_alerts(receiver, devnet, write_devnet_config, engine, unused_tcp_port) as (env, config,
                                                                                                    events):
        first = start_dispatcher(env, config)
        deadline = time.monotonic() + 30
        while len(receiver.ok) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)  # mid-batch: several requests are in flight
        first.communicate(timeout=10)
        killed_at = len(receiver.ok)
        assert 0 < killed_at < len(events), "the kill must land in the middle of the work"

        _, statuses = pending_ids(engine)
        assert "pending" in statuses  # the killed process left work behind (leased or never claimed)
        second = start_dispatcher(env, config)
        deadline = time.monotonic() + 60
        while pending_ids(engine)[1] != {"delivered"} and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        second.send_signal(signal.SIGTERM)
        out, err = second.communicate(timeout=20)
        assert second.returncode == 0, err

    assert set(receiver.ok) == events  # every pending alert arrived
    assert len(receiver.ok) == len(set(receiver.ok))  # no key was answered 2xx twice
    assert receiver.bad_signatures == 0
    _, statuses = pending_ids(engine)
    assert statuses == {"delivered"}
    print(f"\n[kill test] events={len(events)} delivered before kill={killed_at} "
          f"repeats after restart (answered 409)={len(receiver.repeats)}")
