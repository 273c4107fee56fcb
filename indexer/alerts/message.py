"""What every channel is given to say: one alert event, with the figures a person needs to act on it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LiquidationPrice:
    """Price of the largest collateral asset at which health reaches 1, all else held fixed."""

    symbol: str
    price_usd: str  # exact decimal string
    current_usd: str  # the price the position was computed with


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One alert event. ``event_id`` is the idempotency key: the same event always carries the same id.

    ``kind``: opened | escalated | deescalated | resolved | test. ``severity``: for the health family
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
    collateral_usd: str
    debt_usd: str
    liquidation_price: LiquidationPrice | None
    block_number: int
    price_status: str
    detail: str = ""  # e.g. which feed is stale and why
    test: bool = False

    @property
    def price_trusted(self) -> bool:
        return self.price_status == "FRESH"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertMessage:
        liquidation = data.get("liquidation_price")
        return cls(**{**data, "liquidation_price": LiquidationPrice(**liquidation) if liquidation else None})
