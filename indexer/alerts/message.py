"""What every channel is given to say: one alert event, with the figures a person needs to act on it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class LiquidationPrice:
    """The price of the position's largest holding at which it turns liquidatable, all else held fixed:
    the last price (in the message's quote currency per whole token) at which it is not, yet."""

    symbol: str
    price: str  # exact decimal string
    current: str  # the price the position was computed with
    falling: bool = True  # True: it liquidates below ``price``; False: above it (something it owes)


@dataclass(frozen=True, slots=True)
class PerpSummary:
    """The largest perp position of the account the alert is about: ``side`` long | short, exact decimal strings
    (``entry`` and ``leverage`` None when the venue gives none), ``margin_mode`` cross | isolated."""

    symbol: str
    side: str
    size: str
    mark: str
    entry: str | None = None
    leverage: str | None = None
    margin_mode: str = "cross"
    others: int = 0  # further perp positions of the same account


@dataclass(frozen=True, slots=True)
class SafeStep:
    """One way back to the safe level: ``action`` repay | add, ``amount`` of ``symbol`` (exact decimal string, the
    smallest that reaches ``target`` on its own; see ``indexer.risk.safety``)."""

    action: str
    symbol: str
    amount: str
    target: str


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One alert event. ``event_id`` is the idempotency key: the same event always carries the same id.

    ``kind``: opened | escalated | deescalated | resolved | acknowledged (``indexer.alerts.acks``) | test.
    ``severity``: for the health family
    OK (resolved), WARN, CRITICAL, LIQUIDATABLE; for the oracle family STALE, INVALID, SEQUENCER_DOWN.
    Figures are exact decimal strings; ``price_status`` is the freshness of the prices the figure was
    computed on (FRESH, STALE, INVALID, SEQUENCER_DOWN, SEQUENCER_GRACE, UNKNOWN).
    """

    event_id: str
    dedup_key: str  # chain/market/account/family: one open alert per key
    kind: str
    family: str  # health | oracle
    severity: str
    previous_severity: str | None
    chain: str
    protocol: str
    market: str
    account: str
    wallet_label: str | None
    health: str | None  # None: no debt
    previous_health: str | None
    collateral_value: str  # gross, in ``quote``
    debt_value: str
    liquidation_price: LiquidationPrice | None
    block_number: int
    price_status: str
    detail: str = ""  # e.g. which feed is stale and why
    quote: str = "USD"  # the currency of every figure (a market's base currency, or its loan token)
    test: bool = False
    notes: tuple[str, ...] = ()  # the position's cross-protocol remarks (``indexer.types.position_notes``)
    perp: PerpSummary | None = None  # a perp account: its largest position (collateral = equity, debt = notional)
    to_be_safe: tuple[SafeStep, ...] = ()  # each on its own brings health back to the target

    @property
    def price_trusted(self) -> bool:
        return self.price_status == "FRESH"

    def to_json(self) -> dict[str, Any]:
        """``dataclasses.asdict``'s dict (tuples as lists), built field by field: every value is a string, number,
        bool or None, or one level of these, so nothing needs its deep copy (a block's thousands of messages)."""
        out = _shallow(self)
        out["liquidation_price"] = None if self.liquidation_price is None else _shallow(self.liquidation_price)
        out["perp"] = None if self.perp is None else _shallow(self.perp)
        out["notes"] = list(self.notes)
        out["to_be_safe"] = [_shallow(step) for step in self.to_be_safe]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertMessage:
        """Also reads messages stored before figures carried their quote currency (``*_usd`` names)."""
        data = {_RENAMED.get(k, k): v for k, v in data.items()}
        liquidation = data.get("liquidation_price")
        if liquidation:
            liquidation = LiquidationPrice(**{_RENAMED.get(k, k): v for k, v in liquidation.items()})
        perp = data.get("perp")
        return cls(**{**data, "liquidation_price": liquidation or None, "notes": tuple(data.get("notes", ())),
                      "perp": PerpSummary(**perp) if perp else None,
                      "to_be_safe": tuple(SafeStep(**step) for step in data.get("to_be_safe", ()))})


_FIELDS: dict[type, tuple[str, ...]] = {}


def _shallow(value: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, not descending into them."""
    names = _FIELDS.get(type(value))
    if names is None:
        names = _FIELDS[type(value)] = tuple(f.name for f in fields(value))
    return {name: getattr(value, name) for name in names}


_RENAMED = {"collateral_usd": "collateral_value", "debt_usd": "debt_value", "price_usd": "price",
            "current_usd": "current"}
