"""The API's request and response models, defined once: the handlers parse their query, path and body with them
(``indexer.api.inputs``), and the OpenAPI document's schemas and parameters are generated from them
(``indexer.api.openapi``).

Exact figures are decimal strings and uint256 values integer strings (most JSON clients cannot carry them as
numbers). A type that needs a rule pydantic's constraints cannot say (an EIP-55 checksum, an exact decimal) has
its validator and its JSON schema side by side here.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from indexer.address import parse_account_id, parse_address
from indexer.errors import InvalidAddressError
from indexer.store.wallet_store import MAX_LABEL

DEFAULT_LIMIT, MAX_LIMIT = 50, 500  # positions per page (a larger limit is capped to MAX_LIMIT)
DEFAULT_POINTS, MAX_POINTS = 500, 5000  # history rows
DEFAULT_ALERTS, MAX_ALERTS = 50, 500
DEFAULT_SHOCKED, MAX_SHOCKED = 50, 500
LIMIT_ACCEPTED = 1_000_000  # limits up to this are accepted and capped; above it they are refused
MAX_BLOCK = 2**63 - 1  # block numbers are BIGINT columns
MAX_TEXT = 200  # characters of a name, a reason or an operator's name
MAX_SILENCE_SECONDS = 366 * 86_400
EXAMPLE_ACCOUNT = "0x000000000000000000000000000000000000dEaD"

_NO_CONTROL = "^[^\\u0000-\\u001f\\u007f]+$"


# -- output types ----------------------------------------------------------------------------------------------------
Dec = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", description="exact decimal")]
Uint = Annotated[str, Field(pattern=r"^[0-9]+$", description="unsigned integer (uint256) in decimal")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
# A position's account id: its owner's address, or owner:NAME (one of several accounts of a wallet on a market)
Account = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}(:[A-Za-z0-9_.:-]{1,64})?$")]
MarketAddress = Annotated[str, Field(pattern=r"^(0x[0-9a-fA-F]{40})?$",
                                     description="the protocol's contract; empty for an HTTP venue's market")]
BlockHash = Annotated[str, Field(pattern=r"^(0x[0-9a-fA-F]{64}|[A-Za-z0-9_.-]+:[0-9]+)$",
                                 description="the block's hash; for an HTTP venue, VENUE:<venue time in ms> of the "
                                             "snapshot")]
MarginMode = Literal["cross", "isolated"]
# PriceStatus's values (a unit test keeps the two equal)
Status = Literal["FRESH", "SEQUENCER_GRACE", "STALE", "UNKNOWN", "SEQUENCER_DOWN", "INVALID"]


# -- input types: each validator beside the schema it is documented with ---------------------------------------------
def _address(value: str) -> str:
    try:
        return parse_address(value)
    except InvalidAddressError as exc:
        raise ValueError(str(exc)) from None


def _account(value: str) -> str:
    try:
        return parse_account_id(value)
    except InvalidAddressError as exc:
        raise ValueError(str(exc)) from None


AddressIn = Annotated[str, AfterValidator(_address), WithJsonSchema({
    "type": "string", "pattern": r"^0x[0-9a-fA-F]{40}$", "format": "eth-address",
    "description": "0x + 40 hex digits: one case throughout, or a valid EIP-55 checksum"})]
AccountIn = Annotated[str, AfterValidator(_account), WithJsonSchema({
    "type": "string", "pattern": r"^0x[0-9a-fA-F]{40}(:[A-Za-z0-9_.:-]{1,64})?$", "format": "account-id",
    "description": "an address (one case throughout, or EIP-55), optionally followed by :NAME"})]
Name = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=_NO_CONTROL,
                            description="a chain, market or protocol name (no control characters)")]
# A name as one path segment of a page's URL: "." and ".." are dot segments a client removes before sending, so they
# never reach a handler (the API's routes answer that with the router's JSON 404, a page's would not be HTML)
_NAME_CHAR, _NAME_NOT_DOT = "[^\\u0000-\\u001f\\u007f]", "[^\\u0000-\\u001f\\u007f.]"
SegmentName = Annotated[str, Field(
    min_length=1, max_length=MAX_TEXT,
    pattern=f"^({_NAME_NOT_DOT}|\\.{_NAME_NOT_DOT}|\\.\\.{_NAME_CHAR}){_NAME_CHAR}*$",
    description="a chain or market name (no control characters; not . or ..)")]
ShortText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=_NO_CONTROL, strict=True)]

_AMOUNT = re.compile(r"^[0-9]{1,30}(\.[0-9]{1,30})?$")


def _amount(value: Any) -> Decimal:
    if not isinstance(value, str) or not _AMOUNT.match(value):
        raise ValueError("must be a non-negative decimal number (digits, optionally a point and more digits)")
    return Decimal(value)


Amount = Annotated[Decimal, PlainValidator(_amount), WithJsonSchema({
    "type": "string", "pattern": _AMOUNT.pattern, "description": "non-negative decimal"})]

SMALLEST_LEVEL, LARGEST_LEVEL = Decimal("1e-18"), Decimal(1_000_000)  # levels are stored with 18 places


def _level(value: Any) -> Decimal:
    """A health level from JSON: a decimal string or number (the body is read with exact decimals), in
    [1e-18, 1,000,000]; never goes through float."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError("must be a decimal number")
    try:
        parsed = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"must be a decimal number, got {str(value)[:40]!r}") from None
    if not parsed.is_finite() or parsed.adjusted() > 40:
        raise ValueError("must be a finite decimal number")
    if not SMALLEST_LEVEL <= parsed <= LARGEST_LEVEL:
        raise ValueError(f"must be between {SMALLEST_LEVEL} and {LARGEST_LEVEL}")
    return parsed


Level = Annotated[Decimal, PlainValidator(_level), WithJsonSchema({"oneOf": [
    {"type": "string", "pattern": r"^(0{0,5}[1-9][0-9]{0,5}(\.[0-9]{1,18})?|0{0,5}\.[0-9]{0,17}[1-9])$",
     "description": "positive decimal below 1,000,000 with at most 18 places"},
    {"type": "number", "minimum": 0.000001, "maximum": 1000000}]})]


def _seconds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value != int(value) \
            or not 1 <= value <= MAX_SILENCE_SECONDS:
        raise ValueError(f"seconds is required: how long, a whole number from 1 to {MAX_SILENCE_SECONDS}")
    return int(value)


def _silence_id(value: Any) -> int:
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 18:
        raise ValueError("a silence id is a whole number (at most 18 digits)")
    return int(value)


Block = Annotated[int, Field(ge=0, le=MAX_BLOCK)]
HORIZON = r"^[1-9][0-9]{0,5}[smhdwSMHDW]?$"
CASCADE = r"^-[0-9]{1,2}(\.[0-9]{1,6})?%?$"
TARGET = r"^[0-9]{1,3}(\.[0-9]{1,18})?$"
# NAME=PERCENT, a fall of less than 100 %
_MOVE = r"[A-Za-z0-9_.\-]+[=:](-[0-9]{1,2}(\.[0-9]+)?|\+?[0-9]+(\.[0-9]+)?)%?"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- responses -------------------------------------------------------------------------------------------------------
class Error(Model):
    model_config = ConfigDict(extra="allow")  # 404s name what was looked for
    error: str
    parameter: str | None = Field(None, description="the offending parameter (400 only)")


class Liquidation(Model):
    symbol: str
    price_key: str
    price: Dec = Field(description="the last price at which it is not liquidatable, the others fixed")
    current: Dec = Field(description="the price the position was computed with")
    direction: Literal["falling", "rising"] = Field(
        description="falling: it liquidates below `price`; rising: above it (what it owes)")
    distance: Dec = Field(description="the relative move from `current` to `price` (0.18 = 18 %; <= 0: already past "
                                      "the line)")


class PerpLine(Model):
    symbol: str
    side: Literal["long", "short"]
    size: Dec
    mark: Dec = Field(description="the price it was valued at")
    entry: Dec | None
    unrealized_pnl: Dec | None = Field(description="in the position's quote")
    leverage: Dec | None
    margin_mode: MarginMode
    liquidation_price: Dec | None = Field(description="the last mark of this perp at which the account is not "
                                                      "liquidatable, the others held fixed")
    liquidates: Literal["below", "above"] = Field(description="a long liquidates below its price, a short above")


class Position(Model):
    chain: str
    protocol: str
    market: str
    market_address: MarketAddress
    account: Account
    owner: Address
    label: str | None
    block_number: int
    block_hash: BlockHash
    block_timestamp: int
    health: Dec | None = Field(description="1 = liquidation line; null = nothing owed")
    health_raw: Uint = Field(description="the protocol's own health integer")
    health_decimals: int = Field(description="places of health_raw")
    margin_mode: MarginMode
    quote: str = Field(description="the currency of every value of the position")
    collateral_value: Dec
    debt_value: Dec
    equity: Dec = Field(description="risk-adjusted collateral (lending) or account value (perps)")
    requirement: Dec = Field(description="debt (lending) or maintenance margin (perps); health = equity / "
                                         "requirement")
    detail: dict[str, str | bool | None | dict[str, Any]] = Field(
        description="the protocol's own record of the position; integers as strings (Aave: rules, pool_revision, "
                    "eMode category, LT, LTV, available borrows; under 1, `liquidation`: what one liquidation repays "
                    "and seizes)")
    price_status: Status | Literal["unknown"]
    liquidatable: bool = Field(description="health under 1 and not held by the protocol (an L2 sequencer, a "
                                           "liquidation grace period)")
    liquidation: Liquidation | None = Field(
        description="the nearest liquidation price of all the prices its health rests on; null when nothing is "
                    "owed or no single price liquidates it")
    notes: list[str] = Field(description="cross-protocol remarks: why a position under 1 is not liquidatable yet; "
                                         "why its local math is unverified")
    perps: list[PerpLine] = Field(description="its perp positions, largest first (empty for lending)")
    updated_at: str


class Leg(Model):
    asset: str = Field(description="the token's address, or a venue's asset name")
    symbol: str
    decimals: int
    role: Literal["collateral", "debt", "long", "short"]
    amount: Dec
    amount_raw: Uint
    price: Dec
    price_raw: Uint
    price_decimals: int
    price_key: str
    value: Dec
    value_raw: Uint
    feed: str | None
    round_id: Uint | None
    price_time: int | None
    terms: dict[str, int]


class SafetyStep(Model):
    action: Literal["repay", "add"]
    asset: str = Field(description="the leg repaid or added to (a vault's address for a deposit into a vault)")
    symbol: str = Field(description="what the amount is paid in")
    into: str | None = Field(default=None, description="a deposit paid in another asset than the leg's (a vault's "
                                                       "underlying asset): the leg's symbol")
    amount: Dec | None
    amount_raw: Uint | None
    health_after: Dec | None
    exact: bool = Field(description="the protocol's own balance rounding was applied")


class SafetyPlan(Model):
    target: Dec
    steps: list[SafetyStep] = Field(description="each on its own brings health to at least `target`; the amount is "
                                                "the smallest in token units (one unit less does not)")
    unmodelled: list[str] = Field(description="legs whose amount the local math does not take: no amount offered")


class PositionDetail(Position):
    liquidations: list[Liquidation] = Field(description="every price the health rests on with its liquidation price "
                                                        "(each alone, the others held), nearest first; `liquidation` "
                                                        "is the first")
    legs: list[Leg]
    to_be_safe: SafetyPlan | None = Field(description="the smallest repayment or deposit that brings health to "
                                                      "`[risk] target_health`; null for a market no longer "
                                                      "configured")


class PositionPage(Model):
    items: list[Position]
    sort: Literal["health", "debt"]
    limit: int
    next_cursor: str | None


class HistoryRow(Model):
    block_number: int
    block_hash: BlockHash
    block_timestamp: int
    health: Dec | None
    health_raw: Uint
    collateral_value: Dec
    debt_value: Dec
    quote: str
    price_status: str
    stored_block: int = Field(description="the block of the stored row the figures come from")
    derived: bool = Field(description="true: advanced from that row with the market's state stored at "
                                      "`block_number` (`[writes] mode = \"accrued\"`); false: the row's figures")


class History(Model):
    items: list[HistoryRow]
    chain: str
    market: str
    account: Account
    since: int | None
    until: int | None
    points: int
    total: int
    downsampled: bool


class PositionAt(Model):
    chain: str
    market: str
    account: Account
    block: int = Field(description="the block asked for")
    stored_block: int = Field(description="the block of the stored row the figures come from")
    derived: bool = Field(description="true: the figures at `block`, derived from that row and the market's state "
                                      "stored at `block` (`[writes] mode = \"accrued\"`); false: the row as stored "
                                      "(the position's figures from `stored_block` on, as far as the store knows)")
    block_hash: BlockHash = Field(description="of the block the figures are at")
    block_timestamp: int
    health: Dec | None = Field(description="1 = liquidation line; null = nothing owed")
    health_raw: Uint
    health_decimals: int
    quote: str
    collateral_value: Dec
    debt_value: Dec
    equity: Dec
    requirement: Dec
    price_status: str
    detail: dict[str, str | bool | None | dict[str, Any]]
    liquidations: list[Liquidation] | None = Field(description="every price the health rests on with its "
                                                                "liquidation price, nearest first (null: not known)")
    legs: list[Leg]


class Wallet(Model):
    address: Address
    label: str | None
    warn: Dec | None
    critical: Dec | None
    created_at: str


class WalletList(Model):
    items: list[Wallet]


class Delivery(Model):
    channel: str
    status: str
    attempts: int
    last_error: str | None


class AlertEvent(Model):
    id: str
    kind: str
    severity: str
    previous_severity: str | None
    block_number: int
    price_status: str
    deliveries: list[Delivery]


class Alert(Model):
    id: str
    dedup_key: str
    chain: str
    market: str
    account: Account
    family: str
    severity: str
    status: Literal["open", "resolved"]
    opened_block: int
    resolved_block: int | None
    updated_block: int
    price_status: str
    health: Dec | None
    acknowledged_at: float | None
    acknowledged_by: str | None
    events: list[AlertEvent]


class AlertList(Model):
    items: list[Alert]
    status: Literal["open", "all"]
    limit: int


class Silence(Model):
    id: int
    chain: str | None
    market: str | None
    wallet: Address | None
    starts_at: float
    ends_at: float
    reason: str | None
    created_by: str | None


class SilenceList(Model):
    items: list[Silence]


class Oracle(Model):
    chain: str
    feed: str
    kind: str
    asset: str | None
    symbol: str | None
    description: str | None
    status: Status
    reason: str
    answer: Dec | None
    answer_raw: Annotated[str, Field(pattern=r"^-?[0-9]+$")] | None
    decimals: int | None
    round_id: Uint | None
    updated_at: int | None
    age_seconds: int | None
    seconds_since_update: int | None
    heartbeat_seconds: int | None
    heartbeat_source: str
    deviation_percent: float | None
    aggregator: str | None
    block_number: int
    block_timestamp: int


class OracleList(Model):
    items: list[Oracle]


class Market(Model):
    chain: str
    key: str
    protocol: str
    address: MarketAddress
    positions: int
    with_debt: int
    liquidatable: int
    min_health: Dec | None
    block_number: int | None
    self_check: Literal["verified", "UNVERIFIED", "unchecked"] = Field(
        description="UNVERIFIED: the protocol's own view disagreed with the local figures within the last 600 "
                    "checked blocks")
    mismatch_block: int | None


class MarketList(Model):
    items: list[Market]


class ShockTotals(Model):
    quote: str = Field(description="the currency of every value of the group")
    positions: int
    moved: int = Field(description="positions with at least one moved price")
    liquidatable_before: int
    liquidatable_after: int
    crossing: int = Field(description="positions the moves take under 1")
    collateral_crossing: Dec = Field(description="gross collateral of the crossing positions, after")
    debt_crossing: Dec = Field(description="gross debt of the crossing positions, after")
    collateral_liquidatable: Dec = Field(description="of every position under 1 after the moves")
    debt_liquidatable: Dec


class MarketShock(ShockTotals):
    market: str


class WalletShock(ShockTotals):
    wallet: Address


class ShockedPrice(Model):
    symbol: str
    key: str
    before: Dec
    after: Dec


class ShockedPosition(Model):
    chain: str
    protocol: str
    market: str
    account: Account
    wallet: Address
    quote: str
    health_before: Dec | None
    health_after: Dec | None
    health_raw_after: Uint
    crossing: bool
    collateral_after: Dec
    debt_after: Dec
    prices: list[ShockedPrice]


class Shock(Model):
    moves: dict[str, str] = Field(description="each move as understood")
    unused_moves: list[str] = Field(description="moves no stored position's price rests on")
    positions_considered: int
    unconfigured_positions: int = Field(description="stored positions of markets no longer configured")
    markets: list[MarketShock]
    wallets: list[WalletShock]
    liquidatable_after: int
    positions: list[ShockedPosition] = Field(description="positions under 1 after the moves, riskiest first (at "
                                                         "most `limit`)")


class Var(Model):
    """Value at risk and expected shortfall per quote currency: historical simulation over the stored oracle
    readings and a parametric EWMA variant (see the README)."""

    model_config = ConfigDict(extra="allow")
    scope: dict[str, str]
    horizon: str
    horizon_seconds: int | None = None
    levels: list[Dec] | None = None
    scenarios: int
    min_scenarios: int | None = None
    insufficient: str | None = Field(description="why no figure is given")
    quotes: list[dict[str, Any]]


class Curve(Model):
    model_config = ConfigDict(extra="allow")
    symbol: str
    points: list[dict[str, Any]]
    cascade: dict[str, Any] | None = None
    cascade_refused: str | None = None


class LiquidationCurve(Model):
    model_config = ConfigDict(extra="allow")
    market: str
    protocol: str
    positions: int
    curves: list[Curve] = Field(description="per collateral asset: at each price step, what is liquidated "
                                            "(cumulative and incremental); `cascade` with the impact model when asked")


class Book(Model):
    quote: str
    positions: int
    collateral: Dec
    debt: Dec
    net: Dec


class RiskPosition(Position):
    to_be_safe: SafetyPlan | None


class WalletRisk(Model):
    wallet: Address
    target: Dec
    positions: int
    liquidatable: int
    min_health: Dec | None
    books: list[Book]
    first_liquidation: dict[str, Any] | None = Field(
        description="the position whose nearest liquidation price is the smallest move")
    items: list[RiskPosition]
    var: Var | None


class ChainStatus(Model):
    chain: str
    block_number: int | None
    block_hash: BlockHash | None
    block_timestamp: int | None
    seconds_since_block: int | None
    behind: bool
    checkpoint: int | None


class Health(Model):
    status: Literal["ok", "behind"]
    time: int
    max_lag_seconds: int
    chains: list[ChainStatus]


class Unavailable(Model):
    model_config = ConfigDict(extra="allow")
    status: str
    error: str | None = None


# -- request bodies --------------------------------------------------------------------------------------------------
class WalletCreate(Model):
    address: AddressIn
    label: Annotated[str, Field(min_length=1, max_length=MAX_LABEL, strict=True)] | None = None
    warn: Level | None = Field(None, description="this wallet's WARN level (health below it)")
    critical: Level | None = Field(None, description="this wallet's CRITICAL level; not above warn")

    @field_validator("critical")
    @classmethod
    def _not_above_warn(cls, critical: Decimal | None, info: ValidationInfo) -> Decimal | None:
        warn = info.data.get("warn")
        if critical is not None and warn is not None and critical > warn:
            raise ValueError("critical must not be above warn")
        return critical


class SilenceCreate(Model):
    # at least one of chain, market or wallet given (not null), or all: true
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["chain"], "properties": {"chain": {"type": "string"}}},
        {"required": ["market"], "properties": {"market": {"type": "string"}}},
        {"required": ["wallet"], "properties": {"wallet": {"type": "string"}}},
        {"required": ["all"], "properties": {"all": {"const": True}}}]})
    chain: ShortText | None = None
    market: ShortText | None = None
    wallet: AddressIn | None = None
    all: Annotated[bool, Field(strict=True)] = False
    seconds: Annotated[int, PlainValidator(_seconds), WithJsonSchema(
        {"type": "integer", "minimum": 1, "maximum": MAX_SILENCE_SECONDS})] = Field(
        description="how long the silence holds")
    reason: ShortText | None = None
    by: ShortText | None = None

    @model_validator(mode="after")
    def _says_what(self) -> SilenceCreate:
        if not (self.chain or self.market or self.wallet or self.all):
            raise ValueError("say what to silence: chain, market, wallet (any together), or all: true")
        return self


class AckRequest(Model):
    by: ShortText | None = None


# -- query parameters ------------------------------------------------------------------------------------------------
class NoQuery(Model):
    """Routes that take no query parameter (any one given is refused)."""


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class PositionsQuery(Model):
    wallet: AddressIn | None = Field(None, description="only this account", examples=[EXAMPLE_ACCOUNT])
    chain: Name | None = Field(None, description="only this chain (config name)", examples=["devnet"])
    protocol: Name | None = Field(None, description="only this protocol", examples=["aave_v3"])
    market: Name | None = Field(None, description="only this market (config key)", examples=["devnet-aave-v3"])
    margin_mode: MarginMode | None = Field(None, description="only this margin mode", examples=["cross"])
    side: Literal["long", "short"] | None = Field(None, description="only positions holding a perp of this side",
                                                  examples=["short"])
    max_health: Amount | None = Field(None, description="health at most this (positions without debt never match)",
                                      examples=["1.1"])
    min_debt: Amount | None = Field(None, description="debt at least this much, in the position's quote currency",
                                    examples=["100"])
    price_status: Annotated[Status, BeforeValidator(_upper)] | None = Field(
        None, description="only positions priced with this status (any case)", examples=["FRESH"])
    sort: Literal["health", "debt"] = Field("health", description="health: lowest first; debt: largest first",
                                            examples=["health"])
    cursor: Annotated[str, Field(pattern="^[A-Za-z0-9_-]{1,512}$")] | None = Field(
        None, description="`next_cursor` of the previous page (opaque; made for the same `sort`)")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=LIMIT_ACCEPTED,
                       description=f"page size; values above {MAX_LIMIT} are capped to {MAX_LIMIT}", examples=[20])


class HistoryQuery(Model):
    since: Block | None = Field(None, description="first block (inclusive)", examples=[0])
    until: Block | None = Field(None, description="last block (inclusive); below `since`: an empty window",
                                examples=[10_000_000])
    points: int = Field(DEFAULT_POINTS, ge=1, le=MAX_POINTS,
                        description="at most this many rows, evenly spaced, always including the last",
                        examples=[100])


class AlertsQuery(Model):
    status: Literal["open", "all"] = Field("all", description="open: only open", examples=["open"])
    limit: int = Field(DEFAULT_ALERTS, ge=1, le=LIMIT_ACCEPTED, description=f"at most this many (capped to "
                                                                            f"{MAX_ALERTS})", examples=[10])


class SilencesQuery(Model):
    all: bool = Field(False, description="also the silences that have ended", examples=[True])


class OraclesQuery(Model):
    chain: Name | None = Field(None, description="only this chain", examples=["devnet"])
    not_fresh: bool = Field(False, description="only feeds that are not FRESH", examples=[True])


class ShockQuery(Model):
    moves: Annotated[str, Field(min_length=1, max_length=2000, pattern=f"^{_MOVE}(,{_MOVE})*$")] = Field(
        description="NAME=PERCENT pairs, comma-separated: a group of `[risk.groups]` (ETH moves WETH, wstETH … with "
                    "it) or a symbol, whose move composes with its group's", examples=["ETH=-25,BTC=-20"])
    wallet: AddressIn | None = Field(None, description="only this wallet's positions", examples=[EXAMPLE_ACCOUNT])
    chain: Name | None = Field(None, description="only this chain (config name)", examples=["devnet"])
    market: Name | None = Field(None, description="only this market (config key)", examples=["devnet-aave-v3"])
    limit: int = Field(DEFAULT_SHOCKED, ge=1, le=LIMIT_ACCEPTED,
                       description=f"at most this many positions listed (capped to {MAX_SHOCKED})", examples=[20])


Cascade = Annotated[str, Field(pattern=CASCADE)]
Horizon = Annotated[str, Field(pattern=HORIZON)]


class CurveQuery(Model):
    symbol: Name | None = Field(None, description="only this collateral asset", examples=["WETH"])
    cascade: Cascade | None = Field(None, description="run the cascade from this move (percent): liquidations "
                                                      "sold into `[risk.curve.depth]`", examples=["-10"])


class VarQuery(Model):
    horizon: Horizon = Field("1d", description="the VaR horizon: a number with a unit s, m, h, d or w",
                             examples=["1d"])


class RiskQuery(VarQuery):
    target: Annotated[str, Field(pattern=TARGET)] | None = Field(
        None, description="the health to reach (default `[risk] target_health`)", examples=["1.5"])


class MarketPageQuery(Model):
    cascade: Cascade | None = Field(None, description="run the cascade from this move (percent) and mark its rounds",
                                    examples=["-10"])


# -- path parameters -------------------------------------------------------------------------------------------------
class PositionPath(Model):
    chain: Name = Field(examples=["devnet"])
    market: Name = Field(examples=["devnet-aave-v3"])
    account: AccountIn = Field(examples=[EXAMPLE_ACCOUNT])


class PositionAtPath(PositionPath):
    block: Block = Field(examples=[10_000_000])


class PositionPagePath(Model):
    chain: SegmentName = Field(examples=["devnet"])
    market: SegmentName = Field(examples=["devnet-aave-v3"])
    account: AccountIn = Field(examples=[EXAMPLE_ACCOUNT])


class AddressPath(Model):
    address: AddressIn = Field(examples=[EXAMPLE_ACCOUNT])


class MarketPath(Model):
    market: Name = Field(examples=["devnet-aave-v3"])


class MarketPagePath(Model):
    market: SegmentName = Field(examples=["devnet-aave-v3"])


class AlertPath(Model):
    alert_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(examples=["0123abcd"])


class SilencePath(Model):
    silence_id: Annotated[int, PlainValidator(_silence_id), WithJsonSchema(
        {"type": "string", "pattern": "^[0-9]{1,18}$"})] = Field(examples=["1"])


class DocsUiPath(Model):
    name: Literal["swagger-ui.css", "swagger-ui-bundle.js"] = Field(examples=["swagger-ui.css"])


class DocsStaticPath(Model):
    name: Literal["docs.js"] = Field(examples=["docs.js"])
