"""Price moves for what-ifs: ``ETH=-25%`` moves every symbol of the ETH group, each position's prices in its own quote.

A move names a group of the config's ``[risk.groups]`` (ETH moves WETH, wstETH, weETH … with it) or one symbol (a
depeg: ``USDC=-3%``), which composes with its group's move: ``ETH=-25% wstETH=-5%`` puts wstETH at 0.75 × 0.95.
Names match case-insensitively. A position's prices are in its quote currency (Aave v3: USD; a Morpho market: its
loan token), so a leg's price moves by ``factor(leg) / factor(quote)``: with ``ETH=-25%`` a Morpho wstETH/WETH
market's price does not move, a WBTC/WETH one rises by a third. Only the prices a position's health rests on
(``price_dependencies``) move: a protocol that counts its debt at par keeps it there.

Moved prices are integers in the legs' price units, floored: ``price × factor`` rounded down, the price a feed
moved by the same amount would answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from indexer.errors import PermanentError
from indexer.protocols.base import PositionRules
from indexer.types import PositionSnapshot, PriceKey

_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+?)\s*[=:]\s*([+-]?\d+(?:\.\d+)?)\s*%?\s*$")


class MoveError(PermanentError):
    """A move that cannot be understood (one line for the CLI and a 400 for the API)."""


@dataclass(frozen=True, slots=True)
class Moves:
    """Relative moves by lower-cased group or symbol name (``-1/4`` is −25 %), and each symbol's group."""

    by_name: Mapping[str, Fraction]
    group_of: Mapping[str, str]
    labels: Mapping[str, str]  # lower-cased name → as written

    def factor(self, symbol: str) -> Fraction:
        """New price over old for ``symbol``: its group's move, then its own on top."""
        name = symbol.lower()
        factor = Fraction(1)
        group = self.group_of.get(name)
        if group is not None and group in self.by_name:
            factor *= 1 + self.by_name[group]
        if name in self.by_name and name != group:
            factor *= 1 + self.by_name[name]
        return factor

    def describe(self) -> str:
        """``ETH -25%, wstETH -5%``."""
        return ", ".join(f"{self.labels[name]} {_percent(move)}" for name, move in self.by_name.items())

    def as_percent(self) -> dict[str, str]:
        return {self.labels[name]: _percent(move) for name, move in self.by_name.items()}


def group_index(groups: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Lower-cased symbol → lower-cased group, a group's own name in it too (``[risk.groups]``: ETH → eth, wstETH →
    eth)."""
    return {symbol.lower(): group.lower() for group, symbols in groups.items() for symbol in [group, *symbols]}


def parse_moves(specs: Iterable[str], groups: Mapping[str, Iterable[str]]) -> Moves:
    """``["ETH=-25%", "wstETH:-5"]`` (percent; the ``%`` is optional) against the config's groups. A name given twice
    takes both moves, one after the other."""
    group_of = group_index(groups)
    by_name: dict[str, Fraction] = {}
    labels: dict[str, str] = {}
    for spec in specs:
        match = _SPEC.match(spec)
        if match is None:
            raise MoveError(f"price move {spec!r} is not NAME=PERCENT (e.g. ETH=-25%)")
        name, amount = match.group(1), Fraction(match.group(2)) / 100
        if amount <= -1:  # a quote currency at zero would put every price it quotes at infinity
            raise MoveError(f"price move {spec!r}: a price can fall by less than 100%, not more")
        # the same name twice: one move after the other (-10% then -10% is -19%)
        by_name[name.lower()] = (1 + by_name.get(name.lower(), Fraction(0))) * (1 + amount) - 1
        labels.setdefault(name.lower(), name)
    if not by_name:
        raise MoveError("no price move given (e.g. ETH=-25%)")
    return Moves(by_name=by_name, group_of=group_of, labels=labels)


def moved_prices(rules: PositionRules, snapshot: PositionSnapshot, moves: Moves) -> dict[PriceKey, int]:
    """The prices of ``snapshot`` that ``moves`` changes (key → new price), as ``health_at`` takes them."""
    quote = moves.factor(snapshot.health.quote) if snapshot.health.quote else Fraction(1)
    prices: dict[PriceKey, int] = {}
    for key in sorted(rules.price_dependencies(snapshot)):
        legs = snapshot.legs_priced_by(key)
        if not legs:
            continue
        factor = moves.factor(legs[0].symbol) / quote
        if factor != 1:
            prices[key] = legs[0].price * factor.numerator // factor.denominator
    return prices


def moved_names(moves: Moves, symbols: Iterable[str]) -> set[str]:
    """The move names (as written) that change at least one of ``symbols``: what the user asked that mattered."""
    used = set()
    for symbol in symbols:
        name = symbol.lower()
        group = moves.group_of.get(name)
        if group is not None and group in moves.by_name:
            used.add(moves.labels[group])
        if name in moves.by_name:
            used.add(moves.labels[name])
    return used


def _percent(move: Fraction) -> str:
    text = f"{float(move * 100):+.4f}".rstrip("0").rstrip(".")
    return f"{text}%"
