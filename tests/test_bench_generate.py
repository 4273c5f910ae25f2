"""bench.generate: a small synthetic board obeys the same invariants as one made by the services."""

import datetime as dt
from collections import defaultdict

import pytest

from bench.generate import generate_board
from boards import ranking
from boards.flow import counted_path, entry_times
from boards.models import Block, Board, Transition, WorkItem
from readiness.models import AcceptanceCriterion, CriterionChange, GateRefusal

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
SLUG = "bench-test"
ITEMS = 300


def _moves(board: Board) -> dict[int, list[tuple[int | None, int, dt.datetime]]]:
    """Each item's transitions (from id, to id, at) in write order."""
    moves = defaultdict(list)
    rows = (
        Transition.objects.filter(board=board)
        .order_by("id")
        .values_list("item_id", "from_column_id", "to_column_id", "at")
    )
    for item_id, from_id, to_id, at in rows:
        moves[item_id].append((from_id, to_id, at))
    return moves


def _sequence(board: Board) -> list[tuple[str, int, dt.datetime]]:
    positions = {c.pk: c.position for c in board.columns.all()}
    keys = dict(WorkItem.objects.filter(board=board).values_list("id", "key"))
    return sorted(
        (keys[item_id], positions[to_id], at)
        for item_id, moves in _moves(board).items()
        for _, to_id, at in moves
    )


@pytest.mark.django_db
def test_generated_board_is_consistent_and_reproducible():
    result = generate_board(slug=SLUG, items=ITEMS, seed=7, days=120, now=NOW)
    board = Board.objects.get(slug=SLUG)
    columns = list(board.columns.order_by("position"))
    positions = {c.pk: c.position for c in columns}
    by_name = {c.name: c for c in columns}
    commitment, delivery = (
        positions[board.commitment_column_id],
        positions[board.delivery_column_id],
    )
    assert [c.name for c in columns][commitment] == "Ready"
    assert [c.name for c in columns][delivery] == "Released"
    assert result["items"] == ITEMS == WorkItem.objects.filter(board=board).count()
    assert board.next_number == ITEMS + 1

    moves = _moves(board)
    assert sum(len(m) for m in moves.values()) == result["transitions"]
    assert 6 <= result["transitions"] / ITEMS <= 14
    backward = reopens = 0
    items = {item.pk: item for item in WorkItem.objects.filter(board=board)}
    assert set(moves) == set(items)
    for item_id, item_moves in moves.items():
        item = items[item_id]
        times = [at for _, _, at in item_moves]
        assert all(a < b for a, b in zip(times, times[1:], strict=False)), item.key
        assert times[-1] <= NOW
        assert item_moves[0][0] is None
        assert all(from_id == previous[1] for (from_id, _, _), previous in _pairs(item_moves))
        assert item.column_id == item_moves[-1][1]
        assert item.created_at == times[0]
        path = counted_path((positions[to_id], at) for _, to_id, at in item_moves)
        entries = entry_times(path, (commitment, delivery))
        assert (item.started_at, item.delivered_at) == (entries[commitment], entries[delivery])
        for from_id, to_id, _ in item_moves[1:]:
            backward += positions[to_id] < positions[from_id]
            reopens += (from_id, to_id) == (by_name["Released"].pk, by_name["Testing"].pk)
        if item.discarded_at is not None:
            assert item.discard_reason
            assert item.delivered_at is None
            assert item.column.name in ("Backlog", "Ready")
            assert times[-1] < item.discarded_at <= NOW
        assert ranking.is_valid(item.rank)
    assert backward > 0 and reopens > 0
    assert result["discarded"] > 0 and result["reopened"] > 0
    assert result["in_progress"] > 0 and result["never_started"] > 0
    assert result["delivered"] > ITEMS / 2

    blocks = Block.objects.filter(item__board=board).select_related("item")
    assert blocks.filter(ended_at__isnull=True).exists()
    for block in blocks:
        assert block.item.created_at <= block.started_at <= NOW
        assert block.ended_at is None or block.started_at <= block.ended_at <= NOW
        assert block.criterion is None or block.criterion.item_id == block.item_id

    criteria = AcceptanceCriterion.objects.filter(item__board=board).select_related("item")
    assert criteria.filter(status="waived").exists()
    assert not criteria.filter(status="waived", waiver_reason="").exists()
    for criterion in criteria:
        if criterion.item.delivered_at is not None:
            assert criterion.status in ("met", "waived")
            assert criterion.resolved_at < criterion.item.delivered_at
        if criterion.status != "pending":
            assert criterion.item.created_at < criterion.resolved_at <= NOW
    resolved = criteria.exclude(status="pending").count()
    assert CriterionChange.objects.filter(criterion__item__board=board).count() == resolved
    refusals = GateRefusal.objects.filter(item__board=board)
    assert refusals.exists()
    for refusal in refusals:
        assert refusal.gate_column_id == refusal.to_column_id == by_name["Released"].pk
        assert refusal.unmet and refusal.at <= NOW

    # Same seed, same slug: the board is replaced by an identical one.
    first = _sequence(board)
    again = generate_board(slug=SLUG, items=ITEMS, seed=7, days=120, now=NOW)
    assert again["replaced"]
    assert Board.objects.filter(slug=SLUG).count() == 1
    assert _sequence(Board.objects.get(slug=SLUG)) == first
    assert Transition.objects.count() == again["transitions"]


def _pairs(moves):
    return zip(moves[1:], moves, strict=False)
