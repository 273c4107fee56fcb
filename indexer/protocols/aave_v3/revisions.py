"""Which account rules a Pool follows, by its ``POOL_REVISION()``.

Aave's Pool reports its code revision; the rules that decide ``getUserAccountData``'s six figures changed at
a few of them. Each rule below was read in the published sources (docs/aave-revisions.md lists the files:
npm @aave/core-v3 1.19.3 and @aave-dao/aave-v3-origin 3.6.0, aave-v3-origin ``GenericLogic.sol`` /
``ValidationLogic.sol`` / ``PoolInstance.sol`` at the v3.1–v3.5 commits, the v3.2 build artifacts, and the
v3.7 design notes ``docs/3.7/*``):

==========  =========  ===========================================================================
revision    release    what changed for health
==========  =========  ===========================================================================
1–3         v3.0.x     stable debt counted; eMode category in reserve configuration bits 168–175,
                       with an optional eMode price source (for collateral and debt alike)
4           v3.1       as v3.0 for the account figures; per-reserve liquidation grace period
5           v3.2       stable debt gone from the loop; eMode membership from the category's collateral
                       bitmap with its own LT/LTV/bonus, no eMode price source
7           v3.3       as v3.2, but a reserve without virtual accounting (config bit 252 = 0: GHO) is
                       valued with its variable debt token's ``balanceOf``; v3.3 close factor, deficit
8           v3.4       as v3.2 (the GHO branch gone again)
9           v3.5       collateral ``rayMulFloor``, debt ``rayMulCeil`` valued rounding up, health factor
                       ``wadDiv(Σ C_i·LT_i, D) / 10⁴``, borrowing power ``percentMulFloor``
10          v3.6       as v3.5, and collateral with LT 0 counts in the total (weight 0); inside eMode the
                       reserve's own LT/LTV no longer matter, the category's ltvzero bitmap sets LTV 0
11          v3.7       as v3.6, and an ``isolated`` category gives LTV 0 to collateral outside it; the
                       PriceOracleSentinel check on liquidations is gone
==========  =========  ===========================================================================

A revision the table does not know is not refused: the market is read with the nearest known rules, every
account is also read through the Pool's own ``getUserAccountData`` (whose figures are the ones kept), and
every position says its local math is ``unverified``. A fork that numbers its revisions its own way (Spark)
names its rules with the market option ``rules``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from indexer.protocols.aave_math import RAY, ray_mul


@dataclass(frozen=True, slots=True)
class Rules:
    name: str  # the release whose rules these are, e.g. "v3.2"
    stable_debt: bool = False  # the stable debt token's balance is part of the debt (v3.0–v3.1)
    emode_bitmaps: bool = True  # eMode membership from the category's collateral bitmap (v3.2+), else config bits
    gho_balance_of: bool = False  # v3.3: a reserve without virtual accounting is valued with vToken.balanceOf
    precise: bool = False  # v3.5+ rounding: collateral floored, debt ceiled, HF from the LT sum, floored percentMul
    lt_gate: bool = True  # collateral counts only with LT ≠ 0, in the figures and in a liquidation (≤ v3.5)
    ltvzero: bool = False  # v3.6+: in eMode the category decides LT/LTV alone, its ltvzero bitmap can zero an LTV
    isolated_emode: bool = False  # v3.7: an isolated category zeroes the LTV of collateral outside it
    grace_period: bool = True  # per-reserve liquidation grace period (v3.1+)
    close_factor_v33: bool = False  # v3.3+: 100 % unless both sides ≥ 2000 base units; leftovers ≥ 1000
    sentinel: bool = True  # the PriceOracleSentinel can hold liquidations while HF ≥ 0.95 (≤ v3.6)


V30 = Rules("v3.0", stable_debt=True, emode_bitmaps=False, grace_period=False)
V31 = replace(V30, name="v3.1", grace_period=True)
V32 = Rules("v3.2")
V33 = replace(V32, name="v3.3", gho_balance_of=True, close_factor_v33=True)
V34 = replace(V32, name="v3.4", close_factor_v33=True)
V35 = replace(V34, name="v3.5", precise=True)
V36 = replace(V35, name="v3.6", lt_gate=False, ltvzero=True)
V37 = replace(V36, name="v3.7", isolated_emode=True, sentinel=False)

BY_REVISION: dict[int, Rules] = {1: V30, 2: V30, 3: V30, 4: V31, 5: V32, 7: V33, 8: V34, 9: V35, 10: V36, 11: V37}
BY_NAME: dict[str, Rules] = {r.name: r for r in BY_REVISION.values()}


@dataclass(frozen=True, slots=True)
class Applied:
    rules: Rules
    verified: bool  # the revision (or the market's ``rules`` option) names these rules; else the nearest known
    why: str  # one phrase for the log line and the positions' detail


def rules_for(revision: int, named: str | None = None) -> Applied:
    """The rules of a Pool reporting ``revision``; ``named`` (the market's ``rules`` option) wins."""
    if named is not None:
        return Applied(BY_NAME[named], True, f"{named} rules named by the market's `rules` option")
    known = BY_REVISION.get(revision)
    if known is not None:
        return Applied(known, True, f"{known.name} rules (Pool revision {revision})")
    below = [r for r in BY_REVISION if r < revision]
    nearest = BY_REVISION[max(below)] if below else V30
    return Applied(nearest, False, f"Pool revision {revision} unknown; figures are getUserAccountData's, "
                                   f"what-ifs use {nearest.name} rules")


def collateral_balance(rules: Rules, scaled: int, index: int) -> int:
    """The aToken balance the account figures use: ``rayMul`` half-up (≤ v3.4), ``rayMulFloor`` (v3.5+,
    ``TokenMath.getATokenBalance``)."""
    return scaled * index // RAY if rules.precise else ray_mul(scaled, index)


def debt_balance(rules: Rules, scaled: int, index: int, stable: int = 0) -> int:
    """The variable debt (plus, v3.0–v3.1, the stable debt token's balance): ``rayMul`` half-up (≤ v3.4),
    ``rayMulCeil`` (v3.5+, ``TokenMath.getVTokenBalance``)."""
    if rules.precise:
        return -(-scaled * index // RAY)
    return (ray_mul(scaled, index) if scaled else 0) + (stable if rules.stable_debt else 0)


def debt_value(rules: Rules, amount: int, price: int, unit: int) -> int:
    """A debt in base currency: floored (≤ v3.4), rounded up (v3.5+, ``MathUtils.mulDivCeil``)."""
    return -(-amount * price // unit) if rules.precise else amount * price // unit


def collateral_terms(rules: Rules, *, ltv: int, lt: int, category: tuple[int, int] | None = None,
                     ltv_zeroed: bool = False, isolated_outside: bool = False) -> tuple[int, int, bool]:
    """(LTV, LT, counted) of a collateral reserve with its own ``ltv``/``lt``; ``category`` is the user's eMode
    category's (LTV, LT) when the reserve is collateral in it, ``ltv_zeroed`` its ltvzero bit (v3.6+),
    ``isolated_outside`` that the user's category is isolated and the reserve is not in it (v3.7).

    ≤ v3.5 (GenericLogic): the reserve counts only with its own LT ≠ 0; its LTV adds only when its own LTV ≠ 0,
    in eMode too, where the category's figures replace it. v3.6+ (``ValidationLogic.getUserReserveLtv``): it
    counts with LT 0 (weight 0), and in eMode the category alone decides."""
    if category is not None and rules.ltvzero:
        return (0 if ltv_zeroed else category[0]), category[1], True
    if category is not None:
        ltv, lt = (category[0] if ltv else 0), (category[1] if lt else 0)
    elif rules.isolated_emode and isolated_outside:
        ltv = 0
    return ltv, lt, bool(lt) or not rules.lt_gate


# LiquidationLogic constants (aave-v3-core 1.19.3 and aave-v3-origin v3.3+ `LiquidationLogic.sol`)
CLOSE_FACTOR_HF_THRESHOLD = 95 * 10**16
DEFAULT_CLOSE_FACTOR = 5_000
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2_000 * 10**8  # base units; assumes a USD base with 8 decimals


def max_debt_to_cover(rules: Rules, *, hf: int, reserve_debt: int, reserve_debt_base: int,
                      reserve_collateral_base: int, total_debt_base: int, debt_price: int, debt_unit: int) -> int:
    """The most of one debt reserve (token units) one liquidation may repay, as ``executeLiquidationCall`` caps it.

    ≤ v3.2: ``percentMul(reserve debt, HF > 0.95 ? 50 % : 100 %)``. v3.3+: the whole reserve debt, unless the
    pair's collateral and debt are both worth ≥ 2000 base units and HF > 0.95; then, if the reserve debt is
    more than half the total debt, half the total debt (``percentMul(total, 50 %)``) in the debt asset's units
    (truncated)."""
    if not rules.close_factor_v33:
        close_factor = DEFAULT_CLOSE_FACTOR if hf > CLOSE_FACTOR_HF_THRESHOLD else 10_000
        return (reserve_debt * close_factor + 5_000) // 10_000
    if (reserve_collateral_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
            and reserve_debt_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD and hf > CLOSE_FACTOR_HF_THRESHOLD):
        half = (total_debt_base * DEFAULT_CLOSE_FACTOR + 5_000) // 10_000
        if reserve_debt_base > half:
            return half * debt_unit // debt_price
    return reserve_debt


def collateral_seized(rules: Rules, *, debt_to_cover: int, debt_price: int, debt_unit: int, collateral_price: int,
                      collateral_unit: int, bonus: int, balance: int) -> int:
    """The collateral (token units) a liquidation repaying ``debt_to_cover`` takes from the position, protocol
    fee included (``_calculateAvailableCollateralToLiquidate``): the debt's value in the collateral plus the
    liquidation bonus (``bonus`` in bps including 100 %, e.g. 10500), at most the balance. v3.7 floors the bonus
    (``percentMulFloor``, its design notes), earlier releases round it half up."""
    base = debt_price * debt_to_cover * collateral_unit // (collateral_price * debt_unit)
    most = base * bonus // 10_000 if rules.isolated_emode else (base * bonus + 5_000) // 10_000
    return min(most, balance)
