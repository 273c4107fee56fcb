"""Terminal tables that fit the terminal: when the natural width is more than the terminal has, the columns of
lowest priority are left out (and named under the table) rather than wrapping rows into each other. Output that is
not a terminal uses ``$COLUMNS`` if set, else a wide page (scripts should prefer ``--json``)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.table import Table

PIPED_WIDTH = 200
_EDGE = 4  # a rich table's outer border and outer padding
_PER_COLUMN = 3  # a column's separator and its padding


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    priority: int  # lower goes first when space runs out; 0 = never left out
    justify: Literal["left", "right"] = "left"
    wrap: bool = False  # a free-text column that may wrap instead (last resort)


def terminal_width() -> int:
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((80, 24)).columns
    return PIPED_WIDTH


def fitted(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Indexes of the columns kept: all if they fit ``width``, else without the lowest priorities."""
    natural = [max([len(c.name), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    kept = list(range(len(columns)))

    def total(indexes: list[int]) -> int:
        return _EDGE + sum(natural[i] + _PER_COLUMN for i in indexes) - _PER_COLUMN + 1

    while total(kept) > width:
        droppable = [i for i in kept if columns[i].priority > 0]
        if not droppable:
            break
        kept.remove(min(droppable, key=lambda i: (columns[i].priority, -i)))
    return kept


def print_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
                styles: Sequence[str | None] | None = None, *, console: Console | None = None,
                width: int | None = None) -> Console:
    """Print ``rows`` under ``title``, fitted to the terminal; returns the console used (for what follows)."""
    width = width or terminal_width()
    kept = fitted(columns, rows, width)
    table = Table(title=title, title_justify="left")
    for i in kept:
        table.add_column(columns[i].name, justify=columns[i].justify, no_wrap=not columns[i].wrap)
    for n, row in enumerate(rows):
        table.add_row(*(row[i] for i in kept), style=styles[n] if styles else None)
    console = console or Console(width=width)
    console.print(table)
    left_out = [c.name for i, c in enumerate(columns) if i not in kept]
    if left_out:
        console.print(f"  (left out to fit {width} columns: {', '.join(left_out)}; --json has everything)",
                      markup=False, highlight=False)
    return console
