"""What it takes to be safe, against the chain: repaying (or supplying) the reported amount on the devnet brings
`getUserAccountData`'s health factor to at least the target, and one unit less does not.

Real anvil with the real Aave v3.0 bytecode (the session devnet). Each repayment or supply is mined at the timestamp
of the block the positions were read at, so the reserve indexes the amounts were computed with are the ones the
Pool applies (no interest accrues in between); each try is undone before the next. A year of interest first puts
the reserve indexes well away from 1 ray, where the aToken's and debt token's scaled-balance rounding decides the
last unit (the generic ``amount ± x`` misses it there).
"""

from __future__ import annotations

from decimal import Decimal

from indexer.devnet import advance_time
from indexer.devnet.abi import encode_call
from indexer.health.nearest import stored_snapshots
from indexer.protocols.aave_math import UNITS
from indexer.risk.safety import to_be_safe
from indexer.settings import load_settings
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import mine_at, user_account_data

TARGET = Decimal("1.5")
MAX = 2**256 - 1



async def test_the_reported_amount_reaches_the_target_and_one_unit_less_does_not(devnet, chain_state,
                                                                                devnet_config, engine):
    settings = load_settings(devnet_config)
    # a year and a bit of interest: indexes well away from 1 ray, where a scaled balance's rounding shows
    advance_time(devnet.url, 400 * 86_400 + 12_345)
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    (read,) = await sync_once(settings, engine)
    pool = devnet.deployment.contracts["Pool"]
    views = [v for v in list_positions(engine) if v.health is not None and 1 <= v.health < TARGET]
    assert len(views) >= 3
    rpc = devnet.rpc
    checked = {"repay": 0, "add": 0}
    for view, rules, snapshot in list(stored_snapshots(engine, settings=settings, views=views))[:6]:
        assert rules is not None
        plan = to_be_safe(rules, snapshot, TARGET)
        assert plan.unmodelled == [] and plan.steps
        for step in plan.steps:
            assert step.exact and step.amount is not None and step.health_after is not None
            assert step.health_after >= TARGET
            for amount, reaches in ((step.amount, True), (step.amount - 1, False)):
                if amount == 0:
                    continue  # one unit less is nothing at all: the position as it is, under the target
                with reverting(devnet.url):
                    call = (encode_call("repay(address,uint256,uint256,address)", step.asset, amount, 2,
                                        view.account) if step.action == "repay"
                            else encode_call("supply(address,uint256,address,uint16)", step.asset, amount,
                                             view.account, 0))
                    txs = [{"from": view.account, "to": step.asset, "data": encode_call("mint(uint256)", amount)},
                           {"from": view.account, "to": step.asset,
                            "data": encode_call("approve(address,uint256)", pool, MAX)}]
                    mine_at(devnet.url, read.block.timestamp, [*txs, {"from": view.account, "to": pool, "data": call}])
                    block = int(rpc.call("eth_blockNumber", []), 16)
                    (hf,) = [f[5] for f in (await user_account_data(devnet.url, pool, [view.account],
                                                                   block)).values()]
                target_raw = int(TARGET * UNITS[18])
                assert (hf >= target_raw) is reaches, (view.account, step.action, step.symbol, amount, hf)
            checked[step.action] += 1
    assert checked["repay"] >= 3 and checked["add"] >= 3, checked
