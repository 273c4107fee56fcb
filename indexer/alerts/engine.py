"""The alert state machine over one block: rule states in, transitions, events and outbox rows out.

Pure with respect to I/O: the caller loads the prior states and writes what this returns inside the
block's transaction, so an event and its deliveries exist exactly when the snapshot that caused them does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from indexer.alerts.message import AlertMessage, LiquidationPrice, PerpSummary, SafeStep
from indexer.alerts.rules import (
    FAMILIES,
    Band,
    HealthLevel,
    RuleState,
    Thresholds,
    Transition,
    evaluate_health,
    evaluate_oracle,
    health_level,
    steady_band,
)
from indexer.health.perps import perp_lines
from indexer.protocols.base import PositionRules
from indexer.risk.margin import MarginChange
from indexer.risk.safety import to_be_safe
from indexer.settings import AlertSettings
from indexer.store.views import base_to_decimal
from indexer.types import BlockRef, PositionSnapshot, Role, position_notes, scaled

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredState:
    level: int
    pending: int | None
    pending_since: int | None
    alert_id: str | None


@dataclass
class AlertWrites:
    """Rows for the block's transaction."""

    states: list[dict[str, Any]] = field(default_factory=list)
    new_alerts: list[dict[str, Any]] = field(default_factory=list)
    alert_updates: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    messages: list[AlertMessage] = field(default_factory=list)
    margin_changes: list[dict[str, Any]] = field(default_factory=list)  # ``margin_changes`` rows


_NO_STATE = StoredState(0, None, None, None)
_NO_WALLET: tuple[str | None, Decimal | None, Decimal | None] = (None, None, None)


def dedup_key(chain: str, market: str, account: str, family: str) -> str:
    return f"{chain}/{market}/{account}/{family}"


def thresholds(settings: AlertSettings, market: str, wallet: tuple[Decimal | None, Decimal | None]) -> Thresholds:
    """Defaults, then the market's overrides, then the wallet's own WARN/CRITICAL enter levels (their leave
    levels keep the default band width)."""
    override = settings.markets.get(market)
    bands = {name: getattr(override, name, None) or getattr(settings, name)
             for name in ("warn", "critical", "liquidatable")}
    hold = override.hold_blocks if override and override.hold_blocks is not None else settings.hold_blocks
    made = {name: Band(b.enter, b.leave) for name, b in bands.items()}
    for name, enter in zip(("warn", "critical"), wallet, strict=True):
        if enter is not None:
            made[name] = Band(enter, enter + (made[name].leave - made[name].enter))
    return Thresholds(made["warn"], made["critical"], made["liquidatable"], hold)


class AlertEngine:
    """``sources``: the chain's source of each market key (the pipeline's), asked for liquidation points."""

    def __init__(self, settings: AlertSettings, route: Callable[[AlertMessage], list[str]],
                 sources: Mapping[str, PositionRules], *, target: Decimal = Decimal("1.5")) -> None:
        self.settings = settings
        self.route = route
        self.sources = sources
        self.target = target  # the health "what it takes to be safe" aims at ([risk] target_health)

    def evaluate(self, *, block: BlockRef, snapshots: Sequence[PositionSnapshot],
                 states: Mapping[str, StoredState], previous_health: Mapping[tuple[str, str], Decimal | None],
                 wallets: Mapping[str, tuple[str | None, Decimal | None, Decimal | None]], now: float) -> AlertWrites:
        """``wallets``: account → (label, warn enter, critical enter)."""
        out = AlertWrites()
        families = ("health", "oracle") if self.settings.oracle else ("health",)
        limits_of: dict[tuple[str, Decimal | None, Decimal | None], Thresholds] = {}  # thresholds() is pure
        for snapshot in snapshots:
            label, warn, critical = wallets.get(snapshot.owner, _NO_WALLET)
            limits = limits_of.get((snapshot.market, warn, critical))
            if limits is None:
                limits = limits_of[(snapshot.market, warn, critical)] = thresholds(self.settings, snapshot.market,
                                                                                  (warn, critical))
            for family in families:
                key = dedup_key(snapshot.chain, snapshot.market, snapshot.account, family)
                stored = states.get(key, _NO_STATE)
                if (family == "oracle" and stored is _NO_STATE and snapshot.price_status == "FRESH"):
                    continue  # nothing stored, nothing to raise: evaluate_oracle would leave it as it is
                before = RuleState(stored.level, stored.pending, stored.pending_since)
                after, transition = self._step(family, before, snapshot, limits, block)
                alert_id = stored.alert_id
                if transition is not None:
                    alert_id = self._transition(out, snapshot, family, key, transition, alert_id, label,
                                                previous_health.get((snapshot.market, snapshot.account)), block, now)
                if after != before or alert_id != stored.alert_id:
                    out.states.append({"chain": snapshot.chain, "market": snapshot.market,
                                       "account": snapshot.account, "family": family, "level": after.level,
                                       "pending": after.pending, "pending_since": after.pending_since,
                                       "alert_id": alert_id, "updated_block": block.number})
        return out

    def steady_bands(self, *, chain: str, states: Mapping[str, StoredState],
                     wallets: Mapping[str, tuple[str | None, Decimal | None, Decimal | None]],
                     fresh: Callable[[PositionSnapshot], bool]
                     ) -> Callable[[PositionSnapshot], tuple[Decimal | None, Decimal | None] | None]:
        """Per position, the healths at which ``evaluate`` (same ``states`` and ``wallets``) would raise and write
        nothing for it: its health level's ``steady_band``. None where it must be evaluated whatever its health: a
        level pending (``hold_blocks``), an oracle state stored, or a price not known to be FRESH at the block
        (``fresh``: true only where the block's price status for the position is FRESH)."""
        oracle = self.settings.oracle
        made: dict[tuple[str, Decimal | None, Decimal | None, int], tuple[Decimal | None, Decimal | None]] = {}

        def band(snapshot: PositionSnapshot) -> tuple[Decimal | None, Decimal | None] | None:
            stored = states.get(dedup_key(chain, snapshot.market, snapshot.account, "health"), _NO_STATE)
            if stored.pending is not None or not fresh(snapshot):
                return None
            if oracle and dedup_key(chain, snapshot.market, snapshot.account, "oracle") in states:
                return None
            _, warn, critical = wallets.get(snapshot.owner, _NO_WALLET)
            key = (snapshot.market, warn, critical, stored.level)
            found = made.get(key)
            if found is None:
                found = made[key] = steady_band(stored.level, thresholds(self.settings, snapshot.market,
                                                                         (warn, critical)))
            return found

        return band

    def margin(self, out: AlertWrites, *, block: BlockRef, changes: Sequence[MarginChange],
               snapshots: Mapping[tuple[str, str], PositionSnapshot],
               wallets: Mapping[str, tuple[str | None, Decimal | None, Decimal | None]], now: float) -> None:
        """The protocol changed margin parameters under positions: per position one ``margin`` alert, opened and
        closed in the block (an event, not a condition), naming each parameter with its old and new value and the
        health before and after; its severity is the level the new health calls for (``INFO`` above WARN). Every
        change is also a ``margin_changes`` row, in the same transaction."""
        by_position: dict[tuple[str, str], list[MarginChange]] = {}
        for change in changes:
            by_position.setdefault((change.market, change.account), []).append(change)
        for (market, account), moved in sorted(by_position.items()):
            snapshot = snapshots[(market, account)]
            label, warn, critical = wallets.get(snapshot.owner, (None, None, None))
            level = health_level(moved[0].health_after, HealthLevel.OK, thresholds(self.settings, market,
                                                                                    (warn, critical)))
            severity = level.name if level is not HealthLevel.OK else "INFO"
            key = dedup_key(snapshot.chain, market, account, "margin")
            alert_id = uuid.uuid4().hex
            out.new_alerts.append({"id": alert_id, "dedup_key": key, "chain": snapshot.chain, "market": market,
                                   "account": account, "family": "margin", "severity": severity,
                                   "status": "resolved", "opened_block": block.number,
                                   "resolved_block": block.number, "updated_block": block.number,
                                   "price_status": snapshot.price_status, "health": snapshot.health.health})
            previous = moved[0].health_before
            message = dataclasses.replace(
                self._message(snapshot, "margin", key, "changed", severity, None, label, previous, block),
                detail="; ".join(f"{c.symbol} {c.parameter} {c.old} → {c.new}" for c in moved))
            self._emit(out, message, alert_id, snapshot, block, now)
            out.margin_changes += [{
                "chain": snapshot.chain, "market": market, "account": account, "block_number": block.number,
                "block_hash": block.hash, "parameter": c.parameter, "asset": c.asset, "symbol": c.symbol,
                "old_value": c.old, "new_value": c.new, "health_before": c.health_before,
                "health_after": c.health_after, "alert_id": alert_id} for c in moved]
            log.warning("margin parameters changed chain=%s block=%d market=%s wallet=%s changes=%s health=%s→%s",
                        snapshot.chain, block.number, market, account, message.detail, previous,
                        moved[0].health_after)

    @staticmethod
    def _step(family: str, state: RuleState, snapshot: PositionSnapshot, limits: Thresholds,
              block: BlockRef) -> tuple[RuleState, Transition | None]:
        if family == "health":
            return evaluate_health(state, snapshot.health.health, block=block.number,
                                   price_status=snapshot.price_status, t=limits)
        return evaluate_oracle(state, snapshot.price_status, snapshot.health.requirement > 0, block=block.number,
                               hold_blocks=limits.hold_blocks)

    def _transition(self, out: AlertWrites, snapshot: PositionSnapshot, family: str, key: str, t: Transition,
                    alert_id: str | None, label: str | None, previous: Decimal | None, block: BlockRef,
                    now: float) -> str | None:
        names = FAMILIES[family]
        severity, previous_severity = names(t.level).name, names(t.previous).name
        if t.kind == "opened" or alert_id is None:
            alert_id = uuid.uuid4().hex
            out.new_alerts.append({"id": alert_id, "dedup_key": key, "chain": snapshot.chain,
                                   "market": snapshot.market, "account": snapshot.account, "family": family,
                                   "severity": severity, "status": "open", "opened_block": block.number,
                                   "resolved_block": None, "updated_block": block.number,
                                   "price_status": snapshot.price_status, "health": snapshot.health.health})
        else:
            out.alert_updates.append({
                "id": alert_id, "severity": severity, "status": "resolved" if t.kind == "resolved" else "open",
                "resolved_block": block.number if t.kind == "resolved" else None, "updated_block": block.number,
                "price_status": snapshot.price_status, "health": snapshot.health.health})
        message = self._message(snapshot, family, key, t.kind, severity,
                                None if t.kind == "opened" else previous_severity, label, previous, block)
        self._emit(out, message, alert_id, snapshot, block, now)
        log.info("alert chain=%s block=%d market=%s wallet=%s family=%s kind=%s severity=%s price_status=%s",
                 snapshot.chain, block.number, snapshot.market, snapshot.account, family, t.kind, severity,
                 snapshot.price_status)
        return None if t.kind == "resolved" else alert_id

    def _emit(self, out: AlertWrites, message: AlertMessage, alert_id: str, snapshot: PositionSnapshot,
              block: BlockRef, now: float) -> None:
        """The event row of ``message`` and its outbox rows, one per channel its route takes."""
        out.events.append({"id": message.event_id, "alert_id": alert_id, "chain": snapshot.chain,
                           "kind": message.kind, "severity": message.severity,
                           "previous_severity": message.previous_severity, "block_number": block.number,
                           "block_hash": block.hash, "price_status": snapshot.price_status,
                           "message": json.dumps(message.to_json())})
        for channel in self.route(message):
            out.deliveries.append({"event_id": message.event_id, "channel": channel, "status": "pending",
                                   "attempts": 0, "created_at": now, "next_attempt_at": now})
        out.messages.append(message)

    def _message(self, snapshot: PositionSnapshot, family: str, key: str, kind: str, severity: str,
                 previous_severity: str | None, label: str | None, previous: Decimal | None,
                 block: BlockRef) -> AlertMessage:
        h = snapshot.health
        stale_feeds = sorted({leg.symbol for leg in snapshot.legs if snapshot.price_status != "FRESH"})
        detail = (f"prices of {', '.join(stale_feeds)} are {snapshot.price_status}"
                  if snapshot.price_status != "FRESH" else "")
        return AlertMessage(
            event_id=uuid.uuid4().hex, dedup_key=key, kind=kind, family=family, severity=severity,
            previous_severity=previous_severity, chain=snapshot.chain, protocol=snapshot.protocol,
            market=snapshot.market, account=snapshot.account, wallet_label=label,
            health=None if h.health is None else format(h.health, "f"),
            previous_health=None if previous is None else format(previous, "f"),
            collateral_value=format(base_to_decimal(h.collateral, h.quote_unit), "f"),
            debt_value=format(base_to_decimal(h.debt, h.quote_unit), "f"), quote=h.quote,
            liquidation_price=self._liquidation(snapshot), block_number=block.number,
            price_status=snapshot.price_status, detail=detail, notes=tuple(position_notes(snapshot.detail)),
            perp=_perp(snapshot),
            to_be_safe=self._safe_steps(snapshot) if family in ("health", "margin") and kind != "resolved" else ())

    def _safe_steps(self, snapshot: PositionSnapshot) -> tuple[SafeStep, ...]:
        """The smallest repayment of each debt and deposit of each collateral that brings the position back to the
        target, each on its own (none when it is there, or the protocol's local math does not take amounts)."""
        plan = to_be_safe(self.sources[snapshot.market], snapshot, self.target)
        return tuple(SafeStep(step.action, step.symbol if step.into is None else f"{step.symbol} into {step.into}",
                              format(scaled(step.amount, step.decimals), "f"),
                              str(self.target)) for step in plan.steps if step.amount is not None)

    def _liquidation(self, snapshot: PositionSnapshot) -> LiquidationPrice | None:
        """The liquidation point of the position's largest holding (by the value the protocol counts): collateral
        or a perp position, long or short."""
        held = [leg for leg in snapshot.legs if leg.role in (Role.COLLATERAL, Role.LONG, Role.SHORT) and leg.value > 0]
        if not held or not snapshot.health.requirement:
            return None
        largest = max(held, key=lambda leg: leg.value)
        point = self.sources[snapshot.market].liquidation_points(snapshot, [largest.price_key]).get(largest.price_key)
        if point is None:
            return None
        return LiquidationPrice(largest.symbol, format(scaled(point.price, largest.price_decimals), "f"),
                                format(scaled(largest.price, largest.price_decimals), "f"), point.falling)


def _perp(snapshot: PositionSnapshot) -> PerpSummary | None:
    """The account's largest perp position, as the message names it (None for a lending position)."""
    lines = perp_lines(None, snapshot)  # the liquidation price is the message's own (``_liquidation``)
    if not lines:
        return None
    top = lines[0]

    def text(value: Decimal | None) -> str | None:
        return None if value is None else format(value, "f")

    return PerpSummary(symbol=top.symbol, side=top.side, size=format(top.size.normalize(), "f"),
                       mark=format(top.mark, "f"), entry=text(top.entry), leverage=text(top.leverage),
                       margin_mode=top.margin_mode, others=len(lines) - 1)
