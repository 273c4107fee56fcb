"""Alerts from real devnet price moves: one event per transition, none inside the hysteresis band, and
events, outbox rows and the snapshot that caused them committed together."""


from indexer.alerts.format import text
from indexer.alerts.message import AlertMessage
from indexer.devnet import advance_time, set_price, set_round
from indexer.settings import load_settings
from indexer.store.models import Alert, AlertEvent, Delivery
from indexer.store.position_store import list_positions, position_legs
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once
from indexer.types import Role
from tests.fixtures.db import rows

WEBHOOK = ('[channels.hook]\nkind = "webhook"\nbase_url = "http://127.0.0.1:9/hook"\nsecret_env = "HOOK_SECRET"\n'
           '[channels.pager]\nkind = "pagerduty"\nbase_url = "http://127.0.0.1:9"\nrouting_key_env = "PD_KEY"\n'
           'severities = ["CRITICAL", "LIQUIDATABLE"]\n')


def weth_only_borrower(devnet, engine):
    """A tracked account whose only collateral is WETH and whose debt is not WETH: health ∝ WETH price."""
    for p in list_positions(engine):
        legs = position_legs(engine, snapshot_id=p.snapshot_id)
        collateral = {g.symbol for g in legs if g.role is Role.COLLATERAL and g.amount}
        debt = {g.symbol for g in legs if g.role is Role.DEBT}
        if p.debt_value and collateral == {"WETH"} and "WETH" not in debt:
            return p
    raise AssertionError("the seeding has no WETH-only borrower")


async def health_walker(devnet, engine, config):
    """Every seeded account tracked and synced; a WETH-only borrower, and a function that moves the WETH feed so
    that its health becomes the given figure (its health is linear in the WETH price)."""
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    await sync_once(config, engine)
    target = weth_only_borrower(devnet, engine)
    start_price, start_health = devnet.deployment.reserve("WETH")["price"], target.health

    def move_to(health):
        set_price(devnet.url, devnet.deployment, "WETH", int(start_price * type(start_health)(health) / start_health))

    return target, move_to


async def test_price_walk_one_event_per_transition(devnet, chain_state, write_devnet_config, engine, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    monkeypatch.setenv("PD_KEY", "routing-key")
    config = load_settings(write_devnet_config(tail=WEBHOOK))
    target, move_to = await health_walker(devnet, engine, config)
    move_to("1.5")
    (baseline,) = await sync_once(config, engine)  # the baseline: OK, whatever the seeding left it at
    start_block = baseline.block.number
    walk = ["1.5", "1.08", "1.12", "1.09", "1.149", "1.02", "1.05", "0.97", "0.99", "1.5", "1.6"]
    for step, wanted in enumerate(walk):
        move_to(wanted)
        (read,) = await sync_once(config, engine)
        mine = [m for m in read.alerts.messages if m.account == target.account and m.family == "health"]
        got = [(m.kind, m.severity) for m in mine]
        expected = {1: [("opened", "WARN")], 5: [("escalated", "CRITICAL")], 7: [("escalated", "LIQUIDATABLE")],
                    9: [("resolved", "OK")]}.get(step, [])
        assert got == expected, (step, wanted, got)
        for m in mine:
            assert m.block_number == read.block.number and m.price_status == "FRESH"
            assert m.previous_health is not None and m.health is not None
            assert m.liquidation_price is not None and m.liquidation_price.symbol == "WETH"
            # under the target (1.5): the smallest WETH deposit and debt repayment that get it back, in the text too
            ways = {(s.action, s.symbol) for s in m.to_be_safe}
            if m.kind == "resolved":
                assert ways == set()
            else:
                assert ("add", "WETH") in ways and any(action == "repay" for action, _ in ways), ways
                assert "to be back at health 1.5: " in text(m)
                assert AlertMessage.from_json(m.to_json()) == m

    key = f"devnet/devnet-aave-v3/{target.account}/health"
    alert = next(a for a in rows(engine, Alert, dedup_key=key) if a["opened_block"] > start_block)
    assert alert["status"] == "resolved" and alert["severity"] == "OK"
    events = rows(engine, AlertEvent, alert_id=alert["id"])
    assert [e["kind"] for e in sorted(events, key=lambda e: e["block_number"])] == \
        ["opened", "escalated", "escalated", "resolved"]
    deliveries = {(d["event_id"], d["channel"]) for d in rows(engine, Delivery)}
    assert len(rows(engine, Alert, dedup_key=key, status="open")) == 0
    by_kind = {e["kind"] + e["severity"]: e["id"] for e in events}
    assert (by_kind["openedWARN"], "hook") in deliveries and (by_kind["openedWARN"], "pager") not in deliveries
    assert (by_kind["escalatedCRITICAL"], "pager") in deliveries
    assert (by_kind["resolvedOK"], "pager") in deliveries  # a resolve goes where the alert went
    assert all(d["status"] == "pending" for d in rows(engine, Delivery))


async def test_stale_price_is_marked_and_never_resolves(devnet, chain_state, write_devnet_config, engine):
    config = load_settings(write_devnet_config(top="[oracles]\ndefault_heartbeat = 3600\n"))
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    await sync_once(config, engine)
    target = weth_only_borrower(devnet, engine)
    start_price, start_health = devnet.deployment.reserve("WETH")["price"], target.health
    set_price(devnet.url, devnet.deployment, "WETH", int(start_price * type(start_health)("1.02") / start_health))
    await sync_once(config, engine)

    advance_time(devnet.url, 3700)  # every feed is now stale; the position is still CRITICAL on paper
    (read,) = await sync_once(config, engine)
    oracle = [m for m in read.alerts.messages if m.account == target.account and m.family == "oracle"]
    assert [(m.kind, m.severity, m.price_status) for m in oracle] == [("opened", "STALE", "STALE")]
    assert "STALE" in oracle[0].detail

    # Even a big move up on a stale price must not resolve the health alert.
    for reserve in devnet.deployment.reserves:
        if reserve["symbol"] != "WETH":
            set_price(devnet.url, devnet.deployment, reserve["symbol"], reserve["price"])
    weth = devnet.deployment.reserve("WETH")
    block_time = int(devnet.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    # a new WETH round at three times the price, but stamped two hours ago: high, and still stale
    set_round(devnet.url, devnet.deployment, "WETH", 10_000, weth["price"] * 3, block_time - 7200, block_time - 7200)
    (read,) = await sync_once(config, engine)
    mine = [m for m in read.alerts.messages if m.account == target.account and m.family == "health"]
    assert mine == []
    (position,) = list_positions(engine, wallet=target.account)
    assert position.health > 2 and position.price_status == "STALE"
    (alert,) = rows(engine, Alert, dedup_key=f"devnet/devnet-aave-v3/{target.account}/health")
    assert alert["status"] == "open" and alert["severity"] == "CRITICAL"

    set_price(devnet.url, devnet.deployment, "WETH", weth["price"] * 3)  # fresh now
    (read,) = await sync_once(config, engine)
    mine = [(m.kind, m.family) for m in read.alerts.messages if m.account == target.account]
    assert ("resolved", "health") in mine and ("resolved", "oracle") in mine


async def test_forget_chain_leaves_nothing_of_the_chain(devnet, chain_state, write_devnet_config, engine):
    from indexer.store.chain_store import forget_chain
    from indexer.store.models import AlertState, OracleFeed, OracleReading, Position, PositionHistory
    from indexer.store.wallet_store import list_wallets

    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    set_price(devnet.url, devnet.deployment, "WETH", devnet.deployment.reserve("WETH")["price"] // 2)
    await sync_once(load_settings(write_devnet_config()), engine)
    assert rows(engine, Alert) and rows(engine, AlertState) and rows(engine, OracleReading)
    forget_chain(engine, chain="devnet")
    for model in (Alert, AlertEvent, AlertState, Delivery, OracleFeed, OracleReading, Position, PositionHistory):
        assert rows(engine, model) == [], model.__tablename__
    assert len(list_wallets(engine)) == len(devnet.accounts)  # tracked wallets are the user's: they stay
