"""Logging for every command: the indexer's own loggers at INFO (start-up, block progress at most every few seconds
per chain, failovers, reorgs, delivery failures), third-party libraries at WARNING, as text or one JSON object per
line.

Every message of the indexer carries its context as ``key=value`` words (``chain=devnet block=123 market=…``); the
JSON format lifts them into fields of their own, so a log pipeline can filter on them.

``LOG_LEVEL`` (DEBUG, INFO, WARNING, ERROR) and ``LOG_FORMAT`` (text, json) set the defaults; ``-v``/``-q`` and
``--log-format`` override them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("text", "json")
_PAIR = re.compile(r"(?<![\w=])([a-z_][a-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s,;]+)")
_RESERVED = frozenset({"ts", "level", "logger", "msg", "exc"})


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``msg``, the message's
    ``key=value`` context as fields, and ``exc`` for a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "msg": message}
        for key, value in _PAIR.findall(message):
            if key not in _RESERVED and key not in entry:
                entry[key] = value.strip("\"'")
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def level_for(*, verbose: int, quiet: bool, long_running: bool, environ: Mapping[str, str] | None = None) -> int:
    """The indexer's level: ``-v`` INFO, ``-vv`` DEBUG, ``-q`` WARNING (ERROR for a one-shot command), else
    ``LOG_LEVEL``, else INFO for a long-running command and ERROR for the others (their output says what happened).
    ValueError for a ``LOG_LEVEL`` that is not a level."""
    if verbose:
        return logging.DEBUG if verbose >= 2 else logging.INFO
    if quiet:
        return logging.WARNING if long_running else logging.ERROR
    env = os.environ if environ is None else environ
    if name := env.get("LOG_LEVEL", "").strip().upper():
        if name not in LEVELS:
            raise ValueError(f"{name!r} is not one of {', '.join(LEVELS)}")
        return int(getattr(logging, name))
    return logging.INFO if long_running else logging.ERROR


def setup(level: int, fmt: str, *, verbose: int = 0, stream: TextIO | None = None) -> None:
    """Configure the root logger once per process: the indexer's loggers at ``level``, everyone else's at WARNING
    (INFO from ``-vv``)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose >= 2 else logging.WARNING)
    logging.getLogger("indexer").setLevel(level)
    # APScheduler warns on every tick skipped while a step still runs: that is how `run` backs off, not news
    logging.getLogger("apscheduler").setLevel(logging.INFO if verbose >= 2 else logging.ERROR)


class Every:
    """At most one INFO line per ``seconds``: ``due()`` says whether this one is it (the others go to DEBUG)."""

    def __init__(self, seconds: float, clock: Any = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.last: float | None = None
        self.skipped = 0

    def due(self) -> bool:
        now = self.clock()
        if self.last is None or now - self.last >= self.seconds:
            self.last = now
            return True
        self.skipped += 1
        return False

    def take_skipped(self) -> int:
        skipped, self.skipped = self.skipped, 0
        return skipped
