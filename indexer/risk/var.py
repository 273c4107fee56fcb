"""Value at risk (VaR) and expected shortfall (ES) of a set of positions over a horizon, from the stored oracle history.

A position's value is what it is worth to its holder in its quote currency: collateral − debt (``Health.collateral
− Health.debt``) for a lending position, the account value (``Health.equity``) for a perp account (any long or
short leg). The loss in a scenario is the value before minus the value after, positions of one quote currency
summed; quote currencies are never added together. Amounts are held as they were stored: only prices move.

Historical simulation (exact): each joint return scenario of ``indexer.risk.history`` is applied to every position
as ``Moves`` (one return per symbol, its own series' or its group's: never both) and the position recomputed with
its protocol's own ``health_at``, the same integers and rounding as a read at those prices. With the ``n`` losses
sorted, ``L(1) ≤ … ≤ L(n)``, and ``k = ⌈α·n⌉`` (computed exactly), VaR at ``α`` is ``L(k)`` and ES the mean of
``L(k) … L(n)``, so ES ≥ VaR, and VaR at a higher level is never lower. The health at the level is the lowest
health among the positions in the VaR scenario.

Parametric (floats: a statistical estimate, not a protocol figure): the EWMA covariance ``Σ`` of the series'
per-horizon returns, seeded with their zero-mean second moment over the window, ``Σ ← λ·Σ + (1 − λ)·r·rᵀ`` for each
scenario oldest first; exposures ``w`` (first-order change of value per unit return of each series, in quote
units: leg values, + for collateral and long, − for debt and short, and minus the same against the quote
currency's own series when it has one); ``σ = √(wᵀΣw)``, VaR ``= z_α·σ``, ES ``= σ·φ(z_α) / (1 − α)`` (mean
return taken as 0). The health at the level is recomputed exactly in the scenario ``r = −z_α·Σw / σ``, the most
likely one (under the normal model) whose linear loss is the VaR.

Fewer scenarios than ``[risk.var].min_scenarios`` give no figure at all, only ``insufficient history: …``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from indexer.address import parse_address
from indexer.health.nearest import stored_snapshots
from indexer.protocols.base import PositionRules
from indexer.risk.history import (
    NUMERAIRE,
    Coverage,
    History,
    VarError,
    horizon_text,
    load_history,
    parse_horizon,
    utc_text,
)
from indexer.risk.moves import Moves, moved_prices
from indexer.store.position_store import list_positions
from indexer.types import Health, PositionSnapshot, Role

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from indexer.settings import Settings
    from indexer.store.views import PositionView

log = logging.getLogger(__name__)

__all__ = ["VarError", "VarResult", "market_var", "value_at_risk", "wallet_var"]

_PERP_ROLES = (Role.LONG, Role.SHORT)
_SIGN = {Role.COLLATERAL: 1, Role.LONG: 1, Role.DEBT: -1, Role.SHORT: -1}
_RATE_PLACES = 10  # returns, volatilities and z-values in the JSON


# --- the positions -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskPosition:
    """A position and its market's rules: what every scenario is recomputed with."""

    snapshot: PositionSnapshot
    rules: PositionRules

    @property
    def quote(self) -> str:
        return self.snapshot.health.quote

    def baseline(self) -> Health:
        """The health at the stored prices, recomputed the same way as every scenario (so no move, no loss)."""
        return self.rules.health_at(self.snapshot, {})

    def moved_symbols(self) -> list[str]:
        """The symbols whose move changes the position: one per price dependency (``moved_prices`` moves each key
        with its first leg's symbol), and the quote currency."""
        symbols = [legs[0].symbol for key in sorted(self.rules.price_dependencies(self.snapshot))
                   if (legs := self.snapshot.legs_priced_by(key))]
        return [*symbols, self.quote] if self.quote else symbols

    def feeds(self) -> set[tuple[str, str]]:
        """``(chain, feed)`` of the legs its health rests on: the feeds its protocol actually read."""
        keys = self.rules.price_dependencies(self.snapshot)
        return {(self.snapshot.chain, leg.feed) for leg in self.snapshot.legs if leg.feed and leg.price_key in keys}


def is_perp(snapshot: PositionSnapshot) -> bool:
    return any(leg.role in _PERP_ROLES for leg in snapshot.legs)


def position_value(snapshot: PositionSnapshot, health: Health) -> Fraction:
    """What the position is worth to its holder, in whole quote units: equity of a perp account, collateral − debt
    of a lending position."""
    raw = health.equity if is_perp(snapshot) else health.collateral - health.debt
    return Fraction(raw, health.quote_unit)


def scenario_moves(returns: Mapping[str, Fraction], coverage: Coverage) -> Moves:
    """One scenario as moves: every covered symbol takes its series' return (its own, or its group's when it has
    none) and nothing else. No group entry is made, so a symbol with a series of its own is never also moved by
    its group: one return per symbol, nothing compounded. A fall below −100 % is held at −100 %."""
    by_name = {symbol: max(returns[name], Fraction(-1)) for symbol, name in coverage.series_of.items()
               if name in returns}
    return Moves(by_name=by_name, group_of={}, labels={s: coverage.labels.get(s, s) for s in by_name})


@dataclass(slots=True, kw_only=True)
class _Outcome:
    """The positions of one quote currency in one scenario: their total loss and their lowest health."""

    loss: Fraction = Fraction(0)
    health: Decimal | None = None

    def add(self, loss: Fraction, health: Decimal | None) -> None:
        self.loss += loss
        if health is not None and (self.health is None or health < self.health):
            self.health = health


def outcomes(positions: Sequence[RiskPosition], baselines: Sequence[Health],
             moves: Moves) -> dict[str, _Outcome]:
    """Every quote currency's loss and lowest health with ``moves`` applied, each position exactly (``health_at``)."""
    found: dict[str, _Outcome] = {}
    for position, before in zip(positions, baselines, strict=True):
        prices = moved_prices(position.rules, position.snapshot, moves)
        after = position.rules.health_at(position.snapshot, prices) if prices else before
        loss = position_value(position.snapshot, before) - position_value(position.snapshot, after)
        found.setdefault(position.quote, _Outcome()).add(loss, after.health)
    return found


# --- historical simulation -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Tail:
    """VaR and ES of a loss sample at one level: ``rank`` is ``k = ⌈α·n⌉`` (VaR is the k-th smallest loss) and
    ``scenario`` the index, in the sample's own order, of the loss that is the VaR (ties: the earliest)."""

    level: Decimal
    rank: int
    var: Fraction
    es: Fraction
    scenario: int


def check_level(level: Decimal) -> None:
    if not 0 < level < 1:
        raise VarError(f"VaR level {level} is not between 0 and 1")


def quantile_rank(level: Decimal, count: int) -> int:
    """``⌈α·n⌉``, exactly (in floats 0.6 × 5 is 3.0000000000000004, whose ceiling is 4)."""
    check_level(level)
    if count < 1:
        raise ValueError("no losses to take a quantile of")
    return max(1, math.ceil(Fraction(level) * count))


def tail(losses: Sequence[Fraction], level: Decimal) -> Tail:
    """VaR: the ``⌈α·n⌉``-th smallest loss; ES: the mean of it and every loss sorted after it."""
    order = sorted(range(len(losses)), key=lambda j: (losses[j], j))
    rank = quantile_rank(level, len(losses))
    worst = [losses[j] for j in order[rank - 1:]]
    return Tail(level=level, rank=rank, var=worst[0], es=sum(worst, Fraction(0)) / len(worst),
                scenario=order[rank - 1])


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoricalLevel:
    """Historical VaR and ES at ``level`` (whole quote units, exact), the lowest health in the VaR scenario and that
    scenario's end time; ``rank``: the VaR is the rank-th smallest of the scenarios' losses."""

    level: Decimal
    rank: int
    var: Fraction
    es: Fraction
    health: Decimal | None
    scenario_time: int


def historical(positions: Sequence[RiskPosition], baselines: Sequence[Health], history: History,
               levels: Sequence[Decimal]) -> dict[str, tuple[HistoricalLevel, ...]]:
    """Historical simulation, per quote currency, at each level (at least one scenario needed); ``baselines``: each
    position's ``RiskPosition.baseline``."""
    scenarios = history.scenarios
    per_quote: dict[str, list[_Outcome]] = {p.quote: [] for p in positions}
    for index in range(scenarios.count):
        found = outcomes(positions, baselines, scenario_moves(scenarios.at(index), history.coverage))
        for quote, outcome in found.items():
            per_quote[quote].append(outcome)
    result: dict[str, tuple[HistoricalLevel, ...]] = {}
    for quote, sample in per_quote.items():
        losses = [o.loss for o in sample]
        figures = []
        for level in levels:
            t = tail(losses, level)
            figures.append(HistoricalLevel(level=level, rank=t.rank, var=t.var, es=t.es,
                                           health=sample[t.scenario].health,
                                           scenario_time=scenarios.times[t.scenario]))
        result[quote] = tuple(figures)
    return result


# --- parametric EWMA ----------------------------------------------------------------------------------------


def ewma_covariance(returns: Sequence[Sequence[float]], lam: float) -> list[list[float]]:
    """The EWMA covariance of return vectors (oldest first): seeded with their zero-mean second moment
    ``S = (1/n)·Σ r·rᵀ``, then ``Σ ← λ·Σ + (1 − λ)·r·rᵀ`` for each vector in turn. The weights sum to one: the
    seed keeps ``λⁿ`` and the return ``t`` of ``n`` gets ``(1 − λ)·λ^(n−t)``."""
    if not returns:
        raise ValueError("no returns to estimate a covariance from")
    size = len(returns[0])
    cov = [[sum(r[a] * r[b] for r in returns) / len(returns) for b in range(size)] for a in range(size)]
    for r in returns:
        cov = [[lam * cov[a][b] + (1 - lam) * r[a] * r[b] for b in range(size)] for a in range(size)]
    return cov


def exposures(positions: Iterable[RiskPosition], coverage: Coverage, names: Sequence[str]) -> dict[str, list[float]]:
    """Per quote currency, the first-order change of value per unit return of each series (in ``names`` order), in
    whole quote units: every leg under a moved price adds its value (+ collateral and long, − debt and short) to its
    symbol's series, and takes it from the quote currency's series when the quote has one (prices are in the
    quote: a rise of the quote is a fall of every price in it)."""
    index = {name: i for i, name in enumerate(names)}
    result: dict[str, list[float]] = {}
    for position in positions:
        snapshot, unit = position.snapshot, position.snapshot.health.quote_unit
        w = result.setdefault(position.quote, [0.0] * len(names))
        quote_series = coverage.series_of.get(position.quote.lower())
        for key in position.rules.price_dependencies(snapshot):
            legs = snapshot.legs_priced_by(key)
            if not legs:
                continue
            series = coverage.series_of.get(legs[0].symbol.lower())
            for leg in legs:
                amount = _SIGN[leg.role] * leg.value / unit
                if series is not None:
                    w[index[series]] += amount
                if quote_series is not None:
                    w[index[quote_series]] -= amount
    return result


def portfolio_sigma(w: Sequence[float], cov: Sequence[Sequence[float]]) -> tuple[float, list[float]]:
    """``σ = √(wᵀΣw)`` and ``Σw``."""
    cov_w = [sum(row[b] * w[b] for b in range(len(w))) for row in cov]
    return math.sqrt(max(0.0, sum(a * b for a, b in zip(w, cov_w, strict=True)))), cov_w


@dataclass(frozen=True, slots=True, kw_only=True)
class ParametricLevel:
    """Parametric VaR and ES at ``level`` (floats, whole quote units); ``returns`` the scenario ``−z·Σw/σ`` per series
    and ``health`` / ``loss`` the lowest health and the exact loss (``health_at``) of the positions in it: the loss
    differs from the VaR by what is not linear in the returns (floored prices and values, a price divided by its quote
    currency's move)."""

    level: Decimal
    z: float
    var: float
    es: float
    returns: dict[str, float]
    health: Decimal | None
    loss: Fraction


@dataclass(frozen=True, slots=True, kw_only=True)
class Parametric:
    sigma: float
    exposures: dict[str, float]
    levels: tuple[ParametricLevel, ...]


def parametric(positions: Sequence[RiskPosition], baselines: Sequence[Health], history: History,
               levels: Sequence[Decimal], lam: Decimal) -> tuple[dict[str, float], dict[str, Parametric]]:
    """The EWMA volatility of each series (per horizon) and, per quote currency, the parametric figures."""
    names = sorted(history.series)
    scenarios = history.scenarios
    vectors = [[float(scenarios.returns[name][j]) for name in names] for j in range(scenarios.count)]
    cov = ewma_covariance(vectors, float(lam))
    volatility = {history.series[name].symbol: math.sqrt(cov[i][i]) for i, name in enumerate(names)}
    result: dict[str, Parametric] = {}
    for quote, w in exposures(positions, history.coverage, names).items():
        sigma, cov_w = portfolio_sigma(w, cov)
        mine = [(p, b) for p, b in zip(positions, baselines, strict=True) if p.quote == quote]
        figures = []
        for level in levels:
            check_level(level)
            z = NormalDist().inv_cdf(float(level))
            shift = [-z * c / sigma if sigma > 0 else 0.0 for c in cov_w]
            moves = scenario_moves({name: Fraction(r) for name, r in zip(names, shift, strict=True)},
                                   history.coverage)
            outcome = outcomes([p for p, _ in mine], [b for _, b in mine], moves).get(quote, _Outcome())
            figures.append(ParametricLevel(
                level=level, z=z, var=z * sigma, es=sigma * NormalDist().pdf(z) / (1 - float(level)),
                returns={history.series[name].symbol: r for name, r in zip(names, shift, strict=True)},
                health=outcome.health, loss=outcome.loss))
        result[quote] = Parametric(sigma=sigma, levels=tuple(figures),
                                   exposures={history.series[name].symbol: x for name, x in zip(names, w, strict=True)})
    return volatility, result


# --- the result ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteVar:
    """One quote currency's positions: how many, their value and lowest health now, and both methods' figures
    (None when the history is too short). ``places``: decimal places the figures are shown with."""

    quote: str
    positions: int
    value: Fraction
    health: Decimal | None
    places: int
    historical: tuple[HistoricalLevel, ...] | None = None
    parametric: Parametric | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VarResult:
    """VaR and ES of one set of positions (``scope``: ``{"wallet": address}`` or ``{"market": key}``)."""

    scope: dict[str, str]
    horizon: int
    levels: tuple[Decimal, ...]
    ewma_lambda: Decimal
    min_scenarios: int
    history: History
    quotes: tuple[QuoteVar, ...]
    volatility: dict[str, float] = field(default_factory=dict)
    insufficient: str | None = None
    unconfigured: int = 0  # stored positions of markets no longer configured: left out

    def as_json(self) -> dict[str, Any]:
        scenarios = self.history.scenarios
        window = None if scenarios.first is None or scenarios.last is None else {
            "first": scenarios.first, "last": scenarios.last,
            "first_utc": utc_text(scenarios.first), "last_utc": utc_text(scenarios.last)}
        return {
            "scope": dict(self.scope),
            "horizon": horizon_text(self.horizon),
            "horizon_seconds": self.horizon,
            "levels": [str(level) for level in self.levels],
            "ewma_lambda": str(self.ewma_lambda),
            "scenarios": scenarios.count,
            "min_scenarios": self.min_scenarios,
            "window": window,
            "insufficient": self.insufficient,
            "series": {s.symbol: {"chain": s.chain, "feed": s.feed, "readings": s.readings, "first": s.first,
                                  "last": s.last} for s in self.history.series.values()},
            "proxied": dict(self.history.coverage.proxied),
            "fixed": list(self.history.coverage.fixed),
            "volatility": {name: _rate(v) for name, v in self.volatility.items()},
            "unconfigured": self.unconfigured,
            "quotes": [_quote_json(q) for q in self.quotes],
        }


def _quote_json(q: QuoteVar) -> dict[str, Any]:
    hist = None if q.historical is None else [
        {"level": str(h.level), "var": _amount(h.var, q.places), "es": _amount(h.es, q.places), "rank": h.rank,
         "health": _health(h.health), "scenario_time": h.scenario_time, "scenario_utc": utc_text(h.scenario_time)}
        for h in q.historical]
    par = None if q.parametric is None else {
        "sigma": _amount(Fraction(q.parametric.sigma), q.places),
        "exposures": {name: _amount(Fraction(x), q.places) for name, x in q.parametric.exposures.items()},
        "levels": [{"level": str(p.level), "z": _rate(p.z), "var": _amount(Fraction(p.var), q.places),
                    "es": _amount(Fraction(p.es), q.places), "health": _health(p.health),
                    "scenario_loss": _amount(p.loss, q.places),
                    "returns": {name: _rate(r) for name, r in p.returns.items()}} for p in q.parametric.levels]}
    return {"quote": q.quote, "positions": q.positions, "value": _amount(q.value, q.places),
            "health": _health(q.health), "historical": hist, "parametric": par}


def _amount(value: Fraction, places: int) -> str:
    """``value`` with ``places`` decimals, rounded half to even (exact when it has no more)."""
    scaled = round(value * 10**places)
    return str(Decimal(scaled).scaleb(-places))


def _rate(value: float) -> str:
    return _amount(Fraction(value), _RATE_PLACES)


def _health(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _places(unit: int) -> int:
    places = len(str(unit)) - 1
    return places if unit == 10**places else 18


def insufficient_text(history: History, horizon: int, needed: int) -> str:
    """``insufficient history: N scenarios of H over WINDOW, need M``."""
    scenarios = history.scenarios
    window = ("no stored readings in common" if scenarios.first is None or scenarios.last is None
              else f"{utc_text(scenarios.first)} to {utc_text(scenarios.last)}")
    return f"insufficient history: {scenarios.count} scenarios of {horizon_text(horizon)} over {window}, need {needed}"


# --- entry points --------------------------------------------------------------------------------------------


def value_at_risk(positions: Sequence[RiskPosition], history: History, *, levels: Sequence[Decimal],
                  ewma_lambda: Decimal, min_scenarios: int, scope: Mapping[str, str],
                  unconfigured: int = 0) -> VarResult:
    """Both methods at every level for ``positions`` over ``history``'s scenarios (no database: the core)."""
    horizon = history.scenarios.horizon
    for level in levels:
        check_level(level)
    baselines = [p.baseline() for p in positions]
    quotes = _quote_summaries(positions, baselines)

    def result(figures: Iterable[QuoteVar], volatility: dict[str, float] | None = None,
               insufficient: str | None = None) -> VarResult:
        return VarResult(scope=dict(scope), horizon=horizon, levels=tuple(levels), ewma_lambda=ewma_lambda,
                         min_scenarios=min_scenarios, history=history, quotes=tuple(figures),
                         volatility=volatility or {}, insufficient=insufficient, unconfigured=unconfigured)

    if not positions:
        return result(())
    if history.scenarios.count < max(min_scenarios, 1):
        text = insufficient_text(history, horizon, min_scenarios)
        log.info("var %s: %s", _scope_text(scope), text)
        return result(quotes.values(), insufficient=text)
    hist = historical(positions, baselines, history, levels)
    volatility, par = parametric(positions, baselines, history, levels, ewma_lambda)
    filled = [QuoteVar(quote=q.quote, positions=q.positions, value=q.value, health=q.health, places=q.places,
                       historical=hist[q.quote], parametric=par[q.quote]) for q in quotes.values()]
    log.info("var %s: positions=%d quotes=%d scenarios=%d", _scope_text(scope), len(positions), len(filled),
             history.scenarios.count)
    return result(filled, volatility)


def _quote_summaries(positions: Iterable[RiskPosition], baselines: Iterable[Health]) -> dict[str, QuoteVar]:
    found: dict[str, QuoteVar] = {}
    for position, health in zip(positions, baselines, strict=True):
        value = position_value(position.snapshot, health)
        was = found.get(position.quote)
        lowest = health.health if was is None else min(
            (h for h in (was.health, health.health) if h is not None), default=None)
        found[position.quote] = QuoteVar(
            quote=position.quote, positions=1 + (was.positions if was else 0), value=value + (was.value if was else 0),
            health=lowest, places=max(_places(health.quote_unit), was.places if was else 0))
    return found


def _scope_text(scope: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in scope.items())


def wallet_var(engine: Engine, *, settings: Settings, wallet: str, horizon: str | int) -> VarResult:
    """VaR and ES of every stored position the wallet owns, per quote currency, over ``horizon`` (``"1d"``)."""
    owner = parse_address(wallet)
    return _stored_var(engine, settings=settings, views=list_positions(engine, wallet=owner), horizon=horizon,
                       scope={"wallet": owner})


def market_var(engine: Engine, *, settings: Settings, market: str, horizon: str | int) -> VarResult:
    """VaR and ES of every stored position of the configured market ``market`` over ``horizon``."""
    if market not in settings.markets:
        raise VarError(f"market {market!r} is not configured")
    return _stored_var(engine, settings=settings, views=list_positions(engine, market=market), horizon=horizon,
                       scope={"market": market})


def _stored_var(engine: Engine, *, settings: Settings, views: Sequence[PositionView], horizon: str | int,
                scope: Mapping[str, str]) -> VarResult:
    """Load the positions and the price history they need, then the core (``value_at_risk``)."""
    seconds = parse_horizon(horizon)
    positions, unconfigured = [], 0
    for _view, rules, snapshot in stored_snapshots(engine, settings=settings, views=views):
        if rules is None:
            unconfigured += 1
        elif snapshot.legs:
            positions.append(RiskPosition(snapshot=snapshot, rules=rules))
    symbols = {s for p in positions for s in p.moved_symbols() if s.lower() != NUMERAIRE}
    preferred = {feed for p in positions for feed in p.feeds()}
    history = load_history(engine, symbols=symbols, groups=settings.risk.groups, horizon=seconds, preferred=preferred,
                           max_scenarios=settings.risk.var.max_scenarios)
    var = settings.risk.var
    return value_at_risk(positions, history, levels=var.levels, ewma_lambda=var.ewma_lambda,
                         min_scenarios=var.min_scenarios, scope=scope, unconfigured=unconfigured)
