"""Price history from the stored oracle readings, sampled into joint return scenarios for value at risk.

A symbol's series is the answers of one stored feed whose symbol it is (case-insensitively), by block time. A
reading with no answer, with an answer that is not positive, or judged INVALID by the oracle monitor is skipped;
a STALE reading is kept, since its answer is still the price every protocol reading the feed used. Of several
feeds for one symbol (other chains, other markets' feeds), the one a position's leg was priced by is preferred,
then the one with the longest span of readings. A feed whose description names a denomination other than USD
(``STETH / ETH``) is not used: every series is read as a USD price, USD itself being the unit that never moves.

Scenarios are sampled on a grid of non-overlapping windows of the horizon ``h``, anchored at the end of the
common window (the last time every series has a reading): the times ``end − k·h`` for ``k = 0 … n``, as far back
as every series has a reading, ``n = ⌊(end − start) / h⌋`` with ``start`` the latest first reading, and at
most ``max_scenarios`` (``[risk.var] max_scenarios``: a horizon of seconds over months of readings would be
millions; the most recent are kept, and the window reported is the one used). At each
time a series answers with its last reading at or before it (as-of), and scenario ``j`` is, for every series at
once, ``r(t_j) = P(t_j) / P(t_j − h) − 1``, an exact fraction: the assets move together as they did, so their
correlation is kept. Non-overlapping windows give ``n`` scenarios that do not share price moves; overlapping ones
(a step shorter than ``h``) would give more, but each move would be counted in several scenarios, which makes
the sample look larger than the information in it and biases the EWMA weights.

A symbol with no series of its own takes its group's (``[risk.groups]``: wstETH takes WETH's when it has no feed):
the first symbol of the group, in the group's order with the group's own name first, that has a series.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import TYPE_CHECKING

from indexer.errors import PermanentError
from indexer.risk.moves import group_index
from indexer.store.feed_store import FeedSpan, feed_answers, reading_spans

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

NUMERAIRE = "usd"  # the unit the feeds answer in: never moved, never needs a series
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
_HORIZON = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)
_DENOMINATION = re.compile(r"/\s*([A-Za-z]+)\s*$")


class VarError(PermanentError):
    """A value-at-risk question that cannot be answered as asked (a horizon not understood, a market not configured):
    one line for the CLI and a 400 for the API."""


def parse_horizon(text: str | int) -> int:
    """Seconds in ``"15m"``, ``"1h"``, ``"1d"``, ``"2w"``, ``"90s"`` or a plain number of seconds."""
    if isinstance(text, int):
        seconds = text
    else:
        match = _HORIZON.match(text)
        if match is None:
            raise VarError(f"horizon {text!r} is not a number with a unit s, m, h, d or w (e.g. 1d)")
        seconds = int(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise VarError(f"horizon {text!r} is not a positive length of time")
    return seconds


def horizon_text(seconds: int) -> str:
    """The shortest way to write ``seconds`` with one unit: 86400 → ``1d``, 5400 → ``90m``."""
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def utc_text(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """One symbol's prices: ``points`` are ``(block_timestamp, answer)``, oldest first, only where the answer
    changed (as-of sampling needs nothing else); ``readings``, ``first`` and ``last`` count and span every usable
    reading. ``chain`` and ``feed`` name the stored feed it comes from."""

    symbol: str
    points: tuple[tuple[int, int], ...]
    readings: int
    first: int
    last: int
    chain: str | None = None
    feed: str | None = None

    def as_of(self, time: int) -> int | None:
        """The answer of the last reading at or before ``time`` (None before the first)."""
        index = bisect_right(self.points, time, key=_time)
        return self.points[index - 1][1] if index else None


def _time(point: tuple[int, int]) -> int:
    return point[0]


def series_from_readings(symbol: str, readings: Iterable[tuple[int, int]], *, chain: str | None = None,
                         feed: str | None = None) -> Series | None:
    """A series from ``(block_timestamp, answer)`` readings in time order; answers ≤ 0 are skipped. None when no
    reading is left."""
    points: list[tuple[int, int]] = []
    count, first, last = 0, 0, 0
    for timestamp, answer in readings:
        if answer <= 0:
            continue
        if count == 0:
            first = timestamp
        count, last = count + 1, timestamp
        if points and points[-1][0] == timestamp:  # several readings at one block time: the last one holds
            points[-1] = (timestamp, answer)
        elif not points or points[-1][1] != answer:
            points.append((timestamp, answer))
    if not count:
        return None
    return Series(symbol=symbol, points=tuple(points), readings=count, first=first, last=last, chain=chain,
                  feed=feed)


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    """Which series moves each symbol: ``series_of`` (lower-cased symbol → lower-cased series name: itself when it
    has its own series, else its group's), ``proxied`` (as displayed: symbol → the symbol whose series it takes),
    ``fixed`` (symbols with no series and no group series: their prices are held fixed). ``labels``: lower-cased
    name → as displayed."""

    series_of: Mapping[str, str]
    proxied: Mapping[str, str]
    fixed: tuple[str, ...]
    labels: Mapping[str, str]


def assign_series(symbols: Iterable[str], available: Mapping[str, str],
                  groups: Mapping[str, Sequence[str]]) -> Coverage:
    """Each symbol's series. ``available``: lower-cased names of the symbols with a series → as displayed. The
    numeraire (USD) is left out: it is the unit of every series."""
    members = {group.lower(): [group.lower(), *(s.lower() for s in listed)] for group, listed in groups.items()}
    group_of = group_index(groups)
    labels = dict(available)
    series_of: dict[str, str] = {}
    proxied: dict[str, str] = {}
    fixed: list[str] = []
    seen: set[str] = set()
    for symbol in sorted(set(symbols), key=str.lower):
        name = symbol.lower()
        labels.setdefault(name, symbol)
        if name == NUMERAIRE or name in seen:
            continue
        seen.add(name)
        if name in available:
            series_of[name] = name
            continue
        group = group_of.get(name)
        proxy = next((m for m in members[group] if m in available), None) if group is not None else None
        if proxy is None:
            fixed.append(labels[name])
        else:
            series_of[name] = proxy
            proxied[labels[name]] = available[proxy]
    return Coverage(series_of=series_of, proxied=proxied, fixed=tuple(fixed), labels=labels)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenarios:
    """Joint returns over the horizon: ``times[j]`` is scenario ``j``'s end time (oldest first) and
    ``returns[name][j]`` the series' return from ``times[j] − horizon`` to ``times[j]``. ``first`` and ``last``:
    the window sampled (``times[0] − horizon`` to ``times[-1]``), or, with no scenario, the window the series have
    in common (None when they have none)."""

    horizon: int
    times: tuple[int, ...]
    returns: Mapping[str, tuple[Fraction, ...]]
    first: int | None
    last: int | None

    @property
    def count(self) -> int:
        return len(self.times)

    def at(self, index: int) -> dict[str, Fraction]:
        """Every series' return in scenario ``index``."""
        return {name: values[index] for name, values in self.returns.items()}


DEFAULT_MAX_SCENARIOS = 2_000  # eight years of daily returns, twelve weeks of hourly


def sample_scenarios(series: Mapping[str, Series], horizon: int,
                     max_scenarios: int = DEFAULT_MAX_SCENARIOS) -> Scenarios:
    """The non-overlapping as-of grid over the series' common window (see the module's docstring)."""
    if not series:
        return Scenarios(horizon=horizon, times=(), returns={}, first=None, last=None)
    start = max(s.first for s in series.values())
    end = min(s.last for s in series.values())
    if end < start:
        return Scenarios(horizon=horizon, times=(), returns={name: () for name in series}, first=None, last=None)
    count = min((end - start) // horizon, max_scenarios)
    samples = [end - k * horizon for k in range(count, -1, -1)]  # oldest first
    returns = {name: _returns(one, samples) for name, one in series.items()}
    if not count:
        return Scenarios(horizon=horizon, times=(), returns=returns, first=start, last=end)
    return Scenarios(horizon=horizon, times=tuple(samples[1:]), returns=returns, first=samples[0], last=end)


def _returns(series: Series, samples: Sequence[int]) -> tuple[Fraction, ...]:
    """``P(t_j) / P(t_j−1) − 1`` between consecutive sample times, each price the as-of answer."""
    prices = []
    for time in samples:
        price = series.as_of(time)
        if price is None:  # the grid starts at the latest first reading: every series has one by then
            raise ValueError(f"series {series.symbol} has no reading at or before {time}")
        prices.append(price)
    return tuple(Fraction(now, then) - 1 for then, now in zip(prices, prices[1:], strict=False))


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """What value at risk is computed from: the series (by lower-cased name), which symbol takes which, the
    scenarios."""

    series: Mapping[str, Series]
    coverage: Coverage
    scenarios: Scenarios


def build_history(series: Iterable[Series], *, symbols: Iterable[str], groups: Mapping[str, Sequence[str]],
                  horizon: int, max_scenarios: int = DEFAULT_MAX_SCENARIOS) -> History:
    """The history of ``symbols`` from the given series (one per symbol): the series they need (their own or
    their group's), sampled together."""
    by_name = {s.symbol.lower(): s for s in series}
    coverage = assign_series(symbols, {name: s.symbol for name, s in by_name.items()}, groups)
    used = {name: by_name[name] for name in sorted(set(coverage.series_of.values()))}
    return History(series=used, coverage=coverage, scenarios=sample_scenarios(used, horizon, max_scenarios))


def load_history(engine: Engine, *, symbols: Collection[str], groups: Mapping[str, Sequence[str]], horizon: int,
                 preferred: Collection[tuple[str, str]] = (),
                 max_scenarios: int = DEFAULT_MAX_SCENARIOS) -> History:
    """The history of ``symbols`` from the stored readings. ``preferred``: ``(chain, feed key)`` of the feeds the
    positions were priced by, chosen first among a symbol's feeds."""
    wanted = {s.lower() for s in symbols}
    for group, listed in groups.items():
        members = {group.lower(), *(s.lower() for s in listed)}
        if members & wanted:
            wanted |= members  # a member may be the proxy of a symbol without a feed
    chosen = choose_feeds(reading_spans(engine, symbols=wanted - {NUMERAIRE}), preferred)
    series = []
    for span in chosen.values():
        one = series_from_readings(span.symbol, feed_answers(engine, feed_id=span.feed_id), chain=span.chain,
                                   feed=span.key)
        if one is not None:
            series.append(one)
    history = build_history(series, symbols=symbols, groups=groups, horizon=horizon, max_scenarios=max_scenarios)
    log.debug("var history symbols=%d series=%d proxied=%d fixed=%d scenarios=%d", len(wanted), len(history.series),
              len(history.coverage.proxied), len(history.coverage.fixed), history.scenarios.count)
    return history


def choose_feeds(spans: Iterable[FeedSpan], preferred: Collection[tuple[str, str]] = ()) -> dict[str, FeedSpan]:
    """One feed per lower-cased symbol: a preferred one if any, then the longest span, then the most readings;
    feeds denominated in anything but USD are left out."""
    best: dict[str, FeedSpan] = {}
    for span in spans:
        if not _in_usd(span.description):
            log.debug("var history skips feed chain=%s key=%s: %r is not in USD", span.chain, span.key,
                      span.description)
            continue
        name = span.symbol.lower()
        if name not in best or _rank(span, preferred) > _rank(best[name], preferred):
            best[name] = span
    return best


def _rank(span: FeedSpan, preferred: Collection[tuple[str, str]]) -> tuple[bool, int, int]:
    return (span.chain, span.key) in preferred, span.last - span.first, span.readings


def _in_usd(description: str | None) -> bool:
    """True unless the description ends in a ``/ DENOMINATION`` other than USD (``ETH / USD`` is; ``STETH / ETH``
    is not; a description that names none is taken as USD)."""
    match = _DENOMINATION.search(description or "")
    return match is None or match.group(1).upper() == "USD"
