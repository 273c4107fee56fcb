"""What it takes to be safe on Hyperliquid: the USDC to add to the margin, for snapshots built by the adapter from
``clearinghouseState`` answers in the venue's documented shape.

A cross account's deposit raises its totalRawUsd and accountValue by the amount and leaves crossMaintenanceMarginUsed
as it is (maintenance rests on positions and marks only); an isolated position's ``updateIsolatedMargin`` raises its
rawUsd and marginUsed by it. Each case applies the reported amount, and one micro-USDC less, to the venue's answer
and reads it again.
"""

from __future__ import annotations

import copy
import dataclasses
from decimal import Decimal
from typing import Any, cast

from indexer.protocols.base import MarginAsset, PositionRules
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter, universe
from indexer.risk.safety import to_be_safe
from indexer.types import PositionSnapshot, scaled
from tests.unit.test_hyperliquid_rules import ACCOUNT, DOC_STATE, META, adapter

TARGET = Decimal("1.5")


def perp(coin: str, szi: str, value: str, *, raw_usd: str | None = None, margin: str = "0.0") -> dict[str, Any]:
    leverage = {"type": "cross", "value": 10} if raw_usd is None else {"type": "isolated", "value": 20,
                                                                          "rawUsd": raw_usd}
    return {"type": "oneWay", "position": {"coin": coin, "szi": szi, "entryPx": "1.0", "leverage": leverage,
                                           "positionValue": value, "unrealizedPnl": "0.0", "liquidationPx": None,
                                           "marginUsed": margin, "cumFunding": {"sinceOpen": "0.0"}}}


def cross_state(value: str, cash: str, maintenance: str, *positions: dict[str, Any]) -> dict[str, Any]:
    summary = {"accountValue": value, "totalRawUsd": cash, "totalNtlPos": "0.0", "totalMarginUsed": "0.0"}
    return {"assetPositions": list(positions), "crossMarginSummary": summary, "marginSummary": summary,
            "crossMaintenanceMarginUsed": maintenance, "withdrawable": value, "time": 1_700_000_000_000}


# 10 ETH long at 3000 and 0.5 BTC short at 60000: maintenance 30000/100 + 30000/80 = 675 USD, a whole figure
HEDGED = (perp("ETH", "10.0", "30000.0"), perp("BTC", "-0.5", "30000.0"))


def deposited(state: dict[str, Any], amount: int, *, coin: str | None = None) -> dict[str, Any]:
    """``state`` once the venue booked ``amount`` micro-USDC: into the cross account (``coin`` None) or to that
    coin's isolated margin."""
    after = copy.deepcopy(state)
    usd = scaled(amount, 6)
    if coin is None:
        summary = after["crossMarginSummary"] = dict(after["crossMarginSummary"])
        for key in ("accountValue", "totalRawUsd"):
            summary[key] = str(Decimal(summary[key]) + usd)
    else:
        p = next(e["position"] for e in after["assetPositions"] if e["position"]["coin"] == coin)
        p["leverage"]["rawUsd"] = str(Decimal(p["leverage"]["rawUsd"]) + usd)
        p["marginUsed"] = str(Decimal(p["marginUsed"]) + usd)
    return after


def read(state: dict[str, Any], account: str = ACCOUNT) -> PositionSnapshot:
    return next(s for s in adapter().snapshots(ACCOUNT, state, universe(META)) if s.account == account)


def with_cash(snapshot: PositionSnapshot, amount: int) -> PositionSnapshot:
    return dataclasses.replace(snapshot, detail={**snapshot.detail, "cash": snapshot.detail["cash"] + amount})


def only_step(a: HyperliquidAdapter, snapshot: PositionSnapshot) -> int:
    (step,) = to_be_safe(a, snapshot, TARGET).steps
    assert (step.action, step.asset, step.symbol, step.decimals, step.exact) == ("add", "USDC", "USDC", 6, True)
    assert step.amount is not None and step.health_after is not None and step.health_after >= TARGET
    return step.amount


def test_a_cross_deposit_reaches_the_target_and_one_micro_usdc_less_does_not():
    a = adapter()
    state = cross_state("1000.0", "1000.0", "675.0", *HEDGED)
    snapshot = read(state)
    assert snapshot.health.health is not None and snapshot.health.health < TARGET  # 1000 / 675
    amount = only_step(a, snapshot)
    assert amount == 12_500_000  # 1.5 × 675 − 1000 USDC
    for x, reaches in ((amount, True), (amount - 1, False)):
        again = read(deposited(state, x))
        assert a.with_margin(snapshot, x).health == again.health
        assert (again.health.health is not None and again.health.health >= TARGET) is reaches
        recomputed = a.health_at(with_cash(snapshot, x), {}).health
        assert (recomputed is not None and recomputed >= TARGET) is reaches


def test_a_cross_deposit_follows_the_venues_printed_maintenance():
    # 0.0335 ETH at 2985.9 (50x: 1/100): maintenance 1.0002765 USD, which the venue prints as 1.000276
    a = adapter()
    state = cross_state("1.4", "-98.62765", "1.000276", perp("ETH", "0.0335", "100.02765"))
    snapshot = read(state)
    amount = only_step(a, snapshot)
    assert amount == 100_414  # 1.5 × 1.000276 − 1.4 USDC
    for x, reaches in ((amount, True), (amount - 1, False)):
        again = read(deposited(state, x)).health.health
        assert (again is not None and again >= TARGET) is reaches
    # the unrounded maintenance would ask one micro-USDC more; the health the next read stores is the venue's ratio
    exact, one_more = (a.health_at(with_cash(snapshot, x), {}).health for x in (amount, amount + 1))
    assert exact is not None and one_more is not None and exact < TARGET <= one_more


def test_an_isolated_margin_top_up_reaches_the_target_and_one_micro_usdc_less_does_not():
    a = adapter()
    state = copy.deepcopy(DOC_STATE)
    position = state["assetPositions"][0]["position"]
    position["leverage"]["rawUsd"], position["marginUsed"] = "-98.9", "1.12765"  # equity 1.12765 over 1.0002765
    account = f"{ACCOUNT}:ETH"
    snapshot = read(state, account)
    assert snapshot.health.health is not None and snapshot.health.health < TARGET
    assert to_be_safe(a, read(state), TARGET).steps == []  # the wallet's cross account holds cash only
    amount = only_step(a, snapshot)
    assert amount == 372_765  # ceil(1.5 × 1.0002765 − 1.12765 USDC), maintenance unrounded as a read recomputes it
    for x, reaches in ((amount, True), (amount - 1, False)):
        recomputed = a.health_at(with_cash(snapshot, x), {}).health
        assert (recomputed is not None and recomputed >= TARGET) is reaches
        again = read(deposited(state, x, coin="ETH"), account)
        assert a.with_margin(snapshot, x).health == again.health
        assert again.detail["margin_used"] == again.health.equity  # the venue's marginUsed, booked with the amount


def test_an_account_already_at_the_target_gets_no_step():
    a = adapter()
    cross_ok = read(cross_state("1100.0", "1100.0", "675.0", *HEDGED))  # 1.63
    isolated_ok = read(DOC_STATE, f"{ACCOUNT}:ETH")  # the docs' example: 4.97
    at_target = read(cross_state("1012.5", "1012.5", "675.0", *HEDGED))  # exactly 1.5
    for snapshot in (cross_ok, isolated_ok, at_target):
        assert snapshot.health.health is not None and snapshot.health.health >= TARGET
        assert to_be_safe(a, snapshot, TARGET).steps == []


class _CappedMargin:
    """A margin counted only up to ``cap`` of health (no deposit takes it to 1.5), or none at all (``asset`` None)."""

    def __init__(self, cap: Decimal, asset: MarginAsset | None) -> None:
        self.cap, self.asset = cap, asset

    def margin_asset(self, snapshot: PositionSnapshot) -> MarginAsset | None:
        return self.asset

    def with_margin(self, snapshot: PositionSnapshot, amount: int) -> PositionSnapshot:
        assert snapshot.health.health is not None
        health = min(snapshot.health.health + scaled(amount, 6), self.cap)
        return dataclasses.replace(snapshot, health=dataclasses.replace(snapshot.health, health=health))


def test_a_margin_no_deposit_makes_safe_or_none_at_all_gives_no_step():
    snapshot = read(cross_state("1000.0", "1000.0", "675.0", *HEDGED))
    usdc = MarginAsset(asset="USDC", symbol="USDC", decimals=6)
    for rules in (_CappedMargin(Decimal("1.49"), usdc), _CappedMargin(Decimal(2), None)):
        assert to_be_safe(cast(PositionRules, rules), snapshot, TARGET).steps == []
    assert [s.amount for s in to_be_safe(cast(PositionRules, _CappedMargin(Decimal(2), usdc)), snapshot,
                                         TARGET).steps] == [18_519]  # 1.5 − 1000/675, in millionths, rounded up
