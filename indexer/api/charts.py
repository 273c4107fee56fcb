"""Inline SVG charts for the server-rendered pages: a line chart and a bar (step) chart, each with two labelled axes.

The pages run under a CSP that allows no script and no external asset, so a chart is plain markup and its tooltips
are native ``<title>`` elements. Exact figures (Decimal, Fraction) become floats here and only here, for drawing;
what a page states as a figure comes from the exact value. Every text that reaches the markup goes through
``html.escape``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Literal

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 14, 44  # room for the y tick labels, the x tick labels and the axis titles
MAX_MARKERS = 120  # above this many points a line is drawn without a marker (and tooltip) per point
LINE_COLOUR = "#1565c0"
BAR_COLOUR = "#ef6c00"
RULE_COLOUR = "#c62828"


@dataclass(frozen=True, slots=True)
class Point:
    """One value to draw: ``y`` may be ``inf`` (drawn at the top edge: off the scale, e.g. nothing owed)."""

    x: float
    y: float
    tip: str = ""  # the tooltip: the exact figures, as the page would state them


@dataclass(frozen=True, slots=True)
class Rule:
    """A reference line across the plot at ``value`` on ``axis`` (``x``: a vertical line, ``y``: a horizontal
    one), with its label."""

    axis: Literal["x", "y"]
    value: float
    label: str
    colour: str = RULE_COLOUR


def plain_number(value: float) -> str:
    """A tick label: at most four significant digits, no exponent, large values with a suffix (1.5M, 250k, 0.25)."""
    if value == 0:
        return "0"
    for above, unit, suffix in ((1e12, 1e12, "T"), (1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= above:
            return plain_number(value / unit) + suffix
    places = max(0, 3 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True, slots=True)
class Axis:
    """An axis' title and how its tick labels read; ``cap``: values above it are drawn at it (a health of 40 would
    flatten everything near the liquidation line); ``zero``: the axis starts at 0 (bars)."""

    title: str
    tick_text: Callable[[float], str] = plain_number
    cap: float | None = None
    zero: bool = False


def nice_step(span: float, count: int) -> float:
    """A step of 1, 2 or 5 × 10^k that cuts ``span`` into about ``count`` intervals."""
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * power:
            return multiple * power
    return 10 * power


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Tick values on round numbers from at or below ``low`` to at or above ``high`` (about ``count`` intervals)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"ticks need finite bounds, got {low} and {high}")
    if high < low:
        low, high = high, low
    if high - low <= 1e-9 * max(abs(low), abs(high), 1.0):  # one value (or floats apart only by rounding)
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low, count)
    places = max(0, 1 - math.floor(math.log10(step)))  # enough to write the step exactly: no 0.30000000000000004
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, places) for i in range(first, last + 1)]


@dataclass(frozen=True, slots=True)
class Scale:
    """A linear map from the domain ``[low, high]`` to the pixels ``[start, end]`` (``end`` < ``start`` for y)."""

    low: float
    high: float
    start: float
    end: float

    @property
    def per_unit(self) -> float:
        """Pixels per unit of the domain (negative for y, which grows downwards)."""
        return (self.end - self.start) / (self.high - self.low)

    def __call__(self, value: float) -> float:
        clamped = min(max(value, self.low), self.high)
        return self.start + (clamped - self.low) * self.per_unit


@dataclass(frozen=True, slots=True)
class Frame:
    """The plot area of one chart: its two scales and their ticks."""

    x: Scale
    y: Scale
    x_ticks: list[float] = field(default_factory=list)
    y_ticks: list[float] = field(default_factory=list)


def _bounds(values: Sequence[float], axis: Axis) -> tuple[float, float]:
    """The finite extent of ``values`` (capped), 0 included for a ``zero`` axis; (0, 1) when there is nothing."""
    finite = [min(v, axis.cap) if axis.cap is not None else v for v in values if math.isfinite(v)]
    if axis.zero:
        finite.append(0.0)
    if not finite:
        return (0.0, axis.cap if axis.cap is not None else 1.0)
    return min(finite), max(finite)


def frame(x_values: Sequence[float], y_values: Sequence[float], x_axis: Axis, y_axis: Axis,
          *, x_pad: float = 0.0) -> Frame:
    """Scales for the data: x spans the data (``x_pad`` more on each side) with the round ticks inside it, y spans
    the round ticks around the data. A single x value spans its ticks instead."""
    x_low, x_high = _bounds(x_values, x_axis)
    ticks = nice_ticks(x_low, x_high, 5)
    low, high = x_low - x_pad, x_high + x_pad
    if high <= low:
        low, high = ticks[0], ticks[-1]
    y_low, y_high = _bounds(y_values, y_axis)
    y_ticks = nice_ticks(y_low, y_high, 4)
    return Frame(x=Scale(low, high, LEFT, WIDTH - RIGHT), y=Scale(y_ticks[0], y_ticks[-1], HEIGHT - BOTTOM, TOP),
                 x_ticks=[t for t in ticks if low <= t <= high], y_ticks=y_ticks)


def _axes(f: Frame, x_axis: Axis, y_axis: Axis) -> str:
    """The grid lines, tick labels and axis titles."""
    parts = []
    bottom, top = HEIGHT - BOTTOM, TOP
    for tick in f.y_ticks:
        y = f.y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{escape(y_axis.tick_text(tick))}</text>")
    for tick in f.x_ticks:
        x = f.x(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}"/>'
                     f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
                     f"{escape(x_axis.tick_text(tick))}</text>")
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}"/>'
                 f'<line class="axis" x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}"/>'
                 f'<text class="axis-title" x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{HEIGHT - 6}" '
                 f'text-anchor="middle">{escape(x_axis.title)}</text>'
                 f'<text class="axis-title" x="12" y="{(top + bottom) / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {(top + bottom) / 2:.1f})">{escape(y_axis.title)}</text>')
    return "".join(parts)


def _rules(f: Frame, rules: Sequence[Rule]) -> str:
    """Each rule's line and its label; the labels of vertical rules are stacked so that neighbours stay legible."""
    parts = []
    for i, rule in enumerate(rules):
        colour = escape(rule.colour)
        if rule.axis == "y":
            y = f.y(rule.value)
            parts.append(f'<line class="rule" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                         f'stroke="{colour}"/><text class="rule-label" x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" '
                         f'text-anchor="end" fill="{colour}">{escape(rule.label)}</text>')
        else:
            x = f.x(rule.value)
            anchor = "start" if x < (LEFT + WIDTH - RIGHT) / 2 else "end"
            dx = 4 if anchor == "start" else -4
            parts.append(f'<line class="rule" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" '
                         f'stroke="{colour}"><title>{escape(rule.label)}</title></line>'
                         f'<text class="rule-label" x="{x + dx:.1f}" y="{TOP + 12 + 13 * (i % 6)}" '
                         f'text-anchor="{anchor}" fill="{colour}">{escape(rule.label)}</text>')
    return "".join(parts)


def _svg(title: str, body: str) -> str:
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>{body}</svg>")


def line_chart(points: Sequence[Point], *, title: str, x_axis: Axis, y_axis: Axis, rules: Sequence[Rule] = (),
               colour: str = LINE_COLOUR) -> str:
    """One series as a polyline through every point (in the given order), a marker with its tooltip per point when
    there are at most ``MAX_MARKERS``; ``rules`` are drawn over it."""
    f = frame([p.x for p in points] + [r.value for r in rules if r.axis == "x"],
              [p.y for p in points] + [r.value for r in rules if r.axis == "y"], x_axis, y_axis)
    coords = [(f.x(p.x), f.y(_capped(p.y, y_axis))) for p in points]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    markers = "" if len(points) > MAX_MARKERS else "".join(
        f'<circle class="marker" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{escape(colour)}">'
        f"<title>{escape(p.tip)}</title></circle>" for (x, y), p in zip(coords, points, strict=True))
    body = (_axes(f, x_axis, y_axis) + _rules(f, rules)
            + f'<polyline class="series" points="{line}" fill="none" stroke="{escape(colour)}" stroke-width="2"/>'
            + markers)
    return _svg(title, body)


def bar_chart(points: Sequence[Point], *, title: str, x_axis: Axis, y_axis: Axis, rules: Sequence[Rule] = (),
              colour: str = BAR_COLOUR) -> str:
    """One bar per point, centred on its ``x``, from 0 to its ``y`` (a step per bar: a curve measured at steps),
    each with its tooltip; ``rules`` are drawn over the bars."""
    xs = sorted({p.x for p in points})
    gap = min((b - a for a, b in zip(xs, xs[1:], strict=False)), default=1.0)
    f = frame([p.x for p in points] + [r.value for r in rules if r.axis == "x"],
              [p.y for p in points] + [r.value for r in rules if r.axis == "y"], x_axis,
              Axis(y_axis.title, y_axis.tick_text, y_axis.cap, zero=True), x_pad=gap / 2)
    half = min(abs(f.x.per_unit) * gap * 0.4, (WIDTH - LEFT - RIGHT) / 4)
    base = f.y(0)
    bars = []
    for p in points:
        x, y = f.x(p.x), f.y(_capped(p.y, y_axis))
        top, height = min(y, base), abs(base - y)
        bars.append(f'<rect class="bar" x="{x - half:.1f}" y="{top:.1f}" width="{2 * half:.1f}" '
                    f'height="{height:.1f}" fill="{escape(colour)}"><title>{escape(p.tip)}</title></rect>')
    return _svg(title, _axes(f, x_axis, y_axis) + "".join(bars) + _rules(f, rules))


def _capped(value: float, axis: Axis) -> float:
    """A value as drawn: ``inf`` and anything above the cap at the top of the axis (the scale clamps to it)."""
    if math.isnan(value):
        log.debug("a NaN reached a chart; drawn at 0")
        return 0.0
    if axis.cap is not None and value > axis.cap:
        return axis.cap
    return value if math.isfinite(value) else (math.inf if value > 0 else -math.inf)
