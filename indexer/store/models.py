"""Database tables (SQLModel, ``table=True``) and the public shapes read back from them.

Every on-chain amount is a ``Uint256`` column and every health figure a ``HealthDecimal``; the only
float is ``health_float``, derived from ``health`` so that range queries can use an index.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Double, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from indexer.store.types import BigIntId, HealthDecimal, Int256, JsonText, Uint256, UtcDateTime, utc_now


class MarketBase(SQLModel):
    chain: str
    key: str  # the market's name in the config
    protocol: str
    address: str


class Market(MarketBase, table=True):
    __tablename__ = "markets"
    __table_args__ = (UniqueConstraint("chain", "key", name="uq_markets_chain_key"),)

    id: int | None = Field(default=None, primary_key=True)
    # the runtime self-check: the last block at which positions were also read through the protocol's own
    # view, and the last at which one disagreed with the local figures
    checked_block: int | None = Field(default=None, sa_type=BigInteger)
    mismatch_block: int | None = Field(default=None, sa_type=BigInteger)


class WalletBase(SQLModel):
    address: str
    label: str | None = None
    warn_health: Decimal | None = Field(default=None, sa_type=HealthDecimal)
    critical_health: Decimal | None = Field(default=None, sa_type=HealthDecimal)


class Wallet(WalletBase, table=True):
    __tablename__ = "wallets"
    __table_args__ = (UniqueConstraint("address", name="uq_wallets_address"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class WalletPublic(WalletBase):
    id: int
    created_at: datetime


class Block(SQLModel, table=True):
    """A processed block; kept with its parent hash so reorgs can be found."""

    __tablename__ = "blocks"
    __table_args__ = (UniqueConstraint("chain", "number", name="uq_blocks_chain_number"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    chain: str
    number: int = Field(sa_type=BigInteger)
    hash: str
    parent_hash: str
    timestamp: int = Field(sa_type=BigInteger)


class PositionFigures(SQLModel):
    """What one snapshot says about a position; shared by ``positions`` and ``position_history``.

    The neutral figures (``indexer.types.Health``): the protocol's own health integer and its places, the
    normalized health, equity against requirement, gross collateral and debt, all in ``quote`` units
    (``quote_unit`` is one of them). ``detail`` is the protocol's own record of the position (JSON)."""

    chain: str
    market_id: int = Field(foreign_key="markets.id")
    account: str  # the margin account's id (``indexer.types.PositionSnapshot.account``)
    owner: str = ""  # the wallet holding it (written with every snapshot)
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str
    block_timestamp: int = Field(sa_type=BigInteger)
    health_raw: int = Field(sa_type=Uint256)
    health_decimals: int
    health: Decimal | None = Field(default=None, sa_type=HealthDecimal)  # None: nothing owed
    health_float: float | None = Field(default=None, sa_type=Double)
    equity: int = Field(sa_type=Int256)
    requirement: int = Field(sa_type=Uint256)
    collateral_value: int = Field(sa_type=Uint256)
    debt_value: int = Field(sa_type=Uint256)
    quote: str
    quote_unit: int = Field(sa_type=Uint256)
    margin_mode: str = "cross"
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JsonText)
    price_status: str = Field(default="unknown", sa_column_kwargs={"server_default": "unknown"})
    # every price dependency's liquidation point, nearest first (``indexer.health.nearest.encode_points``), found
    # when the snapshot was written; None: not computed (rows from before it was stored, a market without rules)
    liquidations: list[dict[str, Any]] | None = Field(default=None, sa_type=JsonText)


class PositionHistory(PositionFigures, table=True):
    """Append-only: one row per position per processed block."""

    __tablename__ = "position_history"
    __table_args__ = (
        Index("ix_position_history_market_account_block", "market_id", "account", "block_number"),
        Index("ix_position_history_chain_block", "chain", "block_number"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)


class Position(PositionFigures, table=True):
    """The latest snapshot of each position."""

    __tablename__ = "positions"
    __table_args__ = (
        UniqueConstraint("chain", "market_id", "account", name="uq_positions_chain_market_account"),
        Index("ix_positions_health_float", "health_float"),
        Index("ix_positions_account", "account"),
        Index("ix_positions_owner", "owner"),
    )

    id: int | None = Field(default=None, primary_key=True)
    protocol: str
    snapshot_id: int = Field(foreign_key="position_history.id", sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class PositionLeg(SQLModel, table=True):
    """One leg of one stored snapshot (``indexer.types.Leg``)."""

    __tablename__ = "position_legs"
    __table_args__ = (
        Index("ix_position_legs_snapshot_id", "snapshot_id"),
        Index("ix_position_legs_asset", "asset"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    snapshot_id: int = Field(foreign_key="position_history.id", ondelete="CASCADE", sa_type=BigInteger)
    asset: str
    symbol: str
    decimals: int
    role: str  # collateral | debt | long | short
    amount: int = Field(sa_type=Uint256)
    price: int = Field(sa_type=Uint256)
    price_decimals: int
    price_key: str
    value: int = Field(sa_type=Uint256)
    feed: str | None = None  # key of the oracle feed behind the price
    round_id: int | None = Field(default=None, sa_type=Uint256)
    price_time: int | None = Field(default=None, sa_type=BigInteger)  # a venue's timestamp of the price
    terms: dict[str, int] = Field(default_factory=dict, sa_type=JsonText)


SYNC_CHECKPOINT = "sync"  # the checkpoint ``write_block`` moves


class Checkpoint(SQLModel, table=True):
    """How far a named process (``sync``, discovery, …) has got on a chain."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("chain", "name", name="uq_checkpoints_chain_name"),)

    id: int | None = Field(default=None, primary_key=True)
    chain: str
    name: str
    block_number: int = Field(sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class OracleFeed(SQLModel, table=True):
    """A price feed (or sequencer-uptime feed) on a chain, with the rule it is judged by."""

    __tablename__ = "oracle_feeds"
    __table_args__ = (UniqueConstraint("chain", "key", name="uq_oracle_feeds_chain_key"),)

    id: int | None = Field(default=None, primary_key=True)
    chain: str
    key: str  # address, or address:price_id for Pyth
    address: str
    kind: str  # chainlink | sequencer-uptime | pyth
    price_id: str | None = None
    asset: str | None = None
    symbol: str | None = None
    description: str | None = None
    decimals: int | None = None
    heartbeat: int | None = None
    heartbeat_source: str = ""  # config | table | default
    deviation: float | None = None  # percent, from the tables (a threshold, not a measured value)
    aggregator: str | None = None
    round_id: int | None = Field(default=None, sa_type=Uint256)  # as of the latest reading
    status: str = "UNKNOWN"
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class OracleReading(SQLModel, table=True):
    """What a feed answered at one block, and the verdict on it."""

    __tablename__ = "oracle_readings"
    __table_args__ = (
        UniqueConstraint("feed_id", "block_number", name="uq_oracle_readings_feed_block"),
        Index("ix_oracle_readings_chain_block", "chain", "block_number"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    feed_id: int = Field(foreign_key="oracle_feeds.id")
    chain: str
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str
    block_timestamp: int = Field(sa_type=BigInteger)
    round_id: int | None = Field(default=None, sa_type=Uint256)
    answer: int | None = Field(default=None, sa_type=Int256)
    started_at: int | None = Field(default=None, sa_type=Uint256)
    updated_at: int | None = Field(default=None, sa_type=Uint256)
    aggregator: str | None = None
    conf: int | None = Field(default=None, sa_type=Uint256)
    status: str
    reason: str
    age: int | None = Field(default=None, sa_type=BigInteger)
    changed: bool = False  # the status differs from the feed's previous reading


class AlertState(SQLModel, table=True):
    """Where one (chain, market, account, family) stands in its rule's state machine."""

    __tablename__ = "alert_states"
    __table_args__ = (UniqueConstraint("chain", "market", "account", "family", name="uq_alert_states_key"),)

    id: int | None = Field(default=None, primary_key=True)
    chain: str
    market: str
    account: str
    family: str  # health | oracle
    level: int = 0
    pending: int | None = None
    pending_since: int | None = Field(default=None, sa_type=BigInteger)
    alert_id: str | None = None  # the open alert, if any
    updated_block: int = Field(sa_type=BigInteger)


class Alert(SQLModel, table=True):
    """One alert from opening to resolution; at most one open per dedup key."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_open", "status", "chain"),
        Index("uq_alerts_one_open", "dedup_key", unique=True, postgresql_where=text("status = 'open'"),
              sqlite_where=text("status = 'open'")),
    )

    id: str = Field(primary_key=True)
    dedup_key: str = Field(index=True)
    chain: str
    market: str
    account: str
    family: str
    severity: str
    status: str  # open | resolved
    opened_block: int = Field(sa_type=BigInteger)
    resolved_block: int | None = Field(default=None, sa_type=BigInteger)
    updated_block: int = Field(sa_type=BigInteger)
    price_status: str
    health: Decimal | None = Field(default=None, sa_type=HealthDecimal)
    acknowledged_at: float | None = Field(default=None, sa_type=Double)  # unix seconds; None: not acknowledged
    acknowledged_by: str | None = None


class Silence(SQLModel, table=True):
    """Deliveries of events matching every field given (chain, market, wallet) are not sent between ``starts_at``
    and ``ends_at`` (unix seconds): their outbox rows are written as ``silenced``."""

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_ends_at", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    chain: str | None = None
    market: str | None = None
    wallet: str | None = None
    starts_at: float = Field(sa_type=Double)
    ends_at: float = Field(sa_type=Double)
    reason: str | None = None
    created_by: str | None = None


class AlertEvent(SQLModel, table=True):
    """A transition of an alert (opened, escalated, deescalated, resolved); its id is the idempotency key."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_chain_block", "chain", "block_number"),)

    id: str = Field(primary_key=True)
    alert_id: str = Field(foreign_key="alerts.id", index=True)
    chain: str
    kind: str
    severity: str
    previous_severity: str | None = None
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str
    price_status: str
    message: str = Field(sa_type=Text)  # the AlertMessage as JSON, exactly what the channels are given
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class Delivery(SQLModel, table=True):
    """Outbox: one row per (event, channel), written in the same transaction as the event."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "channel", name="uq_deliveries_event_channel"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    event_id: str = Field(foreign_key="alert_events.id")
    channel: str
    status: str = "pending"  # pending | delivered | failed
    attempts: int = 0
    created_at: float = Field(sa_type=Double)  # unix seconds
    next_attempt_at: float = Field(sa_type=Double)
    claimed_until: float | None = Field(default=None, sa_type=Double)  # a dispatcher's lease on the row
    last_error: str | None = None
    response_status: int | None = None
    finished_at: float | None = Field(default=None, sa_type=Double)


class MarginChange(SQLModel, table=True):
    """A margin parameter the protocol changed under a position (``indexer.risk.margin``), found at ``block_number``:
    its old and new value in the protocol's units, and the position's health with the old and with the new one."""

    __tablename__ = "margin_changes"
    __table_args__ = (Index("ix_margin_changes_chain_block", "chain", "block_number"),
                      Index("ix_margin_changes_market_account", "market", "account"))

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    chain: str
    market: str
    account: str
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str
    parameter: str
    asset: str
    symbol: str
    old_value: int = Field(sa_type=Uint256)
    new_value: int = Field(sa_type=Uint256)
    health_before: Decimal | None = Field(default=None, sa_type=HealthDecimal)
    health_after: Decimal | None = Field(default=None, sa_type=HealthDecimal)
    alert_id: str | None = None  # the alert event that told of it


class MarketAccount(SQLModel, table=True):
    """An account seen in a market's events by borrower discovery, with the first and last block it was
    seen in. ``market`` is the market's config key."""

    __tablename__ = "market_accounts"
    __table_args__ = (
        UniqueConstraint("chain", "market", "account", name="uq_market_accounts_chain_market_account"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chain: str
    market: str
    account: str
    first_block: int = Field(sa_type=BigInteger)
    last_block: int = Field(sa_type=BigInteger)


class MarketState(SQLModel, table=True):
    """A market's part of its positions' figures at one block (``[writes] mode = "accrued"``): what its protocol's
    ``Accrues.advance`` derives a position's figures at that block from (indexes, prices, parameters), and the
    verdicts on the feeds and the chain that mark their price status. ``state`` is the protocol's own record."""

    __tablename__ = "market_states"
    __table_args__ = (
        UniqueConstraint("market_id", "block_number", name="uq_market_states_market_block"),
        Index("ix_market_states_chain_block", "chain", "block_number"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    chain: str
    market_id: int = Field(foreign_key="markets.id")
    block_number: int = Field(sa_type=BigInteger)
    state: Any = Field(sa_type=JsonText)
    verdicts: dict[str, str] = Field(default_factory=dict, sa_type=JsonText)  # feed address → its PriceStatus
    chain_status: str = "FRESH"  # the sequencer's word on every price at the block
