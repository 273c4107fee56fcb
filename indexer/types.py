"""The neutral position model shared by every source, the health engine, the alert rules and the store.

A position is a margin account at one point in time: its *legs* (what it holds and owes, each with the
price the protocol used and where that price came from), the protocol's own health integer beside a
normalized figure where 1 is the liquidation line, and a per-protocol detail record. Lending positions
(collateral and debt legs) and perp accounts (long and short legs) fit the same shape.

All amounts are integers in the protocol's own units. Nothing here holds a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

Address = str  # checksummed 0x-prefixed hex
PriceKey = str  # what a price depends on: an asset or oracle address, a venue's market name

UINT256_MAX = 2**256 - 1
LEVERAGE_SCALE = 10_000  # a perp leg's ``terms["leverage"]``: 25_000 is 2.5×
ZERO_ADDRESS = "0x" + "0" * 40  # what a contract answers for an unset address


class Role(StrEnum):
    COLLATERAL = "collateral"
    DEBT = "debt"
    LONG = "long"
    SHORT = "short"


class MarginMode(StrEnum):
    CROSS = "cross"  # one health for the whole account
    ISOLATED = "isolated"  # the position carries its own margin (and is its own account)


@dataclass(frozen=True, slots=True)
class BlockRef:
    """The block every read of one snapshot is pinned to."""

    number: int
    hash: str
    timestamp: int
    parent_hash: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Leg:
    """One thing a position holds or owes, in the asset's native units (10**decimals per whole token).

    ``price`` is the price the protocol used, an integer with ``price_decimals`` places: quote currency per
    whole asset once scaled (Aave: 8 places of USD; Morpho: its 1e36-scaled oracle price is
    36 + loan decimals − collateral decimals places of loan tokens per collateral token);
    ``price_key`` names what it depends on (``Source.price_dependencies``). Provenance: ``feed`` and
    ``round_id`` for a feed-backed price, ``price_time`` for a venue's mark. ``value`` is the leg's worth
    in quote units as the protocol itself computes it (truncated its way; 0 when the protocol does not
    count the leg). ``terms`` are the protocol's per-leg risk parameters (Aave: effective LT and LTV in
    basis points), what a local recompute needs besides the price.

    A perp position is a LONG or SHORT leg: ``amount`` its size (absolute), ``price`` the mark it was valued at,
    and these ``terms`` where the protocol has them, the same on every venue: ``entry_px`` (in the leg's price
    units), ``unrealized_pnl`` (signed, in the position's quote units), ``leverage`` (in ``LEVERAGE_SCALE``
    units) and ``liquidation_px`` (the venue's own printed figure in price units; 0 when it gives none).
    """

    asset: Address
    symbol: str
    decimals: int
    role: Role
    amount: int
    price: int
    price_decimals: int
    price_key: PriceKey
    value: int
    feed: str | None = None
    round_id: int | None = None
    price_time: int | None = None
    terms: dict[str, int] = field(default_factory=dict)

    def at_price(self, price: int, value: int, round_id: int | None) -> Leg:
        """The leg at another price (its ``value`` there, the feed round it comes from), built directly: the fast
        path reprices thousands of legs a block, and ``dataclasses.replace`` walks the fields each time."""
        if price == self.price and value == self.value and round_id == self.round_id:
            return self  # frozen: shared as it is
        return Leg(asset=self.asset, symbol=self.symbol, decimals=self.decimals, role=self.role, amount=self.amount,
                   price=price, price_decimals=self.price_decimals, price_key=self.price_key, value=value,
                   feed=self.feed, round_id=round_id, price_time=self.price_time, terms=self.terms)


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """A position's health: the protocol's own figure and a normalized one.

    ``raw`` is the protocol's own integer with ``decimals`` places (Aave: HF in WAD, 2**256-1 without debt;
    Morpho: maxBorrow / borrowed in WAD, floored, which keeps the protocol's healthy/unhealthy verdict).
    ``health`` is normalized, 1 = the liquidation line (None: nothing owed, infinitely healthy); it is
    ``equity / requirement`` as the protocol rounds it: lending ``equity`` is the risk-adjusted collateral
    and ``requirement`` the debt; perps ``equity`` is the account value and ``requirement`` the maintenance
    margin. ``collateral`` and ``debt`` are the gross values. Every figure is in quote units: ``quote``
    names the currency (``USD``, ``ETH``, a loan token's symbol) and ``quote_unit`` is one unit of it.
    """

    raw: int
    decimals: int
    health: Decimal | None
    equity: int
    requirement: int
    collateral: int
    debt: int
    quote: str
    quote_unit: int

    @property
    def liquidatable(self) -> bool:
        return self.health is not None and self.health < 1


@dataclass(slots=True, kw_only=True)
class PositionSnapshot:
    """One position at one block (or venue time): what was read, and the health computed locally from it.

    ``detail`` is the protocol's own record of the position (Aave: eMode category, configuration bitmap,
    pool revision, LTV and available borrows; Morpho: the market id and shares), JSON-serialisable and
    stored with the snapshot. ``account`` identifies the margin account on its market and ``owner`` the
    wallet it belongs to: the same address for a lending position or a cross margin account; an isolated
    perp position is an account of its own (``0xOwner:COIN``), owned by the wallet.

    Two ``detail`` keys mean the same on every protocol and every output shows them (``position_notes``):
    ``unverified`` — why the local math of this position is not known to be the protocol's (its figures are
    then the protocol's own view's; what-ifs use the nearest known rules) — and ``liquidation_held`` — why a
    position under 1 cannot be liquidated at its block (an L2 sequencer, a grace period)."""

    chain: str
    protocol: str
    market: str  # market key from config
    market_address: Address
    account: str  # the margin account's id: its owner's address, or ``owner:NAME`` (one of several on a market)
    block: BlockRef
    legs: list[Leg]
    health: Health
    margin_mode: MarginMode = MarginMode.CROSS
    price_status: str = "UNKNOWN"  # worst status of the feeds that priced it (set by the oracle monitor)
    detail: dict[str, Any] = field(default_factory=dict)
    owner: Address = ""  # the wallet that holds it (default: the account id's address part)

    def __post_init__(self) -> None:
        if not self.owner:
            self.owner = self.account.partition(":")[0]

    def legs_priced_by(self, key: PriceKey) -> list[Leg]:
        return [leg for leg in self.legs if leg.price_key == key]

    @property
    def closed(self) -> bool:
        """A closing: the account holds and owes nothing on the market any more (see ``closing``)."""
        return self.detail.get("closed") is True


def position_notes(detail: Mapping[str, Any]) -> list[str]:
    """The cross-protocol remarks a position's ``detail`` carries, as short phrases for people."""
    notes = []
    if held := detail.get("liquidation_held"):
        notes.append(f"not liquidatable yet: {held}")
    if why := detail.get("unverified"):
        notes.append(f"unverified: {why}")
    return notes


def closing(*, chain: str, protocol: str, market: str, market_address: Address, account: str,
            block: BlockRef) -> PositionSnapshot:  # fmt: skip
    """The snapshot of a position that was stored and is gone at ``block`` (repaid and withdrawn, liquidated to
    zero, closed): no legs, nothing owed (health None), every figure 0. It is stored in the history (the
    position's last row) and removes the position from the latest positions; its alerts resolve."""
    return PositionSnapshot(
        chain=chain, protocol=protocol, market=market, market_address=market_address, account=account, block=block,
        legs=[], health=Health(raw=UINT256_MAX, decimals=0, health=None, equity=0, requirement=0, collateral=0,
                               debt=0, quote="", quote_unit=1),
        price_status="FRESH", detail={"closed": True},
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class LiquidationPoint:
    """Where one price liquidates a position, others held fixed: ``price`` is the last one at which it is not
    liquidatable; one unit lower (``falling``: something it holds) or higher (something it owes) it is."""

    price: int
    falling: bool


def scaled(value: int, places: int) -> Decimal:
    """``value / 10**places`` exactly (Decimal arithmetic would round to the context's 28 digits)."""
    return Decimal(f"{value}E-{places}")
