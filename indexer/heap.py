"""The garbage collector's schedule in ``indexer run``: a long-running process with a large, long-lived heap.

CPython's cyclic collector scans every tracked object of the generations it collects. A pipeline following 100,000
positions keeps millions of them between blocks (the fast path's cached snapshots, what it remembers of the
store), and with the default thresholds a full collection runs every few blocks, in the middle of one: at 20,000
positions a block of full reads spent 1.1 of 6.1 s in them, and each one grows with the heap (bench/RESULTS.md).

``HeapSchedule`` does three things:

* ``start``: young collections every 50,000 allocations instead of 700 (fewer, so fewer full ones too);
* ``settle`` after each block's commit: ``gc.freeze()``, so that what is alive then (the pipeline's long-lived
  state) moves to the permanent generation, which no collection scans. Objects there are still freed by reference
  counting when dropped; only garbage cycles among them wait for the next sweep;
* ``sweep`` when the process is idle (a step that found no new block), at most every ``interval`` seconds, or after
  ``blocks`` blocks even when it never idles: unfreeze, collect everything, freeze again.

``stop`` puts the collector back as it was (a process that runs other things after ``run``, such as the tests).
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython's default: 700)


class HeapSchedule:
    def __init__(self, *, interval: float = 300.0, blocks: int = 1_000) -> None:
        self.interval = interval
        self.blocks = blocks
        self.since_sweep = 0  # blocks settled since the last sweep
        self.swept_at = time.monotonic()
        self.sweeps = 0
        self._thresholds: tuple[int, int, int] | None = None

    def start(self) -> None:
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            gc.set_threshold(YOUNG_THRESHOLD, *self._thresholds[1:])

    def settle(self) -> None:
        """After a block's commit: what is alive now is scanned no more (until the next sweep)."""
        gc.freeze()
        self.since_sweep += 1
        if self.since_sweep >= self.blocks:  # a process that never idles sweeps on a block count
            self.sweep(force=True)

    def sweep(self, *, force: bool = False) -> bool:
        """When due (or ``force``): collect everything, frozen objects included, then freeze what is left; whether
        it swept."""
        if not force and (not self.since_sweep or time.monotonic() - self.swept_at < self.interval):
            return False
        started = time.perf_counter()
        frozen = gc.get_freeze_count()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self.swept_at, self.since_sweep, self.sweeps = time.monotonic(), 0, self.sweeps + 1
        log.debug("heap swept objects=%d unreachable=%d seconds=%.3f", frozen, found, time.perf_counter() - started)
        return True

    def stop(self) -> None:
        gc.unfreeze()
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
