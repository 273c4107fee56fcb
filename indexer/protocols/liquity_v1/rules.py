"""Liquity v1's trove arithmetic in exact integers, as the deployed contracts compute it.

Every value is a uint256 held in a plain int; each function names the Solidity it mirrors. Paths are under
``packages/contracts/contracts/`` of liquity/dev (the v1.0 sources deployed on Ethereum mainnet):
``TroveManager.sol``, ``BorrowerOperations.sol``, ``PriceFeed.sol``, ``Dependencies/LiquityBase.sol`` and
``Dependencies/LiquityMath.sol``. Solidity's ``/`` on uints floors, as ``//`` does here.

A trove's liquidation verdict is the one ``TroveManager.liquidate(borrower)`` reaches: that function runs
``batchLiquidateTroves([borrower])``, which asks ``PriceFeed.fetchPrice()`` for the price, takes the
Stability Pool's deposits, decides recovery mode from the TCR *before* anything is liquidated, and
reverts "nothing to liquidate" unless the trove passes the test of that mode (see ``liquidatable``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

log = logging.getLogger(__name__)

# Dependencies/LiquityMath.sol
DECIMAL_PRECISION = 10**18
NICR_PRECISION = 10**20
UINT256_MAX = 2**256 - 1
# Dependencies/LiquityBase.sol
ONE_HUNDRED_PCT = 10**18  # _100pct
MCR = 11 * 10**17  # 110 %: minimum collateral ratio of a trove
CCR = 15 * 10**17  # 150 %: the system is in recovery mode while TCR < CCR
LUSD_GAS_COMPENSATION = 200 * 10**18
MIN_NET_DEBT = 1_800 * 10**18
PERCENT_DIVISOR = 200  # _getCollGasCompensation: 0.5 % of the collateral
BORROWING_FEE_FLOOR = 5 * 10**15  # 0.5 %
# PriceFeed.sol
TARGET_DIGITS = 18
TIMEOUT = 14_400  # seconds after which PriceFeed calls a Chainlink answer frozen
MAX_PRICE_DEVIATION_FROM_PREVIOUS_ROUND = 5 * 10**17  # 50 %


class PriceFeedStatus(IntEnum):
    """PriceFeed.sol ``enum Status`` (``status()`` answers its index)."""

    chainlinkWorking = 0  # noqa: N815 - Liquity's names
    usingTellorChainlinkUntrusted = 1  # noqa: N815
    bothOraclesUntrusted = 2  # noqa: N815
    usingTellorChainlinkFrozen = 3  # noqa: N815
    usingChainlinkTellorUntrusted = 4  # noqa: N815


class TroveStatus(IntEnum):
    """TroveManager.sol ``enum Status`` (the fourth field of ``Troves(address)``)."""

    nonExistent = 0  # noqa: N815
    active = 1
    closedByOwner = 2  # noqa: N815
    closedByLiquidation = 3  # noqa: N815
    closedByRedemption = 4  # noqa: N815


# --- Dependencies/LiquityMath.sol


def compute_cr(coll: int, debt: int, price: int) -> int:
    """LiquityMath._computeCR: ``coll * price / debt`` floored (1e18 = 100 %); 2**256 - 1 without debt."""
    if debt > 0:
        return coll * price // debt
    return UINT256_MAX


def compute_nominal_cr(coll: int, debt: int) -> int:
    """LiquityMath._computeNominalCR: ``coll * 1e20 / debt`` floored; 2**256 - 1 without debt."""
    if debt > 0:
        return coll * NICR_PRECISION // debt
    return UINT256_MAX


def min_price_for_cr(coll: int, debt: int, ratio: int) -> int:
    """The smallest price at which ``compute_cr(coll, debt, price) >= ratio``: floor(c * p / d) >= r holds
    exactly when c * p >= r * d, so p = ceil(r * d / c). ``coll`` and ``debt`` must be positive."""
    return -(-ratio * debt // coll)


# --- TroveManager.sol: pending rewards from redistributions


def pending_reward(stake: int, sum_now: int, snapshot: int, status: int = TroveStatus.active) -> int:
    """TroveManager.getPendingETHReward / getPendingLUSDDebtReward: ``stake * (L - snapshot) / 1e18`` floored,
    0 when nothing was redistributed since the snapshot or the trove is not active. ``sum_now`` is ``L_ETH``
    (or ``L_LUSDDebt``), ``snapshot`` the trove's ``rewardSnapshots`` entry."""
    per_unit_staked = sum_now - snapshot
    if per_unit_staked < 0:
        raise ArithmeticError(f"reward snapshot {snapshot} above the running sum {sum_now} (SafeMath reverts)")
    if per_unit_staked == 0 or status != TroveStatus.active:
        return 0
    return stake * per_unit_staked // DECIMAL_PRECISION


class EntireTrove(NamedTuple):
    """TroveManager.getEntireDebtAndColl's answer: (debt, coll, pendingLUSDDebtReward, pendingETHReward)."""

    debt: int
    coll: int
    pending_debt: int
    pending_coll: int


def entire_debt_and_coll(*, debt: int, coll: int, stake: int, status: int, l_eth: int, l_lusd_debt: int,
                         snapshot_eth: int, snapshot_lusd_debt: int) -> EntireTrove:
    """TroveManager.getEntireDebtAndColl: the stored debt and coll plus the pending redistribution rewards;
    what getCurrentICR, the liquidation functions and the health here count."""
    pending_debt = pending_reward(stake, l_lusd_debt, snapshot_lusd_debt, status)
    pending_coll = pending_reward(stake, l_eth, snapshot_eth, status)
    return EntireTrove(debt + pending_debt, coll + pending_coll, pending_debt, pending_coll)


# --- BorrowerOperations.sol: what an adjustment books


def debt_after_repayment(entire_debt: int, repayment: int) -> int | None:
    """A trove's entire debt after ``repayLUSD(repayment)`` (or ``adjustTrove`` with a debt decrease and nothing
    else), None when BorrowerOperations refuses it for its size.

    ``_adjustTrove`` first applies the pending redistribution rewards (``TroveManager.applyPendingRewards`` adds
    ``getPendingLUSDDebtReward`` and ``getPendingETHReward``, the same floored figures ``getEntireDebtAndColl``
    adds), so the recorded debt it then works on is ``entire_debt``; a repayment carries no fee, and
    ``decreaseTroveDebt`` takes exactly ``repayment`` off it. Refused: a zero repayment with no collateral change
    (``_requireNonZeroAdjustment``), and one that leaves less than ``MIN_NET_DEBT`` of net debt
    (``_requireAtLeastMinNetDebt(_getNetDebt(debt).sub(repayment))``, the ``sub`` reverting first when the
    repayment eats into the gas compensation), i.e. any entire debt under ``MIN_NET_DEBT + LUSD_GAS_COMPENSATION``
    (2,000 LUSD)."""
    if repayment <= 0:
        return None
    left = entire_debt - repayment
    if left - LUSD_GAS_COMPENSATION < MIN_NET_DEBT:
        return None
    return left


# --- Dependencies/LiquityBase.sol


def tcr(system_coll: int, system_debt: int, price: int) -> int:
    """LiquityBase._getTCR: _computeCR over the entire system's coll and debt (getEntireSystemColl /
    getEntireSystemDebt: ActivePool + DefaultPool)."""
    return compute_cr(system_coll, system_debt, price)


def is_recovery_mode(total_cr: int, ccr: int = CCR) -> bool:
    """LiquityBase._checkRecoveryMode: ``TCR < CCR``."""
    return total_cr < ccr


def coll_gas_compensation(coll: int) -> int:
    """LiquityBase._getCollGasCompensation: ``coll / PERCENT_DIVISOR``."""
    return coll // PERCENT_DIVISOR


def usd_value(coll: int, price: int) -> int:
    """BorrowerOperations._getUSDValue: ``price * coll / 1e18`` floored (LUSD, i.e. USD, with 18 decimals)."""
    return price * coll // DECIMAL_PRECISION


# --- PriceFeed.sol


def scale_chainlink_price(answer: int, digits: int) -> int:
    """PriceFeed._scaleChainlinkPriceByDigits: an answer with ``digits`` decimals as an 18-decimal price
    (divided, floored, when it has more than 18)."""
    if digits >= TARGET_DIGITS:
        return answer // 10 ** (digits - TARGET_DIGITS)
    return answer * 10 ** (TARGET_DIGITS - digits)


def chainlink_answer_usable(*, round_id: int, answer: int, updated_at: int, now: int) -> bool:
    """The current round as PriceFeed.fetchPrice judges it: not ``_badChainlinkResponse`` (round id 0, a
    timestamp of 0 or in the future, an answer <= 0) and not ``_chainlinkIsFrozen`` (older than TIMEOUT).

    Not modelled (documented on ``liquidation_price_source``): the previous round's own check and the
    >50 % move between two consecutive rounds, after which PriceFeed consults Tellor."""
    if round_id == 0 or updated_at == 0 or updated_at > now or answer <= 0:
        return False
    return now - updated_at <= TIMEOUT


class UsedPrice(NamedTuple):
    price: int
    source: str  # "chainlink" or "last_good_price"


def liquidation_price_source(*, status: int, last_good_price: int, chainlink_price: int | None,
                             chainlink_usable: bool) -> UsedPrice:
    """The price a liquidation would take from PriceFeed.fetchPrice at this block, by a documented simple rule.

    In ``chainlinkWorking`` and ``usingChainlinkTellorUntrusted`` fetchPrice returns (and stores) Chainlink's
    current answer when it is neither broken nor frozen and moved at most 50 % from the previous round;
    in every other state, and when Chainlink is broken or frozen, it returns ``lastGoodPrice`` unless Tellor
    answers (PriceFeed.sol CASE 1 to 5). The rule here: Chainlink's scaled answer when the status is one of
    those two and the current round is usable (``chainlink_answer_usable``), else ``lastGoodPrice``. Not
    modelled: Tellor, the previous round's check and the >50 % move (rare: the rule then says Chainlink where
    Liquity would compare it with Tellor first)."""
    follows = status in (PriceFeedStatus.chainlinkWorking, PriceFeedStatus.usingChainlinkTellorUntrusted)
    if follows and chainlink_usable and chainlink_price is not None:
        return UsedPrice(chainlink_price, "chainlink")
    return UsedPrice(last_good_price, "last_good_price")


def follows_chainlink(status: int) -> bool:
    """Whether a new Chainlink answer becomes Liquity's price in this PriceFeed status (see
    ``liquidation_price_source``): the fast path and the what-ifs move the price only then."""
    return status in (PriceFeedStatus.chainlinkWorking, PriceFeedStatus.usingChainlinkTellorUntrusted)


# --- TroveManager.sol: liquidation


@dataclass(frozen=True, slots=True)
class System:
    """What a single trove's liquidation verdict depends on besides the trove and the price."""

    coll: int  # getEntireSystemColl(): ActivePool + DefaultPool ETH
    debt: int  # getEntireSystemDebt(): ActivePool + DefaultPool LUSD debt
    stability_pool: int  # StabilityPool.getTotalLUSDDeposits()
    trove_owners: int  # getTroveOwnersCount()
    mcr: int = MCR
    ccr: int = CCR


@dataclass(frozen=True, slots=True)
class Verdict:
    """A trove at one price: its ICR, the system's TCR, the mode, the rule that applies and its threshold.

    ``threshold`` is the ICR under which ``liquidate`` succeeds: MCR in normal mode; in recovery mode
    ``max(MCR, TCR)`` when the Stability Pool holds at least the trove's entire debt, else MCR. ``held``:
    why nothing can be liquidated whatever the ICR (the last trove of the system)."""

    icr: int
    tcr: int
    recovery_mode: bool
    stability_pool_covers: bool
    threshold: int
    rule: str
    held: str | None
    liquidatable: bool


def verdict(coll: int, debt: int, price: int, system: System) -> Verdict:
    """Whether ``TroveManager.liquidate(borrower)`` liquidates a trove of entire ``coll`` and ``debt`` at ``price``.

    - ``batchLiquidateTroves`` decides the mode once, from ``_checkRecoveryMode(price)`` before anything is
      liquidated (TCR over getEntireSystemColl/Debt < CCR).
    - Normal mode (``_getTotalsFromBatchLiquidate_NormalMode``): liquidated iff ``getCurrentICR < MCR``.
    - Recovery mode (``_getTotalFromBatchLiquidate_RecoveryMode`` and ``_liquidateRecoveryMode``): skipped
      when ``ICR >= MCR`` and the Stability Pool is empty; ``ICR <= 100 %`` is redistributed, ``ICR < MCR``
      offset and redistributed, whatever the pool holds; ``MCR <= ICR < TCR`` is liquidated only when the
      pool covers the entire debt (``entireTroveDebt <= LUSDInStabPool``: offset at a collateral capped at
      MCR, the rest left as a claimable surplus); otherwise (``ICR >= TCR``, or the pool short) nothing. The TCR
      compared is the system's at the start of the batch: in a batch of several troves it is updated after
      each one, and once the system is back above CCR the rest only fall under the normal-mode rule; a
      single ``liquidate`` is a batch of one.
    - Either mode: the last trove is never liquidated (``_liquidateRecoveryMode`` returns nothing when
      ``TroveOwners.length <= 1``; ``_closeTrove`` reverts "Only one trove in the system").

    (The issue's "troves under CCR become liquidatable in recovery mode" is not what the code does: the line is
    the TCR, which is below CCR in recovery mode, and only for troves whose whole debt the Stability Pool can
    absorb.)
    """
    icr = compute_cr(coll, debt, price)
    total = tcr(system.coll, system.debt, price)
    recovery = is_recovery_mode(total, system.ccr)
    covers = debt > 0 and system.stability_pool >= debt
    held = "the last trove of the system is never liquidated" if system.trove_owners <= 1 else None
    if recovery and covers:
        threshold = max(system.mcr, total)
        rule = "recovery mode: ICR < max(MCR, TCR), the Stability Pool covering the entire debt"
    elif recovery:
        threshold = system.mcr
        rule = "recovery mode: ICR < MCR (the Stability Pool cannot absorb the entire debt)"
    else:
        threshold = system.mcr
        rule = "normal mode: ICR < MCR"
    return Verdict(icr=icr, tcr=total, recovery_mode=recovery, stability_pool_covers=covers, threshold=threshold,
                   rule=rule, held=held, liquidatable=held is None and icr < threshold)


def liquidatable(coll: int, debt: int, price: int, system: System) -> bool:
    """``verdict(...).liquidatable``, without building the record (asked many times by the searches)."""
    if system.trove_owners <= 1 or debt == 0:
        return False
    icr = coll * price // debt
    if icr < system.mcr:
        return True
    if system.debt == 0 or system.stability_pool < debt:
        return False
    total = system.coll * price // system.debt
    return total < system.ccr and icr < total


def health_ratio(icr: int, threshold: int) -> int:
    """ICR / threshold in 1e18, floored: below 1e18 exactly when ICR < threshold (floor(i * W / t) >= W
    iff i >= t for integers), so the verdict is kept exactly."""
    return icr * DECIMAL_PRECISION // threshold


# scanning for where ICR < TCR starts to hold stops after this many prices (a trove whose ratio is within
# 1e-18 of the system's: never seen in practice)
_SCAN_LIMIT = 100_000


def liquidation_price(coll: int, debt: int, system: System) -> int | None:
    """The last price (18 decimals, falling direction) at which the trove is not liquidatable: it is
    liquidatable at ``price - 1`` and at no price ``>= price``. None when no price liquidates it (no debt, the
    last trove) or every price does (no collateral).

    Liquidatable at p = ICR(p) < MCR, or recovery mode at p (TCR(p) < CCR) and ICR(p) < TCR(p) and the pool
    covers the debt. Both ICR and TCR move with the price. ICR(p) < MCR holds exactly below
    ``a = min_price_for_cr(coll, debt, MCR)``; TCR(p) < CCR below ``r = min_price_for_cr(C, D, CCR)``. ICR < TCR
    compares two floors: if the trove's ratio is not below the system's (c * D >= C * d) it never holds;
    otherwise it holds at every p with (C/D - c/d) * p >= 1, i.e. p >= ceil(D * d / (C * d - c * D)), and
    below that only where the floors happen to differ (scanned). The answer is one above the highest
    liquidatable price."""
    if debt == 0 or system.trove_owners <= 1:
        return None
    if coll == 0:
        return None
    highest = min_price_for_cr(coll, debt, system.mcr) - 1  # the highest price with ICR < MCR (may be 0 or -1)
    covered = system.debt > 0 and system.coll > 0 and system.stability_pool >= debt
    if covered and coll * system.debt < system.coll * debt:
        recovery_below = min_price_for_cr(system.coll, system.debt, system.ccr)  # recovery mode at p < this
        top = recovery_below - 1
        if top > highest:
            always = -(-system.debt * debt // (system.coll * debt - coll * system.debt))
            if top >= always:
                highest = top
            else:
                for price in range(top, max(highest, top - _SCAN_LIMIT), -1):
                    if coll * price // debt < system.coll * price // system.debt:
                        highest = price
                        break
                else:
                    if top - _SCAN_LIMIT > highest:
                        log.warning("liquity_v1 liquidation price: ICR < TCR not found within %d prices under "
                                    "recovery mode's; the MCR line is taken coll=%d debt=%d", _SCAN_LIMIT, coll,
                                    debt)
    return highest + 1 if highest >= 0 else None
