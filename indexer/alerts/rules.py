"""Alert rules: pure functions of (previous rule state, new observation). No I/O, no clock.

Health family: OK → WARN → CRITICAL → LIQUIDATABLE, each level entered when health falls *below* its
``enter`` level and left when health rises to its ``leave`` level or above (hysteresis), optionally only
after the new level has held for ``hold_blocks`` blocks. A figure computed on an untrusted price
(anything but FRESH) may escalate an alert but never de-escalates or resolves one.
Oracle family: a position with debt whose prices are STALE, SEQUENCER_DOWN or INVALID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from enum import IntEnum
from fractions import Fraction


class HealthLevel(IntEnum):
    OK = 0
    WARN = 1
    CRITICAL = 2
    LIQUIDATABLE = 3


class OracleLevel(IntEnum):
    OK = 0
    STALE = 1
    SEQUENCER_DOWN = 2
    INVALID = 3


FAMILIES = {"health": HealthLevel, "oracle": OracleLevel}


@dataclass(frozen=True, slots=True)
class Band:
    enter: Decimal  # enter the level when health < enter
    leave: Decimal  # leave it when health >= leave (leave >= enter)


@dataclass(frozen=True, slots=True)
class Thresholds:
    warn: Band
    critical: Band
    liquidatable: Band
    hold_blocks: int = 0

    def band(self, level: HealthLevel) -> Band:
        return (self.warn, self.critical, self.liquidatable)[level - 1]


@dataclass(frozen=True, slots=True)
class RuleState:
    """Where one (chain, market, account, family) stands: its level, and a level waiting to be held."""

    level: int = 0
    pending: int | None = None
    pending_since: int | None = None  # block number where ``pending`` was first seen


@dataclass(frozen=True, slots=True)
class Transition:
    kind: str  # opened | escalated | deescalated | resolved
    previous: int
    level: int


def health_level(health: Decimal | None, current: HealthLevel, t: Thresholds) -> HealthLevel:
    """The level ``health`` calls for, coming from ``current`` (the hysteresis needs to know)."""
    if health is None:  # no debt: nothing at risk
        return HealthLevel.OK
    bands = (t.warn, t.critical, t.liquidatable)
    # the highest level whose enter line the health is below (checked from the top: the bands need not be ordered)
    up = next((level for level in (3, 2, 1) if health < bands[level - 1].enter), 0)
    level = int(current)
    while level > 0 and health >= bands[level - 1].leave:
        level -= 1
    return _LEVELS[max(level, up)]


_LEVELS = tuple(HealthLevel)  # by value: 0 … 3


def steady_band(level: int, t: Thresholds) -> tuple[Decimal | None, Decimal | None]:
    """The healths ``[low, high)`` at which ``health_level`` keeps ``level`` (None: unbounded that way); no health
    at all (nothing owed) keeps OK only. For any bands, ordered or not: the level holds while the health is at or
    above every enter line of the levels above it, and (above OK) below its own leave or enter line, whichever is
    higher — below the leave line nothing lowers it, below its own enter line it is called for again."""
    bands = (t.warn, t.critical, t.liquidatable)
    above = [bands[k - 1].enter for k in range(level + 1, 4)]
    low = max(above) if above else None
    high = None if level == 0 else max(bands[level - 1].leave, bands[level - 1].enter)
    return low, high


def in_band(health: Decimal | None, band: tuple[Decimal | None, Decimal | None]) -> bool:
    """Whether ``health`` lies in a ``steady_band``."""
    low, high = band
    if health is None:
        return high is None
    return (low is None or health >= low) and (high is None or health < high)


def within_band(band: tuple[Decimal | None, Decimal | None], epsilon: Fraction) -> Callable[[Decimal | None], bool]:
    """A test of a health ``h``: whether every health within ``epsilon`` of it (``|h' − h| ≤ epsilon·h``) lies in
    ``band`` (a ``steady_band``); no health (nothing owed) as ``in_band``. Exact: the band's lines divided by
    ``1 ∓ epsilon`` once, rounded outwards, then plain comparisons. A negative health fails it (cautious)."""
    low, high = band
    with localcontext() as context:
        context.prec = 60
        context.rounding = ROUND_CEILING
        if low is None:
            least: Decimal | None = None
        elif epsilon >= 1:
            return lambda health: health is None and high is None
        else:  # h·(1 − ε) ≥ low  ⟸  h ≥ ⌈low / (1 − ε)⌉
            ratio = Fraction(low) / (1 - epsilon)
            least = Decimal(ratio.numerator) / Decimal(ratio.denominator)
        if high is None:
            below: Decimal | None = None
        else:  # h·(1 + ε) < high  ⟸  h < ⌊high / (1 + ε)⌋
            context.rounding = ROUND_FLOOR
            ratio = Fraction(high) / (1 + epsilon)
            below = Decimal(ratio.numerator) / Decimal(ratio.denominator)

    def holds(health: Decimal | None) -> bool:
        if health is None:
            return high is None
        return health >= 0 and (least is None or health >= least) and (below is None or health < below)
    return holds


def oracle_level(price_status: str, has_debt: bool) -> OracleLevel:
    if not has_debt or price_status not in OracleLevel.__members__:
        return OracleLevel.OK
    return OracleLevel[price_status]


def step(state: RuleState, target: int, *, block: int, hold_blocks: int,
         trusted: bool) -> tuple[RuleState, Transition | None]:
    """Move ``state`` toward ``target`` at ``block``; return the new state and the transition, if any.

    With ``hold_blocks`` = N a new level takes effect once it has been called for at blocks b and b + N
    (and every pass between); a different level in between starts the count again."""
    if target < state.level and not trusted:
        return RuleState(state.level), None  # an untrusted price never lowers an alert
    if target == state.level:
        return RuleState(state.level), None
    if hold_blocks > 0:
        since = state.pending_since if state.pending == target and state.pending_since is not None else block
        if block - since < hold_blocks:
            return RuleState(state.level, target, since), None
    kind = ("opened" if state.level == 0 else "resolved" if target == 0
            else "escalated" if target > state.level else "deescalated")
    return RuleState(target), Transition(kind, state.level, target)


def severity_level(family: str, severity: str) -> int:
    """The level of a family's severity by name (``FAMILIES``), e.g. ("health", "CRITICAL") → 2."""
    return int(FAMILIES[family][severity])


def evaluate_health(state: RuleState, health: Decimal | None, *, block: int, price_status: str,
                    t: Thresholds) -> tuple[RuleState, Transition | None]:
    target = health_level(health, HealthLevel(state.level), t)
    return step(state, target, block=block, hold_blocks=t.hold_blocks, trusted=price_status == "FRESH")


def evaluate_oracle(state: RuleState, price_status: str, has_debt: bool, *, block: int,
                    hold_blocks: int = 0) -> tuple[RuleState, Transition | None]:
    return step(state, oracle_level(price_status, has_debt), block=block, hold_blocks=hold_blocks, trusted=True)
