"""Retry classification, the backoff policy, and the dispatcher's bookkeeping (fake clock, fake sender)."""

from __future__ import annotations

import asyncio
import logging
import statistics
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from indexer.alerts.dispatcher import Dispatcher, MemoryOutbox, jitter_key
from indexer.alerts.message import AlertMessage
from indexer.alerts.registry import build_channels
from indexer.alerts.sender import Outcome, RetryPolicy, Verdict, classify, parse_retry_after

NOW = 1_750_000_000.0
KEYS = [f"hook:event-{i}" for i in range(400)]


# --- classification ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "headers", "verdict", "retry_after", "duplicate"), [
    (200, {}, Verdict.DELIVERED, None, False),
    (202, {}, Verdict.DELIVERED, None, False),
    (204, {}, Verdict.DELIVERED, None, False),
    (409, {}, Verdict.DELIVERED, None, True),
    (429, {"Retry-After": "2"}, Verdict.RETRY, 2.0, False),
    (429, {}, Verdict.RETRY, None, False),
    (503, {"Retry-After": "7"}, Verdict.RETRY, 7.0, False),
    (500, {}, Verdict.RETRY, None, False),
    (502, {}, Verdict.RETRY, None, False),
    (504, {}, Verdict.RETRY, None, False),
    (408, {}, Verdict.RETRY, None, False),
    (400, {}, Verdict.FAILED, None, False),
    (401, {}, Verdict.FAILED, None, False),
    (403, {}, Verdict.FAILED, None, False),
    (404, {}, Verdict.FAILED, None, False),
    (410, {}, Verdict.FAILED, None, False),
    (413, {}, Verdict.FAILED, None, False),
    (301, {"Location": "https://elsewhere"}, Verdict.FAILED, None, False),
])
def test_classification(status, headers, verdict, retry_after, duplicate):
    outcome = classify(status, headers, now=NOW)
    assert (outcome.verdict, outcome.status, outcome.retry_after, outcome.duplicate) == (
        verdict, status, retry_after, duplicate)
    assert (outcome.error == "") == (verdict is Verdict.DELIVERED)


def test_error_text_keeps_the_receivers_reason():
    assert classify(400, {}, "invalid_payload", now=NOW).error == "HTTP 400: invalid_payload"


def test_telegram_retry_after_in_the_body():
    body = '{"ok":false,"error_code":429,"parameters":{"retry_after":5}}'
    assert classify(429, {}, body, now=NOW).retry_after == 5.0
    assert classify(429, {"Retry-After": "9"}, body, now=NOW).retry_after == 9.0


@pytest.mark.parametrize(("value", "expected"), [
    ("2", 2.0), ("0", 0.0), (" 120 ", 120.0), ("1.5", 1.5),
    (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
    (format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True), 0.0),
    ("soon", None), ("-3", None), ("", None), (None, None),
])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


# --- policy -------------------------------------------------------------------------------------------------

def test_full_jitter_stays_within_bounds_and_grows():
    policy = RetryPolicy(base=1.0, cap=60.0, jitter="full")
    means = []
    for attempt in range(1, 10):
        ceiling = min(60.0, 2.0 ** (attempt - 1))
        assert policy.ceiling(attempt) == ceiling
        delays = [policy.delay(attempt, key=k) for k in KEYS]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.9 * ceiling and min(delays) < 0.1 * ceiling  # actually spread over the range
        means.append(statistics.fmean(delays))
    assert all(later > earlier for earlier, later in zip(means[:6], means[1:7], strict=True))
    assert means[-1] == pytest.approx(30.0, rel=0.15)  # capped: uniform(0, 60)


def test_decorrelated_jitter_bounds():
    policy = RetryPolicy(base=0.5, cap=20.0, jitter="decorrelated")
    for key in KEYS[:100]:
        previous = policy.base
        for attempt in range(1, 12):
            delay = policy.delay(attempt, key=key)
            assert policy.base <= delay <= min(policy.cap, 3 * previous)
            assert delay <= policy.ceiling(attempt)
            previous = delay
    first, fifth = ([policy.delay(n, key=k) for k in KEYS] for n in (1, 5))
    assert statistics.fmean(fifth) > 2 * statistics.fmean(first)


def test_jitter_is_reproducible_per_delivery_and_differs_between_them():
    policy = RetryPolicy(base=1.0, cap=60.0)
    assert policy.delay(3, key="a:1") == policy.delay(3, key="a:1")
    assert len({policy.delay(3, key=k) for k in KEYS[:50]}) == 50


def test_retry_after_is_a_floor():
    policy = RetryPolicy(base=0.1, cap=1.0)
    at = policy.next_attempt_at(attempt=1, created_at=NOW, now=NOW, key="k", retry_after=120.0)
    assert at == NOW + 120.0
    big = RetryPolicy(base=100.0, cap=100.0)
    at = big.next_attempt_at(attempt=3, created_at=NOW, now=NOW, key="k", retry_after=1.0)
    assert at == NOW + big.delay(3, key="k") > NOW + 1.0


def test_deadline_and_max_attempts_give_up():
    policy = RetryPolicy(base=10.0, cap=10.0, deadline=100.0, jitter="decorrelated")  # every wait is exactly 10 s
    assert policy.next_attempt_at(attempt=1, created_at=NOW, now=NOW + 89.0, key="k") == NOW + 99.0
    assert policy.next_attempt_at(attempt=1, created_at=NOW, now=NOW + 91.0, key="k") is None
    assert policy.next_attempt_at(attempt=1, created_at=NOW, now=NOW, key="k", retry_after=101.0) is None
    capped = RetryPolicy(base=1.0, max_attempts=3)
    assert capped.next_attempt_at(attempt=2, created_at=NOW, now=NOW, key="k") is not None
    assert capped.next_attempt_at(attempt=3, created_at=NOW, now=NOW, key="k") is None


def test_policy_rejects_nonsense():
    for bad in ({"base": 0}, {"base": 5, "cap": 1}, {"deadline": 0}, {"max_attempts": 0}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)


# --- dispatcher ---------------------------------------------------------------------------------------------

ENV = {"HOOK_SECRET": "s3cret"}
CONFIG = {"hook": {"kind": "webhook", "base_url": "http://127.0.0.1:9/in", "secret_env": "HOOK_SECRET"},
          "log": {"kind": "log", "logger": "alerts.unit"}}


def message(event_id: str = "e1", account: str = "0xA", kind: str = "opened") -> AlertMessage:
    return AlertMessage(event_id=event_id, dedup_key=f"devnet/m/{account}/health", kind=kind, family="health",
                        severity="WARN", previous_severity=None, chain="devnet", protocol="aave_v3", market="m",
                        account=account, wallet_label=None, health="1.05", previous_health=None,
                        collateral_value="10", debt_value="9", liquidation_price=None, block_number=7,
                        price_status="FRESH")


class Script:
    """A fake sender answering from a list of outcomes, and a clock the test moves."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes, self.sent, self.now = list(outcomes), [], NOW

    async def send(self, session, request, *, timeout):
        self.sent.append((request, timeout))
        return self.outcomes.pop(0)

    def clock(self) -> float:
        return self.now


def dispatcher(outbox, script, **kwargs) -> Dispatcher:
    return Dispatcher(outbox, build_channels(CONFIG, environ=ENV), clock=script.clock, sender=script.send,
                      **kwargs)


async def test_retry_then_deliver_records_each_attempt():
    outbox, policy = MemoryOutbox(), RetryPolicy(base=1.0, cap=8.0)
    row = outbox.add(message(), "hook", now=NOW)
    script = Script(Outcome(Verdict.RETRY, 503, "HTTP 503"), Outcome(Verdict.RETRY, 429, "HTTP 429", retry_after=30),
                    Outcome(Verdict.DELIVERED, 200))
    async with dispatcher(outbox, script, policy=policy) as d:
        assert await d.run_once() == 1
        stored = outbox.rows[row]
        first_wait = policy.delay(1, key="hook:e1")
        assert (stored.state, stored.attempts, stored.error) == ("pending", 1, "HTTP 503")
        assert stored.next_attempt_at == pytest.approx(NOW + first_wait)
        assert await d.run_once() == 0  # not due yet
        script.now = stored.next_attempt_at
        assert await d.run_once() == 1
        assert stored.next_attempt_at == pytest.approx(script.now + 30.0)  # Retry-After beats the backoff
        script.now += 29.0
        assert await d.run_once() == 0
        script.now += 1.0
        assert await d.run_once() == 1
    assert (stored.state, stored.attempts, stored.status) == ("delivered", 3, 200)
    assert len(script.sent) == 3
    assert all(timeout == 10.0 for _, timeout in script.sent)
    assert jitter_key(outbox.rows[row].pending()) == "hook:e1"


async def test_permanent_failure_is_not_retried():
    outbox = MemoryOutbox()
    row = outbox.add(message(), "hook", now=NOW)
    script = Script(Outcome(Verdict.FAILED, 400, "HTTP 400: bad"))
    async with dispatcher(outbox, script) as d:
        assert await d.run_once() == 1
        script.now += 10_000
        assert await d.run_once() == 0
    assert (outbox.rows[row].state, outbox.rows[row].error, len(script.sent)) == ("failed", "HTTP 400: bad", 1)


async def test_deadline_gives_up(caplog):
    outbox = MemoryOutbox()
    row = outbox.add(message(), "hook", now=NOW)
    script = Script(*[Outcome(Verdict.RETRY, 500, "HTTP 500")] * 50)
    policy = RetryPolicy(base=10.0, cap=10.0, deadline=35.0, jitter="decorrelated")
    async with dispatcher(outbox, script, policy=policy) as d:
        for _ in range(10):
            await d.run_once()
            script.now = max(script.now, outbox.rows[row].next_attempt_at)
    stored = outbox.rows[row]
    assert stored.state == "failed" and stored.attempts == 4  # tried at +0, +10, +20, +30; +40 is past +35
    assert stored.error == "gave up after 4 attempts (deadline 35s): HTTP 500"
    assert "alert delivery failed channel=hook event_id=e1 attempt=4 status=500" in caplog.text


async def test_local_unknown_and_broken_channels(caplog):
    outbox = MemoryOutbox()
    local, unknown = outbox.add(message("e1"), "log", now=NOW), outbox.add(message("e2", "0xB"), "gone", now=NOW)
    with caplog.at_level(logging.INFO):
        async with dispatcher(outbox, Script()) as d:
            assert await d.run_once() == 2
    assert (outbox.rows[local].state, outbox.rows[local].status) == ("delivered", 0)
    assert any(r.name == "alerts.unit" and "WARN" in r.getMessage() for r in caplog.records)
    assert (outbox.rows[unknown].state, outbox.rows[unknown].error) == (
        "failed", "no alert channel named 'gone' is configured")


async def test_concurrency_is_bounded():
    outbox, in_flight, peak = MemoryOutbox(), 0, 0
    for i in range(12):
        outbox.add(message(f"e{i}", f"0x{i}"), "hook", now=NOW)

    async def slow(session, request, *, timeout):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return Outcome(Verdict.DELIVERED, 200)

    async with Dispatcher(outbox, build_channels(CONFIG, environ=ENV), concurrency=3, clock=lambda: NOW,
                          sender=slow) as d:
        assert await d.run_once() == 12
    assert peak == 3
    assert all(r.state == "delivered" for r in outbox.rows.values())


def test_outbox_supersedes_older_rows_and_keeps_one_alert_in_order():
    outbox = MemoryOutbox()
    opened = outbox.add(message("e1"), "hook", now=NOW)
    other = outbox.add(message("e9", "0xB"), "hook", now=NOW)
    (first, second) = outbox.claim(now=NOW, limit=10)
    assert (first.id, second.id) == (opened, other)
    escalated = outbox.add(message("e2", kind="escalated"), "hook", now=NOW)
    resolved = outbox.add(message("e3", kind="resolved"), "hook", now=NOW)
    assert outbox.claim(now=NOW, limit=10) == []  # e1 is still in flight: e2/e3 wait behind it
    outbox.retry(opened, at=NOW + 5, error="HTTP 500", now=NOW)
    (claimed,) = outbox.claim(now=NOW, limit=10)
    assert claimed.id == resolved  # newest of its alert; the two before it are superseded
    assert [outbox.rows[i].state for i in (opened, escalated)] == ["superseded", "superseded"]
    assert outbox.rows[opened].error == "superseded by event e3"
    with pytest.raises(RuntimeError, match="not leased"):
        outbox.delivered(opened, status=200, now=NOW)


async def test_wake_starts_a_pass_before_the_poll_interval():
    outbox = MemoryOutbox()
    stop = asyncio.Event()
    async with Dispatcher(outbox, build_channels(CONFIG, environ=ENV)) as d:
        task = asyncio.create_task(d.run_forever(stop, poll_interval=60))
        await asyncio.sleep(0.05)  # first pass found nothing; now idle for up to 60 s
        row = outbox.add(message(), "log", now=0.0)
        d.wake()
        for _ in range(100):
            if outbox.rows[row].state == "delivered":
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 1)
    assert outbox.rows[row].state == "delivered"
