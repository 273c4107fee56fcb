"""Range arithmetic and refusal classification of ranged eth_getLogs, against an in-memory provider."""

from collections.abc import Callable

import pytest

from indexer.chain.logs import (
    LogRangeError,
    RangeWalker,
    Refusal,
    SpanPolicy,
    classify_refusal,
    suggested_range,
)

Answer = int | str  # logs returned, or the provider's error message


def limited_provider(density: Callable[[int], int], *, max_blocks: int | None = None,
                     max_results: int | None = None) -> Callable[[int, int], Answer]:
    """A provider holding ``density(block)`` logs per block that refuses ranges wider than ``max_blocks``
    or with more than ``max_results`` logs, with the wording real providers use."""

    def answer(first: int, last: int) -> Answer:
        if max_blocks is not None and last - first + 1 > max_blocks:
            return f"block range is too wide (maximum {max_blocks} blocks)"
        results = sum(density(b) for b in range(first, last + 1))
        if max_results is not None and results > max_results:
            return f"query returned more than {max_results} results"
        return results

    return answer


def walk(walker: RangeWalker, provider: Callable[[int, int], Answer]) -> tuple[list[tuple[int, int]], list[int]]:
    """Drive the walker to the end; return the accepted ranges and the span of each request."""
    accepted: list[tuple[int, int]] = []
    spans: list[int] = []
    while not walker.done:
        first, last = walker.next_range()
        spans.append(last - first + 1)
        got = provider(first, last)
        if isinstance(got, str):
            kind = classify_refusal(got)
            assert kind is not None, got
            walker.refused(kind, suggested_range(got))
        else:
            walker.accepted(got)
            accepted.append((first, last))
    return accepted, spans


def assert_covers_once(ranges: list[tuple[int, int]], first: int, last: int) -> None:
    blocks = [b for lo, hi in ranges for b in range(lo, hi + 1)]
    assert blocks == list(range(first, last + 1))


@pytest.mark.parametrize("message,kind", [
    ("query returned more than 10000 results", Refusal.RESULTS),
    ("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit "
     "on the response size, or you can request any block range with a cap of 10K logs in the response. Based "
     "on your parameters, this block range should work: [0x10, 0x8f]", Refusal.RESULTS),
    ("eth_getLogs failed on http://node: too many results, narrow the query", Refusal.RESULTS),
    ("response size should not greater than 10000000 bytes", Refusal.RESULTS),
    ("HTTP 413 from https://rpc.example", Refusal.RESULTS),
    ("request entity too large", Refusal.RESULTS),
    ("limit exceeded", Refusal.RESULTS),
    ("block range is too wide", Refusal.BLOCKS),
    ("Block range limit exceeded.", Refusal.BLOCKS),
    ("eth_getLogs is limited to a 10,000 range", Refusal.BLOCKS),
    ("eth_getLogs and eth_newFilter are limited to a 10000 blocks range", Refusal.BLOCKS),
    ("exceed maximum block range: 5000", Refusal.BLOCKS),
    ("query exceeds max block range 100000", Refusal.BLOCKS),
    ("requested too many blocks from 100 to 20000, maximum is set to 1024", Refusal.BLOCKS),
    ("range too large, max range: 1000", Refusal.BLOCKS),
])
def test_provider_wordings_are_recognised(message, kind):
    assert classify_refusal(message) is kind
    assert classify_refusal(message.upper()) is kind


@pytest.mark.parametrize("message", [
    "execution reverted", "header not found", "rate limited, too many requests", "invalid argument 0: hex string",
    "cannot reach RPC http://127.0.0.1:1: ClientConnectorError", "HTTP 404 from http://node",
])
def test_other_errors_are_not_refusals(message):
    assert classify_refusal(message) is None


def test_http_413_status_alone_is_a_refusal():
    assert classify_refusal("", code=413) is Refusal.RESULTS
    assert classify_refusal("invalid params", code=-32602) is None


def test_suggested_range_is_read():
    assert suggested_range("this block range should work: [0x1a, 0x2F]") == (0x1a, 0x2f)
    assert suggested_range("block range is too wide") is None


@pytest.mark.parametrize("max_blocks", [1, 3, 10, 999, 2_000, 5_000])
def test_block_limit_covers_every_block_once_and_learns_the_limit(max_blocks):
    walker = RangeWalker(7, 40_006, SpanPolicy(initial=2_000, maximum=8_192))
    accepted, spans = walk(walker, limited_provider(lambda b: 0, max_blocks=max_blocks))
    assert_covers_once(accepted, 7, 40_006)
    # the limit is found once, by bisection, to within 1/16: few refusals, then ranges of one settled width
    assert walker.refusals <= 13
    widths = [hi - lo + 1 for lo, hi in accepted[:-1]]
    settled = widths[-1]
    assert max_blocks - max_blocks // 16 <= settled <= max_blocks
    assert widths.count(settled) >= len(widths) - 13


def test_results_limit_halves_in_a_dense_stretch_and_grows_back_after_it():
    dense = range(10_000, 12_000)
    provider = limited_provider(lambda b: 50 if b in dense else (1 if b % 97 == 0 else 0), max_results=1_000)
    walker = RangeWalker(0, 60_000, SpanPolicy(initial=2_000, maximum=16_000, results_budget=1_000))
    accepted, spans = walk(walker, provider)
    assert_covers_once(accepted, 0, 60_000)
    widths = {lo: hi - lo + 1 for lo, hi in accepted}
    in_dense = [w for lo, w in widths.items() if lo in dense]
    assert max(in_dense) <= 20  # 50 logs a block, at most 1,000 per answer
    after = [w for lo, w in widths.items() if lo >= dense.stop]
    assert max(after) == 16_000  # back at the cap past the dense stretch
    assert after[:11] == [15, 30, 60, 120, 240, 480, 960, 1_920, 3_840, 7_680, 15_360]


def test_both_limits_together_cover_every_block_once():
    provider = limited_provider(lambda b: (b * 7919) % 13, max_blocks=500, max_results=300)
    walker = RangeWalker(1, 25_000, SpanPolicy(initial=4_000, results_budget=300))
    accepted, _ = walk(walker, provider)
    assert_covers_once(accepted, 1, 25_000)


def test_a_single_block_over_the_limit_raises():
    provider = limited_provider(lambda b: 5_000 if b == 42 else 0, max_results=1_000)
    walker = RangeWalker(0, 100, SpanPolicy(initial=64))
    with pytest.raises(LogRangeError, match="single block 42"):
        walk(walker, provider)


def test_answers_over_the_budget_shrink_the_next_span():
    walker = RangeWalker(0, 10_000, SpanPolicy(initial=1_000, results_budget=100))
    walker.next_range()
    walker.accepted(500)
    assert walker.next_range() == (1_000, 1_499)
    walker.accepted(50)  # between a quarter of the budget and the budget: unchanged
    assert walker.next_range() == (1_500, 1_999)
    walker.accepted(10)
    assert walker.next_range() == (2_000, 2_999)


def test_a_suggested_range_is_taken():
    walker = RangeWalker(100, 10_000, SpanPolicy(initial=2_000))
    assert walker.next_range() == (100, 2_099)
    walker.refused(Refusal.RESULTS, suggested_range("this block range should work: [0x64, 0x95]"))
    assert walker.next_range() == (100, 149)


def test_empty_and_single_block_ranges():
    assert RangeWalker(10, 9).done
    walker = RangeWalker(5, 5)
    assert walker.next_range() == (5, 5)
    walker.accepted(0)
    assert walker.done
    with pytest.raises(RuntimeError):
        walker.next_range()


def test_span_policy_is_validated():
    with pytest.raises(ValueError):
        SpanPolicy(initial=0)
    with pytest.raises(ValueError):
        SpanPolicy(initial=10, maximum=5)
    with pytest.raises(ValueError):
        SpanPolicy(results_budget=0)
