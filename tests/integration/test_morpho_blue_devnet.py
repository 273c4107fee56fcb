"""Morpho Blue on the devnet: the real contract's accrual and health checks agree with the Python rules, exactly.

One anvil per module: Morpho Blue 1.0.0 deployed with four markets (different LLTVs and token decimals,
two with a fee), 120 seeded positions, then five days pass. Each test runs inside an evm snapshot.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_utils.crypto import keccak

from indexer.devnet import Anvil, advance_time
from indexer.devnet.jsonrpc import JsonRpcClient
from indexer.protocols.morpho_blue import rules
from indexer.protocols.morpho_blue.devnet import (
    KINDS,
    MarketState,
    MorphoDeployment,
    MorphoSeeded,
    PositionState,
    accrue_interest,
    compile_morpho_blue,
    deploy_morpho_blue,
    liquidation_succeeds,
    read_borrow_rate,
    read_debts,
    read_market,
    read_markets,
    read_position,
    read_positions,
    read_prices,
    seed_morpho_positions,
    set_oracle_price,
)
from tests.fixtures.devnet import reverting

SEEDED = 120
ELAPSED = 5 * 86_400


@dataclass
class MorphoNet:
    url: str
    deployment: MorphoDeployment
    seeded: list[MorphoSeeded]
    timings: dict[str, float]


@pytest.fixture(scope="module")
def morpho_net() -> Iterator[MorphoNet]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    compile_morpho_blue()
    timings["compile"] = time.perf_counter() - started
    with Anvil() as node:
        started = time.perf_counter()
        deployment = deploy_morpho_blue(node.url)
        timings["deploy"] = time.perf_counter() - started
        started = time.perf_counter()
        seeded = seed_morpho_positions(node.url, deployment, SEEDED)
        timings["seed"] = time.perf_counter() - started
        advance_time(node.url, ELAPSED)
        yield MorphoNet(node.url, deployment, seeded, timings)


@pytest.fixture
def net(morpho_net: MorphoNet) -> Iterator[MorphoNet]:
    with reverting(morpho_net.url):
        yield morpho_net


def _block_time(url: str, block: int | str = "latest") -> int:
    tag = hex(block) if isinstance(block, int) else block
    return int(JsonRpcClient(url).call("eth_getBlockByNumber", [tag, False])["timestamp"], 16)


def _healthy(position: PositionState, market: MarketState, price: int, lltv: int) -> bool:
    return rules.is_healthy(
        collateral=position.collateral, borrow_shares=position.borrow_shares,
        total_borrow_assets=market.total_borrow_assets, total_borrow_shares=market.total_borrow_shares,
        price=price, lltv=lltv,
    )  # fmt: skip


def _balances(state: MarketState) -> rules.MarketBalances:
    return rules.MarketBalances(
        state.total_supply_assets, state.total_supply_shares, state.total_borrow_assets, state.total_borrow_shares
    )


def _expected(state: MarketState, rate: int, now: int) -> rules.MarketBalances:
    return rules.expected_market_balances(
        total_supply_assets=state.total_supply_assets, total_supply_shares=state.total_supply_shares,
        total_borrow_assets=state.total_borrow_assets, total_borrow_shares=state.total_borrow_shares,
        last_update=state.last_update, fee=state.fee, borrow_rate_per_second=rate, now=now,
    )  # fmt: skip


def test_deployment_and_seeding(morpho_net):
    d, url = morpho_net.deployment, morpho_net.url
    print(f"\nMorpho Blue devnet timings: {morpho_net.timings}")
    assert morpho_net.timings["deploy"] + morpho_net.timings["seed"] < 15
    assert len(d.markets) >= 3 and len({m.lltv for m in d.markets}) == len(d.markets)
    assert {(m.loan_decimals, m.collateral_decimals) for m in d.markets} >= {(6, 18), (18, 8), (18, 18)}
    assert MorphoDeployment.from_dict(d.to_dict()) == d
    for m in d.markets:  # the id is keccak256(abi.encode(MarketParams)): five words
        encoded = b"".join(bytes.fromhex(a[2:].lower().rjust(64, "0")) for a in m.params[:4])
        assert m.id == "0x" + keccak(encoded + m.lltv.to_bytes(32, "big")).hex()
    assert read_prices(url, d, [m.id for m in d.markets]) == [m.initial_price for m in d.markets]

    seeded = morpho_net.seeded
    assert len(seeded) == SEEDED and len({p.account for p in seeded}) == SEEDED
    per_market = collections.Counter(p.market_id for p in seeded)
    assert set(per_market) == {m.id for m in d.markets} and min(per_market.values()) >= 25
    assert {p.kind for p in seeded} == set(KINDS)
    positions = read_positions(url, d, [(p.market_id, p.account) for p in seeded])
    for p, pos in zip(seeded, positions, strict=True):
        assert pos.collateral == p.collateral and pos.supply_shares == 0
        assert (pos.borrow_shares > 0) == (p.kind not in ("collateral_only", "repaid")), p
    lender = read_positions(url, d, [(m.id, d.lender) for m in d.markets])
    fees = read_positions(url, d, [(m.id, d.fee_recipient) for m in d.markets])
    states = read_markets(url, d, [m.id for m in d.markets])
    for m, pos, fee, state in zip(d.markets, lender, fees, states, strict=True):
        # the lender holds every supply share but the fee recipient's (fee shares appear when a second passes
        # between seeding's blocks and a market with a fee accrues)
        assert pos.supply_shares + fee.supply_shares == state.total_supply_shares
        assert fee.supply_shares == 0 or m.fee > 0
        assert state.fee == m.fee and 0 < state.total_borrow_assets < state.total_supply_assets


def test_accrued_debt_is_predicted_exactly(net):
    d, url = net.deployment, net.url
    ids = [m.id for m in d.markets]
    before = read_markets(url, d, ids)
    rates = [read_borrow_rate(url, d, mid) for mid in ids]
    fee_shares_before = read_positions(url, d, [(mid, d.fee_recipient) for mid in ids])
    assert all(r > 0 for r in rates)

    block = accrue_interest(url, d)  # every market, in one block
    now = _block_time(url, block)
    assert now - before[0].last_update >= ELAPSED
    after = read_markets(url, d, ids, block=block)
    fee_shares_after = read_positions(url, d, [(mid, d.fee_recipient) for mid in ids], block=block)
    for m, pre, rate, post, fee_pre, fee_post in zip(
        d.markets, before, rates, after, fee_shares_before, fee_shares_after, strict=True
    ):
        predicted = _expected(pre, rate, now)
        assert predicted == _balances(post), m.label
        assert post.last_update == now
        assert predicted.total_borrow_assets > pre.total_borrow_assets  # interest did accrue
        # the fee recipient's shares are exactly the new supply shares (and there are some when there is a fee)
        assert fee_post.supply_shares - fee_pre.supply_shares == predicted.total_supply_shares - pre.total_supply_shares
        assert (predicted.total_supply_shares > pre.total_supply_shares) == (m.fee > 0)

    # each position's debt: predicted from the pre-accrual state, and what Morpho's repay() would take for all
    # its shares, asked at the accrual block (so nothing more accrues inside the call)
    predicted_totals = {m.id: _expected(pre, r, now) for m, pre, r in zip(d.markets, before, rates, strict=True)}
    keys = [(p.market_id, p.account) for p in net.seeded]
    positions = read_positions(url, d, keys, block=block)
    debts = read_debts(url, d, keys, block=block)
    for p, pos, debt in zip(net.seeded, positions, debts, strict=True):
        expected = predicted_totals[p.market_id]
        assert rules.borrowed_assets(pos.borrow_shares, expected.total_borrow_assets, expected.total_borrow_shares) == (
            debt
        ), p
        if p.kind in ("collateral_only", "repaid"):
            assert pos.borrow_shares == 0 and debt == 0
        else:
            assert debt > p.borrowed  # five days of interest


def test_debt_before_accrual_is_predicted_exactly(net):
    """Nothing accrued on chain yet: repay() accrues inside the eth_call, up to the head block's timestamp."""
    d, url = net.deployment, net.url
    ids = [m.id for m in d.markets]
    now = _block_time(url)
    predicted = {
        mid: _expected(state, read_borrow_rate(url, d, mid), now)
        for mid, state in zip(ids, read_markets(url, d, ids), strict=True)
    }
    keys = [(p.market_id, p.account) for p in net.seeded]
    for (mid, _), pos, debt in zip(keys, read_positions(url, d, keys), read_debts(url, d, keys), strict=True):
        totals = predicted[mid]
        assert rules.borrowed_assets(pos.borrow_shares, totals.total_borrow_assets, totals.total_borrow_shares) == debt


def test_health_agrees_with_liquidation(net):
    """Before accrual the rules must predict the interest liquidate() accrues inside the call; after, not."""
    d, url = net.deployment, net.url
    ids = [m.id for m in d.markets]
    lltv = {m.id: m.lltv for m in d.markets}
    prices = dict(zip(ids, read_prices(url, d, ids), strict=True))
    now = _block_time(url)
    stored = dict(zip(ids, read_markets(url, d, ids), strict=True))
    predicted = {mid: _expected(stored[mid], read_borrow_rate(url, d, mid), now) for mid in ids}
    keys = [(p.market_id, p.account) for p in net.seeded]

    def check(totals: dict[str, MarketState] | dict[str, rules.MarketBalances]) -> collections.Counter[str]:
        verdicts: collections.Counter[str] = collections.Counter()
        for p, pos in zip(net.seeded, read_positions(url, d, keys), strict=True):
            t = totals[p.market_id]
            healthy = rules.is_healthy(
                collateral=pos.collateral, borrow_shares=pos.borrow_shares, total_borrow_assets=t.total_borrow_assets,
                total_borrow_shares=t.total_borrow_shares, price=prices[p.market_id], lltv=lltv[p.market_id],
            )  # fmt: skip
            assert liquidation_succeeds(url, d, p.market_id, p.account) == (not healthy), (p, pos)
            verdicts[f"{p.kind} {'healthy' if healthy else 'liquidatable'}"] += 1
        return verdicts

    before_accrual = check(predicted)
    accrue_interest(url, d)
    after_accrual = check(dict(zip(ids, read_markets(url, d, ids), strict=True)))
    assert before_accrual == after_accrual
    assert after_accrual["near_max liquidatable"] > 0 and after_accrual["near_max healthy"] > 0
    assert after_accrual["low healthy"] > 0 and after_accrual["low liquidatable"] == 0
    assert after_accrual["collateral_only healthy"] + after_accrual["repaid healthy"] == sum(
        1 for p in net.seeded if p.kind in ("collateral_only", "repaid")
    )


def test_liquidation_price_is_the_exact_boundary_on_chain(net):
    d, url = net.deployment, net.url
    accrue_interest(url, d)  # the stored totals are now the ones liquidate() uses: no time passes below
    checked = 0
    for m in d.markets:
        state = read_market(url, d, m.id)
        borrowers = [p for p in net.seeded if p.market_id == m.id and p.kind not in ("collateral_only", "repaid")]
        smallest = min(borrowers, key=lambda p: p.collateral)
        largest = max(borrowers, key=lambda p: p.collateral)
        for p in {smallest, largest, *borrowers[:3]}:
            pos = read_position(url, d, m.id, p.account)
            borrowed = rules.borrowed_assets(pos.borrow_shares, state.total_borrow_assets, state.total_borrow_shares)
            price = rules.liquidation_price(pos.collateral, borrowed, m.lltv)
            assert price is not None
            set_oracle_price(url, d, m.id, price, mine=False)
            assert _healthy(pos, state, price, m.lltv)
            assert not liquidation_succeeds(url, d, m.id, p.account), (m.label, p)
            set_oracle_price(url, d, m.id, price - 1, mine=False)
            assert not _healthy(pos, state, price - 1, m.lltv)
            assert liquidation_succeeds(url, d, m.id, p.account), (m.label, p)
            checked += 1
        assert read_market(url, d, m.id) == state  # no block was mined: nothing accrued
    assert checked >= 3 * len(d.markets)


def test_set_oracle_price_by_transaction(net):
    d, url = net.deployment, net.url
    m = d.markets[0]
    head = int(JsonRpcClient(url).call("eth_blockNumber"), 16)
    set_oracle_price(url, d, m.id, m.initial_price // 2)
    assert read_prices(url, d, [m.id]) == [m.initial_price // 2]
    assert int(JsonRpcClient(url).call("eth_blockNumber"), 16) == head + 1
