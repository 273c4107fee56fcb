"""Driving sans-IO plans: generators that yield rounds of requests and receive their answers.

A contract source yields Multicall3 calls, an HTTP venue's source yields venue requests; either way the
caller merges one round of every plan into one execution and hands each plan its own answers back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any, TypeVar

R = TypeVar("R")


async def drive(plans: Sequence[Generator[list[R], list[Any], Any]],
                execute: Callable[[list[R]], Awaitable[list[Any]]]) -> list[Any]:
    """Run ``plans`` together, round by round: each round's requests of every plan go to one ``execute`` call
    (answers in request order). The plans' return values come back in plan order."""
    done: dict[int, Any] = {}
    pending: dict[int, list[R]] = {}
    for i, plan in enumerate(plans):
        try:
            pending[i] = next(plan)
        except StopIteration as stop:
            done[i] = stop.value
    while pending:
        answers = await execute([request for requests in pending.values() for request in requests])
        offset, advanced = 0, {}
        for i, requests in pending.items():
            part, offset = answers[offset: offset + len(requests)], offset + len(requests)
            try:
                advanced[i] = plans[i].send(part)
            except StopIteration as stop:
                done[i] = stop.value
        pending = advanced
    return [done[i] for i in range(len(plans))]
