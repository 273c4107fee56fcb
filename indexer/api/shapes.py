"""JSON shapes of the API. Exact figures are decimal strings (never floats); uint256 values are strings too,
since they exceed what a JSON number can carry exactly in most clients."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from indexer.store.models import WalletPublic
from indexer.store.position_store import HistoryRow, MarketSummary
from indexer.store.views import OracleView, PositionView, base_to_decimal
from indexer.types import Leg, scaled

if TYPE_CHECKING:
    from collections.abc import Sequence

    from indexer.health.nearest import NearestLiquidation
    from indexer.health.perps import PerpLine
    from indexer.history import Figures
    from indexer.protocols.base import PositionRules


def dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def big(value: int | None) -> str | None:
    return None if value is None else str(value)


def liquidation(point: NearestLiquidation | None) -> dict[str, Any] | None:
    """The nearest liquidation price (``indexer.health.nearest``), exact figures as decimal strings."""
    if point is None:
        return None
    return {"symbol": point.symbol, "price_key": point.key, "price": dec(point.price), "current": dec(point.current),
            "direction": "falling" if point.falling else "rising", "distance": dec(point.distance)}


def position(p: PositionView, point: NearestLiquidation | None = None,
             perps: Sequence[PerpLine] = ()) -> dict[str, Any]:
    return {
        "chain": p.chain,
        "protocol": p.protocol,
        "market": p.market,
        "market_address": p.market_address,
        "account": p.account,
        "owner": p.owner,
        "label": p.wallet_label,
        "block_number": p.block_number,
        "block_hash": p.block_hash,
        "block_timestamp": p.block_timestamp,
        "health": dec(p.health),
        "health_raw": str(p.health_raw),
        "health_decimals": p.health_decimals,
        "margin_mode": p.margin_mode,
        "quote": p.quote,
        "collateral_value": dec(p.collateral),
        "debt_value": dec(p.debt),
        "equity": dec(base_to_decimal(p.equity, p.quote_unit)),
        "requirement": dec(base_to_decimal(p.requirement, p.quote_unit)),
        "detail": detail(p.detail),
        "price_status": p.price_status,
        "liquidatable": p.liquidatable,
        "liquidation": liquidation(point),
        "notes": p.notes,
        "perps": [line.to_json() for line in perps],
        "updated_at": p.updated_at.isoformat(),
    }


def detail(record: dict[str, Any]) -> dict[str, Any]:
    """A protocol's detail record with its integers as decimal strings (they may exceed a JSON number)."""
    return {k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in record.items()}


def leg(g: Leg, quote_unit: int) -> dict[str, Any]:
    return {
        "asset": g.asset,
        "symbol": g.symbol,
        "decimals": g.decimals,
        "role": g.role.value,
        "amount": dec(scaled(g.amount, g.decimals)),
        "amount_raw": str(g.amount),
        "price": dec(scaled(g.price, g.price_decimals)),
        "price_raw": str(g.price),
        "price_decimals": g.price_decimals,
        "price_key": g.price_key,
        "value": dec(base_to_decimal(g.value, quote_unit)),
        "value_raw": str(g.value),
        "feed": g.feed,
        "round_id": big(g.round_id),
        "price_time": g.price_time,
        "terms": g.terms,
    }


def history_row(h: HistoryRow) -> dict[str, Any]:
    return {
        "block_number": h.block_number,
        "block_hash": h.block_hash,
        "block_timestamp": h.block_timestamp,
        "health": dec(h.health),
        "health_raw": str(h.health_raw),
        "collateral_value": dec(base_to_decimal(h.collateral_value, h.quote_unit)),
        "debt_value": dec(base_to_decimal(h.debt_value, h.quote_unit)),
        "quote": h.quote,
        "price_status": h.price_status,
        "stored_block": h.stored_block,
        "derived": h.derived,
    }


def wallet(w: WalletPublic) -> dict[str, Any]:
    return {"address": w.address, "label": w.label, "warn": dec(w.warn_health), "critical": dec(w.critical_health),
            "created_at": w.created_at.isoformat()}


def oracle(o: OracleView, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "chain": o.chain,
        "feed": o.key,
        "kind": o.kind,
        "asset": o.asset,
        "symbol": o.symbol,
        "description": o.description,
        "status": o.status,
        "reason": o.reason,
        "answer": dec(o.answer_scaled),
        "answer_raw": big(o.answer),
        "decimals": o.decimals,
        "round_id": big(o.round_id),
        "updated_at": o.updated_at,
        "age_seconds": o.age,
        "seconds_since_update": None if o.updated_at is None else max(0, int(now) - o.updated_at),
        "heartbeat_seconds": o.heartbeat,
        "heartbeat_source": o.heartbeat_source,
        "deviation_percent": o.deviation,
        "aggregator": o.aggregator,
        "block_number": o.block_number,
        "block_timestamp": o.block_timestamp,
    }


SELF_CHECK_WINDOW = 600  # blocks: a disagreement this recent marks the market UNVERIFIED


def self_check_status(checked_block: int | None, mismatch_block: int | None) -> str:
    """``UNVERIFIED`` while the protocol's own view disagreed with the local figures within the last
    ``SELF_CHECK_WINDOW`` checked blocks, ``verified`` when checked without that, ``unchecked`` otherwise."""
    if checked_block is None:
        return "unchecked"
    if mismatch_block is not None and checked_block - mismatch_block < SELF_CHECK_WINDOW:
        return "UNVERIFIED"
    return "verified"


def market(m: MarketSummary) -> dict[str, Any]:
    return {"chain": m.chain, "key": m.key, "protocol": m.protocol, "address": m.address, "positions": m.positions,
            "with_debt": m.with_debt, "liquidatable": m.liquidatable, "min_health": dec(m.min_health),
            "block_number": m.block_number, "self_check": self_check_status(m.checked_block, m.mismatch_block),
            "mismatch_block": m.mismatch_block}


_ALERT_FIELDS = ("id", "dedup_key", "chain", "market", "account", "family", "severity", "status", "opened_block",
                 "resolved_block", "updated_block", "price_status", "acknowledged_at", "acknowledged_by")
_EVENT_FIELDS = ("id", "kind", "severity", "previous_severity", "block_number", "price_status")
_DELIVERY_FIELDS = ("channel", "status", "attempts", "last_error")


def alert(a: dict[str, Any]) -> dict[str, Any]:
    """One row of ``queries.list_alerts``: the alert, its events oldest first, each with its deliveries."""
    return {
        **{k: a[k] for k in _ALERT_FIELDS},
        "health": dec(a["health"]),
        "events": [{**{k: e[k] for k in _EVENT_FIELDS},
                    "deliveries": [{k: d[k] for k in _DELIVERY_FIELDS} for d in e["deliveries"]]}
                   for e in a["events"]],
    }


def position_at(figures: Figures, rules: PositionRules | None) -> dict[str, Any]:
    """A position's figures at a block (``indexer.history.figures_at``): ``GET …/at/{block}``, ``indexer positions
    --at``. Its liquidation points as stored, else computed by ``rules`` (None: not known)."""
    from indexer.health.nearest import NearestLiquidation, liquidation_prices

    snapshot, health = figures.snapshot, figures.snapshot.health
    points: list[NearestLiquidation] | None
    if figures.liquidations is not None:
        points = [NearestLiquidation.decode(p) for p in figures.liquidations]
    else:
        points = liquidation_prices(rules, snapshot) if rules is not None else None
    unit = health.quote_unit
    return {
        "chain": snapshot.chain, "market": snapshot.market, "account": snapshot.account, "block": figures.block,
        "stored_block": figures.stored_block, "derived": figures.derived,
        "block_hash": snapshot.block.hash, "block_timestamp": snapshot.block.timestamp,
        "health": dec(health.health), "health_raw": str(health.raw), "health_decimals": health.decimals,
        "quote": health.quote, "collateral_value": dec(base_to_decimal(health.collateral, unit)),
        "debt_value": dec(base_to_decimal(health.debt, unit)),
        "equity": dec(base_to_decimal(health.equity, unit)),
        "requirement": dec(base_to_decimal(health.requirement, unit)),
        "price_status": str(snapshot.price_status), "detail": detail(snapshot.detail),
        "liquidations": None if points is None else [liquidation(p) for p in points],
        "legs": [leg(g, unit) for g in snapshot.legs],
    }
