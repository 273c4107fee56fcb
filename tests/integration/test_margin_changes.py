"""Dynamic margin against the chain: the Pool's configurator lowers WETH's liquidation threshold under the devnet's
borrowers (as a risk steward would); the next sync stores the change for every position that counts WETH as
collateral and owes something, with the old and new threshold and the health before and after, and raises one
`margin` alert per position, delivered through the outbox like any other; other positions see nothing, and a sync
without a change adds nothing.

Real anvil with the real Aave v3.0 bytecode (the session devnet), real SQLite and Postgres. The configurator's
transaction is mined at the first sync's timestamp, so no interest accrues: the health before the change is then
exactly the health stored at the first sync.
"""

from __future__ import annotations

import json

from indexer.alerts.format import text
from indexer.alerts.message import AlertMessage
from indexer.alerts.rules import severity_level
from indexer.devnet.abi import encode_call
from indexer.settings import load_settings
from indexer.store.models import Alert, AlertEvent, Delivery, MarginChange
from indexer.store.position_store import list_positions, position_legs
from indexer.store.reorg import rollback
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once
from indexer.types import Role
from tests.fixtures.db import rows
from tests.integration.chain_helpers import user_account_data

HOOK = '[channels.hook]\nkind = "webhook"\nbase_url = "http://127.0.0.1:9/hook"\nsecret_env = "HOOK_SECRET"\n'
LOWER_BY = 300  # basis points


async def test_a_lowered_liquidation_threshold_is_stored_and_alerted_per_position(devnet, chain_state,
                                                                                write_devnet_config, engine,
                                                                                monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    settings = load_settings(write_devnet_config(tail=HOOK))
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    (first,) = await sync_once(settings, engine)
    before = {p.account: p for p in list_positions(engine)}
    weth = devnet.deployment.reserve("WETH")
    holders = {account for account, p in before.items() if p.health is not None
               and any(g.symbol == "WETH" and g.role is Role.COLLATERAL and g.terms.get("counted")
                      and g.terms["liquidation_threshold"] == weth["liquidation_threshold"]
                      for g in position_legs(engine, snapshot_id=p.snapshot_id))}
    assert len(holders) >= 5

    new_lt = weth["liquidation_threshold"] - LOWER_BY
    rpc = devnet.rpc
    rpc.call("evm_setNextBlockTimestamp", [first.block.timestamp])  # no interest accrues before the next read
    tx = rpc.call("eth_sendTransaction", [{
        "from": devnet.deployment.deployer, "to": devnet.deployment.contracts["PoolConfigurator"], "gasPrice": "0x0",
        "data": encode_call("configureReserveAsCollateral(address,uint256,uint256,uint256)", weth["asset"],
                            min(weth["ltv"], new_lt), new_lt, weth["liquidation_bonus"])}])
    receipt = rpc.call("eth_getTransactionReceipt", [tx])
    if receipt is None:  # automine is off on this node: mine the block ourselves
        rpc.call("evm_mine", [])
        receipt = rpc.call("eth_getTransactionReceipt", [tx])
    assert int(receipt["status"], 16) == 1
    (second,) = await sync_once(settings, engine)
    assert second.block.timestamp == first.block.timestamp

    changes = rows(engine, MarginChange, block_number=second.block.number)
    assert {c["account"] for c in changes} == holders and len(changes) == len(holders)
    after = {p.account: p for p in list_positions(engine)}
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"], sorted(holders),
                                      second.block.number)
    for change in changes:
        account = change["account"]
        assert (change["parameter"], change["symbol"], change["asset"]) == \
            ("liquidation_threshold", "WETH", weth["asset"])
        assert (int(change["old_value"]), int(change["new_value"])) == (weth["liquidation_threshold"], new_lt)
        assert change["health_before"] == before[account].health  # old threshold, same prices and amounts
        assert change["health_after"] == after[account].health < change["health_before"]
        assert after[account].health_raw == onchain[account][5]  # the Pool's own health factor, new threshold

    alerts = {a["id"]: a for a in rows(engine, Alert, family="margin")}
    assert {a["account"] for a in alerts.values()} == holders
    assert all(a["status"] == "resolved" and a["opened_block"] == second.block.number for a in alerts.values())
    events = [e for e in rows(engine, AlertEvent, block_number=second.block.number) if e["alert_id"] in alerts]
    assert len(events) == len(holders) and {e["kind"] for e in events} == {"changed"}
    assert {d["event_id"] for d in rows(engine, Delivery, channel="hook")} >= {e["id"] for e in events}
    message = AlertMessage.from_json(json.loads(events[0]["message"]))
    account = message.account
    assert message.family == "margin" and message.detail == \
        f"WETH liquidation_threshold {weth['liquidation_threshold']} → {new_lt}"
    assert message.previous_health == format(before[account].health, "f")
    assert message.health == format(after[account].health, "f")
    rendered = text(message)
    assert rendered.startswith("⚙ MARGIN RULES CHANGED")
    assert "the protocol changed WETH liquidation_threshold" in rendered
    assert message.to_be_safe or message.health is None or after[account].health >= 1.5

    rpc.call("evm_mine", [])
    (third,) = await sync_once(settings, engine)  # nothing changed since: nothing new
    assert third.block.number > second.block.number
    assert len(rows(engine, MarginChange)) == len(holders)
    assert len(rows(engine, Alert, family="margin")) == len(holders)

    # a reorg back to the first block takes the changes, their alerts, events and outbox rows with it
    counts = rollback(engine, chain="devnet", ancestor=first.block.number, level_of=severity_level)
    assert counts["margin_changes"] == len(holders)
    assert rows(engine, MarginChange) == [] and rows(engine, Alert, family="margin") == []
    assert not {e["id"] for e in events} & {d["event_id"] for d in rows(engine, Delivery)}
