"""Alertmanager keeps alerts in memory only. `indexer run` re-asserts the open alerts every `resend_every` seconds,
so an Alertmanager that restarted (the real Debian binary, stopped and started again on the same address with empty
storage) lists the open alert again without any new event."""

import asyncio
import time

import pytest

from indexer.jobs.run import run
from indexer.settings import load_settings
from indexer.store.alert_store import list_alerts
from tests.fixtures.alertmanager import start_alertmanager
from tests.integration.test_alerts_devnet import health_walker

pytestmark = pytest.mark.one_database("sqlite")


async def listed(manager, wallet: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await manager.alerts(f'wallet="{wallet}"')
        if found:
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"Alertmanager at {manager.url} does not list an alert of {wallet} within {timeout}s")


async def test_a_restarted_alertmanager_learns_the_open_alerts_again(devnet, chain_state, write_devnet_config,
                                                                     engine, tmp_path):
    first = start_alertmanager(tmp_path / "am-1")
    port = int(first.url.rsplit(":", 1)[1])
    second = None
    config = load_settings(write_devnet_config(
        chain="poll_interval = 0.1\n",
        tail=f'\n[channels.am]\nkind = "alertmanager"\nurl = "{first.url}"\nresend_every = 1\nseverities = ["WARN"]\n'))
    target, move_to = await health_walker(devnet, engine, config)
    move_to("1.5")
    stop = asyncio.Event()
    task = asyncio.create_task(run(config, engine, stop, dispatch=True))
    try:
        await asyncio.sleep(1)
        move_to("1.08")  # WARN for the target
        alert = await listed(first, target.account)
        assert alert["labels"]["severity"] == "warn" and alert["status"]["state"] == "active"
        assert [a["account"] for a in list_alerts(engine, open_only=True) if a["account"] == target.account]

        first.stop()  # everything it knew is gone; no new event comes, the position stays at WARN
        second = start_alertmanager(tmp_path / "am-2", port=port)
        again = await listed(second, target.account)
        assert again["labels"] == alert["labels"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        first.stop()
        if second is not None:
            second.stop()
