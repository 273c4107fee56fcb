"""A reorg whose dropped branch holds alert transitions in both directions (an alert resolved, then a new one
opened for the same position, its opening already delivered) rolls back cleanly: the store ends equal to a
fresh index of the canonical chain — alerts, events, positions — and the chain is followed on."""

from __future__ import annotations

import time
from decimal import Decimal

import sqlalchemy as sa

from indexer.devnet import mine, revert, set_price, snapshot
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import load_settings
from indexer.store.alert_store import list_alerts
from indexer.store.models import AlertEvent, Delivery
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from tests.integration.chain_helpers import user_account_data


def _deliver(engine, event_ids: list[str]) -> None:
    """What the dispatcher records once a channel took the events."""
    now = time.time()
    with engine.begin() as connection:
        connection.execute(sa.insert(Delivery.__table__), [  # type: ignore[attr-defined]
            {"event_id": e, "channel": "hook", "status": "delivered", "attempts": 1, "created_at": now,
             "next_attempt_at": now} for e in event_ids])


def _events(engine) -> list[tuple[str, str, int]]:
    t = AlertEvent.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(sa.select(t.c.id, t.c.kind, t.c.block_number)
                                                     .order_by(t.c.block_number, t.c.created_at))]


async def test_a_reorg_across_resolved_and_reopened_alerts_rolls_back_to_the_canonical_state(
        devnet, chain_state, write_devnet_config, engine):  # fmt: skip
    settings = load_settings(write_devnet_config())
    victim = next(a for a in devnet.accounts_of("single") if "WETH" in a.supplies and "WETH" not in a.borrows)
    weth = devnet.deployment.reserve("WETH")["price"]
    pipeline = ChainPipeline(settings, engine, "devnet")
    try:
        add_wallet(engine, address=victim.address, label="victim")
        await pipeline.step()
        (position,) = list_positions(engine)
        # WARN entered just above its health: the alert opens now, resolves when WETH rises 50 %
        add_wallet(engine, address=victim.address, warn_health=position.health + Decimal("0.01"),
                   critical_health=Decimal("0.5"))
        mine(devnet.url, 1)
        await pipeline.step()
        (opened,) = _events(engine)
        _deliver(engine, [opened[0]])
        ancestor = pipeline.last_stored
        fork = snapshot(devnet.url)

        set_price(devnet.url, devnet.deployment, "WETH", weth * 3 // 2)  # resolved ...
        await pipeline.step()
        set_price(devnet.url, devnet.deployment, "WETH", weth)  # ... and a new alert opened
        await pipeline.step()
        kinds = [k for _, k, _ in _events(engine)]
        assert kinds == ["opened", "resolved", "opened"], kinds
        reopened = _events(engine)[-1]
        _deliver(engine, [reopened[0]])  # the new alert's opening already went out; the resolution did not
        assert len({a["id"] for a in list_alerts(engine)}) == 2

        revert(devnet.url, fork)  # the canonical chain: WETH never moved, and it is longer
        mine(devnet.url, 4)
        canonical_head = int(devnet.rpc.call("eth_blockNumber"), 16)
        for _ in range(10):
            await pipeline.step()
            if pipeline.last_stored == canonical_head:
                break
        assert pipeline.last_stored == canonical_head
    finally:
        await pipeline.close()

    # alerts and events: as on the canonical chain, the first alert open since before the fork, nothing else
    assert [(e[1], e[2]) for e in _events(engine)] == [("opened", opened[2])]
    (alert,) = list_alerts(engine)
    assert (alert["status"], alert["severity"], alert["opened_block"]) == ("open", "WARN", opened[2])
    assert opened[2] <= ancestor
    (stored,) = list_positions(engine)
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"], [victim.address],
                                      canonical_head)
    assert stored.block_number == canonical_head and stored.health_raw == onchain[victim.address][5]
