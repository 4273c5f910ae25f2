"""Fractional ranks stay short and strictly ordered whatever the sequence of inserts."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boards import ranking
from boards.models import WorkItem
from boards.services import work_item_move, work_item_reorder
from tests.factories import WorkItemFactory


class Column:
    """An in-memory column of ranks, placed exactly as the services place them."""

    def __init__(self) -> None:
        self.ranks: list[str] = []
        self.rewritten = 0

    def insert(self, index: int) -> str:
        low = self.ranks[index - 1] if index > 0 else None
        high = self.ranks[index] if index < len(self.ranks) else None
        placement = ranking.place(low, high, ranking.list_window(self.ranks, index))
        for position, rank in placement.moved.items():
            self.ranks[position] = rank
        self.rewritten += len(placement.moved)
        self.ranks.insert(index, placement.rank)
        return placement.rank

    def check(self) -> None:
        assert max(map(len, self.ranks)) <= ranking.MAX_LENGTH
        assert all(a < b for a, b in zip(self.ranks, self.ranks[1:], strict=False))
        assert all(ranking.is_valid(rank) for rank in self.ranks)


def test_100000_appends_at_the_bottom_stay_short_and_ordered():
    column = Column()
    for _ in range(100_000):
        column.ranks.append(ranking.between(column.ranks[-1] if column.ranks else None, None))
    column.check()
    assert max(map(len, column.ranks)) == 4
    assert column.ranks == ranking.sequence(100_000)


def test_100000_inserts_at_the_top_stay_short_and_ordered():
    ranks = [ranking.between(None, None)]
    for _ in range(99_999):
        ranks.append(ranking.between(None, ranks[-1]))
    ranks.reverse()
    column = Column()
    column.ranks = ranks
    column.check()
    assert max(map(len, ranks)) == 4


@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_10000_random_inserts_between_neighbours(seed: int):
    rnd = random.Random(seed)
    column = Column()
    for _ in range(10_000):
        column.insert(rnd.randrange(len(column.ranks) + 1))
    column.check()


def test_10000_inserts_into_the_same_gap_respread_a_few_neighbours():
    """The worst case of fractional indexing: each insert halves the same gap. Neighbours are
    re-spread when the gap is exhausted, so ranks stay short at an amortised cost of a few
    rows per insert (never the whole column each time)."""
    column = Column()
    column.insert(0)
    column.insert(1)
    for _ in range(10_000):
        column.insert(1)
    column.check()
    assert column.rewritten < 10_000 * 0.2


operation = st.one_of(
    st.just("top"),
    st.just("bottom"),
    st.just("same-gap"),
    st.floats(min_value=0, max_value=1, allow_nan=False),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(operation, min_size=1, max_size=600))
def test_any_mix_of_inserts_keeps_ranks_short_and_strictly_ordered(operations):
    column = Column()
    for op in operations:
        if op == "top":
            index = 0
        elif op == "bottom":
            index = len(column.ranks)
        elif op == "same-gap":
            index = min(1, len(column.ranks))
        else:
            index = int(op * len(column.ranks))
        column.insert(index)
    column.check()


key = st.text(alphabet=ranking.fi.BASE_62_DIGITS, min_size=1, max_size=6)


@given(st.lists(st.integers(min_value=0, max_value=3000), min_size=2, max_size=2, unique=True))
def test_a_rank_between_two_ranks_sorts_between_them(indexes):
    keys = ranking.sequence(3001)
    low, high = sorted(keys[i] for i in indexes)
    middle = ranking.between(low, high)
    assert low < middle < high and ranking.is_valid(middle)


@pytest.mark.parametrize(
    ("low", "high"), [("a1", "a0"), ("a0", "a0"), ("a10", "a2"), ("A", None), ("", None)]
)
def test_bad_input_is_refused(low, high):
    with pytest.raises(ValueError):
        ranking.between(low, high)


@pytest.mark.django_db
def test_reordering_into_the_same_gap_in_the_database_keeps_ranks_short(board, col):
    """The services re-spread neighbours in the column (under its lock) when a gap runs out."""
    backlog = col["Backlog"]
    first, second = WorkItemFactory(board=board), WorkItemFactory(board=board)
    others = [WorkItemFactory(board=board) for _ in range(30)]
    for item in others * 4:
        work_item_reorder(item, after=first, before=second)
        first.refresh_from_db()
        second = WorkItem.objects.filter(column=backlog, rank__gt=first.rank).order_by("rank")[0]
    ranks = list(WorkItem.objects.filter(column=backlog).values_list("rank", flat=True))
    assert max(map(len, ranks)) <= ranking.MAX_LENGTH
    assert len(set(ranks)) == len(ranks)


@pytest.mark.django_db
def test_a_move_between_two_cards_lands_between_them(board, col):
    a, b, c = (WorkItemFactory(board=board) for _ in range(3))
    for item in (a, b):
        work_item_move(item, col["Ready"], actor=None, source="api")
    work_item_move(c, col["Ready"], actor=None, source="api", after=a, before=b)
    order = list(
        WorkItem.objects.filter(column=col["Ready"]).order_by("rank").values_list("pk", flat=True)
    )
    assert order == [a.pk, c.pk, b.pk]
