"""Dynamic margin: a protocol changing the rules under a position. Between two reads of the same position, a change of
one of its margin parameters (``MarginTerms.margin_terms``: Aave's liquidation thresholds, Comet's liquidate
collateral factors) is found, and its effect isolated: the health with the old parameters and today's prices beside
the health with the new ones, both with the protocol's own math (``health_at``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from indexer.protocols.base import MarginTerms, PositionRules
from indexer.types import PositionSnapshot

Parameters = dict[str, tuple[str, int]]  # "term:asset" → (symbol, value)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginChange:
    """``parameter`` (a leg term, e.g. liquidation_threshold) of ``symbol`` moved from ``old`` to ``new`` (the
    protocol's own units: basis points, WAD …) under one position; ``health_before`` is its health with every old
    parameter and the new read's prices and amounts, ``health_after`` with the new ones (None: nothing owed)."""

    market: str
    account: str
    parameter: str
    asset: str
    symbol: str
    old: int
    new: int
    health_before: Decimal | None
    health_after: Decimal | None


def parameter_key(term: str, asset: str) -> str:
    return f"{term}:{asset}"


def margin_parameters(rules: PositionRules, snapshot: PositionSnapshot) -> Parameters:
    """The position's margin parameters (empty when its protocol declares none)."""
    if not isinstance(rules, MarginTerms):
        return {}
    return parameters_of(((leg.asset, leg.symbol, leg.terms) for leg in snapshot.legs), rules.margin_terms())


def parameters_of(legs: Iterable[tuple[str, str, Mapping[str, int]]], terms: Iterable[str]) -> Parameters:
    """From legs (asset, symbol, terms): each of ``terms`` a leg carries. Asked for every read position every block
    (``margins_since``): a plain loop, each key built once (bench/RESULTS.md, "A quiet block's bookkeeping")."""
    wanted = terms if isinstance(terms, tuple) else tuple(terms)
    keys = _KEYS
    found: Parameters = {}
    for asset, symbol, values in legs:
        for term in wanted:
            if term in values:
                name = keys.get((term, asset))
                if name is None:
                    name = keys[term, asset] = parameter_key(term, asset)
                found[name] = (symbol, int(values[term]))
    return found


_KEYS: dict[tuple[str, str], str] = {}  # (term, asset) → its parameter key


def margin_changes(rules: PositionRules, snapshot: PositionSnapshot, previous: Mapping[str, tuple[str, int]],
                   now: Parameters | None = None) -> list[MarginChange]:
    """What changed since ``previous`` (the position's parameters at its last read): one change per parameter whose
    value moved; a parameter new to the position (a collateral just added) is not a change, nor is any change under
    a position that owes nothing (no health to move). ``now``: the position's parameters, when known already."""
    if now is None:
        now = margin_parameters(rules, snapshot)
    moved = {key: (previous[key][1], value) for key, (_, value) in now.items()
             if key in previous and previous[key][1] != value}
    if not moved:
        return []
    legs = []
    for leg in snapshot.legs:
        old_terms = {term: moved[parameter_key(term, leg.asset)][0] for term in leg.terms
                     if parameter_key(term, leg.asset) in moved}
        legs.append(dataclasses.replace(leg, terms={**leg.terms, **old_terms}) if old_terms else leg)
    before = rules.health_at(dataclasses.replace(snapshot, legs=legs), {}).health
    after = snapshot.health.health
    if before is None and after is None:
        return []  # it owes nothing: no health for the change to move
    changes = []
    for key, (old, new) in sorted(moved.items()):
        term, _, asset = key.partition(":")
        changes.append(MarginChange(market=snapshot.market, account=snapshot.account, parameter=term, asset=asset,
                                    symbol=now[key][0], old=old, new=new, health_before=before,
                                    health_after=after))
    return changes


def margins_since(snapshots: Sequence[PositionSnapshot], sources: Mapping[str, PositionRules],
                  terms: Mapping[str, Iterable[str]], previous: Mapping[tuple[str, str], Parameters]
                  ) -> tuple[dict[tuple[str, str], Parameters], list[MarginChange]]:
    """Each read position's margin parameters (by market key and account), and what changed since ``previous``
    (the parameters last stored per position; a position read for the first time has nothing to compare with).
    ``sources``: each market's rules, by market key; ``terms``: the margin terms of those that declare some
    (``MarginTerms.margin_terms``, asked once per market rather than per position)."""
    margins: dict[tuple[str, str], Parameters] = {}
    changes: list[MarginChange] = []
    wanted_of = {market: tuple(found) for market, found in terms.items() if found}
    for snapshot in snapshots:
        wanted = wanted_of.get(snapshot.market)
        if not wanted:
            continue
        now = parameters_of(((leg.asset, leg.symbol, leg.terms) for leg in snapshot.legs), wanted)
        if not now:
            continue
        key = (snapshot.market, snapshot.account)
        last = previous.get(key)
        if last is None:
            margins[key] = now
        elif last == now:  # compared whole before one by one: the parameters rarely move
            margins[key] = last
        else:
            changes += margin_changes(sources[snapshot.market], snapshot, last, now)
            margins[key] = now
    return margins, changes


def margin_terms_of(sources: Mapping[str, object]) -> dict[str, tuple[str, ...]]:
    """Per market key, the margin terms of the sources that declare some (``MarginTerms``), asked once."""
    return {key: tuple(source.margin_terms()) for key, source in sources.items() if isinstance(source, MarginTerms)}
