"""Which positions a block writes (``indexer.pipeline.changes``): exact change, a relative epsilon, a heartbeat."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.pipeline.changes import WritePolicy
from indexer.types import BlockRef, Health, Leg, PositionSnapshot, Role, closing

ADDRESS = "0x" + "11" * 20


def snapshot(block: int = 10, *, debt: int = 1_000_000, collateral_amount: int = 5 * 10**18, lt: int = 8_250,
             status: str = "FRESH", health: str = "1.20", detail: dict | None = None) -> PositionSnapshot:
    legs = [Leg(asset="0xc", symbol="WETH", decimals=18, role=Role.COLLATERAL, amount=collateral_amount,
                price=2_000 * 10**8, price_decimals=8, price_key="0xc", value=collateral_amount * 2_000 // 10**18,
                terms={"liquidation_threshold": lt, "counted": 1}),
            Leg(asset="0xd", symbol="USDC", decimals=6, role=Role.DEBT, amount=debt, price=10**8, price_decimals=8,
                price_key="0xd", value=debt)]
    h = Decimal(health)
    return PositionSnapshot(
        chain="c", protocol="aave_v3", market="m", market_address=ADDRESS, account=ADDRESS,
        block=BlockRef(number=block, hash=f"0x{block:064x}", timestamp=block * 12, parent_hash="0x"),
        legs=legs, health=Health(raw=int(h * 10**18), decimals=18, health=h, equity=int(h * debt), requirement=debt,
                                 collateral=legs[0].value, debt=debt, quote="USD", quote_unit=10**8),
        price_status=status, detail=detail if detail is not None else {"emode": 0})


def test_without_a_last_write_or_in_mode_all_everything_is_written():
    now = snapshot()
    assert WritePolicy(mode="changed").changed(None, now)
    assert WritePolicy().mode == "changed"
    assert WritePolicy(mode="all").changed(snapshot(9), now)


def test_exact_mode_writes_any_difference_and_only_a_difference():
    policy = WritePolicy(mode="changed")
    last = snapshot(9)
    assert not policy.changed(last, snapshot(10))  # another block, the same figures
    assert policy.changed(last, snapshot(10, debt=1_000_001))  # one unit of interest
    assert policy.changed(last, snapshot(10, status="STALE"))
    assert policy.changed(last, snapshot(10, detail={"emode": 1}))
    assert policy.changed(last, snapshot(10, lt=8_249))
    moved = snapshot(10)
    moved.legs[0] = dataclasses.replace(moved.legs[0], round_id=7)  # a new feed round, same price
    assert policy.changed(last, moved)


def test_epsilon_tolerates_small_moves_of_numbers_but_not_of_anything_else():
    policy = WritePolicy(mode="changed", epsilon=Decimal("0.001"))
    last = snapshot(9)
    assert not policy.changed(last, snapshot(10, debt=1_000_999))  # 0.0999 % of the debt (and of the equity)
    assert not policy.changed(last, snapshot(10, health="1.2009"))  # 0.075 % of the health
    assert policy.changed(last, snapshot(10, health="1.2013"))  # 0.108 %
    assert policy.changed(last, snapshot(10, debt=1_001_001))  # 0.1001 %
    assert not policy.changed(last, snapshot(10, detail={"emode": 1}))  # detail is not compared
    assert policy.changed(last, snapshot(10, lt=8_249), ["liquidation_threshold"])  # a margin parameter: exactly
    assert not policy.changed(last, snapshot(10, lt=8_249))  # a term that is not one: within epsilon
    assert policy.changed(last, snapshot(10, status="STALE"))
    assert policy.changed(snapshot(9, health="1.0005"), snapshot(10, health="0.9995"))  # across the line
    assert policy.changed(last, snapshot(10, collateral_amount=0))


def test_heartbeat_and_closings_are_always_written():
    policy = WritePolicy(mode="changed", epsilon=Decimal("0.01"), heartbeat_blocks=100)
    assert not policy.changed(snapshot(10), snapshot(109))
    assert policy.changed(snapshot(10), snapshot(110))
    gone = closing(chain="c", protocol="aave_v3", market="m", market_address=ADDRESS, account=ADDRESS,
                   block=snapshot(11).block)
    assert policy.changed(snapshot(10), gone)


def test_accrued_writes_a_change_of_inputs_whatever_epsilon_and_else_follows_the_changed_rules():
    policy = WritePolicy(mode="accrued", epsilon=Decimal("0.001"))
    assert policy.states and not WritePolicy(mode="changed").states

    def inputs(s: PositionSnapshot) -> tuple | None:  # what a protocol that accrues compares: its own part
        return None if "stable" in s.detail else (s.detail.get("emode"), s.legs[0].amount)

    last = snapshot(9)
    accrued = snapshot(10, debt=1_000_999)  # interest within epsilon, the inputs unchanged: derived, not written
    assert not policy.changed(last, accrued, (), inputs)
    supplied = snapshot(10, collateral_amount=5 * 10**18 + 1)  # one wei supplied: within epsilon, yet it acted
    assert policy.changed(last, supplied, (), inputs)
    assert not WritePolicy(mode="changed", epsilon=Decimal("0.001")).changed(last, supplied)
    assert policy.changed(last, snapshot(10, debt=1_001_001), (), inputs)  # beyond epsilon: the latest row moves
    assert policy.changed(last, snapshot(10, status="STALE"), (), inputs)
    grown = snapshot(10, detail={"emode": 0, "stable": 1})  # no longer derivable: written
    assert policy.changed(last, grown, (), inputs)
    assert not policy.changed(grown, snapshot(11, detail={"emode": 0, "stable": 1}), (), inputs)  # neither is
    # still underivable: any change is written, however small, since no state advances its row
    assert policy.changed(grown, snapshot(11, debt=1_000_001, detail={"emode": 0, "stable": 1}), (), inputs)
    assert not policy.changed(last, supplied)  # a protocol that does not accrue: the changed rules


@settings(max_examples=300, deadline=None)
@given(moves=st.lists(st.integers(-3, 3), min_size=9, max_size=9), epsilon=st.sampled_from(["0.001", "0.01", "0.5"]),
       exact=st.booleans())
def test_epsilon_is_every_number_within_its_relative_tolerance(moves, epsilon, exact):
    """The tolerance as defined, number by number in exact fractions, against the policy's fast checks: each
    figure of the position (health, values, amounts, prices, numeric terms) moved by a few steps around epsilon."""
    last = snapshot(9)
    step = [Fraction(epsilon) * m / 2 for m in moves]  # a move of -1.5 … +1.5 times epsilon

    def moved(value: int, i: int) -> int:
        return value + int(value * step[i])

    h, (c, d) = last.health, last.legs
    now = dataclasses.replace(last, block=snapshot(10).block, health=dataclasses.replace(
        h, raw=moved(h.raw, 0), equity=moved(h.equity, 1), requirement=moved(h.requirement, 2),
        collateral=moved(h.collateral, 3), debt=moved(h.debt, 4)), legs=[
        dataclasses.replace(c, amount=moved(c.amount, 5), price=moved(c.price, 6),
                            terms={**c.terms, "liquidation_threshold": moved(8_250, 7)}),
        dataclasses.replace(d, value=moved(d.value, 8))])
    pairs = [(h.raw, now.health.raw), (h.equity, now.health.equity), (h.requirement, now.health.requirement),
             (h.collateral, now.health.collateral), (h.debt, now.health.debt), (c.amount, now.legs[0].amount),
             (c.price, now.legs[0].price), (d.value, now.legs[1].value)]
    lt = (8_250, now.legs[0].terms["liquidation_threshold"])
    within = all(abs(Fraction(new - old, old)) <= Fraction(epsilon) for old, new in pairs)
    within = within and (lt[0] == lt[1] if exact else abs(Fraction(lt[1] - lt[0], lt[0])) <= Fraction(epsilon))
    policy = WritePolicy(mode="changed", epsilon=Decimal(epsilon))
    assert policy.changed(last, now, ["liquidation_threshold"] if exact else ()) is not within
