"""Page cursors and request-parameter parsing of the HTTP API."""

import base64
import json
from decimal import Decimal

import pytest
from multidict import MultiDict

from indexer.api import params
from indexer.api.cursor import decode_cursor, encode_cursor
from indexer.api.errors import BadParameter
from indexer.store.position_store import PageKey
from indexer.types import UINT256_MAX


@pytest.mark.parametrize("key", [
    PageKey(Decimal("0.984886132958543046"), 27_050_00000000, 7),
    PageKey(None, 0, 1),
    PageKey(Decimal("123456789.000000000000000001"), UINT256_MAX, 2**62),
])
@pytest.mark.parametrize("sort", ["health", "debt"])
def test_cursor_round_trip(key, sort):
    cursor = encode_cursor(key, sort)
    assert cursor.isascii() and "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor, sort) == key


def _raw(document) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "", "!!!", "a" * 600, _raw([1, 2]), _raw({"v": 2, "s": "health", "h": None, "d": "0", "i": 1}),
    _raw({"v": 1, "s": "health", "h": "abc", "d": "0", "i": 1}),
    _raw({"v": 1, "s": "health", "h": "1e99", "d": "0", "i": 1}),
    _raw({"v": 1, "s": "health", "h": "NaN", "d": "0", "i": 1}),
    _raw({"v": 1, "s": "health", "h": None, "d": "-5", "i": 1}),
    _raw({"v": 1, "s": "health", "h": None, "d": str(UINT256_MAX + 1), "i": 1}),
    _raw({"v": 1, "s": "health", "h": None, "d": "0", "i": "1"}),
    _raw({"v": 1, "s": "health", "h": None, "d": "0", "i": True}),
    _raw({"v": 1, "s": "health", "h": None, "d": "0", "i": -1}),
    _raw({"v": 1, "s": "debt", "h": None, "d": "0", "i": 1}),  # made for another sort
])
def test_bad_cursors_are_refused(cursor):
    with pytest.raises(BadParameter) as raised:
        decode_cursor(cursor, "health")
    assert raised.value.parameter == "cursor"


def test_decimals_stay_exact_and_bounded():
    assert params.decimal("1.000000000000000000000000000001", "x") == Decimal("1.000000000000000000000000000001")
    assert params.decimal(Decimal("1.15"), "x") == Decimal("1.15")
    assert params.decimal(3, "x") == 3
    for bad in ("abc", "NaN", "Infinity", "-1", "1e50", True, 1.5, [], ""):
        with pytest.raises(BadParameter):
            params.decimal(bad, "x")
    with pytest.raises(BadParameter, match="at least 1E-18"):
        params.decimal("0", "warn", minimum=Decimal("1e-18"))
    with pytest.raises(BadParameter, match="at most 5"):
        params.decimal("5.1", "warn", maximum=Decimal(5))


def test_integers_clamp_or_refuse():
    q = MultiDict({"limit": "900", "since": "12", "bad": "1.5", "neg": "-1", "huge": "9" * 40})
    assert params.integer(q, "limit", maximum=500, clamp=True) == 500
    assert params.integer(q, "missing", default=50) == 50
    assert params.integer(q, "since") == 12
    for name in ("bad", "neg", "huge"):
        with pytest.raises(BadParameter) as raised:
            params.integer(q, name)
        assert raised.value.parameter == name
    with pytest.raises(BadParameter):
        params.integer(q, "limit", maximum=500)


def test_unknown_and_repeated_parameters_are_refused():
    params.reject_unknown(MultiDict({"a": "1"}), ("a", "b"))
    with pytest.raises(BadParameter) as raised:
        params.reject_unknown(MultiDict({"c": "1"}), ("a",))
    assert raised.value.parameter == "c"
    with pytest.raises(BadParameter, match="more than once"):
        params.reject_unknown(MultiDict([("a", "1"), ("a", "2")]), ("a",))


def test_addresses_are_checksummed_and_statuses_folded():
    lower = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    assert params.address(lower, "wallet") == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    with pytest.raises(BadParameter) as raised:
        params.address("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "wallet")  # bad checksum
    assert raised.value.parameter == "wallet"
    assert params.price_status(MultiDict({"price_status": "stale"})) == "STALE"
    with pytest.raises(BadParameter):
        params.price_status(MultiDict({"price_status": "old"}))
