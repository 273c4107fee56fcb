"""Aave v3 on the devnet: every stored figure equals Pool.getUserAccountData at the stored block.

Real anvil, real Aave v3.0 bytecode from @aave/core-v3, real SQLite and Postgres.
"""

import time
from collections import Counter
from decimal import Decimal

from indexer.devnet import advance_time, set_price
from indexer.protocols.aave_math import AaveAssetInput, account_data
from indexer.protocols.aave_v3.adapter import Remembered
from indexer.settings import load_settings
from indexer.store.position_store import list_positions, position_legs
from indexer.store.wallet_store import add_wallet
from indexer.sync import read_chain, sync_once
from indexer.types import Role
from tests.integration.chain_helpers import user_account_data

BORROWING_KINDS = {"single", "multi", "emode", "near_liquidation"}


def _figures(p):
    return (p.collateral_value, p.debt_value, p.detail["available_borrows"], p.detail["liquidation_threshold"],
            p.detail["ltv"], p.health_raw)


async def _track_and_sync(devnet, devnet_config, engine):
    for account in devnet.accounts:
        add_wallet(engine, address=account.address, label=account.kind)
    return await sync_once(load_settings(devnet_config), engine)


async def test_stored_and_local_health_equal_get_user_account_data(devnet, chain_state, devnet_config, engine):
    advance_time(devnet.url, 47 * 86400 + 13)  # interest accrues: indexes are no longer round numbers
    (read,) = await _track_and_sync(devnet, devnet_config, engine)
    stored = list_positions(engine)

    assert len(stored) >= 50
    assert {p.block_number for p in stored} == {read.block.number}
    assert {p.block_hash for p in stored} == {read.block.hash}
    kinds = Counter(p.wallet_label for p in stored)
    assert set(kinds) >= BORROWING_KINDS, kinds
    symbols = {g.symbol for p in stored for g in position_legs(engine, snapshot_id=p.snapshot_id)}
    assert len(symbols) >= 4 and {"WETH", "USDC", "WBTC", "EURS"} <= symbols, symbols
    assert any(s.detail["emode_category"] for s in read.snapshots)

    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"],
                                      [p.account for p in stored], read.block.number)
    mismatched = [p.account for p in stored if _figures(p) != tuple(onchain[p.account])]
    assert not mismatched, f"{len(mismatched)} of {len(stored)} positions differ from getUserAccountData"

    # The stored legs are complete: recomputing from them alone gives the same integers.
    for p in stored:
        legs = position_legs(engine, snapshot_id=p.snapshot_id)
        data = account_data(AaveAssetInput(
            amount_collateral=g.amount if g.role is Role.COLLATERAL else 0,
            amount_debt=g.amount if g.role is Role.DEBT else 0, price=g.price, unit=10**g.decimals,
            ltv=g.terms.get("ltv", 0), liquidation_threshold=g.terms.get("liquidation_threshold", 0),
            is_collateral=g.role is Role.COLLATERAL, is_borrowing=g.role is Role.DEBT) for g in legs)
        assert data.health_factor == p.health_raw
        assert data.total_collateral_base == p.collateral_value and data.total_debt_base == p.debt_value
        if p.requirement:  # health = equity / requirement, as the protocol rounds it (wadDiv: half-up)
            assert (p.equity * 10**18 + p.requirement // 2) // p.requirement == p.health_raw
        else:
            assert p.health is None

    # Accounts seeded without any debt are stored as infinitely healthy, never as a number.
    supply_only = [p for p in stored if p.wallet_label == "supply_only"]
    assert supply_only and all(p.health is None and p.health_raw == 2**256 - 1 for p in supply_only)


async def test_price_drop_puts_weth_borrowers_below_one_riskiest_first(devnet, chain_state, devnet_config, engine):
    await _track_and_sync(devnet, devnet_config, engine)
    before = {p.account: p.health for p in list_positions(engine)}
    weth = devnet.deployment.reserve("WETH")
    set_price(devnet.url, devnet.deployment, "WETH", weth["price"] * 70 // 100)  # -30 %
    (read,) = await sync_once(load_settings(devnet_config), engine)
    after = list_positions(engine)

    assert all(p.block_number == read.block.number for p in after)
    healths = [p.health for p in after]
    with_debt = [h for h in healths if h is not None]
    assert healths[:len(with_debt)] == sorted(with_debt), "riskiest first, positions without debt last"
    underwater = [p for p in after if p.liquidatable]
    assert underwater, "a 30 % WETH drop must put some positions below 1"
    for p in underwater:  # only positions with WETH collateral can have been pushed under by a WETH move
        assert any(g.symbol == "WETH" and g.role is Role.COLLATERAL
                   for g in position_legs(engine, snapshot_id=p.snapshot_id))
        assert before[p.account] is not None and before[p.account] >= 1 > p.health
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"],
                                      [p.account for p in after], read.block.number)
    assert all(tuple(onchain[p.account]) == _figures(p) for p in after)


async def test_thousand_accounts_in_at_most_twenty_requests(devnet, chain_state, devnet_config, engine, capsys):
    from indexer.protocols.aave_v3.devnet import seed_borrowers
    from indexer.store.wallet_store import list_wallets

    seeded = seed_borrowers(devnet.url, devnet.deployment, 1000, seed=7)
    for account in seeded:
        add_wallet(engine, address=account.address)
    assert len(list_wallets(engine)) == 1000
    started = time.perf_counter()
    (read,) = await sync_once(load_settings(devnet_config), engine)
    wall = time.perf_counter() - started

    assert len(read.snapshots) == 1000
    assert read.stats.requests <= 20, read.stats.by_method
    with capsys.disabled():
        print(f"\n[sync 1000 accounts] requests={read.stats.requests} http_posts={read.stats.http_posts} "
              f"by_method={read.stats.by_method} wall={wall:.3f}s")
    sample = [p.account for p in read.snapshots[::97]]
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"], sample, read.block.number)
    by_account = {s.account: s.health for s in read.snapshots}
    assert all(onchain[a][5] == by_account[a].raw for a in sample)
    assert all(p.health is None or p.health > Decimal(0) for p in list_positions(engine, limit=5))


async def test_a_hint_saves_the_entry_point_round_trips_and_a_wrong_one_is_not_trusted(devnet, chain_state,
                                                                                        devnet_config):
    settings = load_settings(devnet_config)
    (chain,), (market,) = settings.chains, settings.markets
    accounts = [a.address for a in devnet.accounts]
    hints: dict[str, object] = {}
    cold = await read_chain(settings, chain, accounts, hints=hints)
    kept = hints[market]  # the layout, and what the read kept of each account (``reread_every`` > 1)
    assert isinstance(kept, Remembered) and set(kept.inputs) == set(accounts)
    layout = kept.layout
    warm = await read_chain(settings, chain, accounts, block=cold.block.number, hints=hints)

    def seen(read):
        return [(s.account, s.health, s.legs) for s in read.snapshots]

    assert len(cold.snapshots) >= 50 and seen(warm) == seen(cold)
    # provider → pool/oracle and pool → revision/reserves ride along with the first round of account reads
    assert warm.stats.by_method["eth_call"] == cold.stats.by_method["eth_call"] - 2, warm.stats.by_method
    assert hints[market] == kept

    wrong = {
        "pool is another contract": layout._replace(pool=layout.oracle),
        "oracle is another contract": layout._replace(oracle=layout.pool),
        "a reserve missing": layout._replace(assets=layout.assets[:-1]),
        "reserves reordered": layout._replace(assets=layout.assets[::-1]),
    }
    for why, bad in wrong.items():
        mine: dict[str, object] = {market: kept._replace(layout=bad)}
        read = await read_chain(settings, chain, accounts, block=cold.block.number, hints=mine)
        assert seen(read) == seen(cold), why
        assert read.stats.by_method["eth_call"] == cold.stats.by_method["eth_call"] + 1, (why, read.stats.by_method)
        assert mine[market] == kept, why


async def test_a_wound_down_reserve_with_ltv_0_adds_no_ltv_even_in_emode(devnet, chain_state, devnet_config,
                                                                          engine):
    """Governance winds an asset down by setting its LTV to 0: the Pool then counts its collateral at its
    liquidation threshold but adds no LTV for it, in eMode too (GenericLogic.calculateUserAccountData:
    ``if (vars.ltv != 0) avgLtv += balance * (inEMode ? eModeLtv : ltv)``). wstETH, in eMode 1, goes to LTV 0,
    WBTC (no eMode) too; USDC is frozen and DAI paused (settings that move no figure of a position). Every
    figure still equals getUserAccountData, including the eMode accounts that hold wstETH."""
    from indexer.devnet.abi import encode_call
    from indexer.devnet.txbatch import transact

    configurator = devnet.deployment.contracts["PoolConfigurator"]
    for symbol in ("wstETH", "WBTC"):
        reserve = devnet.deployment.reserve(symbol)
        transact(devnet.rpc, f"wind {symbol} down", devnet.deployment.deployer, configurator, encode_call(
            "configureReserveAsCollateral(address,uint256,uint256,uint256)", reserve["asset"], 0,
            reserve["liquidation_threshold"], reserve["liquidation_bonus"]))
    transact(devnet.rpc, "freeze USDC", devnet.deployment.deployer, configurator,
             encode_call("setReserveFreeze(address,bool)", devnet.deployment.reserve("USDC")["asset"], True))
    transact(devnet.rpc, "pause DAI", devnet.deployment.deployer, configurator,
             encode_call("setReservePause(address,bool)", devnet.deployment.reserve("DAI")["asset"], True))
    (read,) = await _track_and_sync(devnet, devnet_config, engine)
    stored = list_positions(engine)
    holders = [p for p in stored if any(g.symbol == "wstETH" and g.role is Role.COLLATERAL
                                        for g in position_legs(engine, snapshot_id=p.snapshot_id))]
    assert any(p.detail["emode_category"] == 1 for p in holders), "an eMode account holds wstETH"
    assert any(p.detail["ltv"] == 0 for p in stored), "a position holds only wound-down collateral"
    onchain = await user_account_data(devnet.url, devnet.deployment.contracts["Pool"],
                                      [p.account for p in stored], read.block.number)
    mismatched = [p.account for p in stored if _figures(p) != tuple(onchain[p.account])]
    assert not mismatched, f"{len(mismatched)} of {len(stored)} positions differ from getUserAccountData"


async def test_isolation_siloed_lt_0_and_inactive_reserves_keep_every_figure_equal(devnet, chain_state,
                                                                                   devnet_config, engine):
    """The settings governance can only put on a reserve nobody holds yet, staged on freshly listed reserves and
    then used: ISO in isolation mode (debt ceiling; USDC borrowable in isolation) as a wallet's only collateral,
    SIL with siloed borrowing borrowed alone against WETH, ZRO with LT 0 held but not collateral, OFF inactive.
    Every position equals getUserAccountData."""
    from eth_utils import keccak, to_checksum_address

    from indexer.devnet.abi import encode_call
    from indexer.devnet.txbatch import transact
    from indexer.protocols.aave_v3.devnet.deploy import list_reserve

    d, rpc, url = devnet.deployment, devnet.rpc, devnet.url
    configurator, pool, owner = d.contracts["PoolConfigurator"], d.contracts["Pool"], d.deployer
    iso = list_reserve(url, d, "ISO", decimals=18, price=10 * 10**8, ltv=6000, liquidation_threshold=7000,
                       liquidation_bonus=10800)
    sil = list_reserve(url, d, "SIL", decimals=6, price=10**8, ltv=5000, liquidation_threshold=6000,
                       liquidation_bonus=10800)
    zro = list_reserve(url, d, "ZRO", decimals=18, price=5 * 10**8, ltv=0, liquidation_threshold=0,
                       liquidation_bonus=0)
    off = list_reserve(url, d, "OFF", decimals=18, price=10**8, ltv=5000, liquidation_threshold=6000,
                       liquidation_bonus=10800)
    usdc, weth = d.reserve("USDC")["asset"], d.reserve("WETH")["asset"]
    for signature, *args in (("setDebtCeiling(address,uint256)", iso["asset"], 1_000_000_00),
                             ("setBorrowableInIsolation(address,bool)", usdc, True),
                             ("setSiloedBorrowing(address,bool)", sil["asset"], True),
                             ("setReserveActive(address,bool)", off["asset"], False)):
        transact(rpc, signature.split("(")[0], owner, configurator, encode_call(signature, *args))

    def who(label: str) -> str:
        address = to_checksum_address(keccak(text=f"governance-test/{label}")[12:])
        rpc.call("anvil_setBalance", [address, hex(10**20)])
        return address

    def supply(user: str, asset: str, units: int) -> None:
        transact(rpc, "mint", user, asset, encode_call("mint(uint256)", units))
        transact(rpc, "approve", user, asset, encode_call("approve(address,uint256)", pool, 2**256 - 1))
        transact(rpc, "supply", user, pool, encode_call("supply(address,uint256,address,uint16)", asset, units,
                                                        user, 0), 800_000)

    def borrow(user: str, asset: str, units: int) -> None:
        transact(rpc, "borrow", user, pool, encode_call("borrow(address,uint256,uint256,uint16,address)", asset,
                                                        units, 2, 0, user), 1_500_000)

    supply(who("lp"), sil["asset"], 10**6 * 10**6)
    isolated, siloed, holder = who("isolated"), who("siloed"), who("lt0")
    supply(isolated, iso["asset"], 1_000 * 10**18)  # $10,000 of ISO: its only collateral, so isolated
    # an isolated asset is not made collateral as a side effect of a supply (validateAutomaticUseAsCollateral)
    transact(rpc, "use ISO as collateral", isolated, pool,
             encode_call("setUserUseReserveAsCollateral(address,bool)", iso["asset"], True), 800_000)
    borrow(isolated, usdc, 4_000 * 10**6)
    supply(siloed, weth, 10**18)
    borrow(siloed, sil["asset"], 1_000 * 10**6)
    supply(holder, zro["asset"], 100 * 10**18)  # LT 0: held, never collateral
    supply(holder, weth, 2 * 10**18)
    borrow(holder, usdc, 1_000 * 10**6)

    for address in (isolated, siloed, holder):
        add_wallet(engine, address=address)
    (read,) = await _track_and_sync(devnet, devnet_config, engine)
    stored = list_positions(engine)
    assert {isolated, siloed, holder} <= {p.account for p in stored}
    onchain = await user_account_data(url, pool, [p.account for p in stored], read.block.number)
    mismatched = [p.account for p in stored if _figures(p) != tuple(onchain[p.account])]
    assert not mismatched, f"{len(mismatched)} of {len(stored)} positions differ from getUserAccountData"
    legs = {p.account: {(g.symbol, g.role) for g in position_legs(engine, snapshot_id=p.snapshot_id)}
            for p in stored if p.account in (isolated, siloed, holder)}
    assert legs[isolated] == {("ISO", Role.COLLATERAL), ("USDC", Role.DEBT)}
    assert legs[siloed] == {("WETH", Role.COLLATERAL), ("SIL", Role.DEBT)}
    assert ("ZRO", Role.COLLATERAL) not in legs[holder]  # held, not collateral (LT 0)
