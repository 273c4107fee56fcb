"""The source contract every protocol implements, lending and perps alike, over two transports.

A contract-reading source (``Source``, ``transport = "chain"``) reads positions as a *plan*: a generator that
yields rounds of contract calls and receives their results. The caller merges the rounds of every market on a
chain into one pinned Multicall3 pass per round, so a source never talks to the RPC and never chooses the
block. Protocols whose reads depend on earlier reads (Aave: which reserves a user touches decides which
balances to read) take several rounds; a protocol with fixed reads takes one.

An HTTP venue's source (``VenueSource``, ``transport = "venue"``, e.g. Hyperliquid) reads the same way with
rounds of venue requests (``VenueRequest``: a JSON body and its weight in the venue's rate limit), which the
venue session paces and sends; its snapshots carry the venue's time instead of a block (the venue pipeline
stamps them, see ``indexer.venue.pipeline``).

Besides reading, a source answers the questions the rest of the indexer asks about its positions without
knowing the protocol: which prices a position rests on (``price_dependencies``), what it would be at other
prices (``reprice``, ``healthy_at``), where each price liquidates it (``liquidation_points``), which price
a feed reading implies (``price_from_feed``, the fast path), and where its accounts show up (``discovery``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from indexer.chain.multicall import Plan
from indexer.errors import MarketMismatchError
from indexer.oracles.chainlink import ChainlinkFeeds
from indexer.oracles.reading import FeedReading
from indexer.types import Address, BlockRef, Health, Leg, LiquidationPoint, PositionSnapshot, PriceKey

if TYPE_CHECKING:  # only the devnet tooling calls a DevnetModule
    from indexer.devnet.deployment import Deployment


@dataclass(frozen=True, slots=True)
class DiscoverySpec:
    """Where a market's accounts show up: which logs to scan and which topic of each holds the account.

    ``account_topic`` maps topic0 → the index of the topic holding the account. ``match`` fixes the
    topics after topic0 (``match[0]`` is topic1 …; None matches anything), e.g. a Morpho market id in
    topic1. The logs come from ``emitter`` when given, else from the contract that the market's
    configured address answers to the argument-less view ``emitter_getter`` (Aave: ``getPool()``)."""

    account_topic: Mapping[str, int]
    match: tuple[str | None, ...] = ()
    emitter: Address | None = None
    emitter_getter: str | None = None

    def topics(self) -> list[list[str] | str | None]:
        return [sorted(self.account_topic), *self.match]


@dataclass(frozen=True, slots=True)
class MarketRef:
    """A configured market: its key, chain, on-chain address (the protocol's entry point) and the options
    the protocol validated (``Source.options``)."""

    key: str
    chain: str
    address: Address
    verify_onchain: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    def mismatch(self, what: str) -> MarketMismatchError:
        """The one-line error for a configured address that is not what the protocol expects; ``what`` goes after
        the market, address and chain (e.g. ``is not a Compound v3 Comet (baseToken() is empty)``)."""
        return MarketMismatchError(f"market {self.key!r}: {self.address} on chain {self.chain!r} {what}")


@dataclass(slots=True)
class MarketRead:
    """What one market's read produced: positions, the feeds behind their prices, and the accounts whose
    position could not be valued because the protocol itself could not price one of their assets."""

    snapshots: list[PositionSnapshot]
    feeds: list[FeedReading] = field(default_factory=list)
    unpriced: list[Address] = field(default_factory=list)
    # accounts the protocol refused to value at this block because a price it needs is stale (a pull oracle's
    # update is due, e.g. ERC-7412 OracleDataRequired): their stored figures stay, marked STALE, and are not closed
    stale: list[Address] = field(default_factory=list)
    hint: object | None = None  # handed to the market's next ``read`` (see ``Source.read``)
    checked: int = 0  # accounts whose figures were also read through the protocol's own view (self-check)
    mismatched: list[Address] = field(default_factory=list)  # ... and disagreed: the protocol's figures were kept
    # accounts vouched ``unchanged`` (``ChangeReads``) but read anyway (self-checked), whose inputs were not those kept:
    # something changed them that the watched logs did not name
    drifted: list[Address] = field(default_factory=list)
    # the market's part of the figures at this block, as ``Accrues.advance`` takes it (JSON values only: lists,
    # string-keyed dicts, ints, strings, bools, None); None: the source keeps none (``[writes] mode = "accrued"``)
    state: Any = None
    # (``ChangeReads.read`` with ``defer``) accounts rebuilt from what the previous read kept, not assembled yet: none
    # of them is in ``snapshots``; ``assemble`` builds those asked for (its ``snapshots`` and ``unpriced``), at no call
    deferred: list[Address] = field(default_factory=list)
    assemble: Callable[[Sequence[Address]], MarketRead] | None = None


class PositionRules(Protocol):
    """What the rest of the indexer asks a source about its positions, whatever the transport."""

    def price_dependencies(self, snapshot: PositionSnapshot) -> set[PriceKey]:
        """The prices the position's health rests on."""
        ...

    def reprice(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> PositionSnapshot:
        """The position with some prices replaced (amounts as they are): legs' values, health and detail
        recomputed exactly as the protocol would (the fast path, which stores it)."""
        ...

    def health_at(self, snapshot: PositionSnapshot, prices: Mapping[PriceKey, int]) -> Health:
        """``reprice(snapshot, prices).health`` without building a new position: the what-if and shock path,
        asked for every position."""
        ...

    def healthy_at(self, snapshot: PositionSnapshot, key: PriceKey) -> Callable[[int], bool]:
        """``price → not liquidatable`` with the price ``key`` at ``price`` and the rest as in the snapshot;
        the same answer as ``reprice``, asked cheaply many times (the liquidation-point search)."""
        ...

    def liquidation_points(self, snapshot: PositionSnapshot,
                           keys: Iterable[PriceKey] | None = None) -> dict[PriceKey, LiquidationPoint]:
        """Per price dependency (or only ``keys``) that can liquidate the position on its own (others held
        fixed), the last price (in the legs' price units) at which it is not liquidatable and the direction
        that liquidates it."""
        ...

    def price_from_feed(self, reading: FeedReading) -> tuple[PriceKey, int] | None:
        """The price (and its key) the protocol would use given a feed's new reading, for the fast path;
        None when that cannot be known without a full read."""
        ...


@runtime_checkable
class BalanceRounding(Protocol):
    """Optional, beside ``PositionRules``: how the protocol's own token accounting rounds a balance that changes.
    Without it a repayment of ``x`` leaves ``amount - x`` and a deposit of ``x`` makes ``amount + x``; a protocol
    that keeps scaled balances (Aave's aTokens and debt tokens) may land a unit away, which decides the smallest
    amount that reaches a health target."""

    def amount_after(self, snapshot: PositionSnapshot, leg: Leg, change: int) -> int | None:
        """``leg``'s amount once the account adds ``change`` (> 0, to what it holds) or repays ``-change`` (< 0, of
        what it owes), as the protocol would book it at the snapshot's block; None when that cannot be known
        exactly from the snapshot."""
        ...


@runtime_checkable
class MarginTerms(Protocol):
    """Optional, beside ``PositionRules``: which of a position's leg ``terms`` are the protocol's own margin
    parameters (Aave: a collateral's liquidation threshold), which its governance can change under a position. A change
    of one between two reads of a position is stored and alerted on (``indexer.risk.margin``)."""

    def margin_terms(self) -> Collection[str]:
        """The ``Leg.terms`` keys that enter a position's health and that the protocol can change."""
        ...


@dataclass(frozen=True, slots=True)
class MarginAsset:
    """What a margin account is topped up with: the asset's id, its symbol, and the decimals of its amounts."""

    asset: str
    symbol: str
    decimals: int


@runtime_checkable
class MarginDeposit(Protocol):
    """Optional, beside ``PositionRules``: a margin that is no leg of the position (a perp venue's cash: Hyperliquid's
    cross account value, an isolated position's own margin), which the account can add to. ``to_be_safe`` offers the
    smallest deposit of it that reaches a health target."""

    def margin_asset(self, snapshot: PositionSnapshot) -> MarginAsset | None:
        """What ``snapshot``'s margin is topped up with; None when it takes no deposit outside its legs."""
        ...

    def with_margin(self, snapshot: PositionSnapshot, amount: int) -> PositionSnapshot:
        """``snapshot`` once ``amount`` (> 0) units of the margin asset are added to its margin, its health as the
        protocol would then report it (the amount booked as the protocol books it, the requirement as it counts it)."""
        ...


@runtime_checkable
class AmountHealth(Protocol):
    """Optional, beside ``PositionRules``: the health as a function of one leg's amount, the rest held, computed
    once for the others (what-it-takes asks it ~40 times a leg). It must equal ``health_at`` of the snapshot with
    that leg's amount changed, to the unit."""

    def health_at_amount(self, snapshot: PositionSnapshot, index: int) -> Callable[[int], Decimal | None]:
        ...


@runtime_checkable
class AmountReaching(Protocol):
    """Optional, beside ``AmountHealth``: the amount one leg must hold for the health to reach ``target``, the rest
    held (the smallest collateral, the largest debt; None where none does). What-it-takes starts its search there
    and checks every answer with ``health_at_amount``, so it is exact even where this is a unit off; close, it
    saves the ~40 probes a leg a search from an interpolation takes where values move in steps of many units."""

    def amount_reaching(self, snapshot: PositionSnapshot, index: int, target: Decimal) -> int | None:
        ...


@runtime_checkable
class DepositAsset(Protocol):
    """Optional, beside ``BalanceRounding``: a collateral leg whose amount is not in the asset a deposit into it is
    made in (an ERC-4626 vault's shares: Euler v2's collateral vaults take the underlying asset), so "what it takes"
    names the asset paid in rather than the leg's."""

    def deposit_asset(self, snapshot: PositionSnapshot, leg: Leg) -> MarginAsset | None:
        """The asset a deposit into ``leg`` is paid in (its ``amount_after`` change is in its units); None: the
        leg's own."""
        ...


class _Configured(Protocol):
    kind: ClassVar[str]
    # "chain": reads contracts through Multicall3 (``Source``); "venue": an HTTP venue (``VenueSource``)
    transport: ClassVar[str]
    # The market's ``options`` table in the config, validated by this model (None: the protocol takes none).
    options: ClassVar[type[BaseModel] | None]
    # The module deploying the protocol on the devnet (``DevnetModule``), imported only when a devnet
    # starts; None: the protocol has no devnet deployment.
    devnet: ClassVar[str | None]
    market: MarketRef

    def __init__(self, market: MarketRef) -> None: ...

    def discovery(self) -> DiscoverySpec | None:
        """The logs that name this market's accounts; None when discovery is not available."""
        ...


class Source(_Configured, PositionRules, Protocol):
    """A contract-reading source (``transport = "chain"``)."""

    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = ()) -> Plan[MarketRead]:
        """Positions of ``accounts`` at ``block``, exact integers; accounts with no position are left out.
        ``check``: accounts to read also through the protocol's own view in the same rounds, where it has one
        (the runtime self-check: a disagreement is logged and the protocol's figures are kept).
        The oracle feeds behind the prices are read in the same rounds (``feeds`` builds those calls).
        ``hint`` is the ``MarketRead.hint`` of this market's previous read (None on the first): a source
        may use it to read what it resolved before (entry points, layouts) in a later round, but must
        confirm it at ``block`` before relying on it — a hint saves round trips, it is never trusted."""
        ...


@runtime_checkable
class ChangeReads(Protocol):
    """Optional, beside ``Source``: a read that rebuilds the accounts that did not act since the previous read from
    what that read kept of them (in its hint), without their own calls.

    Only an account's own actions change its own inputs (balances, flags, modes); the rest of its figures (indexes,
    prices, parameters) come from the market's part of the read, done every block. The actions of every account
    show in the logs of the contracts ``watched`` names: the caller fetches them over the blocks since the previous
    read, and vouches for every other account of ``read`` as ``unchanged``."""

    def watched(self, hint: object | None) -> Collection[Address] | None:
        """The contracts whose logs name (as a topic or a data word) every account whose inputs change, as the
        previous read (its ``hint``) found them; None when that read did not keep its accounts' inputs."""
        ...

    def read(self, accounts: Sequence[Address], block: BlockRef, feeds: ChainlinkFeeds,
             hint: object | None = None, check: Collection[Address] = (),
             unchanged: Collection[Address] | None = None, defer: bool = False) -> Plan[MarketRead]:
        """``Source.read``; with ``unchanged`` given (even empty), the returned hint keeps every account's inputs,
        and an account in ``unchanged`` whose inputs the ``hint`` kept may be rebuilt from them instead of read.
        An account in ``unchanged`` and in ``check`` is read, and reported ``drifted`` if its inputs were not the
        kept ones. ``defer``: the accounts rebuilt that way are not assembled but listed in ``MarketRead.deferred``,
        for the caller to assemble those it needs (``MarketRead.assemble``) once it knows the market's state (the
        pipeline's dormant positions, ``Drifts``)."""
        ...


@runtime_checkable
class Accrues(Protocol):
    """Optional, beside ``Source``: a position whose figures at any block of its market follow from its own inputs
    (as its snapshot holds them) and the market's state at that block (``MarketRead.state``: indexes, prices,
    parameters), the same for every account. With ``[writes] mode = "accrued"`` a block stores its markets' states
    and only the positions whose inputs changed (or whose figures moved more than ``epsilon``); a reader derives
    any other block's figures with ``advance`` (``indexer.history``)."""

    def inputs(self, snapshot: PositionSnapshot) -> Hashable | None:
        """The position's own part of its figures (balances, flags, modes), comparable between blocks; None when
        its figures do not follow from it and a market state (a balance that grows at its own rate)."""
        ...

    def advance(self, snapshot: PositionSnapshot, state: Any, block: BlockRef) -> PositionSnapshot | None:
        """The position's figures at ``block`` of its market, whose state there is ``state``, from its inputs as
        ``snapshot`` (at an earlier block) holds them: exactly what a read at ``block`` would give when the account
        did not act in between, its price status not marked. None when they cannot be derived (``inputs`` None, a
        price the state lacks)."""
        ...


@runtime_checkable
class Drifts(Protocol):
    """Optional, beside ``Accrues``: how far a position's figures can drift while its own inputs and everything of
    its market's state under it but the interest indexes stay as they were. With ``[writes] mode = "accrued"`` and
    an ``epsilon``, a position whose inputs did not change, written at a block since which none of its market's
    ``steady_parts`` under it changed, and whose indexes grew no more than its ``headroom``, is within ``epsilon``
    of its last row in every figure the write policy compares: the block spares it the comparison
    (``indexer.pipeline.changes``).

    Where the source also ``ChangeReads`` (``defer``), such a position whose account no log named need not even be
    assembled: its health within ``epsilon`` of its last row's keeping its alert level's steady band, every price
    fresh, the rules would raise and the write would store nothing for it (the pipeline's *dormant* positions)."""

    def steady_parts(self, state: Any, block: BlockRef) -> Mapping[Hashable, Hashable]:
        """The market's state at ``block`` (``MarketRead.state``) without what moves with time alone (the interest
        indexes, the feeds' rounds), in parts (part key → part: say the market's rules, each reserve, each eMode
        category): what must be the same for a position's figures to follow from its indexes."""
        ...

    def parts_of(self, snapshot: PositionSnapshot) -> Iterable[Hashable]:
        """The keys of the ``steady_parts`` the position's figures rest on (a part of its market it does not hold
        cannot move them)."""
        ...

    def headroom(self, snapshot: PositionSnapshot, epsilon: Fraction, base: PositionSnapshot | None = None) -> int:
        """The largest growth of the indexes under ``snapshot``'s legs (relative, in units of ``DRIFT_SCALE``,
        floored) that keeps every figure within ``epsilon`` of ``base``'s (default: the snapshot's own), whatever the
        protocol's rounding, its inputs and the rest of the state unchanged; 0 where no growth is known to be safe.
        ``base``: the written row the snapshot (same inputs) was compared with and found within ``epsilon`` of."""
        ...

    def grown_within(self, last: PositionSnapshot, now: PositionSnapshot, headroom: int) -> bool:
        """Whether the two have the same ``Accrues.inputs`` (not None), and each index under ``now``'s legs is at
        least ``last``'s and grew by at most ``headroom`` (``DRIFT_SCALE`` units) since; the caller vouches that
        the steady parts under ``last`` are the same at both blocks."""
        ...

    def within_state(self, state: Any) -> Callable[[PositionSnapshot, int], bool]:
        """A test of a written snapshot and its ``headroom``: whether each index ``state`` (``MarketRead.state``)
        holds under the snapshot's legs is at least the snapshot's and grew by at most ``headroom`` since, for a
        position with the snapshot's inputs (not None) — ``grown_within`` without assembling the position. The
        caller vouches that the account did not act since the snapshot and that the steady parts under it are the same.
        (Prepared once per state, asked once per dormant candidate.)"""
        ...


DRIFT_SCALE = 10**18  # ``Drifts.headroom``: a relative growth g as floor(g · DRIFT_SCALE)


@dataclass(frozen=True, slots=True)
class VenueRequest:
    """One request to an HTTP venue: its JSON body and what it weighs in the venue's rate limit."""

    body: Mapping[str, Any]
    weight: int = 1


_T = TypeVar("_T")
VenuePlan = Generator[list[VenueRequest], list[Any], _T]


class VenueSource(_Configured, PositionRules, Protocol):
    """An HTTP venue's source (``transport = "venue"``): the configured market's ``chain`` names a venue."""

    def fetch(self, accounts: Sequence[Address], hint: object | None = None) -> VenuePlan[MarketRead]:
        """Positions of ``accounts`` as the venue reports them now, exact integers (decimal strings parsed
        without floats); accounts holding nothing are left out. Each snapshot's ``detail["venue_time_ms"]`` is
        the venue's time of its state. ``hint``: as for ``Source.read``."""
        ...


class DevnetModule(Protocol):
    """What a protocol's devnet module offers ``indexer devnet up`` and the demo."""

    def deploy_devnet(self, rpc_url: str) -> dict[str, Any]:
        """Deploy on the node; a JSON-friendly record whose ``contracts`` (name → address or id) join the
        devnet deployment file, so configs can say ``devnet:NAME``."""
        ...

    def seed_devnet(self, rpc_url: str, deployment: Deployment, count: int) -> list[tuple[Address, str]]:
        """Open about ``count`` positions (the protocol's own record is ``deployment.protocols[kind]``);
        returns (account, kind) of each."""
        ...


def price_dependencies(snapshot: PositionSnapshot) -> set[PriceKey]:
    """The usual answer: every leg's price key."""
    return {leg.price_key for leg in snapshot.legs}
