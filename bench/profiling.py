"""cProfile helpers: the top entries of one run, as text for the results."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _top(profiler: cProfile.Profile, limit: int, sort: str) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort)
    stats.print_stats(limit)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    return "\n".join(line.rstrip() for line in lines[start:] if line.strip())


def profile_call(fn: Callable[..., T], *args: Any, limit: int = 15, sort: str = "tottime") -> tuple[T, str]:
    profiler = cProfile.Profile()
    result = profiler.runcall(fn, *args)
    return result, _top(profiler, limit, sort)


async def profile_await(make: Callable[[], Awaitable[T]], *, limit: int = 15, sort: str = "tottime") -> tuple[T, str]:
    """Profiles the calling thread while ``make()`` is awaited (work sent to other threads is not seen)."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        result = await make()
    finally:
        profiler.disable()
    return result, _top(profiler, limit, sort)
