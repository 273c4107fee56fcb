"""Reading what changed, through the pipeline, on the real Aave v3.0 Pool (the session devnet): each block, the logs of
the Pool and of every reserve's aToken and debt tokens since the market's last read name the accounts that acted,
which are read anew; the others are rebuilt from what the last read kept of them (``ChangeReads``). Two pipelines
follow the same blocks into two databases, one reading every account every block (``reread_every = 1``): they must
store the same, row for row, through supplies, borrows, repayments, an aToken transfer, a collateral switch, an eMode
switch, a liquidation and days of interest with nobody acting."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from eth_utils import to_checksum_address

from indexer.devnet import advance_time, mine, revert, set_price, snapshot
from indexer.devnet.abi import encode_call
from indexer.devnet.txbatch import transact
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import load_settings
from indexer.store.db import make_engine, upgrade
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from tests.fixtures.rpc_proxy import JsonRpcProxy
from tests.integration.chain_helpers import stored, user_account_data

MAX = 2**256 - 1


class Actions:
    """Transactions on the devnet's Pool, each mined in its own block."""

    def __init__(self, devnet) -> None:
        self.devnet = devnet
        self.pool = devnet.deployment.contracts["Pool"]

    def send(self, sender: str, to: str, signature: str, *args: Any) -> None:
        transact(self.devnet.rpc, signature.split("(")[0], sender, to, encode_call(signature, *args), 1_500_000)

    def fund(self, account: str, symbol: str, amount: int) -> str:
        asset = self.devnet.deployment.reserve(symbol)["asset"]
        self.send(account, asset, "mint(uint256)", amount)
        self.send(account, asset, "approve(address,uint256)", self.pool, MAX)
        return asset

    def collateral_off_and_emode(self) -> None:
        """The second "supply_only" account turns its first supply's collateral off, the third enters eMode 1."""
        switcher, emode = self.devnet.accounts_of("supply_only")[1:3]
        ((symbol, _), *_) = switcher.supplies.items()
        self.send(switcher.address, self.pool, "setUserUseReserveAsCollateral(address,bool)",
                  self.devnet.deployment.reserve(symbol)["asset"], False)
        self.send(emode.address, self.pool, "setUserEMode(uint8)", 1)


def following(devnet, engine, settings, nth: int) -> tuple[ChainPipeline, Actions, Any, str, int]:
    """A pipeline following every devnet account (tracked), its actions, and the ``nth`` account of kind "single"
    with its first supply (symbol, amount)."""
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    supplier = devnet.accounts_of("single")[nth]
    ((symbol, supplied), *_) = supplier.supplies.items()
    return ChainPipeline(settings, engine, "devnet"), Actions(devnet), supplier, symbol, supplied


async def steps(*pipelines: ChainPipeline) -> None:
    for pipeline in pipelines:
        assert await pipeline.step() >= 1


@pytest.mark.parametrize("every", [1, 3], ids=["full-every-block", "full-every-3rd-block"])
async def test_reading_what_changed_stores_what_reading_every_account_stores(
        devnet, chain_state, write_devnet_config, engine, tmp_path, caplog, every):
    # "full-every-3rd-block": the fast path between full reads, so a full read's logs span the blocks since the last
    settings = load_settings(write_devnet_config(tail=f"snapshot_every = {every}\n"))
    whole_settings = load_settings(write_devnet_config(tail=f"snapshot_every = {every}\nreread_every = 1\n",
                                                       name="whole"))
    other = f"sqlite:///{tmp_path / 'every-account.db'}"
    upgrade(other)
    whole_engine = make_engine(other)
    for account in devnet.accounts:
        for target in (engine, whole_engine):
            add_wallet(target, address=account.address, label=account.kind)
    changes = ChainPipeline(settings, engine, "devnet")
    whole = ChainPipeline(whole_settings, whole_engine, "devnet")
    act = Actions(devnet)
    singles, supply_only = devnet.accounts_of("single"), devnet.accounts_of("supply_only")
    caplog.set_level(logging.DEBUG, logger="indexer.protocols.aave_v3.adapter")
    try:
        await steps(whole, changes)  # both start from a read of every account
        advance_time(devnet.url, 86_400)  # a day of interest, nobody acting
        await steps(whole, changes)

        borrower = singles[0]  # borrows a thousandth more of what it owes
        ((symbol, owed), *_) = borrower.borrows.items()
        act.send(borrower.address, act.pool, "borrow(address,uint256,uint256,uint16,address)",
                 devnet.deployment.reserve(symbol)["asset"], owed // 1000, 2, 0, borrower.address)
        repayer = singles[1]  # repays half its debt
        ((symbol, owed), *_) = repayer.borrows.items()
        asset = act.fund(repayer.address, symbol, owed)
        act.send(repayer.address, act.pool, "repay(address,uint256,uint256,address)", asset, owed // 2, 2,
                 repayer.address)
        await steps(whole, changes)

        supplier = singles[2]  # supplies more of its collateral
        ((symbol, supplied), *_) = supplier.supplies.items()
        asset = act.fund(supplier.address, symbol, supplied)
        act.send(supplier.address, act.pool, "supply(address,uint256,address,uint16)", asset, supplied,
                 supplier.address, 0)
        # half an aToken balance moves to another tracked account: only the tokens' logs name the sender
        sender, receiver = supply_only[0], devnet.accounts_of("multi")[0]
        ((symbol, supplied), *_) = sender.supplies.items()
        act.send(sender.address, devnet.deployment.reserve(symbol)["aToken"], "transfer(address,uint256)",
                 receiver.address, supplied // 2)
        await steps(whole, changes)

        act.collateral_off_and_emode()
        advance_time(devnet.url, 3_600)
        await steps(whole, changes)

        # WETH −12 %: the WETH-backed accounts near liquidation fall under 1; one is liquidated by an untracked
        # account, which takes the collateral as aWETH (a transfer out of the liquidated account)
        weth = devnet.deployment.reserve("WETH")
        set_price(devnet.url, devnet.deployment, "WETH", weth["price"] * 88 // 100)
        near = [a for a in devnet.accounts_of("near_liquidation") if "WETH" in a.supplies]
        head = int(devnet.rpc.call("eth_blockNumber", []), 16)
        healths = await user_account_data(devnet.url, act.pool, [a.address for a in near], head)
        victim = next(a for a in near if healths[a.address][5] < 10**18)
        ((debt, owed), *_) = victim.borrows.items()
        liquidator = to_checksum_address("0x" + "5e" * 20)
        devnet.rpc.call("anvil_setBalance", [liquidator, hex(10**20)])
        asset = act.fund(liquidator, debt, 2 * owed)  # the whole debt may be taken over, with its interest
        act.send(liquidator, act.pool, "liquidationCall(address,address,address,uint256,bool)", weth["asset"], asset,
                 victim.address, MAX, True)
        await steps(whole, changes)
        after = await user_account_data(devnet.url, act.pool, [victim.address],
                                        int(devnet.rpc.call("eth_blockNumber", []), 16))
        assert after[victim.address][1] < healths[victim.address][1]  # its debt was repaid in part

        advance_time(devnet.url, 2 * 86_400)  # more interest, nobody acting, over several blocks
        advance_time(devnet.url, 600)
        advance_time(devnet.url, 600)
        await steps(whole, changes)
    finally:
        await changes.close()
        await whole.close()
    ours, theirs = stored(engine), stored(whole_engine)
    whole_engine.dispose()
    assert ours["history"] and ours["events"]  # the drop opened alerts
    for name in ours:
        assert ours[name] == theirs[name], name
    # the accounts that did not act were rebuilt, not read: most of them, in most blocks
    rebuilt = [int(m.split("rebuilt=")[1]) for m in caplog.messages if m.startswith("aave_v3 read market=")]
    assert sum(1 for r in rebuilt if r) >= 4 and max(rebuilt) >= len(devnet.accounts) // 2


class HidingChangeLogs(JsonRpcProxy):
    """A node that answers every query of logs over several contracts with none: the accounts that act go unnamed."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.hidden: list[int] = []  # the blocks whose change logs it hid

    async def answer(self, item: dict[str, Any]) -> dict[str, Any] | None:
        if item["method"] == "eth_getLogs" and len(item["params"][0].get("address", [])) > 1:
            self.hidden.append(int(item["params"][0]["toBlock"], 16))
            return {"jsonrpc": "2.0", "id": item["id"], "result": []}
        return None


async def test_an_account_changed_without_a_log_is_caught_by_the_self_check_and_everyone_is_read_anew(
        devnet, chain_state, write_devnet_config, engine, caplog):
    # every account self-checked: each is read anyway, and the one that acted is found not to be as it was kept
    proxy = HidingChangeLogs(devnet.url)
    await proxy.start()
    settings = load_settings(write_devnet_config(chain=f'rpc_urls = ["{proxy.url}"]\n', tail="self_check = 1000\n"))
    pipeline, act, supplier, symbol, supplied = following(devnet, engine, settings, 3)
    caplog.set_level(logging.WARNING, logger="indexer.pipeline.chain")
    try:
        assert await pipeline.step() == 1
        asset = act.fund(supplier.address, symbol, supplied)  # two blocks: nothing of the Pool's
        await steps(pipeline)
        assert not [m for m in caplog.messages if m.startswith("accounts changed unseen")]
        act.send(supplier.address, act.pool, "supply(address,uint256,address,uint16)", asset, supplied,
                 supplier.address, 0)
        supplied_at = int(devnet.rpc.call("eth_blockNumber", []), 16)
        advance_time(devnet.url, 60)
        await steps(pipeline)
    finally:
        await pipeline.close()
        await proxy.stop()
    (warning,) = [m for m in caplog.messages if m.startswith("accounts changed unseen")]
    assert f"block={supplied_at} " in warning and f"first={supplier.address}" in warning and "accounts=1 " in warning
    # the block after it was a read of every account: no logs asked for
    assert supplied_at in proxy.hidden and supplied_at + 1 not in proxy.hidden


async def test_after_a_reorg_no_account_is_rebuilt_from_what_the_dropped_branch_left(
        devnet, chain_state, write_devnet_config, engine):
    # no self-check: nothing but the pipeline's own bookkeeping decides which accounts are read anew
    settings = load_settings(write_devnet_config(tail="self_check = 0\n"))
    pipeline, act, supplier, symbol, supplied = following(devnet, engine, settings, 4)
    try:
        assert await pipeline.step() == 1
        fork = snapshot(devnet.url)
        asset = act.fund(supplier.address, symbol, supplied)  # the dropped branch: the supplier doubles its supply
        act.send(supplier.address, act.pool, "supply(address,uint256,address,uint16)", asset, supplied,
                 supplier.address, 0)
        await steps(pipeline)
        revert(devnet.url, fork)  # the canonical chain: nobody acts, and it is longer
        advance_time(devnet.url, 3_600)
        mine(devnet.url, 4)
        head = int(devnet.rpc.call("eth_blockNumber", []), 16)
        for _ in range(10):
            await pipeline.step()
            if pipeline.last_stored == head:
                break
        assert pipeline.last_stored == head
        advance_time(devnet.url, 60)  # and a block after it, read as the pipeline reads when nobody acts
        await steps(pipeline)
        head += 1
    finally:
        await pipeline.close()
    onchain = await user_account_data(devnet.url, act.pool, [a.address for a in devnet.accounts], head)
    stored = {p.account: p for p in list_positions(engine, limit=1000)}
    assert {a: (p.block_number, p.health_raw) for a, p in stored.items()} == {
        a: (head, onchain[a][5]) for a in stored}
    assert supplier.address in stored
