"""Ranged ``eth_getLogs`` that adapts to what the provider accepts.

Providers refuse wide queries in two ways: by the number of blocks (a fixed limit: QuickNode, Alchemy's
free tier, public endpoints) and by the size of the answer (Infura's 10,000 results, Alchemy's response
size). A refused range is halved and retried. After an answer well under the results budget the span
doubles again, so a sparse stretch after a dense one is walked in big steps; but never up to a width
refused for its block count: the span settles (by bisection, to within 1/16) just under such a limit, so
a fixed limit costs a few refusals once rather than one per growth. Ranges are consecutive and each is
asked for until accepted: no block is skipped or read twice.

The range arithmetic (``RangeWalker``) and the error classification (``classify_refusal``) are pure, so
they are tested without a node.
"""

from __future__ import annotations

import enum
import inspect
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.chain.rpc import RpcClient
from indexer.errors import RpcResponseError, RpcUnavailableError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SpanPolicy:
    """How many blocks one ``eth_getLogs`` asks for: ``initial`` to start, never more than ``maximum``;
    doubled after an answer with fewer than ``results_budget * grow_below`` logs, halved after one with
    more than ``results_budget``."""

    initial: int = 2_000
    maximum: int = 100_000
    results_budget: int = 10_000
    grow_below: float = 0.25

    def __post_init__(self) -> None:
        if not 1 <= self.initial <= self.maximum:
            raise ValueError(f"span policy needs 1 <= initial <= maximum (got {self.initial}, {self.maximum})")
        if self.results_budget < 1 or not 0 < self.grow_below <= 1:
            raise ValueError("span policy needs results_budget >= 1 and 0 < grow_below <= 1")


class Refusal(enum.Enum):
    """Why a provider refused a range: too many blocks (a fixed limit) or too large an answer (depends on
    how busy the blocks are)."""

    BLOCKS = "blocks"
    RESULTS = "results"


class LogRangeError(RpcResponseError):
    """The provider refuses ``eth_getLogs`` even for a single block; narrowing cannot help."""


# Wordings seen from providers, matched on lower-cased text. Checked in this order: an answer-size message
# often also names a block range ("response size exceeded ... up to a 2K block range").
_RESULTS_WORDS = re.compile(
    r"more than [\d,]+ results|too many (results|logs)|result(s)? (limit|window)|results? exceed"
    r"|response size|response (is )?too (large|big)|log response|size exceeded|payload too large"
    r"|request entity too large|\bhttp 413\b|query returned more than")
_BLOCKS_WORDS = re.compile(
    r"block range|blocks? range|range (is )?too (large|wide|big)|too wide|max(imum)? (allowed )?(block )?range"
    r"|exceeds? (the )?(max|maximum|allowed) (block )?range|limited to (a )?[\d,]+ ?(blocks?)? ?range"
    r"|too many blocks|number of (requested )?blocks|range limit")
_GENERIC_WORDS = re.compile(r"limit exceeded|exceeds? (the )?limit")
_SUGGESTED = re.compile(r"\[\s*(0x[0-9a-f]+)\s*,\s*(0x[0-9a-f]+)\s*\]")


def classify_refusal(message: str, code: int | None = None) -> Refusal | None:
    """Whether an ``eth_getLogs`` error means "ask for less", and which kind; ``None`` for any other error.

    ``code`` is the JSON-RPC error code or HTTP status when known; only HTTP 413 decides on its own
    (-32005 and -32602 also mean rate limiting and plain bad parameters, so their text decides).
    A message that only says "limit exceeded" is taken as an answer-size refusal, which sets no ceiling.
    """
    text = message.lower()
    if code == 413 or _RESULTS_WORDS.search(text):
        return Refusal.RESULTS
    if _BLOCKS_WORDS.search(text):
        return Refusal.BLOCKS
    if _GENERIC_WORDS.search(text):
        return Refusal.RESULTS
    return None


def suggested_range(message: str) -> tuple[int, int] | None:
    """A block range the provider proposes instead (Alchemy: "this block range should work: [0x.., 0x..]")."""
    match = _SUGGESTED.search(message.lower())
    return None if match is None else (int(match.group(1), 16), int(match.group(2), 16))


class RangeWalker:
    """Consecutive block ranges covering ``[from_block, to_block]``, sized by what the provider accepted.

    Call ``next_range()``, then ``accepted(results)`` or ``refused(kind)`` for it; repeat until ``done``.
    A block-count limit is found by bisection between the widest range accepted and the narrowest refused
    for its width, so learning it costs a logarithmic number of refusals, once.
    """

    def __init__(self, from_block: int, to_block: int, policy: SpanPolicy | None = None) -> None:
        if from_block < 0:
            raise ValueError(f"from_block must be >= 0 (got {from_block})")
        self.policy = policy or SpanPolicy()
        self.cursor = from_block
        self.end = to_block
        self.span = self.policy.initial
        self.refusals = 0
        self._fits = 0  # widest range accepted so far
        self._too_wide: int | None = None  # narrowest range refused for its width
        self._pending: tuple[int, int] | None = None

    @property
    def done(self) -> bool:
        return self.cursor > self.end

    def next_range(self) -> tuple[int, int]:
        if self.done:
            raise RuntimeError("every block of the range was already covered")
        self._pending = (self.cursor, min(self.end, self.cursor + self.span - 1))
        return self._pending

    def _take_pending(self) -> tuple[int, int]:
        if self._pending is None:
            raise RuntimeError("no range is pending: call next_range() first")
        pending, self._pending = self._pending, None
        return pending

    def _grown(self) -> int:
        target = min(self.span * 2, self.policy.maximum)
        if self._too_wide is not None and target >= self._too_wide:
            known_good = max(self._fits, self.span)
            if self._too_wide - known_good <= known_good // 16:
                return known_good  # close enough: another probe would cost more than it gains
            target = (known_good + self._too_wide) // 2
        return max(1, target)

    def accepted(self, results: int) -> None:
        """The pending range was answered with ``results`` logs: move past it and size the next one."""
        first, last = self._take_pending()
        self.cursor = last + 1
        self._fits = max(self._fits, last - first + 1)
        if results < self.policy.results_budget * self.policy.grow_below:
            self.span = self._grown()
        elif results > self.policy.results_budget:
            self.span = max(1, self.span // 2)

    def refused(self, kind: Refusal, suggestion: tuple[int, int] | None = None) -> None:
        """The provider refused the pending range: narrow it. Raises ``LogRangeError`` for a single block."""
        first, last = self._take_pending()
        width = last - first + 1
        if width == 1:
            raise LogRangeError(f"eth_getLogs is refused even for the single block {first}")
        self.refusals += 1
        self.span = width // 2
        if kind is Refusal.BLOCKS:
            self._too_wide = width if self._too_wide is None else min(self._too_wide, width)
            self._fits = min(self._fits, width - 1)  # a provider may lower its limit
            self.span = max(self.span, self._fits)  # the widest range accepted before
        if suggestion is not None and suggestion[0] == first and first <= suggestion[1] < last:
            self.span = suggestion[1] - first + 1


@dataclass(frozen=True, slots=True)
class LogChunk:
    """The logs of one accepted range, in the node's order."""

    from_block: int
    to_block: int
    logs: list[dict[str, Any]]


def _refusal_of(exc: Exception) -> Refusal | None:
    return classify_refusal(str(exc)) if isinstance(exc, RpcResponseError | RpcUnavailableError) else None


async def iter_logs(rpc: RpcClient, *, address: str | Sequence[str], topics: Sequence[Any], from_block: int,
                    to_block: int, policy: SpanPolicy | None = None) -> AsyncIterator[LogChunk]:
    """Yield the logs of ``[from_block, to_block]`` one accepted range at a time, in block order.

    A refused range is narrowed and asked again; any other error propagates (``RpcUnavailableError`` is
    retryable, ``RpcResponseError`` is not), as does ``LogRangeError`` when one block is refused.
    """
    walker = RangeWalker(from_block, to_block, policy)
    addresses = address if isinstance(address, str) else list(address)
    while not walker.done:
        first, last = walker.next_range()
        query = {"address": addresses, "topics": list(topics), "fromBlock": hex(first), "toBlock": hex(last)}
        try:
            logs = await rpc.call("eth_getLogs", [query])
        except (RpcResponseError, RpcUnavailableError) as exc:
            kind = _refusal_of(exc)
            if kind is None:
                raise
            try:
                walker.refused(kind, suggested_range(str(exc)))
            except LogRangeError as single:
                raise LogRangeError(f"{single}: {exc}") from exc
            log.debug("eth_getLogs range refused blocks=%d-%d kind=%s next_span=%d", first, last, kind.value,
                      walker.span)
            continue
        walker.accepted(len(logs))
        yield LogChunk(first, last, logs)


async def get_logs(rpc: RpcClient, *, address: str | Sequence[str], topics: Sequence[Any], from_block: int,
                   to_block: int, on_progress: Callable[[LogChunk], Awaitable[None] | None] | None = None,
                   policy: SpanPolicy | None = None) -> list[dict[str, Any]]:
    """Every log of ``[from_block, to_block]`` matching ``address`` and ``topics``, in block order.

    ``on_progress`` (plain or async) is called with each accepted range's chunk as soon as it arrives.
    """
    logs: list[dict[str, Any]] = []
    async for chunk in iter_logs(rpc, address=address, topics=topics, from_block=from_block, to_block=to_block,
                                 policy=policy):
        logs.extend(chunk.logs)
        if on_progress is not None:
            outcome = on_progress(chunk)
            if inspect.isawaitable(outcome):
                await outcome
    return logs
