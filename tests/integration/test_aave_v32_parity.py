"""The indexer on the real Aave v3.2 bytecode (aave-v3-origin, POOL_REVISION 5, an L2Pool with the
PriceOracleSentinel): every stored figure equals the Pool's own getUserAccountData at the stored block — over
200 positions across eMode categories built with bitmaps, isolation mode, an LTV-0 reserve — at seeding, after
ten days of interest and after a price move; and what it says about liquidatability while the sequencer is down
is what the Pool does when a liquidation is attempted.

The stored figures are the indexer's own math (``self_check = 0``: no position is read through the Pool's view).
"""

from __future__ import annotations

from pathlib import Path

from eth_utils import keccak

from indexer.devnet import advance_time
from indexer.devnet.abi import create_address, decode, encode_call
from indexer.devnet.errors import DevnetRpcError
from indexer.devnet.txbatch import transact
from indexer.devnet.wheel import origin_artifact
from indexer.pipeline.chain import ChainPipeline
from indexer.settings import load_settings
from indexer.store.position_store import list_positions
from indexer.store.views import PositionView
from indexer.store.wallet_store import add_wallet
from indexer.types import UINT256_MAX
from tests.fixtures.aave_v32 import V32Devnet
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import user_account_data

WAD = 10**18
LIQUIDATION_CALL = "0x" + keccak(text="LiquidationCall(address,address,address,uint256,uint256,address,bool)").hex()


def _config(v32: V32Devnet, tmp_path: Path, db_url: str) -> Path:
    deployment = tmp_path / "devnet.json"
    v32.deployment.to_json(deployment)
    config = tmp_path / "v32.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n\n[chains.devnet]\nchain_id = 31337\ndevnet = "{deployment}"\n\n'
        f'[markets.v32]\nchain = "devnet"\nprotocol = "aave_v3"\n'
        f'address = "{v32.record["contracts"]["PoolAddressesProvider"]}"\nself_check = 0\n')
    return config


async def _sync(config: Path, engine) -> tuple[int, dict[str, PositionView]]:
    pipeline = ChainPipeline(load_settings(config), engine, "devnet")
    try:
        read = await pipeline.sync()
    finally:
        await pipeline.close()
    return read.block.number, {p.account: p for p in list_positions(engine)}


async def _assert_parity(v32: V32Devnet, block: int, stored: dict[str, PositionView]) -> None:
    onchain = await user_account_data(v32.url, v32.record["contracts"]["Pool"], list(stored), block)
    wrong = {}
    for account, p in stored.items():
        ours = (p.collateral_value, p.debt_value, p.detail["available_borrows"], p.detail["liquidation_threshold"],
                p.detail["ltv"], p.health_raw)
        if p.block_number != block or ours != tuple(onchain[account]):
            wrong[account] = (ours, onchain[account])
    assert not wrong, f"{len(wrong)} of {len(stored)} differ, e.g. {next(iter(wrong.items()))}"
    assert all(p.detail["rules"] == "v3.2" and p.detail["pool_revision"] == 5 and "self_check" not in p.detail
               for p in stored.values())


def _set_price(v32: V32Devnet, symbol: str, numerator: int, denominator: int) -> None:
    reserve = v32.reserve(symbol)
    transact(v32.rpc, f"price {symbol}", v32.deployer, reserve["aggregator"],
             encode_call("setAnswer(int256)", reserve["price"] * numerator // denominator))


def _set_sequencer(v32: V32Devnet, down: bool) -> None:
    now = int(v32.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    transact(v32.rpc, "sequencer", v32.deployer, v32.record["contracts"]["SequencerOracle"],
             encode_call("setAnswer(bool,uint256)", down, now))


async def test_every_stored_figure_equals_get_user_account_data(v32, tmp_path, db_url, engine):
    config = _config(v32, tmp_path, db_url)
    for account in v32.accounts:
        add_wallet(engine, address=account.address)
    with reverting(v32.url):
        block, stored = await _sync(config, engine)
        assert len(stored) >= 200
        # the position kinds the market was built for are all there
        kinds = {a.kind for a in v32.accounts if a.address in stored}
        assert {"emode_in_category", "emode_outside_collateral", "isolation", "ltv_zero", "plain"} <= kinds
        await _assert_parity(v32, block, stored)
        categories = {p.detail["emode_category"] for p in stored.values()}
        assert {0, 1, 2, 3} <= categories

        advance_time(v32.url, 10 * 86_400)  # ten days of interest on every debt and deposit
        block, stored = await _sync(config, engine)
        await _assert_parity(v32, block, stored)

        _set_price(v32, "WETH", 80, 100)
        block, stored = await _sync(config, engine)
        await _assert_parity(v32, block, stored)
        assert any(p.health is not None and p.health < 1 for p in stored.values())
        assert all(p.health_raw != UINT256_MAX for p in stored.values())


def _error_code(v32: V32Devnet, name: str) -> str:
    """The Errors.sol code of ``name``, read from the v3.2 Errors library itself."""
    code = origin_artifact("Errors")["bytecode"]["object"]
    with reverting(v32.url):
        nonce = int(v32.rpc.call("eth_getTransactionCount", [v32.deployer, "pending"]), 16)
        transact(v32.rpc, "deploy Errors", v32.deployer, None, code if code.startswith("0x") else "0x" + code,
                 gas=5_000_000)
        (value,) = decode(["string"], v32.call(create_address(v32.deployer, nonce), f"{name}()"))
    return str(value)


def _liquidation_reverts(v32: V32Devnet, user: str, collateral: str, debt: str) -> str | None:
    """None when a liquidation of ``user`` (``debt`` repaid, ``collateral`` seized) goes through now, else the
    Pool's revert message. The liquidator (the deployer) holds and has approved plenty of the debt asset."""
    asset = v32.reserve(debt)["asset"]
    try:
        v32.call(v32.record["contracts"]["Pool"], "liquidationCall(address,address,address,uint256,bool)",
                 v32.reserve(collateral)["asset"], asset, user, UINT256_MAX, False, sender=v32.deployer)
    except DevnetRpcError as exc:
        return exc.rpc_message
    return None


async def test_liquidatable_while_the_sequencer_is_down_is_what_the_pool_does(v32, tmp_path, db_url, engine):
    config = _config(v32, tmp_path, db_url)
    movers = v32.of_kind("price_move")  # WETH collateral, stablecoin debt, HF 1.035–1.05 before the move
    for account in movers:
        add_wallet(engine, address=account.address)
    sentinel_failed = _error_code(v32, "PRICE_ORACLE_SENTINEL_CHECK_FAILED")
    with reverting(v32.url):
        for symbol in ("USDC", "DAI"):  # the liquidator's funds
            asset = v32.reserve(symbol)["asset"]
            transact(v32.rpc, "mint", v32.deployer, asset, encode_call("mint(uint256)", 10**30))
            transact(v32.rpc, "approve", v32.deployer, asset,
                     encode_call("approve(address,uint256)", v32.record["contracts"]["Pool"], UINT256_MAX))
        _set_sequencer(v32, down=True)
        _set_price(v32, "WETH", 94, 100)  # every mover between 0.95 and 1
        _, stored = await _sync(config, engine)
        held = [stored[a.address] for a in movers]
        assert all(WAD * 95 // 100 <= p.health_raw < WAD for p in held)
        for p, account in zip(held, movers, strict=True):
            assert not p.liquidatable and "PriceOracleSentinel" in p.detail["liquidation_held"]
            assert any("not liquidatable yet" in note for note in p.notes)
            reason = _liquidation_reverts(v32, account.address, "WETH", next(iter(account.borrows)))
            assert reason is not None and reason.rstrip().endswith(f": {sentinel_failed}"), reason

        _set_price(v32, "WETH", 91, 100)  # now some are under 0.95: the sentinel no longer protects those
        _, stored = await _sync(config, engine)
        under = [(stored[a.address], a) for a in movers if stored[a.address].health_raw < WAD * 95 // 100]
        between = [(stored[a.address], a) for a in movers if WAD * 95 // 100 <= stored[a.address].health_raw < WAD]
        assert under and between, (len(under), len(between))
        for p, account in under:
            assert p.liquidatable and "liquidation_held" not in p.detail
            assert _liquidation_reverts(v32, account.address, "WETH", next(iter(account.borrows))) is None
        for p, account in between:
            assert not p.liquidatable
            assert _liquidation_reverts(v32, account.address, "WETH", next(iter(account.borrows))) is not None

        _set_sequencer(v32, down=False)  # up again: held for the grace period, then liquidatable
        _, stored = await _sync(config, engine)
        assert all(not stored[a.address].liquidatable for _, a in between)
        advance_time(v32.url, v32.record["grace_period"] + 1)
        _, stored = await _sync(config, engine)
        for _, account in between:
            assert stored[account.address].liquidatable
            assert _liquidation_reverts(v32, account.address, "WETH", next(iter(account.borrows))) is None


async def test_a_reserve_in_its_liquidation_grace_period_is_held_as_the_pool_holds_it(v32, tmp_path, db_url, engine):
    """v3.1+: a reserve unpaused with a grace period cannot be liquidated against until it ends
    (PoolConfigurator.setReservePause(asset, false, gracePeriod)); the sequencer is up throughout."""
    config = _config(v32, tmp_path, db_url)
    movers = v32.of_kind("price_move")
    for account in movers:
        add_wallet(engine, address=account.address)
    grace_failed = _error_code(v32, "LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED")
    configurator = v32.record["contracts"]["PoolConfigurator"]
    weth = v32.reserve("WETH")["asset"]
    with reverting(v32.url):
        for symbol in ("USDC", "DAI"):
            asset = v32.reserve(symbol)["asset"]
            transact(v32.rpc, "mint", v32.deployer, asset, encode_call("mint(uint256)", 10**30))
            transact(v32.rpc, "approve", v32.deployer, asset,
                     encode_call("approve(address,uint256)", v32.record["contracts"]["Pool"], UINT256_MAX))
        _set_price(v32, "WETH", 94, 100)
        transact(v32.rpc, "pause WETH", v32.deployer, configurator,
                 encode_call("setReservePause(address,bool)", weth, True))
        transact(v32.rpc, "unpause WETH with a grace period", v32.deployer, configurator,
                 encode_call("setReservePause(address,bool,uint40)", weth, False, 3_600))
        _, stored = await _sync(config, engine)
        for account in movers:
            p = stored[account.address]
            assert p.health_raw < WAD and not p.liquidatable
            assert p.detail["liquidation_held"].startswith("liquidation grace period until")
            reason = _liquidation_reverts(v32, account.address, "WETH", next(iter(account.borrows)))
            assert reason is not None and reason.rstrip().endswith(f": {grace_failed}"), reason
        advance_time(v32.url, 3_601)
        _, stored = await _sync(config, engine)
        for account in movers:
            assert stored[account.address].liquidatable and "liquidation_held" not in stored[account.address].detail
            assert _liquidation_reverts(v32, account.address, "WETH", next(iter(account.borrows))) is None

        # a real liquidation in the next block, at the same time (no interest in between): it repays and seizes
        # exactly what the stored position said (v3.2: half the reserve debt above HF 0.95, plus the bonus)
        p = stored[movers[0].address]
        figures = p.detail["liquidation"]
        v32.rpc.call("evm_setNextBlockTimestamp", [p.block_timestamp])
        tx = transact(v32.rpc, "liquidate", v32.deployer, v32.record["contracts"]["Pool"],
                      encode_call("liquidationCall(address,address,address,uint256,bool)", figures["collateral_asset"],
                                  figures["debt_asset"], p.account, UINT256_MAX, False), gas=3_000_000)
        (event,) = [log for log in v32.rpc.call("eth_getTransactionReceipt", [tx])["logs"]
                    if log["topics"][0] == LIQUIDATION_CALL]
        repaid, seized, _, _ = decode(["uint256", "uint256", "address", "bool"], event["data"])
        assert (repaid, seized) == (int(figures["max_debt_to_cover"]), int(figures["collateral_seized"]))
