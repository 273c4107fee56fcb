"""Judging an oracle reading against the block it was read at. Pure functions, no I/O.

Every judgement is made against the block's own timestamp, never the wall clock, so a historical
re-read gives the same verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from indexer.oracles.reading import FeedReading


class PriceStatus(StrEnum):
    FRESH = "FRESH"
    SEQUENCER_GRACE = "SEQUENCER_GRACE"  # L2 sequencer back up, but inside its grace period
    STALE = "STALE"
    UNKNOWN = "UNKNOWN"  # no feed behind the price, or it could not be read
    SEQUENCER_DOWN = "SEQUENCER_DOWN"
    INVALID = "INVALID"


_RANK = {status: rank for rank, status in enumerate(PriceStatus)}


def worst(statuses: Iterable[PriceStatus]) -> PriceStatus:
    """The least trustworthy status (FRESH when there is none)."""
    return max(statuses, key=_RANK.__getitem__, default=PriceStatus.FRESH)


@dataclass(frozen=True, slots=True)
class Verdict:
    status: PriceStatus
    reason: str
    age: int | None = None  # seconds between the answer's timestamp and the block


@dataclass(frozen=True, slots=True)
class Previous:
    """What the last stored reading of the same feed said."""

    round_id: int | None
    aggregator: str | None


def judge_price(reading: FeedReading, *, block_timestamp: int, heartbeat: int, grace: int = 0,
                previous: Previous | None = None, bounds: tuple[int | None, int | None] = (None, None)) -> Verdict:
    """FRESH, STALE or INVALID for a price feed (Chainlink-style or Pyth)."""
    if reading.error is not None:
        return Verdict(PriceStatus.INVALID, f"read failed: {reading.error}")
    answer, updated = reading.answer, reading.updated_at
    assert answer is not None and updated is not None
    if answer <= 0:
        return Verdict(PriceStatus.INVALID, f"answer {answer} is not positive")
    if updated == 0:
        return Verdict(PriceStatus.INVALID, "updatedAt is zero (round not complete)")
    if updated > block_timestamp:
        return Verdict(PriceStatus.INVALID, f"updatedAt {updated} is after the block ({block_timestamp})")
    if (previous and previous.round_id is not None and reading.round_id is not None
            and reading.round_id < previous.round_id and reading.aggregator == previous.aggregator):
        return Verdict(PriceStatus.INVALID, f"round id went backwards ({previous.round_id} → {reading.round_id})")
    low, high = bounds
    if (low is not None and answer < low) or (high is not None and answer > high):
        return Verdict(PriceStatus.INVALID, f"answer {answer} outside the configured bounds [{low}, {high}]")
    age = block_timestamp - updated
    if age > heartbeat + grace:
        return Verdict(PriceStatus.STALE, f"age {age}s > heartbeat {heartbeat}s + grace {grace}s", age)
    return Verdict(PriceStatus.FRESH, f"age {age}s within heartbeat {heartbeat}s", age)


def judge_sequencer(reading: FeedReading, *, block_timestamp: int, grace_period: int) -> Verdict:
    """An L2 sequencer-uptime feed: answer 0 = up, 1 = down; ``startedAt`` = when the status last changed."""
    if reading.error is not None:
        return Verdict(PriceStatus.INVALID, f"sequencer feed read failed: {reading.error}")
    if reading.answer == 1:
        return Verdict(PriceStatus.SEQUENCER_DOWN, "sequencer is down")
    if reading.answer != 0 or reading.started_at is None:
        return Verdict(PriceStatus.INVALID, f"sequencer feed answered {reading.answer}")
    up_for = block_timestamp - reading.started_at
    if up_for <= grace_period:
        return Verdict(PriceStatus.SEQUENCER_GRACE, f"sequencer up for {up_for}s ≤ grace {grace_period}s", up_for)
    return Verdict(PriceStatus.FRESH, f"sequencer up for {up_for}s", up_for)


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A reading with its verdict and the rule it was judged by."""

    reading: FeedReading
    verdict: Verdict
    heartbeat: int | None
    heartbeat_source: str  # "config", "table", "default", or "" for sequencer feeds
    deviation: float | None
    changed: bool  # status differs from the feed's previous stored reading
