"""Repeated measurements: median and spread, and the number formats the table uses."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        got = list(values)
        if not got:
            raise ValueError("no measurements")
        return cls(statistics.median(got), min(got), max(got))


def seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def rate(value: float) -> str:
    return f"{value:,.0f}"


def ratio(value: float) -> str:
    return f"{value:,.1f}×" if value < 100 else f"{value:,.0f}×"


def count(value: int) -> str:
    return f"{value:,}"


def seconds_spread(spread: Spread) -> str:
    return f"{seconds(spread.low)} – {seconds(spread.high)}"


def rate_spread(spread: Spread) -> str:
    return f"{rate(spread.low)} – {rate(spread.high)}"
