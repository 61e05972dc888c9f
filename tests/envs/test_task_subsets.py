"""``evenly_spaced``: the task subsets that collection and the benchmarks take from a split."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envs.core import evenly_spaced


@given(size=st.integers(1, 300), n=st.integers(1, 300))
def test_subset_keeps_order_ends_and_size(size, n):
    tasks = list(range(size))
    subset = evenly_spaced(tasks, n)
    assert len(subset) == min(n, size) and len(set(subset)) == len(subset)
    assert subset == sorted(subset) and subset[0] == 0
    assert subset[-1] == size - 1 or n == 1


@given(size=st.integers(2, 300), n=st.integers(2, 300))
def test_gaps_differ_by_at_most_one(size, n):
    """Evenly spread: no stretch of the split is skipped much more than another."""
    subset = evenly_spaced(list(range(size)), n)
    gaps = [b - a for a, b in zip(subset, subset[1:], strict=False)]
    assert max(gaps) - min(gaps) <= 1


def test_none_keeps_all_and_bad_sizes_are_refused():
    assert evenly_spaced(["a", "b"], None) == ["a", "b"]
    with pytest.raises(ValueError, match="n must be >= 1"):
        evenly_spaced(["a"], 0)
