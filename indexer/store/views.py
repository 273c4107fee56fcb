"""Read-side shapes returned by the query functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal
from typing import Any

from indexer.types import BlockRef, Health, Leg, MarginMode, PositionSnapshot, position_notes

# Wide enough that a uint256 divided by a power of ten is exact.
_EXACT = Context(prec=160)


def base_to_decimal(amount: int, base_unit: int) -> Decimal:
    """``amount / base_unit`` as a Decimal; exact whenever the quotient terminates (base_unit = 10**n).

    A power-of-ten unit keeps all its places (1e8 → always 8 decimals), so figures line up.
    """
    places = len(str(base_unit)) - 1
    if base_unit == 10**places:
        return Decimal(amount).scaleb(-places, context=_EXACT)
    return _EXACT.divide(Decimal(amount), Decimal(base_unit))


@dataclass(frozen=True, slots=True)
class PositionView:
    """The latest stored state of one position, with its market and the wallet's label."""

    chain: str
    protocol: str
    market: str
    market_address: str
    account: str
    owner: str
    wallet_label: str | None
    snapshot_id: int
    block_number: int
    block_hash: str
    block_timestamp: int
    health_raw: int
    health_decimals: int
    health: Decimal | None  # None: nothing owed
    equity: int
    requirement: int
    collateral_value: int
    debt_value: int
    quote: str
    quote_unit: int
    margin_mode: str
    detail: dict[str, Any]
    price_status: str
    updated_at: datetime
    liquidations: list[dict[str, Any]] | None = None  # as stored with the snapshot (``health.nearest``)

    @property
    def collateral(self) -> Decimal:
        """Gross collateral in the position's quote currency (``quote``: USD on Aave v3)."""
        return base_to_decimal(self.collateral_value, self.quote_unit)

    @property
    def debt(self) -> Decimal:
        return base_to_decimal(self.debt_value, self.quote_unit)

    @property
    def liquidatable(self) -> bool:
        """Under 1 and not held by the protocol (an L2 sequencer, a grace period: ``detail.liquidation_held``)."""
        return self.health is not None and self.health < 1 and not self.detail.get("liquidation_held")

    @property
    def notes(self) -> list[str]:
        return position_notes(self.detail)

    def snapshot(self, legs: list[Leg]) -> PositionSnapshot:
        """The stored position as the protocol's source produced it (with its ``legs``, see ``position_legs``):
        what its rules (liquidation points, what-ifs) are asked about, without any chain read."""
        health = Health(raw=self.health_raw, decimals=self.health_decimals, health=self.health, equity=self.equity,
                        requirement=self.requirement, collateral=self.collateral_value, debt=self.debt_value,
                        quote=self.quote, quote_unit=self.quote_unit)
        return PositionSnapshot(
            chain=self.chain, protocol=self.protocol, market=self.market, market_address=self.market_address,
            account=self.account, owner=self.owner, legs=legs, health=health,
            block=BlockRef(number=self.block_number, hash=self.block_hash, timestamp=self.block_timestamp),
            margin_mode=MarginMode(self.margin_mode), price_status=self.price_status, detail=dict(self.detail))


@dataclass(frozen=True, slots=True)
class OracleView:
    """A feed with its latest stored reading."""

    chain: str
    key: str
    kind: str
    asset: str | None
    symbol: str | None
    description: str | None
    decimals: int | None
    heartbeat: int | None
    heartbeat_source: str
    deviation: float | None
    aggregator: str | None
    block_number: int
    block_timestamp: int
    round_id: int | None
    answer: int | None
    updated_at: int | None
    status: str
    reason: str
    age: int | None

    @property
    def answer_scaled(self) -> Decimal | None:
        """The answer in units (``answer / 10**decimals``), exactly."""
        if self.answer is None or self.decimals is None:
            return None
        return Decimal(f"{self.answer}E-{self.decimals}")
