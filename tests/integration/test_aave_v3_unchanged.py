"""Reading what changed, on the real Aave v3.0 Pool (the session devnet): an account that did not act since the last
read is rebuilt from what that read kept of it (configuration bits, eMode, balances: ``Inputs``) and this block's
market round, without its own calls. After days of interest and a price move with nobody acting, the rebuilt
positions equal a full read of the same block to the unit; an account that acted must be read again, and is."""

from __future__ import annotations

from indexer.chain.multicall import run_plans
from indexer.devnet import advance_time, set_price
from indexer.devnet.abi import encode_call
from indexer.devnet.txbatch import transact
from indexer.pipeline.chain import ChainReader
from indexer.protocols.aave_v3.adapter import Remembered
from indexer.settings import load_settings

MARKET = "devnet-aave-v3"


async def test_unchanged_accounts_rebuilt_from_their_inputs_equal_a_full_read(devnet, chain_state, tmp_path):
    deployment = tmp_path / "devnet.json"
    devnet.deployment.to_json(deployment)
    config = tmp_path / "indexer.toml"  # reads only: no database is opened
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "unused.db"}"\n\n[chains.devnet]\nchain_id = 31337\n'
                      f'devnet = "{deployment}"\n\n[markets.{MARKET}]\nchain = "devnet"\nprotocol = "aave_v3"\n'
                      'address = "devnet:PoolAddressesProvider"\n')
    settings = load_settings(config)
    reader = ChainReader(settings, "devnet")
    source = reader.sources[MARKET]
    accounts = [a.address for a in devnet.accounts]
    calls: list[int] = []  # contract calls per read
    multicall = reader.reader.read

    async def counted(batch):
        calls[-1] += len(batch)
        return await multicall(batch)

    reader.reader.read = counted

    async def read_at(hint, unchanged):
        header = await reader.header()
        reader.reader.block_number = header.number
        calls.append(0)
        (got,) = await run_plans(reader.reader, [source.read(accounts, header, reader.feeds, hint,
                                                             unchanged=unchanged)])
        return got

    def same(a, b):
        return [(s.account, s.health, s.legs, s.detail) for s in a.snapshots] == [
            (s.account, s.health, s.legs, s.detail) for s in b.snapshots]

    try:
        first = await read_at(None, ())  # a full read that keeps every account's inputs
        assert isinstance(first.hint, Remembered) and set(first.hint.inputs) == set(accounts)
        # three days of interest and WETH −15 %, nobody acting
        advance_time(devnet.url, 3 * 86_400)
        weth = devnet.deployment.reserve("WETH")
        set_price(devnet.url, devnet.deployment, "WETH", weth["price"] * 85 // 100)
        rebuilt = await read_at(first.hint, accounts)
        full = await read_at(first.hint.layout, None)  # as the pipeline reads today
        assert rebuilt.snapshots and same(rebuilt, full)
        assert any(s.health.debt for s in rebuilt.snapshots)  # interest moved every debt: the rebuild followed it
        assert [s.health for s in rebuilt.snapshots] != [s.health for s in first.snapshots]

        # one account supplies more WETH: its inputs change, which only a read of it sees
        actor = next(s.account for s in full.snapshots if any(leg.symbol == "WETH" for leg in s.legs)
                     and s.health.debt)
        pool = devnet.deployment.contracts["Pool"]
        rpc = devnet.rpc
        transact(rpc, "mint", actor, weth["asset"], encode_call("mint(uint256)", 10**18))
        transact(rpc, "approve", actor, weth["asset"], encode_call("approve(address,uint256)", pool, 2**256 - 1))
        transact(rpc, "supply", actor, pool, encode_call("supply(address,uint256,address,uint16)", weth["asset"],
                                                         10**18, actor, 0), 800_000)
        truth = await read_at(None, None)
        wrong = await read_at(rebuilt.hint, accounts)  # the actor wrongly vouched for: its old balance
        right = await read_at(rebuilt.hint, [a for a in accounts if a != actor])
        assert same(right, truth)
        differs = {a.account for a, b in zip(wrong.snapshots, truth.snapshots, strict=True) if a != b}
        assert differs == {actor}
    finally:
        await reader.close()
    # the rebuilt read asked for the market round (and the feeds and eMode categories) alone: no account's own calls
    assert calls[1] < calls[2] // 4, calls


def test_a_stable_debt_or_a_debt_read_as_a_balance_is_read_again_every_block():
    # a stable debt compounds at the account's own rate and GHO's balance carries its discount: neither follows from
    # the market round, so such an account is asked again even when vouched unchanged (a zero stable debt is none)
    from indexer.protocols.aave_v3.adapter import Inputs

    assert Inputs(3, 0, {0: {"collateral": 5}, 1: {"variable": 7, "stable": 0}}).rebuildable
    assert not Inputs(3, 0, {0: {"collateral": 5}, 1: {"variable": 7, "stable": 1}}).rebuildable
    assert not Inputs(1, 0, {2: {"variable_balance": 9}}).rebuildable
