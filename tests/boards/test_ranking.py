"""Fractional ranks: there is always room between two ranks."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boards.ranking import DIGITS, rank_between

rank = st.text(alphabet=DIGITS, min_size=1, max_size=8).filter(lambda r: not r.endswith("0"))


@given(rank, rank)
def test_a_rank_between_two_ranks_sorts_between_them(a, b):
    if a == b:
        return
    low, high = sorted((a, b))
    middle = rank_between(low, high)
    assert low < middle < high
    assert not middle.endswith("0")


@given(rank)
def test_open_ends(a):
    assert rank_between(a, None) > a
    assert rank_between(None, a) < a


def test_repeated_inserts_at_the_top_stay_short():
    top = rank_between(None, None)
    for _ in range(200):
        top = rank_between(None, top)
    assert len(top) < 50


@pytest.mark.parametrize(("low", "high"), [("b", "a"), ("a", "a"), ("a0", "b"), ("A", None)])
def test_bad_input_is_refused(low, high):
    with pytest.raises(ValueError):
        rank_between(low, high)
