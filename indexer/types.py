"""Value types shared by adapters, the health engine and the store.

All amounts are integers in the protocol's own units. Nothing here holds a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

Address = str  # checksummed 0x-prefixed hex

UINT256_MAX = 2**256 - 1


@dataclass(frozen=True, slots=True)
class BlockRef:
    """The block every read of one snapshot is pinned to."""

    number: int
    hash: str
    timestamp: int
    parent_hash: str = ""


@dataclass(frozen=True, slots=True)
class AssetPosition:
    """One asset of one position, in the asset's native units.

    ``collateral`` and ``debt`` are token amounts (10**decimals per unit); ``price`` is the price the
    protocol used, in the market's base currency units (``Health.base_unit`` per 1 unit of the asset).
    ``collateral_base``/``debt_base`` are the per-asset values in base currency as the protocol computes
    them (already truncated the protocol's way). ``liquidation_threshold``/``ltv`` are in basis points and
    are the effective ones (eMode applied).
    """

    asset: Address
    symbol: str
    decimals: int
    collateral: int
    debt: int
    price: int
    collateral_base: int
    debt_base: int
    is_collateral: bool
    liquidation_threshold: int
    ltv: int
    price_source: Address | None = None
    feed: str | None = None  # key of the oracle feed behind ``price`` (None: not known)
    round_id: int | None = None  # the feed's round the price came from


@dataclass(frozen=True, slots=True)
class Health:
    """A position's health, the protocol's native figure plus a normalized one.

    ``native_raw`` is the protocol's own integer (Aave: HF in WAD, 2**256-1 when there is no debt).
    ``health`` is a normalized ratio where 1 is the liquidation line (``None`` = no debt, infinitely
    healthy). Collateral/debt are in base-currency units; ``base_unit`` is one unit of that currency
    (1e8 for USD on Aave v3).
    """

    native_raw: int
    native_decimals: int
    health: Decimal | None
    collateral_base: int
    debt_base: int
    base_unit: int
    liquidation_threshold: int = 0
    ltv: int = 0
    available_borrows_base: int = 0

    @property
    def liquidatable(self) -> bool:
        return self.health is not None and self.health < 1


@dataclass(slots=True)
class PositionSnapshot:
    """One position at one block: what was read, and the health computed locally from it."""

    chain: str
    protocol: str
    market: str  # market key from config
    market_address: Address
    account: Address
    block: BlockRef
    assets: list[AssetPosition]
    health: Health
    price_status: str = "UNKNOWN"  # worst status of the feeds that priced it (set by the oracle monitor)
    extra: dict[str, int | str] = field(default_factory=dict)  # protocol-specific components (eMode, ...)


def scaled(value: int, places: int) -> Decimal:
    """``value / 10**places`` exactly (Decimal arithmetic would round to the context's 28 digits)."""
    return Decimal(f"{value}E-{places}")
