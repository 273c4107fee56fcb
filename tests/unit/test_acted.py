"""Which accounts a market's watched logs name (``indexer.pipeline.acted``): every address in a topic after the first
or in a word of the data, nobody when the node's answer does not match the block the header check saw."""

from __future__ import annotations

from eth_utils import to_checksum_address

from indexer.pipeline.acted import changes_query, named_accounts
from indexer.types import BlockRef

HEADER = BlockRef(number=12, hash="0x" + "ab" * 32, timestamp=0, parent_hash="0x" + "cd" * 32)
ALICE = to_checksum_address("0x" + "11" * 20)
BOB = to_checksum_address("0x" + "00" * 4 + "22" * 16)  # leading zero bytes: still an address
CAROL = to_checksum_address("0x" + "33" * 20)


def word(value: str | int) -> str:
    return f"{value:064x}" if isinstance(value, int) else "0" * 24 + value[2:].lower()


def entry(topics: list[str], data: list[str], block: int = 12, block_hash: str = HEADER.hash) -> dict:
    return {"topics": ["0x" + t for t in topics], "data": "0x" + "".join(data), "blockNumber": hex(block),
            "blockHash": block_hash}


def test_every_address_in_topics_and_data_words_is_named_and_nothing_else():
    supply = entry([word(0xdd), word(CAROL), word(ALICE)], [word(BOB), word(10**50), word(0)])
    # topic0 is the event's signature, never an account, even if it looked like one
    signature = entry([word(ALICE)], [])
    named = named_accounts([supply, signature], 10, HEADER)
    assert named is not None and CAROL in named and ALICE in named and BOB in named
    assert all(to_checksum_address(a) == a for a in named)
    assert named == {CAROL, ALICE, BOB}  # 10**50 needs more than 20 bytes; zero names nobody
    # an amount that fits in 20 bytes names an address (one more account read anew, at worst)
    assert named_accounts([entry([word(1)], [word(10**24)])], 10, HEADER) == {to_checksum_address(f"0x{10**24:040x}")}
    assert named_accounts([signature], 10, HEADER) == set()


def test_an_answer_out_of_step_with_the_header_vouches_for_nobody():
    assert named_accounts([entry([word(1), word(ALICE)], [], block=9)], 10, HEADER) is None  # before the range
    assert named_accounts([entry([word(1), word(ALICE)], [], block=13)], 10, HEADER) is None  # after it
    other = entry([word(1), word(ALICE)], [], block_hash="0x" + "ef" * 32)  # the header's height, another block
    assert named_accounts([other], 10, HEADER) is None
    earlier = entry([word(1), word(ALICE)], [], block=11, block_hash="0x" + "ef" * 32)  # an earlier block's own hash
    assert named_accounts([earlier], 10, HEADER) == {ALICE}


def test_the_query_covers_the_range_and_every_emitter_once():
    query = changes_query({CAROL, ALICE}, 5, 12)
    assert query == {"address": sorted({CAROL, ALICE}), "fromBlock": "0x5", "toBlock": "0xc"}
