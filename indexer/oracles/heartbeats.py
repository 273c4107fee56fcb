"""The shipped heartbeat/deviation tables (``config/feeds/<chain>.toml``), looked up by chain id and proxy."""

from __future__ import annotations

import logging
import math
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from indexer.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TableRow:
    """One feed of a table. ``deviation`` None: no threshold found; ``heartbeat`` 0: none (sequencer feeds);
    ``confirmed`` False: the row is a lead from a secondary source, not a confirmed fact."""

    pair: str
    heartbeat: int
    deviation: float | None
    kind: str
    confirmed: bool
    source: str


@cache
def load_tables(directory: Path) -> dict[tuple[int, str], TableRow]:
    """Every row of every table in ``directory``, keyed by (chain id, lower-case proxy address)."""
    rows: dict[tuple[int, str], TableRow] = {}
    if not directory.is_dir():
        log.warning("no feed tables directory=%s: every feed will use the default heartbeat", directory)
        return rows
    for path in sorted(directory.glob("*.toml")):
        try:
            table = tomllib.loads(path.read_text())
            chain_id = int(table["chain_id"])
            for feed in table.get("feeds", []):
                deviation = feed.get("deviation")
                rows[(chain_id, feed["proxy"].lower())] = TableRow(
                    pair=feed["pair"], heartbeat=int(feed["heartbeat"]),
                    deviation=None if deviation is None or math.isnan(deviation) else float(deviation),
                    kind=feed.get("kind", "chainlink"), confirmed=bool(feed.get("confirmed", False)),
                    source=feed.get("source", ""))
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"feed table {path}: {type(exc).__name__}: {exc}") from None
    return rows
