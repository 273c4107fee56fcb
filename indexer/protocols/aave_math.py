"""The Aave family's account math (GenericLogic.calculateUserAccountData), exact, in its two roundings:
shared by Aave v2, Aave v3 and its forks (v2's ``calculateUserAccountData`` is v3.0's without eMode:
@aave/protocol-v2 1.0.1 ``contracts/protocol/libraries/logic/GenericLogic.sol``).

Input is per-asset token amounts (already index-adjusted the protocol's way, see
:mod:`indexer.protocols.aave_v3.revisions`), effective prices and effective LT/LTV (eMode applied). Output
equals ``Pool.getUserAccountData`` to the last unit.

``precise=False`` is v3.0–v3.4: every value floored, ``HF = wadDiv(percentMul(C, avgLT), D)``, borrowing
power ``percentMul(C, avgLTV)`` (half-up). ``precise=True`` is v3.5+: debt values rounded up, the health factor
taken from the unaveraged sum ``Σ C_i·LT_i`` and borrowing power floored (aave-v3-origin v3.5.0
``src/contracts/protocol/libraries/logic/GenericLogic.sol``, ``calculateUserAccountData``).

Two entry points share one formula: ``account_data`` (the six figures) and ``healthy_at_price`` (one
price moved, the question "is health ≥ 1?" asked many times, as the liquidation-price search does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from indexer.health.liquidation import crossing_price, secant_estimate
from indexer.types import UINT256_MAX, Health, Leg, LiquidationPoint, PositionSnapshot, PriceKey, Role, scaled

log = logging.getLogger(__name__)

# WadRayMath and PercentageMath, bit for bit (half-up); Python ints do not overflow, so the Solidity guards
# become no-ops and the results are the same whenever the Solidity call would not revert.
WAD = 10**18
RAY = 10**27
PERCENTAGE_FACTOR = 10_000


def ray_mul(a: int, b: int) -> int:
    return (a * b + RAY // 2) // RAY


def ray_div(a: int, b: int) -> int:
    return (a * RAY + b // 2) // b


def wad_div(a: int, b: int) -> int:
    return (a * WAD + b // 2) // b


def percent_mul(value: int, percentage: int) -> int:
    return (value * percentage + PERCENTAGE_FACTOR // 2) // PERCENTAGE_FACTOR


def percent_div(value: int, percentage: int) -> int:
    return (value * PERCENTAGE_FACTOR + percentage // 2) // percentage


_HALF_PERCENT = PERCENTAGE_FACTOR // 2


@dataclass(frozen=True, slots=True)
class AaveAssetInput:
    amount_collateral: int  # token units; counted only when ``is_collateral`` and LT != 0
    amount_debt: int  # token units; counted only when ``is_borrowing``
    price: int  # base-currency units per whole token
    unit: int  # 10**decimals
    ltv: int  # bps, effective
    liquidation_threshold: int  # bps, effective
    is_collateral: bool
    is_borrowing: bool

    def row(self) -> tuple[int, int, int, int, int, int]:
        """The asset as ``account_totals`` takes it: amounts not counted by the protocol are zero."""
        counted = self.is_collateral and self.liquidation_threshold != 0
        return (self.amount_collateral if counted else 0, self.amount_debt if self.is_borrowing else 0,
                self.price, self.unit, self.ltv, self.liquidation_threshold)


@dataclass(frozen=True, slots=True)
class AaveAccountData:
    total_collateral_base: int
    total_debt_base: int
    available_borrows_base: int
    current_liquidation_threshold: int
    ltv: int
    health_factor: int


def health_factor(total_collateral: int, avg_lt: int, total_debt: int) -> int:
    """``wadDiv(percentMul(collateral, avgLT), debt)``, half-up both; ``total_debt`` must be non-zero (v3.0–v3.4)."""
    return ((total_collateral * avg_lt + _HALF_PERCENT) // PERCENTAGE_FACTOR * WAD + total_debt // 2) // total_debt


def precise_health_factor(sum_lt: int, total_debt: int) -> int:
    """v3.5+: ``wadDiv(Σ C_i·LT_i, debt) / 10⁴`` — the LT sum before it is averaged, the division by 10⁴ last
    and truncating; ``total_debt`` must be non-zero."""
    return (sum_lt * WAD + total_debt // 2) // total_debt // PERCENTAGE_FACTOR


def account_totals(rows: Iterable[tuple[int, int, int, int, int, int]],
                   precise: bool = False) -> tuple[int, int, int, int, int, int]:
    """``getUserAccountData``'s six figures (collateral, debt, available borrows, avg LT, avg LTV, HF) from
    rows ``(counted collateral amount, counted debt amount, price, unit, ltv, lt)``. Plain tuples in and
    out: this is the inner loop of every refresh and what-if."""
    total_c = total_d = sum_ltv = sum_lt = 0
    for collateral, debt, price, unit, ltv, lt in rows:
        if collateral:
            c = collateral * price // unit
            total_c += c
            sum_ltv += c * ltv
            sum_lt += c * lt
        if debt:
            total_d += -(-debt * price // unit) if precise else debt * price // unit
    if total_c:
        avg_ltv, avg_lt = sum_ltv // total_c, sum_lt // total_c
    else:
        avg_ltv = avg_lt = 0
    if precise:
        hf = precise_health_factor(sum_lt, total_d) if total_d else UINT256_MAX
        max_borrow = total_c * avg_ltv // PERCENTAGE_FACTOR
    else:
        hf = health_factor(total_c, avg_lt, total_d) if total_d else UINT256_MAX
        max_borrow = (total_c * avg_ltv + _HALF_PERCENT) // PERCENTAGE_FACTOR
    return total_c, total_d, max_borrow - total_d if max_borrow >= total_d else 0, avg_lt, avg_ltv, hf


def account_data(assets: Iterable[AaveAssetInput], precise: bool = False) -> AaveAccountData:
    return AaveAccountData(*account_totals((a.row() for a in assets), precise))


def healthy_at_price(rows: Sequence[tuple[int, int, int, int, int, int]],
                     moved: Sequence[bool], precise: bool = False) -> Callable[[int], bool]:
    """A test ``price → HF ≥ 1`` (not liquidatable) where the ``account_totals`` rows flagged in ``moved`` take
    ``price`` and the others keep theirs: ``health_factor_at_price``'s figure against 1."""
    return _not_liquidatable(health_factor_at_price(rows, moved, precise))


def _not_liquidatable(factor: Callable[[int], int]) -> Callable[[int], bool]:
    def healthy(price: int) -> bool:
        return factor(price) >= WAD

    return healthy


def _sums(rows: Iterable[tuple[int, int, int, int, int, int]], precise: bool) -> tuple[int, int, int]:
    """The collateral, LT-weighted collateral and debt (base currency) of ``account_totals`` rows, summed once for
    the rows a what-if holds fixed."""
    total_c = sum_lt = total_d = 0
    for collateral, debt, price, unit, _, lt in rows:
        if collateral:
            c = collateral * price // unit
            total_c += c
            sum_lt += c * lt
        if debt:
            total_d += -(-debt * price // unit) if precise else debt * price // unit
    return total_c, sum_lt, total_d


def health_factor_at_price(rows: Sequence[tuple[int, int, int, int, int, int]],
                           moved: Sequence[bool], precise: bool = False) -> Callable[[int], int]:
    """``price → HF`` (WAD; ``UINT256_MAX`` with nothing owed) where the ``account_totals`` rows flagged in ``moved``
    take ``price`` and the others keep theirs. The fixed assets' sums are added up once, so each figure is a handful
    of integer operations; it is what ``account_data`` would say, to the unit."""
    fixed_c, fixed_lt, fixed_d = _sums((row for row, moves in zip(rows, moved, strict=True) if not moves), precise)
    moving = [(collateral, debt, unit, lt) for (collateral, debt, _, unit, _, lt), moves in
              zip(rows, moved, strict=True) if moves]

    def factor(price: int) -> int:
        total_c, sum_lt, total_d = fixed_c, fixed_lt, fixed_d
        for collateral, debt, unit, lt in moving:
            if collateral:
                c = collateral * price // unit
                total_c += c
                sum_lt += c * lt
            if debt:
                total_d += -(-debt * price // unit) if precise else debt * price // unit
        if not total_d:
            return UINT256_MAX
        if precise:
            return precise_health_factor(sum_lt, total_d)
        return health_factor(total_c, sum_lt // total_c if total_c else 0, total_d)

    return factor


def health_at_amount(rows: Sequence[tuple[int, int, int, int, int, int]], index: int, *, collateral: bool,
                     counted: bool = True, precise: bool = False) -> Callable[[int], Decimal | None]:
    """``amount → health`` (None: nothing owed) where the ``account_totals`` row ``index`` (a ``collateral`` one,
    ``counted`` or not, else a debt) holds that amount and the others stay: the other rows' sums are added up once,
    so each figure is a handful of integer operations; it is ``account_totals``'s health factor, to the unit."""
    fixed_c, fixed_lt, fixed_d = _sums((row for i, row in enumerate(rows) if i != index), precise)
    _, _, price, unit, _, lt = rows[index]

    def health(amount: int) -> Decimal | None:
        total_c, sum_lt, total_d = fixed_c, fixed_lt, fixed_d
        if collateral:
            c = amount * price // unit if counted else 0
            total_c += c
            sum_lt += c * lt
        else:
            total_d += -(-amount * price // unit) if precise else amount * price // unit
        if not total_d:
            return None
        if precise:
            return scaled(precise_health_factor(sum_lt, total_d), 18)
        return scaled(health_factor(total_c, sum_lt // total_c if total_c else 0, total_d), 18)

    return health


def amount_reaching(rows: Sequence[tuple[int, int, int, int, int, int]], index: int, target: int, *,
                    collateral: bool, counted: bool = True, precise: bool = False) -> int | None:
    """The amount the ``account_totals`` row ``index`` (a ``collateral`` one, else a debt) must hold for the health
    factor to reach ``target`` (WAD), the others held: the smallest such collateral, the largest such debt. None
    where no amount of it does (a collateral not counted, nothing else owed; a debt the rest cannot carry).

    Exact in the value the row adds (the health factor is solved for in base currency, then stepped to the unit
    with the protocol's own figure), so the amount is the smallest (largest) one worth that value; what-it-takes
    starts its search here and checks it, since a balance the protocol books may round by a unit."""
    fixed_c, fixed_lt, fixed_d = _sums((row for i, row in enumerate(rows) if i != index), precise)
    _, _, price, unit, _, lt = rows[index]
    if not price:
        return None

    def factor(total_c: int, sum_lt: int, total_d: int) -> int:
        if not total_d:
            return UINT256_MAX
        if precise:
            return precise_health_factor(sum_lt, total_d)
        return health_factor(total_c, sum_lt // total_c if total_c else 0, total_d)

    if collateral:
        if not counted or not lt or not fixed_d:
            return None
        # Σ C·LT · WAD / (10⁴ · D) ≥ target, continuously: the value this row adds, then the protocol's roundings
        value = _first_from(lambda c: factor(fixed_c + c, fixed_lt + c * lt, fixed_d) >= target,
                            max(0, -(-(target * fixed_d * PERCENTAGE_FACTOR // WAD - fixed_lt) // lt)))
        return -(-value * unit // price)  # the smallest amount worth ``value``
    numerator = fixed_lt if precise else risk_adjusted(fixed_c, fixed_lt // fixed_c if fixed_c else 0)
    if factor(fixed_c, fixed_lt, fixed_d) < target:
        return None  # the rest alone is below the target: no repayment of this debt reaches it
    # the largest debt value carried: ``_first_from`` on "too much", one below it
    scale = WAD if precise else WAD * PERCENTAGE_FACTOR
    value = _first_from(lambda d: factor(fixed_c, fixed_lt, fixed_d + d) < target,
                        max(1, numerator * scale // (target * PERCENTAGE_FACTOR) - fixed_d)) - 1
    # the largest amount worth at most ``value``: rounded up from v3.5 on, down before
    return value * unit // price if precise else ((value + 1) * unit - 1) // price


def _first_from(test: Callable[[int], bool], start: int) -> int:
    """The smallest ``x ≥ 0`` with ``test(x)`` (``test`` monotone, true somewhere), searched outward from ``start``
    (1, 2, 4, … units away until the verdict changes, then a bisection): a few tests where the roundings (the
    truncated average LT: a basis point of the value with two collaterals of different LTs) move the continuous
    solution."""
    step = 1
    if test(start):
        low, high = start, start  # high passes
        while low > 0:
            low = max(start - step, 0)
            if not test(low):
                break
            high, step = low, step * 2
        else:
            return 0
    else:
        low = start  # fails
        while True:
            high = start + step
            if test(high):
                break
            low, step = high, step * 2
    while high - low > 1:  # low fails, high passes
        mid = (low + high) // 2
        if test(mid):
            high = mid
        else:
            low = mid
    return high


def risk_adjusted(total_collateral: int, avg_lt: int, precise: bool = False) -> int:
    """``percentMul(collateral, avgLT)`` (v3.5+: floored): the numerator of the health factor, in base currency."""
    if precise:
        return total_collateral * avg_lt // PERCENTAGE_FACTOR
    return (total_collateral * avg_lt + _HALF_PERCENT) // PERCENTAGE_FACTOR


@dataclass(frozen=True, slots=True)
class Crossing:
    """A price of ``numerator / denominator`` base units per whole token, kept as integers (a search starts from
    its floor, and a ``Fraction`` costs a gcd)."""

    numerator: int
    denominator: int  # > 0
    falling: bool  # True: the position liquidates as this price falls; False: as it rises

    @property
    def price(self) -> Fraction:
        return Fraction(self.numerator, self.denominator)

    @property
    def start(self) -> Fraction | int:
        """The price as ``crossing_price`` takes it: its floor where that is at least 1 (``int`` of the price,
        which is all the search uses), else the price itself."""
        floor = self.numerator // self.denominator
        return floor if floor > 0 else self.price


def linear_estimate(rows: Sequence[tuple[int, int, int, int, int, int]], moved: Sequence[bool]) -> Crossing | None:
    """The continuous solution of ``Σ C_i·LT_i = 10⁴·Σ D_i`` for the price shared by the ``moved`` rows
    (``account_totals`` rows), the rest held fixed; a bracket for the exact crossing, which the protocol's
    truncations move by a few units. None when that price alone cannot bring health to 1."""
    rest_lt = rest_debt = 0
    common = max((unit for (*_, unit, _, _), moves in zip(rows, moved, strict=True) if moves), default=1)
    slope = 0  # Σ (C·LT − 10⁴·D) / unit over the moved rows, times ``common`` (a multiple of every unit: powers of 10)
    for (collateral, debt, price, unit, _, lt), moves in zip(rows, moved, strict=True):
        if moves:
            slope += (collateral * lt - PERCENTAGE_FACTOR * debt) * (common // unit)
        else:
            rest_lt += collateral * price // unit * lt
            rest_debt += debt * price // unit
    gap = PERCENTAGE_FACTOR * rest_debt - rest_lt  # health ≥ 1  ⇔  price · slope ≥ gap
    if slope == 0 or (slope > 0) != (gap > 0):
        return None
    return Crossing(gap * common, slope, True) if slope > 0 else Crossing(-gap * common, -slope, False)


# -- a position's legs, as both Aave adapters keep them ---------------------------------------------------------
# A collateral leg carries ``terms`` {"liquidation_threshold", "ltv"} and, from the v3.6 rules on, "counted"
# (whether the protocol counts it: ≤ v3.5 and v2 iff LT ≠ 0); a debt leg carries its amount owed.
Row = tuple[int, int, int, int, int, int]
UNITS = tuple(10**n for n in range(78))  # 10**decimals, looked up rather than raised per leg


def scaled_by_reserve(legs: Iterable[Leg], reserve_ids: Mapping[str, int]) -> dict[int, dict[str, int]] | None:
    """Legs' scaled balances (``terms["scaled"]``) by reserve id as a read assembles them (``collateral``,
    ``variable``): what an Aave market's state at another block advances (``Accrues.advance``). None when a leg's
    asset is no reserve of that state."""
    amounts: dict[int, dict[str, int]] = {}
    for leg in legs:
        rid = reserve_ids.get(leg.asset)
        if rid is None:
            return None
        amounts.setdefault(rid, {})["collateral" if leg.role is Role.COLLATERAL else "variable"] = leg.terms["scaled"]
    return amounts


def counted(leg: Leg) -> bool:
    """Whether the protocol counts this collateral leg in the account figures."""
    return bool(leg.terms.get("counted", leg.terms.get("liquidation_threshold", 0) != 0))


def leg_rows(legs: Sequence[Leg], prices: Mapping[PriceKey, int] | None = None) -> list[Row]:
    """``account_totals`` rows, one per leg, at ``prices`` (key → price) where given: amounts the protocol does
    not count are zero."""
    rows: list[Row] = []
    for leg in legs:
        price = prices.get(leg.price_key, leg.price) if prices else leg.price
        if leg.role is Role.COLLATERAL:
            rows.append((leg.amount if counted(leg) else 0, 0, price, UNITS[leg.decimals], leg.terms["ltv"],
                         leg.terms["liquidation_threshold"]))
        else:
            rows.append((0, leg.amount, price, UNITS[leg.decimals], 0, 0))
    return rows


def health_of(collateral: int, debt: int, avg_lt: int, hf: int, *, quote: str, quote_unit: int,
              precise: bool = False) -> Health:
    """The neutral health record of ``getUserAccountData``'s figures (HF in WAD; equity = the HF's numerator)."""
    return Health(raw=hf, decimals=18, health=None if hf == UINT256_MAX else scaled(hf, 18),
                  equity=risk_adjusted(collateral, avg_lt, precise), requirement=debt, collateral=collateral,
                  debt=debt, quote=quote, quote_unit=quote_unit)


def keep_protocol_figures(snapshot: PositionSnapshot, onchain: Sequence[int], *, precise: bool = False) -> bool:
    """The self-check: the snapshot's figures against the pool's own ``getUserAccountData`` at the same block.
    On a disagreement the protocol's figures are what is kept (a local figure known to be wrong is never stored
    as truth), with both in ``detail.self_check``; returns whether they agreed."""
    h, detail = snapshot.health, snapshot.detail
    local = (h.collateral, h.debt, detail["available_borrows"], detail["liquidation_threshold"], detail["ltv"], h.raw)
    if local == tuple(onchain):
        return True
    log.error("self-check: local figures differ from getUserAccountData market=%s account=%s block=%d "
              "local=%s protocol=%s", snapshot.market, snapshot.account, snapshot.block.number, local, tuple(onchain))
    collateral, debt, available, lt, ltv, hf = onchain
    snapshot.health = health_of(collateral, debt, lt, hf, quote=h.quote, quote_unit=h.quote_unit, precise=precise)
    detail.update(liquidation_threshold=lt, ltv=ltv, available_borrows=available,
                  self_check={"local": [str(v) for v in local], "protocol": [str(v) for v in onchain]})
    return False


def liquidation_points(legs: Sequence[Leg], keys: Iterable[PriceKey], *,
                       precise: bool = False) -> dict[PriceKey, LiquidationPoint]:
    """Per price key, the last price (quote units per whole token) at which HF ≥ 1 with every leg of that key
    at it and the others held fixed, and the direction it liquidates in."""
    rows = leg_rows(legs)
    points: dict[PriceKey, LiquidationPoint] = {}
    for key in sorted(keys):
        moved = [leg.price_key == key for leg in legs]
        estimate = linear_estimate(rows, moved)
        if estimate is None:
            continue
        factor = health_factor_at_price(rows, moved, precise)
        # the linear estimate ignores the truncated average LT (one basis point is ~1e-4 of the price with two
        # collaterals of different LTs): a secant step on the protocol's own figure starts the search units away
        start = secant_estimate(factor, estimate.start, WAD, UINT256_MAX)
        price = crossing_price(_not_liquidatable(factor), start, falling=estimate.falling)
        if price is not None:
            points[key] = LiquidationPoint(price, estimate.falling)
    return points
