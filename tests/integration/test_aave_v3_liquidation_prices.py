"""Aave v3 liquidation prices are the Pool's own boundary (issue #16): for every seeded position with debt and every
price it rests on that can liquidate it alone, the Pool's ``getUserAccountData`` health factor is ≥ 1 with that
asset's feed at the indexer's liquidation price and < 1 one unit past it.

Real anvil with the real Aave v3.0 bytecode (the session devnet), real SQLite and Postgres. AaveOracle returns the
feed's answer as the asset's price, so the feed is set to the point's price exactly. Every move is mined at the
timestamp of the sync's block: no interest accrues, and the Pool is asked about the very amounts the points were
computed from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from indexer.devnet import set_price
from indexer.health.nearest import stored_snapshots
from indexer.protocols.aave_v3.devnet.record import emode_categories
from indexer.protocols.registry import rules_for
from indexer.settings import load_settings
from indexer.store.position_store import list_positions
from indexer.store.wallet_store import add_wallet
from indexer.sync import sync_once
from indexer.types import LiquidationPoint, PositionSnapshot, Role
from tests.integration.chain_helpers import user_account_data

MARKET = "devnet-aave-v3"
WAD = 10**18
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class Case:
    """One position's liquidation point for one price key, with what the stored legs priced that key at."""

    account: str
    kind: str | None
    snapshot: PositionSnapshot
    point: LiquidationPoint
    current: int
    owed: bool  # a debt leg of the position is priced by the key


async def test_every_liquidation_price_is_the_pools_boundary(devnet, chain_state, devnet_config, engine, capsys):
    started = time.perf_counter()
    settings = load_settings(devnet_config)
    deployment, rpc = devnet.deployment, devnet.rpc
    pool = deployment.contracts["Pool"]
    symbol_of = {reserve["asset"]: reserve["symbol"] for reserve in deployment.reserves}
    # an eMode category with a price source prices its members by a key that is no reserve asset, which no feed of
    # the devnet moves on its own: this devnet's categories have none, so every key below is a reserve's asset
    assert {c["price_source"].lower() for c in emode_categories(deployment).values()} == {ZERO_ADDRESS}

    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    (read,) = await sync_once(settings, engine)
    block, timestamp = read.block.number, read.block.timestamp
    views = list_positions(engine, market=MARKET)
    assert len(views) == len(devnet.accounts) and {v.block_number for v in views} == {block}

    rules = rules_for(settings, MARKET)
    assert rules is not None
    by_key: dict[str, list[Case]] = {}
    positions = without_point = 0
    not_a_reserve: list[tuple[str, str]] = []
    for view, stored_rules, snapshot in stored_snapshots(engine, settings=settings, views=views):
        assert stored_rules is not None
        if not snapshot.health.debt:
            continue
        positions += 1
        points = rules.liquidation_points(snapshot)
        without_point += not points
        for key, point in points.items():
            if key not in symbol_of:
                not_a_reserve.append((view.account, key))
                continue
            legs = snapshot.legs_priced_by(key)
            (current,) = {leg.price for leg in legs}
            assert point.price > 0 and (point.price < current if point.falling else point.price > current), (
                view.account, symbol_of[key], point, current)
            by_key.setdefault(key, []).append(Case(view.account, view.wallet_label, snapshot, point, current,
                                                   any(leg.role is Role.DEBT for leg in legs)))
    assert not_a_reserve == [], "a price key that is no reserve asset (an eMode price source): not on this devnet"

    cases = [case for key_cases in by_key.values() for case in key_cases]
    rising = [case for case in cases if not case.point.falling]
    assert positions == sum(1 for a in devnet.accounts if a.borrows) >= 30, positions
    assert without_point == 0, f"{without_point} positions with debt have no single price that liquidates them"
    assert len(cases) >= positions and len(by_key) >= 4, (len(cases), {symbol_of[k] for k in by_key})
    assert len(rising) >= 10 and all(case.owed for case in rising), len(rising)
    assert {case.kind for case in cases} >= {"single", "multi", "emode", "near_liquidation"}

    async def move(symbol: str, price: int) -> int:
        """Sets ``symbol``'s feed to ``price`` in a block at the sync's time; returns that block's number."""
        rpc.call("evm_setNextBlockTimestamp", [timestamp])
        set_price(devnet.url, deployment, symbol, price)
        head = rpc.call("eth_getBlockByNumber", ["latest", False])
        assert int(head["timestamp"], 16) == timestamp, (symbol, price)
        return int(head["number"], 16)

    failures, unequal = [], []
    checked, restored_at = 0, block
    for key, key_cases in by_key.items():
        symbol = symbol_of[key]
        (original,) = {case.current for case in key_cases}
        for case in key_cases:
            point = case.point
            beyond = point.price - 1 if point.falling else point.price + 1
            healths = []
            for price in (point.price, beyond):
                at = await move(symbol, price)
                health = (await user_account_data(devnet.url, pool, [case.account], at))[case.account][5]
                local = rules.health_at(case.snapshot, {key: price}).raw
                if local != health:  # the amounts moved, or the indexer's arithmetic differs from the Pool's
                    unequal.append((case.account, symbol, price, local, health))
                healths.append(health)
                checked += 1
            at_point, past_point = healths
            if not (at_point >= WAD > past_point):
                failures.append((case.account, case.kind, symbol, key, point, case.current, at_point, past_point))
        restored_at = await move(symbol, original)  # every other key's points were computed at this price

    # every feed back where the sync read it, at the sync's time: every position's health is the stored one again
    onchain = await user_account_data(devnet.url, pool, [v.account for v in views], restored_at)
    assert {v.account: v.health_raw for v in views} == {a: figures[5] for a, figures in onchain.items()}

    assert not failures, (f"{len(failures)} of {len(cases)} liquidation points are not the Pool's boundary "
                          "(account, kind, symbol, key, point, stored price, HF at the point, HF one unit past it): "
                          + "; ".join(map(str, failures)))
    assert not unequal, f"the indexer's health at the moved price differs from the Pool's: {unequal}"
    assert checked == 2 * len(cases)
    with capsys.disabled():
        print(f"\n[aave v3 liquidation prices] positions={positions} points={len(cases)} rising={len(rising)} "
              f"by_symbol={ {symbol_of[k]: len(c) for k, c in by_key.items()} } "
              f"wall={time.perf_counter() - started:.2f}s")
