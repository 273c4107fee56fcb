"""What it takes to be safe: the smallest amount of each debt to repay, or of each collateral to add, that brings a
position's health to a target (``[risk] target_health``, 1.5 by default, or the wallet's WARN leave level).

Each amount is found by bisection on integer token units with the protocol's own math: the leg's amount after the
change (``BalanceRounding.amount_after`` where the protocol rounds scaled balances, else ``amount ± x``) and the
health the protocol would compute from it (``health_at``, the same integers and rounding as a read). So the amount
reaches the target and one unit less does not — at the position's block, its prices and its index. Where the
protocol refuses some repayments (``amount_after`` None), only amounts it takes are offered: above some amount
(Liquity's minimum debt) only the smaller ones are searched, and when none of them reaches the target no amount is
offered for that leg; between smaller ones and repaying everything (a dust rule), the answer is the next amount it
takes; a deposit too small for the protocol (GMX's opening factor) gives way to the smallest one it takes.

Where the margin is no leg (``MarginDeposit``: a perp venue's cash, Hyperliquid's cross account value or an isolated
position's margin), the smallest deposit of the margin asset is found the same way on the health the protocol would
report after it (``with_margin``); as for a collateral, a deposit that no amount makes reach the target is not offered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from indexer.protocols.base import (
    AmountHealth,
    AmountReaching,
    BalanceRounding,
    DepositAsset,
    MarginDeposit,
    PositionRules,
)
from indexer.types import Leg, PositionSnapshot, Role, scaled

_MAX_ADD = 2**200  # an amount past any token's supply: no deposit of this size reaches the target


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyStep:
    """Repay ``amount`` of a debt (``action = "repay"``) or add it to a collateral (``"add"``), in the token's
    units (``decimals`` places), to reach the target on its own; ``health_after`` is the health it gives.
    ``asset`` is the leg's; ``symbol`` and ``decimals`` what the amount is paid in — the leg's own, or (``into``:
    the leg's symbol) the asset a vault takes for its shares (``DepositAsset``).
    ``amount`` None: no amount of this leg alone reaches the target (repaying all of it falls short; a
    collateral the protocol does not count). ``exact``: the protocol's balance rounding was applied (a margin
    deposit, ``MarginDeposit``, is always booked as the protocol books it)."""

    action: str
    asset: str
    symbol: str
    decimals: int
    amount: int | None
    health_after: Decimal | None
    exact: bool
    into: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "asset": self.asset, "symbol": self.symbol, "into": self.into,
                "amount": None if self.amount is None else str(scaled(self.amount, self.decimals)),
                "amount_raw": None if self.amount is None else str(self.amount),
                "health_after": None if self.health_after is None else str(self.health_after),
                "exact": self.exact}


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyPlan:
    """The ways to bring one position to ``target``: ``steps`` (each on its own, none needed when the position
    is there already); ``unmodelled``: legs whose amount the protocol's local math does not take (its health is
    read whole from the protocol), so no amount is offered for them."""

    target: Decimal
    steps: list[SafetyStep]
    unmodelled: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"target": str(self.target), "steps": [s.as_json() for s in self.steps],
                "unmodelled": self.unmodelled}


def to_be_safe(rules: PositionRules, snapshot: PositionSnapshot, target: Decimal) -> SafetyPlan:
    """Per debt leg the smallest repayment, per collateral leg the smallest deposit, that alone brings health to at
    least ``target``, and the smallest deposit to a margin that is no leg (``MarginDeposit``); no step when it is
    there already, or owes nothing."""
    health = snapshot.health.health
    plan = SafetyPlan(target=target, steps=[], unmodelled=[])
    if health is None or health >= target:
        return plan
    for index, leg in enumerate(snapshot.legs):
        if leg.role is Role.DEBT and leg.amount > 0:
            step = _smallest(rules, snapshot, index, target, repay=True)
        elif leg.role is Role.COLLATERAL:
            step = _smallest(rules, snapshot, index, target, repay=False)
            depositing = cast(DepositAsset, rules) if DepositAsset in _has(rules) else None
            paid = None if depositing is None else depositing.deposit_asset(snapshot, leg)
            if step is not None and paid is not None:  # a vault's shares: the deposit is paid in its asset
                step = dataclasses.replace(step, symbol=paid.symbol, decimals=paid.decimals, into=leg.symbol)
        else:
            continue
        if step is None:
            plan.unmodelled.append(leg.symbol)
        elif step.amount is not None or step.action == "repay":  # a deposit that cannot help is no way out
            plan.steps.append(step)
    if MarginDeposit in _has(rules):
        deposit = _margin_deposit(cast(MarginDeposit, rules), snapshot, target)
        if deposit is not None and deposit.amount is not None:  # as for a collateral: no way out, no step
            plan.steps.append(deposit)
    return plan


def _margin_deposit(rules: MarginDeposit, snapshot: PositionSnapshot, target: Decimal) -> SafetyStep | None:
    """The smallest deposit to the position's margin reaching ``target`` (amount None when none does); None when the
    position takes no deposit outside its legs."""
    margin = rules.margin_asset(snapshot)
    if margin is None:
        return None

    def health_with(x: int) -> Decimal | None:
        return rules.with_margin(snapshot, x).health.health

    def safe(x: int) -> bool:
        h = health_with(x)
        return h is None or h >= target

    high = 1
    while not safe(high) and high < _MAX_ADD:
        high *= 2
    amount = _first_true(safe, 1, high) if safe(high) else None
    return SafetyStep(action="add", asset=margin.asset, symbol=margin.symbol, decimals=margin.decimals, amount=amount,
                      health_after=health_with(high if amount is None else amount), exact=True)


def _smallest(rules: PositionRules, snapshot: PositionSnapshot, index: int, target: Decimal, *,
              repay: bool) -> SafetyStep | None:
    """The step for one leg; None when the leg's amount does not enter the protocol's local math."""
    leg = snapshot.legs[index]
    rounding = cast(BalanceRounding, rules) if BalanceRounding in _has(rules) else None
    # exact where the protocol books the change itself; a deposit is probed large too, as small ones may be refused
    exact = rounding is not None and any(rounding.amount_after(snapshot, leg, change) is not None
                                         for change in ((-1,) if repay else (1, _MAX_ADD)))

    booked: dict[int, int | None] = {}  # x → the balance the protocol books after changing it by x (None: refused)

    def book(x: int) -> int | None:
        if x not in booked:
            booked[x] = None if rounding is None else rounding.amount_after(snapshot, leg, -x if repay else x)
        return booked[x]

    def amount_after(x: int) -> int:
        if exact:
            after = book(x)
            if after is not None:
                return after
        return max(leg.amount - x, 0) if repay else leg.amount + x

    def accepted(x: int) -> bool:
        """Where the protocol books changes exactly, whether it books this one: a repayment it refuses (Liquity's
        minimum debt) is None there, and is no way out, whatever the health it would give."""
        return not exact or book(x) is not None

    seen: dict[int, Decimal | None] = {}
    amounts = cast(AmountHealth, rules) if AmountHealth in _has(rules) else None
    at_amount = None if amounts is None else amounts.health_at_amount(snapshot, index)

    def health_with(x: int) -> Decimal | None:
        if x not in seen:
            if at_amount is not None:
                seen[x] = at_amount(amount_after(x))
            else:
                legs = list(snapshot.legs)
                legs[index] = dataclasses.replace(leg, amount=amount_after(x))
                seen[x] = rules.health_at(dataclasses.replace(snapshot, legs=legs), {}).health
        return seen[x]

    def safe(x: int) -> bool:
        h = health_with(x)
        return h is None or h >= target

    now = health_with(0)
    high = leg.amount if repay else max(leg.amount, 1)
    if repay and not accepted(high):  # repayments above some amount are refused: the largest one taken is the most
        if not accepted(1):
            return _step(leg, repay, None, now, exact)
        high = _last_true(accepted, 1, high)
    if repay and health_with(high) == now:
        return None  # repaying all of it changes nothing the local math sees: the protocol keeps that figure
    if not repay:
        if health_with(high) == now:
            return _step(leg, repay, None, now, exact)  # not counted (LT 0), or not in the local math
        while not (safe(high) and accepted(high)) and high < _MAX_ADD:
            high *= 2
    if not safe(high) or not accepted(high):
        return _step(leg, repay, None, health_with(high), exact)
    amount = _first_true_from(safe, 1, high, _guess(rules, snapshot, index, target, repay=repay)
                              or _estimate(health_with, now, high, target, repay=repay))
    if not accepted(amount):  # the next amount the protocol takes: after a refused middle (a dust rule), or above
        amount = _first_true(accepted, amount, high)  # the smallest deposit it takes (GMX's opening factor)
    return _step(leg, repay, amount, health_with(amount), exact)


def _guess(rules: PositionRules, snapshot: PositionSnapshot, index: int, target: Decimal, *, repay: bool
           ) -> int | None:
    """Where the rules say the leg's amount reaches ``target`` (``AmountReaching``), as the step's amount; None
    where they do not say (the interpolation is the start then)."""
    if AmountReaching not in _has(rules):
        return None
    held = cast(AmountReaching, rules).amount_reaching(snapshot, index, target)
    if held is None:
        return None
    change = snapshot.legs[index].amount - held if repay else held - snapshot.legs[index].amount
    return change if change > 0 else None


def _estimate(health_with: Callable[[int], Decimal | None], now: Decimal | None, high: int, target: Decimal, *,
              repay: bool) -> int | None:
    """Where the search for the smallest amount starts (it is exact from anywhere): the health is near-linear in a
    deposit, and its inverse in a repayment (equity over a debt that shrinks), so the amount that reaches ``target``
    is interpolated from the health now and at ``high`` (or half of it, where repaying ``high`` leaves nothing
    owed); None where the figures say nothing (flat, nothing owed)."""
    probe = high
    there = health_with(probe)
    if there is None and high > 1:
        probe = high // 2
        there = health_with(probe)
    if now is None or there is None or there == now or now <= 0 or there <= 0:
        return None
    if repay:  # 1/h falls linearly with the repayment
        start, end, goal = 1 / now, 1 / there, 1 / target
    else:
        start, end, goal = now, there, target
    if start == end:
        return None
    return int((goal - start) / (end - start) * probe)


_CAPABILITIES: dict[type, frozenset[type]] = {}


def _has(rules: PositionRules) -> frozenset[type]:
    """The optional capabilities (``BalanceRounding``, ``AmountHealth``, …) of the rules' class, asked once per
    class: a runtime-checkable Protocol's ``isinstance`` walks the protocol's members on every call, and alert
    messages ask per leg of every plan."""
    cls = type(rules)
    if cls not in _CAPABILITIES:
        _CAPABILITIES[cls] = frozenset(p for p in (AmountHealth, AmountReaching, BalanceRounding, DepositAsset,
                                                    MarginDeposit)
                                       if isinstance(rules, p))
    return _CAPABILITIES[cls]


def _first_true_from(test: Callable[[int], bool], low: int, high: int, guess: int | None) -> int:
    """``_first_true``, searched outward from ``guess`` (1, 2, 4, … away until the verdict changes, then a bisection
    between the last two): about ``2·log2(k)`` tests for a guess ``k`` off, rather than ``log2(high − low)``."""
    if guess is None:
        return _first_true(test, low, high)
    guess = min(max(guess, low), high)
    step = 1
    if test(guess):
        found = guess  # the smallest passing amount seen
        while True:
            probe = guess - step
            if probe < low:
                return _first_true(test, low, found)
            if not test(probe):
                return _first_true(test, probe + 1, found)
            found, step = probe, step * 2
    failed = guess  # the largest failing amount seen
    while True:
        probe = guess + step
        if probe >= high:
            return _first_true(test, failed + 1, high)
        if test(probe):
            return _first_true(test, failed + 1, probe)
        failed, step = probe, step * 2


def _first_true(test: Callable[[int], bool], low: int, high: int) -> int:
    """The smallest ``x`` in ``[low, high]`` with ``test(x)``, given ``test(high)`` and ``test`` monotone."""
    while low < high:
        mid = (low + high) // 2
        if test(mid):
            high = mid
        else:
            low = mid + 1
    return low


def _last_true(test: Callable[[int], bool], low: int, high: int) -> int:
    """The largest ``x`` in ``[low, high]`` with ``test(x)``, given ``test(low)`` and ``test`` true up to a point."""
    while low < high:
        mid = (low + high + 1) // 2
        if test(mid):
            low = mid
        else:
            high = mid - 1
    return low


def _step(leg: Leg, repay: bool, amount: int | None, health: Decimal | None, exact: bool) -> SafetyStep:
    return SafetyStep(action="repay" if repay else "add", asset=leg.asset, symbol=leg.symbol, decimals=leg.decimals,
                      amount=amount, health_after=health, exact=exact)
