"""The HTTP venue session on a real loopback server: pacing by request weight, retries on 429/5xx, and one
readable error for a venue that is down, refuses, or answers something that is not JSON."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from aiohttp import web

from indexer.errors import RpcResponseError, RpcUnavailableError
from indexer.protocols.base import VenueRequest
from indexer.venue.session import VenueSession, WeightBudget, run_venue_plans


class Venue:
    def __init__(self) -> None:
        self.url = ""
        self.answers: list[tuple[int, str]] = []  # queued (status, text); then echo
        self.bodies: list[dict[str, Any]] = []

    async def info(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        if self.answers:
            status, text = self.answers.pop(0)
            return web.Response(status=status, text=text)
        return web.json_response({"echo": body})


@pytest.fixture
async def venue():
    v = Venue()
    app = web.Application()
    app.router.add_post("/info", v.info)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    v.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield v
    await runner.cleanup()


async def test_the_budget_waits_only_when_a_request_would_overdraw_it():
    budget = WeightBudget(6_000)  # 100 weight per second
    started = time.monotonic()
    assert await budget.take(6_000) == 0.0  # the full minute's budget is there at first
    waited = await budget.take(50)
    assert waited >= 0.45 and time.monotonic() - started >= 0.45  # 50 more at 100/s: half a second


async def test_a_drained_budget_paces_what_follows():
    """After a 429 the session empties its bucket: a request that a full bucket would pay at once waits its weight's
    worth of refill instead."""
    budget = WeightBudget(6_000)  # 100 weight per second
    assert await budget.take(20) == 0.0
    budget.drain()
    assert await budget.take(20) >= 0.15  # 20 at 100/s: a fifth of a second


async def test_plans_run_round_by_round_and_get_their_own_answers(venue):
    session = VenueSession("test", venue.url)

    def plan(tag: str) -> Any:
        first = yield [VenueRequest({"type": "a", "tag": tag}, 2), VenueRequest({"type": "b", "tag": tag}, 2)]
        second = yield [VenueRequest({"type": "c", "seen": len(first)}, 20)]
        return [a["echo"]["tag"] for a in first] + [second[0]["echo"]["seen"]]

    try:
        assert await run_venue_plans(session, [plan("x"), plan("y")]) == [["x", "x", 2], ["y", "y", 2]]
    finally:
        await session.close()
    assert session.stats.requests == 6 and session.stats.weight == 2 * (2 + 2 + 20)
    assert session.stats.by_type == {"a": 2, "b": 2, "c": 2}


async def test_busy_answers_are_retried_and_errors_are_one_readable_line(venue, monkeypatch):
    monkeypatch.setattr(asyncio, "sleep", _no_sleep)
    session = VenueSession("test", venue.url, retries=2)
    try:
        venue.answers = [(429, "slow down"), (502, "bad gateway")]
        assert await session.info(VenueRequest({"type": "meta"})) == {"echo": {"type": "meta"}}
        venue.answers = [(503, "x")] * 3
        with pytest.raises(RpcUnavailableError, match="HTTP 503 3 times"):
            await session.info(VenueRequest({"type": "meta"}))
        venue.answers = [(422, "Failed to deserialize the JSON body")]
        with pytest.raises(RpcResponseError, match="refused meta: HTTP 422: Failed to deserialize"):
            await session.info(VenueRequest({"type": "meta"}))
        venue.answers = [(200, "<html>maintenance</html>")]
        with pytest.raises(RpcResponseError, match="not JSON"):
            await session.info(VenueRequest({"type": "meta"}))
    finally:
        await session.close()


async def test_a_venue_that_is_down_is_unavailable_not_a_crash():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    session = VenueSession("down", f"http://127.0.0.1:{port}", timeout=2)
    try:
        with pytest.raises(RpcUnavailableError, match="venue 'down' .* did not answer clearinghouseState"):
            await session.info(VenueRequest({"type": "clearinghouseState"}))
    finally:
        await session.close()


_real_sleep = asyncio.sleep


async def _no_sleep(delay: float, *args: Any) -> None:
    await _real_sleep(0)
