"""How much of the refresh is codec: the indexer's Multicall3 encoding and decoding (eth_abi) against a
hand-written codec for the same fixed layouts, byte for byte the same output. No devnet needed.

``python -m bench.headroom --accounts 10000``. A measurement of headroom, not a proposal of code: the
hand-written functions here only cover what the comparison needs (static arguments, 32-byte returns).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from indexer.chain.multicall import AGGREGATE3, Call, MulticallReader

WORD = 32
_ZERO12 = bytes(12)


@functools.cache
def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def address_call(target: str, signature: str, account: str) -> bytes:
    """Calldata of ``signature(address)``: selector, then the address left-padded to a word."""
    return _selector(signature) + _ZERO12 + bytes.fromhex(account[2:])


def _padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % WORD)


def aggregate3(calls: Sequence[tuple[str, bytes]]) -> bytes:
    """``aggregate3((address,bool,bytes)[])`` calldata, every call with allowFailure = true."""
    heads, tails, offset = [], [], WORD * len(calls)
    for target, data in calls:
        element = (_ZERO12 + bytes.fromhex(target[2:]) + (1).to_bytes(WORD, "big") + (3 * WORD).to_bytes(WORD, "big")
                   + len(data).to_bytes(WORD, "big") + _padded(data))
        heads.append(offset.to_bytes(WORD, "big"))
        tails.append(element)
        offset += len(element)
    return (AGGREGATE3 + WORD.to_bytes(WORD, "big") + len(calls).to_bytes(WORD, "big") + b"".join(heads)
            + b"".join(tails))


def aggregate3_results(hex_data: str) -> list[tuple[bool, bytes]]:
    """Decodes ``(bool,bytes)[]`` return data."""
    data = memoryview(bytes.fromhex(hex_data[2:]))
    start = int.from_bytes(data[:WORD], "big")
    n = int.from_bytes(data[start: start + WORD], "big")
    base = start + WORD
    out = []
    for i in range(n):
        at = base + int.from_bytes(data[base + WORD * i: base + WORD * (i + 1)], "big")
        ok = data[at + WORD - 1] == 1
        where = at + int.from_bytes(data[at + WORD: at + 2 * WORD], "big")
        size = int.from_bytes(data[where: where + WORD], "big")
        out.append((ok, bytes(data[where + WORD: where + WORD + size])))
    return out


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def compare(accounts: int, chunk: int = 1_000) -> dict[str, tuple[float, float]]:
    """(indexer seconds, hand-written seconds) for building, encoding and decoding a refresh's calls."""
    pool = to_checksum_address("0x" + "11" * 20)
    token = to_checksum_address("0x" + "22" * 20)
    users = [to_checksum_address(keccak(text=f"bench/headroom/{i}")[12:]) for i in range(accounts)]
    # about what a refresh sends per account: configuration, eMode, and ~2.4 balances
    plan = [(pool, "getUserConfiguration(address)"), (pool, "getUserEMode(address)"),
            (token, "scaledBalanceOf(address)"), (token, "scaledBalanceOf(address)")]
    specs = [(target, sig, user) for user in users for target, sig in plan]

    t_build, calls = _timed(lambda: [Call.of(t, s, [u], ["address"]) for t, s, u in specs])
    t_build_fast, fast = _timed(lambda: [(t, address_call(t, s, u)) for t, s, u in specs])
    assert [(c.target, c.data) for c in calls] == fast

    reader = MulticallReader(None, 1, batch_size=chunk)  # type: ignore[arg-type]  # encoding only
    chunks = [calls[i: i + chunk] for i in range(0, len(calls), chunk)]
    t_encode, payloads = _timed(lambda: [reader._eth_call(c)[1][0]["data"] for c in chunks])
    fast_chunks = [fast[i: i + chunk] for i in range(0, len(fast), chunk)]
    t_encode_fast, fast_payloads = _timed(lambda: ["0x" + aggregate3(c).hex() for c in fast_chunks])
    assert payloads == fast_payloads

    answers = ["0x" + encode(["(bool,bytes)[]"], [[(True, (7 * i).to_bytes(WORD, "big")) for i in range(len(c))]]).hex()
               for c in chunks]
    t_decode, decoded = _timed(lambda: [r for c, a in zip(chunks, answers, strict=True)
                                        for r in reader._decode_chunk(c, a)])
    t_decode_fast, fast_decoded = _timed(lambda: [int.from_bytes(ret, "big") for a in answers
                                                  for _, ret in aggregate3_results(a)])
    assert [r[0] for r in decoded] == fast_decoded
    return {"build calls": (t_build, t_build_fast), "aggregate3 encode": (t_encode, t_encode_fast),
            "decode results": (t_decode, t_decode_fast)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.headroom", description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args(argv)
    results = compare(args.accounts)
    calls = 4 * args.accounts
    print(f"{calls:,} calls ({args.accounts:,} accounts × 4), chunks of 1,000; outputs byte-identical\n")
    print("| part | indexer (eth_abi) | hand-written | ratio |")
    print("| --- | --- | --- | --- |")
    for name, (slow, quick) in results.items():
        print(f"| {name} | {slow * 1e3:,.0f} ms | {quick * 1e3:,.0f} ms | {slow / quick:,.0f}× |")
    slow, quick = (sum(v[i] for v in results.values()) for i in (0, 1))
    print(f"| total | {slow * 1e3:,.0f} ms | {quick * 1e3:,.0f} ms | {slow / quick:,.0f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
