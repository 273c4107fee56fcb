"""What a chain's pipeline knows of the chain's stored state, loaded once and kept in step with its own commits.

The pipeline is the only writer of its chain's positions, feeds, alert states and discovery progress, so
after loading them once it can follow what it commits instead of asking the database again every block.
Wallets are the exception: people add them from other processes (CLI, API), so they are read every block.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine

from indexer.alerts.engine import AlertWrites, StoredState, dedup_key
from indexer.oracles.status import FeedStatus
from indexer.pipeline.changes import WritePolicy
from indexer.protocols.base import Drifts
from indexer.risk.margin import Parameters, parameters_of
from indexer.store.alert_store import alert_states
from indexer.store.chain_store import checkpoint, discovered_accounts, discovery_checkpoint_name
from indexer.store.feed_store import feed_metadata, feed_states
from indexer.store.position_store import position_healths, position_terms
from indexer.store.reorg import stored_hashes
from indexer.store.types import quantize_health
from indexer.types import BlockRef, PositionSnapshot

_Anchor = tuple[PositionSnapshot, PositionSnapshot, int, int | None]  # ``ChainMemory._anchors``' values


@dataclass
class ChainMemory:
    chain: str
    checkpoint: int | None
    hashes: dict[int, str]  # the stored blocks within the finality depth, for the head tracker
    feed_meta: dict[str, tuple[int, str]]  # feed address → (decimals, description)
    feed_states: dict[str, tuple[int | None, str | None, str]]  # feed key → (round id, aggregator, status)
    alert_states: dict[str, StoredState]
    healths: dict[tuple[str, str], Decimal | None]  # (market key, account) → stored health
    discovered: dict[str, list[str]] = field(default_factory=dict)  # market key → accounts, in first-seen order
    discovery_progress: dict[str, int | None] = field(default_factory=dict)  # market key → last block scanned
    # (market key, account) → its margin parameters as last stored (``indexer.risk.margin``), where its protocol
    # declares some
    margins: dict[tuple[str, str], Parameters] = field(default_factory=dict)
    # (market key, account) → the figures last written for it since the process started (``WritePolicy``)
    written: dict[tuple[str, str], PositionSnapshot] = field(default_factory=dict)
    # (market key, account) → (a written snapshot, its ``Accrues.inputs``): asked once per written snapshot
    _inputs: dict[tuple[str, str], tuple[PositionSnapshot, Hashable | None]] = field(default_factory=dict)
    # per market whose protocol ``Drifts``, under the drift bound: its state's steady parts at the last block (part
    # key → part, ``Drifts.steady_parts``); the block since which memory has followed them without a gap (``since``);
    # per part, the last block at which it changed (appeared, went or differed), and the latest of those (``latest``)
    _parts: dict[str, Mapping[Hashable, Hashable]] = field(default_factory=dict)
    since: dict[str, int] = field(default_factory=dict)
    _changed: dict[str, dict[Hashable, int]] = field(default_factory=dict)
    _latest: dict[str, int] = field(default_factory=dict)
    # (market key, account) → (its written snapshot; the snapshot a later block's growth is measured from: that row,
    # or a later read of the position compared with it in full and found within epsilon of it; that snapshot's block;
    # its ``Drifts.headroom`` against the row, once asked)
    _anchors: dict[tuple[str, str], _Anchor] = field(default_factory=dict)
    spared: int = 0  # of the last ``to_write``'s snapshots, those the drift bound spared a comparison
    # (market key, account) → (its written snapshot, its market's state at the block it last rested at, that block): the
    # dormant positions (``resting``) since, whose ``healths`` entry is an older block's (``previous``)
    _lagging: dict[tuple[str, str], tuple[PositionSnapshot, Any, BlockRef]] = field(default_factory=dict)
    _by_market: dict[str, list[str]] | None = None  # ``stored_by_market``, until ``committed`` moves memory on
    # (market key, account) → the last block whose commit moved one of its alert states (``resting``'s memo)
    _alerted: dict[tuple[str, str], int] = field(default_factory=dict)
    reused: int = 0  # of the last ``resting``'s dormant positions, those its memo of the block before decided
    # since memory was loaded: positions the memo kept dormant, and those it had to wake (their indexes grew past
    # their headroom, or a heartbeat fell due)
    memo_counts: Counter[str] = field(default_factory=Counter)
    # per market, the positions the last ``resting`` found dormant: (that block, the context it was given, account →
    # (its written snapshot, its anchor as it was then)); the next block re-checks only their indexes' growth and
    # heartbeat where nothing else under them can have moved (``resting``)
    _rested: dict[str, tuple[int, object, dict[str, tuple[PositionSnapshot, _Anchor]]]] = field(default_factory=dict)

    @classmethod
    def load(cls, engine: Engine, *, chain: str, finality_depth: int, discovering: Sequence[str],
             margin_terms: Mapping[str, Collection[str]] | None = None) -> ChainMemory:
        """``margin_terms``: per market key, the leg terms its protocol declares as margin parameters."""
        last = checkpoint(engine, chain=chain)
        terms = {key: found for key, found in (margin_terms or {}).items() if found}
        margins = {} if not terms else {
            (market, account): parameters_of(legs, terms[market])
            for (market, account), legs in position_terms(engine, chain=chain).items() if market in terms}
        return cls(
            chain=chain, checkpoint=last,
            hashes=stored_hashes(engine, chain=chain, since=max((last or 0) - finality_depth, 0)),
            feed_meta=feed_metadata(engine, chain=chain), feed_states=feed_states(engine, chain=chain),
            alert_states={dedup_key(chain, *key): StoredState(*state)
                          for key, state in alert_states(engine, chain=chain).items()},
            healths=position_healths(engine, chain=chain),
            discovered={key: discovered_accounts(engine, chain=chain, market=key) for key in discovering},
            discovery_progress={key: checkpoint(engine, chain=chain, name=discovery_checkpoint_name(key))
                                for key in discovering},
            margins=margins)

    def steady(self, parts: Mapping[str, Mapping[Hashable, Hashable] | None] | None, block: int | None = None
               ) -> None:
        """Block ``block``'s steady parts of its markets' states (``Drifts.steady_parts``; None: the block has no
        state of the market, as on the fast path, and memory stops following it), before its ``to_write``: each part
        that is not the last block's changed at ``block``; a market memory did not follow at the last block starts
        over (every part changed). ``parts`` None: the block is not written under a drift bound; everything goes."""
        if parts is None:
            if self.since or self._anchors:
                self._parts, self.since, self._changed, self._latest, self._anchors = {}, {}, {}, {}, {}
                self._rested = {}
            return
        if block is None:
            raise ValueError("steady parts are given with the block they are of")
        for market, now in parts.items():
            before = self._parts.get(market)
            if now is None:
                for gone in (self._parts, self.since, self._changed, self._latest):
                    gone.pop(market, None)
                continue
            self._parts[market] = now
            if before is None:
                self.since[market] = self._latest[market] = block
                self._changed[market] = {}
                continue
            if before == now:
                continue
            changed = self._changed[market]
            for key in before.keys() | now.keys():
                if before.get(key, _GONE) != now.get(key, _GONE):
                    changed[key] = block
            self._latest[market] = block

    def current(self, last: PositionSnapshot, written_at: int, source: Drifts) -> bool:
        """Whether memory followed ``last``'s market without a gap since block ``written_at`` and none of the steady
        parts under it (``Drifts.parts_of``) changed after that block."""
        market = last.market
        since = self.since.get(market)
        if since is None or since > written_at:
            return False
        if self._latest[market] <= written_at:
            return True
        changed = self._changed[market]
        return all(changed.get(key, since) <= written_at for key in source.parts_of(last))

    def to_write(self, snapshots: Sequence[PositionSnapshot], policy: WritePolicy,
                 exact_terms: Mapping[str, Collection[str]],
                 inputs: Mapping[str, Callable[[PositionSnapshot], Hashable | None]] | None = None,
                 drifts: Mapping[str, Drifts] | None = None) -> list[PositionSnapshot]:
        """The snapshots of a block that ``policy`` writes, given what was last written for each position;
        ``exact_terms``: per market key, its protocol's margin parameters; ``inputs``: per market key whose
        protocol accrues, its ``Accrues.inputs``; ``drifts``: per market key whose protocol bounds how far its
        positions drift (``Drifts``), that protocol, its steady parts given by ``steady`` for the block."""
        own = inputs or {}
        kept = self._inputs
        epsilon = Fraction(policy.epsilon)
        spared = [0]

        compared: list[tuple[PositionSnapshot, PositionSnapshot]] = []  # (row, read) the bound could not spare

        def bounding(source: Drifts) -> Callable[[PositionSnapshot, PositionSnapshot], bool]:
            def within(last: PositionSnapshot, now: PositionSnapshot) -> bool:
                got = self.anchor(last, source, epsilon)
                if got is not None and source.grown_within(got[0], now, got[1]):
                    spared[0] += 1
                    return True
                compared.append((last, now))
                return False
            return within

        bounds = {market: bounding(source) for market, source in (drifts or {}).items()} \
            if policy.states and policy.epsilon else {}

        Inputs = Callable[[PositionSnapshot], Hashable | None]

        def keeping(take: Inputs) -> Inputs:
            def last_inputs(last: PositionSnapshot) -> Hashable | None:  # a written snapshot's, asked once
                pair = (last.market, last.account)
                found = kept.get(pair)
                if found is None or found[0] is not last:
                    found = kept[pair] = (last, take(last))
                return found[1]
            return last_inputs

        lasts = {market: keeping(take) for market, take in own.items()}
        out = [s for s in snapshots if policy.changed(self.written.get((s.market, s.account)), s,
                                                      exact_terms.get(s.market, ()), own.get(s.market),
                                                      lasts.get(s.market), bounds.get(s.market))]
        self.spared = spared[0]
        if compared:  # compared in full and not written (within epsilon): later growth is measured from this read
            stored = {id(snapshot) for snapshot in out}
            for last, now in compared:
                if id(now) not in stored and now.market in self.since:
                    self._anchors[(now.market, now.account)] = (last, now, now.block.number, None)
        return out

    def anchor(self, last: PositionSnapshot, source: Drifts, epsilon: Fraction) -> tuple[PositionSnapshot, int] | None:
        """Where a block's growth of ``last`` (the position's written snapshot) is measured from, and how far it may
        grow from there (``Drifts.headroom`` against ``last``, asked once per anchor): ``last`` itself, or a later read
        of it found within ``epsilon`` of it (``to_write``), where no steady part under it changed since that block
        (``current``); else None."""
        pair = (last.market, last.account)
        anchor = self._anchors.get(pair)
        if anchor is None or anchor[0] is not last or not self.current(anchor[1], anchor[2], source):
            return None
        base, block, room = anchor[1:]
        if room is None:
            room = source.headroom(base, epsilon, None if base is last else last)
            self._anchors[pair] = (last, base, block, room)
        return base, room

    def resting(self, market: str, accounts: Iterable[str], source: Drifts, state: Any, epsilon: Fraction,
                keeps: Callable[[PositionSnapshot], bool], *, block: int, context: object = None,
                due: Callable[[PositionSnapshot], bool] | None = None) -> tuple[list[PositionSnapshot], list[str]]:
        """Of ``accounts`` of ``market`` (rebuilt unassembled, none of them acted: ``MarketRead.deferred``), the
        written snapshots of those whose figures at ``block``, of market state ``state``, are within ``epsilon`` of
        them (their ``anchor`` current, their indexes grown from it within its headroom: ``Drifts.within_state``)
        and that ``keeps`` (their alert level's steady band holds through epsilon, no heartbeat ``due``); and the
        accounts of the others, to assemble. The block's steady parts given first (``steady``).

        ``context``: everything ``keeps`` depends on besides the snapshot and its own alert states (the wallets'
        lines, the feeds FRESH at the block, …), equal from block to block while none of it moved. A position found
        dormant at the market's last ``resting``, with the same written snapshot and anchor, none of its alert states
        moved since (their commit at that block included), under the same context and with none of the steady parts
        under it (``Drifts.parts_of``) changed since, gives ``anchor`` and ``keeps`` the answers it gave then: only
        its indexes' growth and ``due`` are asked again."""
        written, within = self.written, source.within_state(state)
        rested: list[PositionSnapshot] = []
        woken: list[str] = []
        anchors, alerted = self._anchors, self._alerted
        memo_block, memo_context, memo = self._rested.get(market, (-1, None, {}))
        latest = self._latest.get(market)
        since = self.since.get(market, block)
        reuse = (0 <= memo_block < block and context == memo_context and latest is not None and since <= memo_block)
        # a part of the market moved since: the memo holds for a position none of whose own parts did (``current``)
        changed = self._changed.get(market, {}) if reuse and latest is not None and latest > memo_block else None
        kept: dict[str, tuple[PositionSnapshot, _Anchor]] = {}
        reused = 0
        for account in accounts:
            pair = (market, account)
            last = written.get(pair)
            if last is None:
                woken.append(account)
                continue
            entry = memo.get(account) if reuse else None
            if (entry is not None and entry[0] is last and anchors.get(pair) is entry[1]
                    and alerted.get(pair, -1) < memo_block
                    and (changed is None or all(changed.get(key, since) <= memo_block
                                                for key in source.parts_of(entry[1][1])))):
                _, base, _, room = entry[1]
                if room is not None and within(base, room) and (due is None or not due(last)):
                    rested.append(last)
                    kept[account] = entry
                    reused += 1
                else:
                    woken.append(account)
                    self.memo_counts["outgrown"] += 1
                continue
            got = self.anchor(last, source, epsilon)
            if got is not None and within(*got) and keeps(last):
                rested.append(last)
                kept[account] = (last, anchors[pair])
            else:
                woken.append(account)
        self._rested[market] = (block, context, kept)
        self.reused += reused
        self.memo_counts["reused"] += reused
        return rested, woken

    def committed(self, *, block: int, snapshots: Iterable[PositionSnapshot], feeds: Iterable[FeedStatus],
                  alerts: AlertWrites | None, discovered: Mapping[str, Mapping[str, Any]],
                  margins: Mapping[tuple[str, str], Parameters] | None = None,
                  written: Iterable[PositionSnapshot] | None = None,
                  flagged: Iterable[tuple[str, str]] = (), rested: Iterable[PositionSnapshot] = (),
                  states: Mapping[str, Any] | None = None, header: BlockRef | None = None) -> None:
        """Follow what one block's transaction wrote (``indexer.store.writer.write_block``): ``snapshots`` are
        the block's positions and closings, read and judged; ``written`` those of them it wrote (default: all);
        ``margins``: the read positions' margin parameters; ``flagged``: (market key, account) of stored positions
        whose price status the block set without their figures (unpriced, stale), written in full at their next
        read; ``rested``: its dormant positions (``resting``), with the block's ``header`` and market ``states``."""
        self.checkpoint = block
        self._by_market = None
        snapshots = list(snapshots)
        for snapshot in snapshots if written is None else written:
            pair = (snapshot.market, snapshot.account)
            if snapshot.closed:
                self.written.pop(pair, None)
                self._inputs.pop(pair, None)
                self._anchors.pop(pair, None)
            else:
                self.written[pair] = snapshot
                if snapshot.market in self.since:
                    self._anchors[pair] = (snapshot, snapshot, block, None)
        for pair in flagged:
            self.written.pop(pair, None)
            self._inputs.pop(pair, None)
            self._anchors.pop(pair, None)
        for status in feeds:
            reading = status.reading
            self.feed_states[reading.key] = (reading.round_id, reading.aggregator, status.verdict.status.value)
        lagging = self._lagging
        for snapshot in rested:
            assert header is not None and states is not None
            lagging[(snapshot.market, snapshot.account)] = (snapshot, states[snapshot.market], header)
        for snapshot in snapshots:
            if lagging:
                lagging.pop((snapshot.market, snapshot.account), None)
            if snapshot.closed:
                self.healths.pop((snapshot.market, snapshot.account), None)
                self.margins.pop((snapshot.market, snapshot.account), None)
                continue
            self.healths[(snapshot.market, snapshot.account)] = (
                None if snapshot.health.health is None else quantize_health(snapshot.health.health))
        self.margins.update(margins or {})
        alerted = self._alerted
        for row in alerts.states if alerts else ():
            alerted[(row["market"], row["account"])] = block
            key = dedup_key(self.chain, row["market"], row["account"], row["family"])
            state = StoredState(row["level"], row["pending"], row["pending_since"], row["alert_id"])
            if state.level or state.pending is not None or state.alert_id is not None:
                self.alert_states[key] = state
            else:
                self.alert_states.pop(key, None)
        for market, seen in discovered.items():
            known = set(self.discovered.setdefault(market, []))
            self.discovered[market] += [a for a in sorted(seen, key=lambda a: seen[a][0]) if a not in known]
            self.discovery_progress[market] = block

    def previous(self, advance: Mapping[str, Callable[[PositionSnapshot, Any, BlockRef], PositionSnapshot | None]]
                 ) -> Mapping[tuple[str, str], Decimal | None]:
        """``healths`` as the alert rules' previous healths: a position dormant since its last figures were computed
        gets the health it had at the block it last rested at, its written snapshot advanced there (``advance``:
        per market, its ``Accrues.advance``), as a read of that block would have computed it."""
        return _Previous(self.healths, self._lagging, advance)

    def closings(self, *, market: str, requested: Iterable[str], found: Iterable[str],
                 unpriced: Iterable[str] = ()) -> list[str]:
        """The stored positions of ``market`` that a full read asked for (by their owner) and did not find:
        closed since (an account the protocol could not value, ``unpriced``, is not closed)."""
        asked, seen, skip = set(requested), set(found), set(unpriced)
        stored = self.stored_by_market().get(market, ())
        return sorted(account for account in stored
                      if account not in seen and account not in skip and account.partition(":")[0] in asked)

    def stored_by_market(self) -> dict[str, list[str]]:
        """The stored positions' accounts per market key (one pass over them, kept until memory next moves)."""
        if self._by_market is None:
            self._by_market = {}
            for market, account in self.healths:
                self._by_market.setdefault(market, []).append(account)
        return self._by_market


_GONE = object()  # a steady part a block's state does not have


class _Previous(Mapping[tuple[str, str], Decimal | None]):
    """``ChainMemory.previous``: asked only where an alert moves, so a lagging health is worked out on demand."""

    def __init__(self, healths: Mapping[tuple[str, str], Decimal | None],
                 lagging: Mapping[tuple[str, str], tuple[PositionSnapshot, Any, BlockRef]],
                 advance: Mapping[str, Callable[[PositionSnapshot, Any, BlockRef], PositionSnapshot | None]]) -> None:
        self.healths, self.lagging, self.advance = healths, lagging, advance

    def __getitem__(self, pair: tuple[str, str]) -> Decimal | None:
        lag = self.lagging.get(pair)
        if lag is not None and pair[0] in self.advance:
            moved = self.advance[pair[0]](*lag)
            if moved is not None:
                return None if moved.health.health is None else quantize_health(moved.health.health)
        return self.healths[pair]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.healths)

    def __len__(self) -> int:
        return len(self.healths)
