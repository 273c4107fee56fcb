"""Page cursors and request-parameter parsing of the HTTP API."""

import base64
import json
from decimal import Decimal
from typing import get_args

import pytest
from multidict import MultiDict

from indexer.api import params
from indexer.api.cursor import decode_cursor, encode_cursor
from indexer.api.errors import BadParameter
from indexer.api.models import HistoryQuery, PositionsQuery, SilenceCreate, Status, WalletCreate
from indexer.oracles.status import PriceStatus
from indexer.store.position_store import PageKey
from indexer.types import UINT256_MAX

ACCOUNT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


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


def _refused(model, data, parameter):
    with pytest.raises(BadParameter) as raised:
        params.validate(model, data, "body")
    assert raised.value.parameter == parameter, raised.value.message
    return raised.value.message


def test_levels_stay_exact_and_bounded():
    def level(value):
        return params.validate(WalletCreate, {"address": ACCOUNT, "warn": value}, "body").warn

    assert level("1.000000000000000000000000000001") == Decimal("1.000000000000000000000000000001")
    assert level(Decimal("1.15")) == Decimal("1.15") and level(3) == 3
    for bad in ("abc", "NaN", "Infinity", "-1", "1e50", True, 1.5, [], "", "0"):
        _refused(WalletCreate, {"address": ACCOUNT, "warn": bad}, "warn")
    assert "between 1E-18 and 1000000" in _refused(WalletCreate, {"address": ACCOUNT, "critical": "0"}, "critical")
    assert "not be above warn" in _refused(WalletCreate, {"address": ACCOUNT, "warn": "1.1", "critical": "1.2"},
                                           "critical")
    assert "unknown field 'colour'" in _refused(WalletCreate, {"address": ACCOUNT, "colour": 1}, "colour")
    assert _refused(WalletCreate, {}, "address") == "address is required"


def test_query_integers_and_amounts():
    q = params.validate(PositionsQuery, {"limit": "900", "max_health": "1.000000000000000000000000000001"}, "query")
    assert q.limit == 900 and q.max_health == Decimal("1.000000000000000000000000000001") and q.sort == "health"
    assert params.validate(HistoryQuery, {"since": "12"}, "query").since == 12
    for name, bad in (("limit", "1.5"), ("limit", "0"), ("limit", "9" * 40), ("max_health", "1e3"),
                      ("min_debt", "-1"), ("sort", "size")):
        _refused(PositionsQuery, {name: bad}, name)
    _refused(HistoryQuery, {"since": str(2**63)}, "since")


def test_silences_say_what_they_silence():
    silence = params.validate(SilenceCreate, {"market": "m", "seconds": 60}, "body")
    assert (silence.market, silence.seconds, silence.all) == ("m", 60, False)
    assert "say what to silence" in _refused(SilenceCreate, {"seconds": 60}, "body")
    for seconds in (0, True, "60", 1.5, 366 * 86_400 + 1):
        _refused(SilenceCreate, {"all": True, "seconds": seconds}, "seconds")
    _refused(SilenceCreate, {"all": "yes", "seconds": 60}, "all")


def test_unknown_and_repeated_parameters_are_refused():
    params.reject_unknown(MultiDict({"a": "1"}), ("a", "b"))
    with pytest.raises(BadParameter) as raised:
        params.reject_unknown(MultiDict({"c": "1"}), ("a",))
    assert raised.value.parameter == "c"
    with pytest.raises(BadParameter, match="more than once"):
        params.reject_unknown(MultiDict([("a", "1"), ("a", "2")]), ("a",))


def test_addresses_are_checksummed_and_statuses_folded():
    lower = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    assert params.validate(PositionsQuery, {"wallet": lower}, "query").wallet == ACCOUNT
    assert "checksum" in _refused(PositionsQuery, {"wallet": "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}, "wallet")
    assert params.validate(PositionsQuery, {"price_status": "stale"}, "query").price_status == "STALE"
    _refused(PositionsQuery, {"price_status": "old"}, "price_status")


def test_the_status_literal_is_the_enum():
    assert set(get_args(Status)) == {s.value for s in PriceStatus}
