"""Downsampling of a position's history: at most ``points`` rows, evenly spaced, always with the last."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.store.position_store import sample_indices


@given(total=st.integers(0, 20_000), points=st.integers(1, 600))
def test_sample_indices(total, points):
    picked = sample_indices(total, points)
    assert len(picked) == min(total, points)
    assert picked == sorted(set(picked))
    assert all(0 <= i < total for i in picked)
    if total:
        assert picked[-1] == total - 1
    if total and points >= 2:
        assert picked[0] == 0
    if total > points >= 2:
        gaps = [b - a for a, b in zip(picked, picked[1:], strict=False)]
        assert max(gaps) - min(gaps) <= 1  # evenly spaced
        assert sum(gaps) == total - 1


def test_small_cases():
    assert sample_indices(7, 3) == [0, 3, 6]
    assert sample_indices(7, 1) == [6]
    assert sample_indices(3, 500) == [0, 1, 2]
    assert sample_indices(0, 5) == []
    with pytest.raises(ValueError):
        sample_indices(5, 0)
