"""indexer.hexutil (keccak and EIP-55 on eth-hash, for start-up time) against eth-utils' own functions."""

import subprocess
import sys

import eth_utils
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.hexutil import keccak, to_checksum_address


@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils(raw):
    hexed = "0x" + raw.hex()
    expected = eth_utils.to_checksum_address(hexed)
    assert to_checksum_address(hexed) == to_checksum_address(raw) == expected
    assert to_checksum_address(hexed.upper().replace("0X", "0x")) == to_checksum_address(raw.hex()) == expected


@given(st.binary(max_size=200), st.text(max_size=50))
def test_keccak_matches_eth_utils(data, text):
    assert keccak(data) == eth_utils.keccak(data)
    assert keccak(text=text) == eth_utils.keccak(text=text)


@pytest.mark.parametrize("bad", ["0x123", "0x" + "g" * 40, b"\x00" * 19])
def test_not_an_address(bad):
    with pytest.raises(ValueError):
        to_checksum_address(bad)


def test_loading_the_protocols_loads_neither_eth_abi_nor_eth_utils():
    code = ("import sys, indexer.protocols.registry\n"
            "print(sorted(m for m in sys.modules if m in ('eth_abi', 'eth_utils')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
