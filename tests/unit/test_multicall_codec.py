import pytest
from eth_abi import encode

from indexer.chain.multicall import Call, MulticallReader, decode_output, run_plans
from indexer.chain.redact import redact_url
from indexer.errors import CallRevertedError

A = "0x00000000000000000000000000000000000000aa"


@pytest.mark.parametrize("types,values", [
    (("uint256",), (2**256 - 1,)),
    (("int256",), (-5,)),
    (("uint80", "int256", "uint256", "uint256", "uint80"), (18446744073709551617, -1, 3, 4, 5)),
    (("address", "bool"), (A, True)),
    (("address[]",), ((A, A),)),
    (("(uint16,uint16,uint16,address,string)",), ((9000, 9300, 10100, A, "ETH correlated"),)),
])
def test_decode_output_matches_eth_abi(types, values):
    call = Call(A, b"", types)
    assert decode_output(call, encode(list(types), list(values))) == values


class _FakeReader:
    """Records rounds; answers each call with its own calldata (pure test of the plan driver)."""

    def __init__(self):
        self.rounds = []

    async def read(self, calls):
        self.rounds.append(len(calls))
        return [c.data for c in calls]


def _plan(tag, rounds):
    got = []
    for r in range(rounds):
        got.append((yield [Call(A, f"{tag}{r}{i}".encode(), ()) for i in range(r + 1)]))
    return got


async def test_plans_share_rounds():
    reader = _FakeReader()
    a, b = await run_plans(reader, [_plan("a", 3), _plan("b", 1)])
    assert reader.rounds == [2, 2, 3]  # round one merges both plans; b finishes after one round
    assert a == [[b"a00"], [b"a10", b"a11"], [b"a20", b"a21", b"a22"]]
    assert b == [[b"b00"]]


def test_failed_call_without_allow_failure_names_the_call():
    reader = MulticallReader(rpc=None, block_number=7)  # type: ignore[arg-type]
    payload = encode(["(bool,bytes)[]"], [[(False, b"")]])
    with pytest.raises(CallRevertedError, match="call 0x12345678 to .* at block 7: reverted"):
        reader._decode_chunk([Call(A, bytes.fromhex("12345678"), ("uint256",))], "0x" + payload.hex())


def test_redaction_hides_keys():
    assert redact_url("https://eth.example.com/v2/SECRETKEY") == "https://eth.example.com/…"
    assert redact_url("https://user:pw@host.example:8443/?key=1") == "https://host.example:8443/…"
    assert redact_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from indexer.chain.multicall import AGGREGATE3, decode_aggregate3, encode_aggregate3  # noqa: E402

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
calls = st.lists(st.tuples(addresses, st.binary(max_size=100)), max_size=20)


@given(calls)
def test_aggregate3_encoding_equals_eth_abi(items):
    built = encode_aggregate3([Call(target, data, ()) for target, data in items])
    expected = AGGREGATE3 + encode(["(address,bool,bytes)[]"], [[(t, True, d) for t, d in items]])
    assert built == expected


@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=100)), max_size=20))
def test_aggregate3_decoding_equals_eth_abi(pairs):
    assert decode_aggregate3(encode(["(bool,bytes)[]"], [pairs])) == [tuple(p) for p in pairs]


def test_single_address_argument_fast_path_equals_eth_abi():
    fast = Call.of(A, "balanceOf(address)", [A], ["address"])
    slow = Call.of(A, "balanceOf(address)", [A, 1], ["address", "uint256"]).data[:36]
    assert fast.data == slow
