"""The collector's schedule of `indexer run` (indexer.heap): long-lived state frozen after each block, swept when
idle, and the collector as it was once the run stops."""

from __future__ import annotations

import gc
import weakref

import pytest

from indexer.heap import YOUNG_THRESHOLD, HeapSchedule


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a  # only the cyclic collector frees these
    return weakref.ref(a)


@pytest.fixture
def heap():
    schedule = HeapSchedule(interval=3600.0, blocks=1_000)
    before = gc.get_threshold()
    schedule.start()
    yield schedule
    schedule.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_settled_heap_is_not_scanned_until_it_is_swept(heap):
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    garbage = _cycle()
    heap.settle()  # a block committed: what is alive now, the cycle included, is frozen
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert garbage() is not None  # frozen: no collection scans it
    assert heap.sweep() is False  # not due yet (interval)
    assert heap.sweep(force=True) is True
    assert garbage() is None  # swept: the cycle is gone
    assert gc.get_freeze_count() > 0  # and what is still alive is frozen again


def test_an_idle_sweep_waits_for_its_interval_and_a_busy_process_sweeps_on_a_block_count():
    schedule = HeapSchedule(interval=0.0, blocks=3)
    try:
        assert schedule.sweep() is False  # nothing settled since the last sweep: nothing to do
        schedule.settle()
        assert schedule.sweep() is True and schedule.sweeps == 1
        garbage = _cycle()
        for _ in range(3):  # never idle: the third block's settle sweeps
            schedule.settle()
        assert schedule.sweeps == 2 and garbage() is None
    finally:
        schedule.stop()
    assert gc.get_freeze_count() == 0
