"""Compound v3 through the indexer, on the devnet's Comet stand-in (a contract of this project's own implementing
Comet's real ABI and math: no package ships Comet's bytecode; see indexer/protocols/compound_v3/devnet.py).

One anvil for the module: two Comets (cUSDCv3 priced in USD; cWETHv3 priced in ETH through a constant base feed)
deployed and seeded through the same hooks `indexer devnet up` uses, then three days pass without any interaction,
so the stored base borrow index (what the isLiquidatable view uses) and the accrued one (what absorb and
borrowBalanceOf use) differ. Each test runs inside an evm snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak

from indexer.alerts.format import text
from indexer.alerts.message import AlertMessage
from indexer.alerts.rules import severity_level
from indexer.chain.rpc import RpcClient
from indexer.devnet import Anvil, Deployment, advance_time, stack
from indexer.devnet.abi import encode_call
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.discovery import discover
from indexer.protocols.compound_v3 import devnet as comet_devnet
from indexer.protocols.compound_v3.adapter import CompoundV3Adapter
from indexer.protocols.registry import source_for
from indexer.risk.safety import to_be_safe
from indexer.settings import load_settings
from indexer.store.chain_store import discovered_accounts
from indexer.store.models import Alert, AlertEvent, Delivery, MarginChange
from indexer.store.position_store import list_positions, position_legs
from indexer.store.reorg import rollback
from indexer.store.wallet_store import add_wallet
from indexer.sync import read_chain, sync_once
from indexer.types import Health, PositionSnapshot, PriceKey, Role
from tests.fixtures.db import rows
from tests.fixtures.devnet import reverting
from tests.integration.chain_helpers import mine_at

SEEDED = 70
ELAPSED = 3 * 86_400 + 11
MARKETS = {"cUSDCv3": "USD", "cWETHv3": "ETH"}


@dataclass
class CometChain:
    url: str
    deployment: Deployment
    record: dict[str, Any]
    seeded: list[tuple[str, str]]
    file: Path

    def comet(self, market: str) -> str:
        return str(self.record["markets"][market]["comet"])


@pytest.fixture(scope="module")
def comet_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CometChain]:
    with Anvil() as node:
        deployment = stack.deploy(node.url, [CompoundV3Adapter.kind])
        seeded = stack.devnet_module(CompoundV3Adapter.kind).seed_devnet(node.url, deployment, SEEDED)
        advance_time(node.url, ELAPSED)
        path = tmp_path_factory.mktemp("comet") / "devnet.json"
        deployment.to_json(path)
        yield CometChain(node.url, deployment, deployment.protocols[CompoundV3Adapter.kind], seeded, path)


@pytest.fixture
def chain(comet_chain: CometChain) -> Iterator[CometChain]:
    with reverting(comet_chain.url):
        yield comet_chain


def _config(tmp_path: Path, chain: CometChain, db_url: str, *, discover: bool = False,
            verify: bool = False, tail: str = "") -> Path:
    markets = "".join(
        f'\n[markets.{name}]\nchain = "devnet"\nprotocol = "compound_v3"\naddress = "devnet:CompoundV3.{name}"\n'
        f'discover = {str(discover).lower()}\nstart_block = {chain.deployment.block_number}\n'
        f'verify_onchain = {str(verify).lower()}\noptions = {{ quote = "{quote}" }}\n'
        for name, quote in MARKETS.items())
    config = tmp_path / "comet.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n\n[chains.devnet]\nchain_id = 31337\n'
                      f'devnet = "{chain.file}"\n{markets}{tail}')
    return config


def _borrowers(snapshots: list[PositionSnapshot]) -> list[PositionSnapshot]:
    return [s for s in snapshots if any(leg.role is Role.DEBT for leg in s.legs)]


def _verdicts(chain: CometChain, snapshots: list[PositionSnapshot], block: int) -> None:
    """Each borrower's two verdicts against Comet's own: the isLiquidatable view (stored index) and absorb
    (accrues first), both asked at the read's block, and the debt against borrowBalanceOf."""
    for s in snapshots:
        comet = chain.comet(s.market)
        assert comet_devnet.is_liquidatable(chain.url, comet, s.account, block) is s.detail["stored"]["liquidatable"]
        assert comet_devnet.absorb_succeeds(chain.url, comet, s.account, block) is s.health.liquidatable
        debt = next(leg for leg in s.legs if leg.role is Role.DEBT)
        assert comet_devnet.borrow_balance(chain.url, comet, s.account, block) == debt.amount


async def test_every_position_equals_comet_on_both_sides_of_the_line(chain, tmp_path, db_url, engine):
    settings = load_settings(_config(tmp_path, chain, db_url))
    for account, kind in chain.seeded:
        add_wallet(engine, address=account, label=kind)
    (read,) = await sync_once(settings, engine)
    borrowers = _borrowers(read.snapshots)
    assert len(borrowers) >= 50 and {s.market for s in borrowers} == set(MARKETS)
    # three days of interest: the accrued debt is above the stored one for every borrower
    assert all(int(s.detail["stored"]["borrow_balance"]) < next(g.amount for g in s.legs if g.role is Role.DEBT)
               for s in borrowers)
    _verdicts(chain, borrowers, read.block.number)

    # prices fall: every collateral feed of both markets by 22 %; some positions cross the line, not all
    for market, info in chain.record["markets"].items():
        for asset in info["assets"]:
            answer = comet_devnet.feed_answer(chain.url, chain.record, market, asset["symbol"])
            comet_devnet.set_feed_price(chain.url, chain.record, market, asset["symbol"], answer * 78 // 100)
    (after,) = await sync_once(settings, engine)
    borrowers = _borrowers(after.snapshots)
    _verdicts(chain, borrowers, after.block.number)
    liquidatable = sum(s.health.liquidatable for s in borrowers)
    assert 0 < liquidatable < len(borrowers), liquidatable

    # what was stored is what was read
    stored = {(p.market, p.account): p for p in list_positions(engine)}
    for s in after.snapshots:
        view = stored[(s.market, s.account)]
        assert (view.health_raw, view.health, view.debt_value, view.equity, view.quote) == (
            s.health.raw, s.health.health, s.health.debt, s.health.equity, s.health.quote)
        assert position_legs(engine, snapshot_id=view.snapshot_id) == s.legs
    quotes = {s.market: s.health.quote for s in after.snapshots}
    assert quotes == MARKETS


async def test_within_one_unit_of_the_boundary_both_directions(chain, tmp_path, db_url):
    """Per market, the smallest and the largest borrower: at the indexer's liquidation price of each feed its
    health rests on, the indexer, the isLiquidatable view and absorb agree; one unit beyond, all three flip. The
    markets are accrued first and every later block keeps that block's time, so no interest accrues between the
    read the points come from and the reads that check them (and the stored and the accrued index are equal)."""
    settings = load_settings(_config(tmp_path, chain, db_url))
    accounts = [account for account, _ in chain.seeded]
    rpc = JsonRpcClient(chain.url)
    now = int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16) + 1
    for market in MARKETS:  # both accruals at one time, so both markets' stored index is the one at the read
        rpc.call("evm_setNextBlockTimestamp", [now])
        comet_devnet.accrue(chain.url, chain.record, market)
    read = await read_chain(settings, "devnet", accounts)
    assert read.block.timestamp == now
    checked = 0
    for market in MARKETS:
        source = source_for(settings, market)
        ranked = sorted((s for s in _borrowers(read.snapshots) if s.market == market), key=lambda s: s.health.debt)
        symbols = {a["feed"]: a["symbol"] for a in chain.record["markets"][market]["assets"]}
        base = chain.record["markets"][market]["base"]
        symbols[base["feed"]] = base["symbol"]
        for position in (ranked[0], ranked[-1]):
            for feed, point in source.liquidation_points(position).items():
                beyond = point.price - 1 if point.falling else point.price + 1
                original = next(g.price for g in position.legs if g.price_key == feed)
                for price, healthy in ((point.price, True), (beyond, False)):
                    rpc.call("evm_setNextBlockTimestamp", [read.block.timestamp])
                    comet_devnet.set_feed_price(chain.url, chain.record, market, symbols[feed], price)
                    again = await read_chain(settings, "devnet", [position.account])
                    [now] = [s for s in again.snapshots if s.market == market]
                    assert now.block.timestamp == read.block.timestamp
                    assert now.health.liquidatable is not healthy, (market, symbols[feed], price)
                    assert now.detail["stored"]["liquidatable"] is not healthy
                    comet = chain.comet(market)
                    block = again.block.number
                    assert comet_devnet.is_liquidatable(chain.url, comet, position.account, block) is not healthy
                    assert comet_devnet.absorb_succeeds(chain.url, comet, position.account, block) is not healthy
                    checked += 1
                rpc.call("evm_setNextBlockTimestamp", [read.block.timestamp])
                comet_devnet.set_feed_price(chain.url, chain.record, market, symbols[feed], original)
    assert checked >= 2 * 2 * 2 * len(MARKETS)  # two positions, at least two feeds each, two prices


def _health_on_chain(chain: CometChain, market: str, account: str, block: int) -> tuple[int, int]:
    """The Comet's own state after the transaction, put through its liquidity loop's integers: Σ
    mulFactor(mulPrice(collateralBalanceOf, getPrice(feed), scale), liquidateCollateralFactor) over getAssetInfo's
    assets against mulPrice(borrowBalanceOf, getPrice(baseTokenPriceFeed), baseScale) (the magnitude of
    signedMulPrice of the negative present value), as a ratio in 1e18, floored: what the indexer stores as a
    Comet position's health, below 1e18 exactly when the loop's liquidity is negative. With the debt it rests on."""
    comet, info = chain.comet(market), chain.record["markets"][market]
    debt = comet_devnet.borrow_balance(chain.url, comet, account, block)
    owed = debt * comet_devnet.get_price(chain.url, comet, info["base"]["feed"], block) // info["base_scale"]
    weighted = 0
    for offset in range(len(info["assets"])):
        _, asset, feed, scale, _, liquidate_cf, _, _ = comet_devnet.read_asset_info(chain.url, comet, offset, block)
        balance = comet_devnet.collateral_balance(chain.url, comet, account, asset, block)
        if balance:
            value = balance * comet_devnet.get_price(chain.url, comet, feed, block) // scale
            weighted += value * liquidate_cf // 10**18
    return (2**256 - 1 if not owed else weighted * 10**18 // owed), debt


class _Generic:
    """The same health, without the Comet's booking of a repayment: what it takes to be safe falls back on
    ``debt − x``."""

    def __init__(self, source: CompoundV3Adapter) -> None:
        self.source = source

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        return self.source.health_at(snapshot, prices)


def _supply(chain: CometChain, snapshot: PositionSnapshot, timestamp: int, asset: str, amount: int) -> int:
    """``supply(asset, amount)`` from the position's account (a base supply repays its debt: ``_supplyBase``), the
    tokens minted and approved first, all in one block at ``timestamp``; that block's number."""
    comet = chain.comet(snapshot.market)
    return mine_at(chain.url, timestamp, [
        {"from": snapshot.account, "to": asset, "data": encode_call("mint(address,uint256)", snapshot.account, amount)},
        {"from": snapshot.account, "to": asset, "data": encode_call("approve(address,uint256)", comet, 2**256 - 1)},
        {"from": snapshot.account, "to": comet, "data": encode_call("supply(address,uint256)", asset, amount)}])


async def test_what_it_takes_to_be_safe_is_what_comet_books(chain, tmp_path, db_url):
    """Supplying the reported amount of base (a repayment) or of a collateral, on the devnet's Comet itself, in a
    block at the read's time, brings the position to the target (health from the Comet's own balances, prices and
    factors after the block), and one unit less does not; after a repayment ``borrowBalanceOf`` is the debt
    ``amount_after`` booked (``_supplyBase``: present value plus the amount, back to a principal rounded up, its
    present value floored, at the index accrued to the read's time), after a deposit the balance is the leg's plus
    the amount.

    Three days of interest leave the borrow indexes only about 3e-4 (cUSDCv3) and 1.6e-4 (cWETHv3) above 1e15, so
    that round trip lands one unit above ``debt − x`` for about one repayment amount in 4,000 (160 of the 640,000
    amounts 1–20,000 over the 32 borrowers under the target; the seeding gives the same indexes every run): the test
    repays one such amount per market on the Comet and ``borrowBalanceOf`` shows that unit. At the smallest
    repayment that reaches 1.5 it never does here: the generic ``debt − x`` gives the same amount as the Comet's
    booking for all 32 borrowers under the target (0 differ). It could differ only by one unit (the booking's amount
    the larger), with a chance of about ``index / 1e15 − 1`` per position; the test checks that bound."""
    settings = load_settings(_config(tmp_path, chain, db_url))
    read = await read_chain(settings, "devnet", [account for account, _ in chain.seeded])
    target = Decimal("1.5")
    under = [s for s in _borrowers(read.snapshots) if s.health.health is not None and s.health.health < target]
    below = sorted((s for s in under if Decimal("0.9") < s.health.health < target),
                   key=lambda s: (s.market, s.health.debt))
    picked = [s for n, s in enumerate(below) if n % max(1, len(below) // 6) == 0][:6]
    assert len(picked) >= 4 and {s.market for s in picked} == set(MARKETS), [s.market for s in below]
    checked = {"repay": 0, "add": 0}
    for snapshot in picked:
        source = source_for(settings, snapshot.market)
        assert isinstance(source, CompoundV3Adapter)
        debt_leg = next(g for g in snapshot.legs if g.role is Role.DEBT)
        assert debt_leg.terms["borrow_index"] > 10**15 and debt_leg.terms["principal"] < 0
        plan = to_be_safe(source, snapshot, target)
        assert plan.unmodelled == [] and {s.action for s in plan.steps} == {"repay", "add"}
        for step in plan.steps:
            assert step.exact and step.amount and step.health_after is not None and step.health_after >= target
            leg = next(g for g in snapshot.legs if g.asset == step.asset)
            for amount, reaches in ((step.amount, True), (step.amount - 1, False)):
                if amount == 0:
                    continue
                with reverting(chain.url):
                    block = _supply(chain, snapshot, read.block.timestamp, step.asset, amount)
                    health, debt = _health_on_chain(chain, snapshot.market, snapshot.account, block)
                    if step.action == "repay":
                        assert debt == source.amount_after(snapshot, leg, -amount), (snapshot.account, amount)
                    else:
                        balance = comet_devnet.collateral_balance(chain.url, chain.comet(snapshot.market),
                                                                  snapshot.account, step.asset, block)
                        assert (balance, debt) == (leg.amount + amount, debt_leg.amount)
                assert (health >= target * 10**18) is reaches, (snapshot.account, step.action, amount, health)
            checked[step.action] += 1
    assert checked["repay"] >= 4 and checked["add"] >= 4, checked

    # where the booking leaves a unit more than `debt − x`, the Comet leaves it too: one such repayment per market
    for market in MARKETS:
        snapshot = next(s for s in picked if s.market == market)
        source = source_for(settings, market)
        assert isinstance(source, CompoundV3Adapter)
        leg = next(g for g in snapshot.legs if g.role is Role.DEBT)
        x = next(x for x in range(1, 10**6) if source.amount_after(snapshot, leg, -x) != leg.amount - x)
        assert source.amount_after(snapshot, leg, -x) == leg.amount - x + 1
        with reverting(chain.url):
            block = _supply(chain, snapshot, read.block.timestamp, leg.asset, x)
            assert comet_devnet.borrow_balance(chain.url, chain.comet(market), snapshot.account,
                                               block) == leg.amount - x + 1

    # the smallest repayment by the generic `debt − x` against the Comet's booking, for every borrower under the
    # target: the same, or the booking's one unit more
    for snapshot in under:
        source = source_for(settings, snapshot.market)
        assert isinstance(source, CompoundV3Adapter)
        exact = [s.amount for s in to_be_safe(source, snapshot, target).steps if s.action == "repay"]
        generic = [s.amount for s in to_be_safe(_Generic(source), snapshot, target).steps if s.action == "repay"]
        assert len(exact) == len(generic) == 1 and exact[0] is not None and generic[0] is not None
        assert exact[0] - generic[0] in (0, 1), (snapshot.account, exact, generic)
    assert len(under) >= 20, len(under)


async def test_a_feed_answering_zero_costs_only_its_positions(chain, tmp_path, db_url):
    """Comet's getPrice reverts on an answer <= 0: positions holding that collateral are unpriced, the others on
    the same market and block are read as usual."""
    settings = load_settings(_config(tmp_path, chain, db_url))
    accounts = [account for account, _ in chain.seeded]
    before = await read_chain(settings, "devnet", accounts)
    wbtc = next(a for a in chain.record["markets"]["cUSDCv3"]["assets"] if a["symbol"] == "WBTC")
    comet_devnet.set_feed_price(chain.url, chain.record, "cUSDCv3", "WBTC", 0)
    after = await read_chain(settings, "devnet", accounts)
    holders = {s.account for s in before.snapshots if s.market == "cUSDCv3" and any(
        leg.asset == wbtc["address"] for leg in s.legs)}
    assert holders and {account for market, account in after.unpriced if market == "cUSDCv3"} == holders
    kept = {(s.market, s.account) for s in after.snapshots}
    assert kept == {(s.market, s.account) for s in before.snapshots} - {("cUSDCv3", a) for a in holders}


async def test_self_check_asks_is_liquidatable_and_agrees(chain, tmp_path, db_url, engine):
    settings = load_settings(_config(tmp_path, chain, db_url, verify=True))
    for account, kind in chain.seeded:
        add_wallet(engine, address=account, label=kind)
    (read,) = await sync_once(settings, engine)
    assert _borrowers(read.snapshots)
    assert dict(read.checks) == {
        market: (sum(1 for s in read.snapshots if s.market == market), 0) for market in MARKETS}
    assert not any("unverified" in s.detail for s in read.snapshots)


async def test_discovery_finds_each_comets_accounts(chain, tmp_path, db_url, engine):
    settings = load_settings(_config(tmp_path, chain, db_url, discover=True))
    read = await read_chain(settings, "devnet", [account for account, _ in chain.seeded])
    async with RpcClient([chain.url]) as rpc:
        head = int(await rpc.call("eth_blockNumber", []), 16)
        found = await discover(settings, engine, chain="devnet", head=head, rpc=rpc)
    assert found.new_accounts >= len({s.account for s in read.snapshots}) > 0
    for market in MARKETS:
        holders = {s.account for s in read.snapshots if s.market == market}
        assert holders and holders <= set(discovered_accounts(engine, chain="devnet", market=market))


HOOK = '\n[channels.hook]\nkind = "webhook"\nbase_url = "http://127.0.0.1:9/hook"\nsecret_env = "HOOK_SECRET"\n'
LOWER_BY = 300  # of liquidateCollateralFactor's four stored decimals (FACTOR_DESCALE units): 0.85 → 0.82


def _asset_word_a(chain: CometChain, market: str, offset: int) -> tuple[int, int]:
    """The storage slot of ``assetWordA[offset]`` in the market's DevComet and the word in it. The word is rebuilt
    from ``getAssetInfo(offset)`` (``_packAsset``: asset | borrowCF << 160 | liquidateCF << 176 | liquidationFactor
    << 192, each factor in FACTOR_DESCALE units); a dynamic array's element ``i`` lives at ``keccak256(p) + i`` for
    its base slot ``p``, so every ``p`` in 0..63 is tried and exactly one must hold that word (``assetWordB``'s
    elements hold the price feed in the low bits, not the asset)."""
    comet = chain.comet(market)
    _, asset, _, _, borrow_cf, liquidate_cf, liquidation_factor, _ = comet_devnet.read_asset_info(
        chain.url, comet, offset)
    descale = comet_devnet.FACTOR_PRECISION
    word = (int(asset, 16) | (borrow_cf // descale) << 160 | (liquidate_cf // descale) << 176
            | (liquidation_factor // descale) << 192)
    slots = [int.from_bytes(keccak(p.to_bytes(32, "big")), "big") + offset for p in range(64)]
    stored = JsonRpcClient(chain.url).batch(("eth_getStorageAt", [comet, hex(slot), "latest"]) for slot in slots)
    found = [slot for slot, value in zip(slots, stored, strict=True) if int(value, 16) == word]
    assert len(found) == 1, found
    return found[0], word


async def test_a_lowered_liquidate_collateral_factor_is_stored_and_alerted_per_position(chain, tmp_path, db_url,
                                                                                      engine, monkeypatch):
    """Dynamic margin against the devnet's Comet: cUSDCv3's liquidateCollateralFactor of wstETH is lowered by 0.03
    under its borrowers; the next sync stores the change for every position on that Comet that holds wstETH and
    owes something, with the old and new factor and the health before and after, and raises one `margin` alert per
    position, delivered through the outbox; positions without it (cWETHv3's wstETH holders among them: another
    Comet) and positions owing nothing get nothing, and a sync without a change adds nothing; a reorg back to the
    first read takes it all away.

    Real Comet changes a factor through governance: Configurator.updateAssetLiquidateCollateralFactor, then a new
    implementation deployed and the proxy upgraded to it. DevComet has no proxy or configurator; rewriting the
    asset's packed word in its ``assetWordA`` storage with ``anvil_setStorageAt`` stands in for that upgrade (the
    word is found by its slot, see ``_asset_word_a``). The block after it is mined at the first sync's timestamp,
    so no interest accrues: the health before the change is then exactly the health stored at the first sync. The
    syncs share their hints, as `indexer run` does: the second read starts from the first read's asset list (the
    old factor) and must see that the Comet's answers no longer match it."""
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    settings = load_settings(_config(tmp_path, chain, db_url, tail=HOOK))
    for account, kind in chain.seeded:
        add_wallet(engine, address=account, label=kind)
    hints: dict[str, dict[str, object]] = {}
    (first,) = await sync_once(settings, engine, hints=hints)
    assert set(hints["devnet"]) == set(MARKETS)
    before = {p.account: p for p in list_positions(engine)}
    assert len(before) == len(first.snapshots)  # each seeded account is on one market only

    market = "cUSDCv3"
    wsteth = next(a for a in chain.record["markets"][market]["assets"] if a["symbol"] == "wstETH")
    old_cf = wsteth["liquidate_collateral_factor"]
    new_cf = old_cf - LOWER_BY * comet_devnet.FACTOR_PRECISION
    assert new_cf > wsteth["borrow_collateral_factor"]  # what _packAsset requires of a configuration

    def holding(p: Any, wanted: int) -> bool:
        return any(g.asset == wsteth["address"] and g.role is Role.COLLATERAL and g.amount > 0
                   and g.terms.get("liquidate_collateral_factor") == wanted
                   for g in position_legs(engine, snapshot_id=p.snapshot_id))

    holders = {account for account, p in before.items()
               if p.market == market and p.health is not None and holding(p, old_cf)}
    assert len(holders) >= 5, len(holders)
    # wstETH positions that must see nothing: owing nothing on this Comet, or on the other Comet (its own factor)
    idle = {account for account, p in before.items() if p.market == market and p.health is None
            and holding(p, old_cf)}
    elsewhere = {account for account, p in before.items() if p.market == "cWETHv3" and p.health is not None
                 and any(g.symbol == "wstETH" for g in position_legs(engine, snapshot_id=p.snapshot_id))}
    assert elsewhere, "no cWETHv3 borrower holds wstETH"

    # the governance upgrade's effect: the same asset word with the lower factor, no time passing
    slot, word = _asset_word_a(chain, market, wsteth["offset"])
    lowered = word & ~(0xFFFF << 176) | (new_cf // comet_devnet.FACTOR_PRECISION) << 176
    rpc = JsonRpcClient(chain.url)
    rpc.call("anvil_setStorageAt", [chain.comet(market), hex(slot), f"0x{lowered:064x}"])
    rpc.call("evm_setNextBlockTimestamp", [first.block.timestamp])
    rpc.call("evm_mine", [])
    info = comet_devnet.read_asset_info(chain.url, chain.comet(market), wsteth["offset"])
    assert info[5] == new_cf and info[4] == wsteth["borrow_collateral_factor"] and info[6] == \
        wsteth["liquidation_factor"]  # only the liquidate collateral factor moved

    (second,) = await sync_once(settings, engine, hints=hints)
    assert second.block.number > first.block.number and second.block.timestamp == first.block.timestamp

    changes = rows(engine, MarginChange, block_number=second.block.number)
    assert {c["account"] for c in changes} == holders and len(changes) == len(holders)
    after = {p.account: p for p in list_positions(engine)}
    for change in changes:
        account = change["account"]
        assert (change["market"], change["parameter"], change["symbol"], change["asset"]) == \
            (market, "liquidate_collateral_factor", "wstETH", wsteth["address"])
        assert (int(change["old_value"]), int(change["new_value"])) == (old_cf, new_cf)
        assert change["health_before"] == before[account].health  # old factor, same prices and amounts
        assert change["health_after"] == after[account].health < change["health_before"]
        # the Comet's own figure from its state after the change (getAssetInfo answers the new factor)
        health, _ = _health_on_chain(chain, market, account, second.block.number)
        assert after[account].health_raw == health, account
        assert holding(after[account], new_cf)
    _verdicts(chain, [s for s in second.snapshots if s.account in holders], second.block.number)
    # everyone else: the same health as before (nothing else moved), no change row
    for account in set(after) - holders:
        assert after[account].health == before[account].health, account
    assert not (idle | elsewhere) & {c["account"] for c in changes}

    alerts = {a["id"]: a for a in rows(engine, Alert, family="margin")}
    assert {a["account"] for a in alerts.values()} == holders and len(alerts) == len(holders)
    assert all(a["status"] == "resolved" and a["opened_block"] == second.block.number and a["market"] == market
               for a in alerts.values())
    assert {c["alert_id"] for c in changes} == set(alerts)
    events = [e for e in rows(engine, AlertEvent, block_number=second.block.number) if e["alert_id"] in alerts]
    assert len(events) == len(holders) and {e["kind"] for e in events} == {"changed"}
    assert {d["event_id"] for d in rows(engine, Delivery, channel="hook")} >= {e["id"] for e in events}
    message = AlertMessage.from_json(json.loads(events[0]["message"]))
    account = message.account
    assert message.family == "margin" and message.detail == \
        f"wstETH liquidate_collateral_factor {old_cf} → {new_cf}"
    assert message.previous_health == format(before[account].health, "f")
    assert message.health == format(after[account].health, "f")
    rendered = text(message)
    assert rendered.startswith("⚙ MARGIN RULES CHANGED")
    assert "the protocol changed wstETH liquidate_collateral_factor" in rendered

    rpc.call("evm_mine", [])
    (third,) = await sync_once(settings, engine, hints=hints)  # nothing changed since: nothing new
    assert third.block.number > second.block.number
    assert len(rows(engine, MarginChange)) == len(holders)
    assert len(rows(engine, Alert, family="margin")) == len(holders)

    # a reorg back to the first block takes the changes, their alerts, events and outbox rows with it
    counts = rollback(engine, chain="devnet", ancestor=first.block.number, level_of=severity_level)
    assert counts["margin_changes"] == len(holders)
    assert rows(engine, MarginChange) == [] and rows(engine, Alert, family="margin") == []
    assert not {e["id"] for e in events} & {d["event_id"] for d in rows(engine, Delivery)}
