"""A position that closes leaves the latest positions: repaid and withdrawn on the real Aave devnet, and a
Hyperliquid account that closes everything. Its history keeps the closing, its alerts resolve, and a reorg
that drops the closing brings the position back as the canonical chain has it."""

from __future__ import annotations

from decimal import Decimal

from indexer.devnet import mine, revert, snapshot
from indexer.devnet.abi import encode_words
from indexer.devnet.txbatch import transact
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import load_settings
from indexer.store.alert_store import list_alerts
from indexer.store.position_store import list_positions, position_history
from indexer.store.wallet_store import add_wallet

MAX = 2**256 - 1


def close_on_aave(devnet, account) -> None:
    """Repay every debt (interest included) and withdraw every collateral, as the account itself."""
    rpc, pool = devnet.rpc, devnet.deployment.contracts["Pool"]
    rpc.call("anvil_setBalance", [account.address, hex(10**20)])
    for symbol, units in account.borrows.items():
        asset = devnet.deployment.reserve(symbol)["asset"]
        transact(rpc, "mint", account.address, asset, encode_words("mint(uint256)", 2 * units))
        transact(rpc, "approve", account.address, asset, encode_words("approve(address,uint256)", pool, MAX))
        transact(rpc, "repay all", account.address, pool, encode_words(
            "repay(address,uint256,uint256,address)", asset, MAX, 2, account.address), 800_000)
    for symbol in account.supplies:
        asset = devnet.deployment.reserve(symbol)["asset"]
        transact(rpc, "withdraw all", account.address, pool, encode_words(
            "withdraw(address,uint256,address)", asset, MAX, account.address), 800_000)


async def test_a_repaid_and_withdrawn_aave_position_leaves_and_its_alert_resolves(devnet, chain_state,
                                                                                 write_devnet_config, engine):
    settings = load_settings(write_devnet_config())
    closer, stayer = devnet.accounts_of("single")[:2]
    for account in (closer, stayer):  # a WARN level far above their health: both open a WARN alert
        add_wallet(engine, address=account.address, label="watched", warn_health=Decimal(50),
                   critical_health=Decimal("1.0001"))
    pipeline = ChainPipeline(settings, engine, "devnet")
    try:
        await pipeline.step()
        assert {p.account for p in list_positions(engine)} == {closer.address, stayer.address}
        opened = {a["account"]: a for a in list_alerts(engine, open_only=True) if a["family"] == "health"}
        assert set(opened) == {closer.address, stayer.address}

        fork = snapshot(devnet.url)
        close_on_aave(devnet, closer)  # a few blocks: repaid, then withdrawn
        await pipeline.step()
        assert {p.account for p in list_positions(engine)} == {stayer.address}  # it left the latest view
        rows = position_history(engine, chain="devnet", market="devnet-aave-v3", account=closer.address).rows
        assert rows[-1].health is None and rows[-1].collateral_value == 0 and rows[-1].debt_value == 0
        # repaid first (nothing owed, collateral still in), then the closing: the position's last row
        assert rows[-2].health is None and rows[-2].collateral_value > 0 and rows[-2].debt_value == 0
        still_open = {a["account"] for a in list_alerts(engine, open_only=True) if a["family"] == "health"}
        assert still_open == {stayer.address}  # the closed position's WARN alert resolved
        events = [e["kind"] for a in list_alerts(engine) if a["account"] == closer.address for e in a["events"]]
        assert events == ["opened", "resolved"]
        closed_at = rows[-1].block_number

        # later blocks keep it closed and write no second closing
        mine(devnet.url, 2)
        assert await pipeline.step() == 2
        assert {p.account for p in list_positions(engine)} == {stayer.address}
        rows = position_history(engine, chain="devnet", market="devnet-aave-v3", account=closer.address).rows
        assert rows[-1].block_number == closed_at

        # a reorg to a longer fork on which it never closed: rolled back, the position is the chain's again
        stored_tip = pipeline.last_stored
        revert(devnet.url, fork)
        mine(devnet.url, stored_tip - int(devnet.rpc.call("eth_blockNumber"), 16) + 2)
        while await pipeline.step() or pipeline.last_stored != int(devnet.rpc.call("eth_blockNumber"), 16):
            pass
        positions = {p.account: p for p in list_positions(engine)}
        assert set(positions) == {closer.address, stayer.address}
        assert positions[closer.address].block_number == pipeline.last_stored
        alerts = {a["account"] for a in list_alerts(engine, open_only=True) if a["family"] == "health"}
        assert alerts == {closer.address, stayer.address}  # its alert is open again, as on the canonical chain
    finally:
        await pipeline.close()


async def test_rollback_restores_a_position_whose_closing_it_drops(devnet, chain_state, write_devnet_config,
                                                                   engine):
    """The store on its own: a closing above the ancestor is undone by putting the position back."""
    from indexer.alerts.rules import severity_level
    from indexer.store.reorg import rollback

    settings = load_settings(write_devnet_config())
    closer = devnet.accounts_of("multi")[0]
    add_wallet(engine, address=closer.address)
    pipeline = ChainPipeline(settings, engine, "devnet")
    try:
        first = await pipeline.sync()
        close_on_aave(devnet, closer)
        second = await pipeline.sync()
        assert [s.account for s in second.closed] == [closer.address] and list_positions(engine) == []
    finally:
        await pipeline.close()
    rollback(engine, chain="devnet", ancestor=first.block.number, level_of=severity_level)
    (restored,) = list_positions(engine)
    assert (restored.account, restored.block_number) == (closer.address, first.block.number)
    assert restored.health_raw == next(s for s in first.snapshots if s.account == closer.address).health.raw
