"""What it takes to be safe (``indexer.risk.safety``) on a small protocol of its own: health = collateral × 0.8 /
debt, in whole units, and a minimum debt below which a repayment is refused (as Liquity v1 refuses one leaving less
than 2,000 LUSD)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import cast

from hypothesis import given
from hypothesis import strategies as st

from indexer.protocols.base import PositionRules
from indexer.risk.safety import _first_true, _first_true_from, to_be_safe
from indexer.types import BlockRef, Health, Leg, PositionSnapshot, PriceKey, Role

TARGET = Decimal("1.5")


class Lending:
    """health = collateral * 8 / (debt * 10), floored to 18 places; ``minimum``: the least debt a repayment may
    leave (0: any), and ``repay_all``: whether repaying everything is taken all the same (a dust rule) or refused
    too (Liquity v1, where only closing the trove does that)."""

    def __init__(self, minimum: int = 0, *, repay_all: bool = False) -> None:
        self.minimum, self.repay_all = minimum, repay_all

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        coll = next(g.amount for g in snapshot.legs if g.role is Role.COLLATERAL)
        debt = next(g.amount for g in snapshot.legs if g.role is Role.DEBT)
        raw = coll * 8 * 10**18 // (debt * 10) if debt else 2**256 - 1
        return Health(raw=raw, decimals=18, health=Decimal(raw).scaleb(-18) if debt else None, equity=coll * 8 // 10,
                      requirement=debt, collateral=coll, debt=debt, quote="USD", quote_unit=1)

    def amount_after(self, snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        if leg.role is Role.DEBT and change <= 0:
            left = leg.amount + change
            if left < 0 or left < self.minimum and not (left == 0 and self.repay_all):
                return None
            return left
        if leg.role is Role.COLLATERAL and change >= 0:
            return leg.amount + change
        return None


def position(coll: int, debt: int) -> PositionSnapshot:
    legs = [Leg(asset="0xc", symbol="ETH", decimals=0, role=Role.COLLATERAL, amount=coll, price=1, price_decimals=0,
                price_key="0xc", value=coll),
            Leg(asset="0xd", symbol="USD", decimals=0, role=Role.DEBT, amount=debt, price=1, price_decimals=0,
                price_key="0xd", value=debt)]
    snapshot = PositionSnapshot(chain="c", protocol="p", market="m", market_address="0x" + "00" * 20,
                                account="0x" + "11" * 20, block=BlockRef(number=1, hash="0x1", timestamp=1,
                                                                          parent_hash="0x0"),
                                legs=legs, health=Health(raw=0, decimals=18, health=None, equity=0, requirement=0,
                                                         collateral=0, debt=0, quote="USD", quote_unit=1))
    snapshot.health = Lending().health_at(snapshot, {})
    return snapshot


def steps(rules: Lending, snapshot: PositionSnapshot) -> dict[str, tuple[int | None, Decimal | None, bool]]:
    plan = to_be_safe(cast(PositionRules, rules), snapshot, TARGET)
    return {s.action: (s.amount, s.health_after, s.exact) for s in plan.steps}


def test_the_smallest_repayment_and_deposit_reach_the_target_and_one_less_does_not():
    snapshot = position(coll=10_000, debt=6_000)  # health 1.333…
    found = steps(Lending(), snapshot)
    # 8,000 / (6,000 - x) >= 1.5  ⇔  x >= 666.67: 667; 0.8 × (10,000 + y) / 6,000 >= 1.5  ⇔  y >= 1,250
    assert found["repay"][:1] == (667,) and found["add"][:1] == (1_250,)
    assert all(exact for _, _, exact in found.values())
    assert position(10_000, 6_000 - 667).health.health >= TARGET > position(10_000, 6_000 - 666).health.health


def test_a_refused_repayment_is_never_offered():
    snapshot = position(coll=10_000, debt=6_000)
    # a repayment may leave no less than 5,400: the largest one (600) gives 8,000 / 5,400 = 1.48, short of 1.5
    refused = steps(Lending(minimum=5_400), snapshot)
    assert refused["repay"][0] is None and refused["repay"][2]
    assert refused["repay"][1] == position(10_000, 5_400).health.health < TARGET  # the health the most one can do
    assert refused["add"][0] == 1_250  # the deposit is still the way out
    # with a lower minimum the same repayment is allowed, and offered
    assert steps(Lending(minimum=5_000), snapshot)["repay"][0] == 667
    # where repaying everything is taken though the amounts between are not, that is the answer
    assert steps(Lending(minimum=5_400, repay_all=True), snapshot)["repay"][:2] == (6_000, None)


def test_nothing_to_do_when_the_position_is_there_already():
    assert to_be_safe(cast(PositionRules, Lending()), position(coll=10_000, debt=5_000), TARGET).steps == []


@given(st.integers(1, 10**30), st.integers(0, 10**30), st.one_of(st.none(), st.integers(-10**31, 10**31)))
def test_the_search_from_an_estimate_finds_what_the_bisection_finds(high, answer, guess):
    """Any estimate (off by any amount, outside the range, none) gives the same smallest amount as the plain
    bisection: the estimate only decides where the search starts."""
    answer = min(answer, high)
    asked: list[int] = []

    def test(x: int) -> bool:
        asked.append(x)
        return x >= answer

    assert _first_true_from(test, 1, high, guess) == _first_true(test, 1, high) == max(answer, 1)
    assert all(1 <= x <= high for x in asked)
