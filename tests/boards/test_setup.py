"""A board's set-up is changed as a whole by boards.setup: checked once every change is applied,
with the board's metrics recomputed afterwards."""

import pytest

from boards import setup
from boards.models import Column
from flowboard.errors import InvalidInput
from tests.factories import CriterionTemplateFactory, WorkItemFactory


def specs(board, **changes):
    """The board's columns as specs, with ``changes`` {name: {field: value}} applied."""
    return [
        setup.ColumnSpec(**{**spec.__dict__, **changes.get(spec.name, {})})
        for spec in setup.columns_of(board)
    ]


BAD_SETUPS = [
    pytest.param([("A", 0)], "A", "A", "at least two columns", id="one column"),
    pytest.param([("A", 0), ("a", 1)], "A", "a", "unique", id="names differ only in case"),
    pytest.param([("A", 0), ("B", 1)], "B", "A", "must come after", id="points reversed"),
    pytest.param([("A", 0), ("B", 1)], "A", "C", "not one of the columns", id="unknown point"),
    pytest.param([("A", 0), ("B", 1)], "A", "B", "WIP limit", id="WIP limit 0", marks=()),
]


@pytest.mark.parametrize(("columns", "commitment", "delivery", "message"), BAD_SETUPS)
def test_a_setup_that_cannot_work_is_refused(columns, commitment, delivery, message):
    specs_ = [setup.ColumnSpec(name) for name, _ in columns]
    if message == "WIP limit":
        specs_[0] = setup.ColumnSpec("A", wip_limit=0)
    with pytest.raises(InvalidInput, match=message):
        setup.check_setup(specs_, commitment, delivery)


def test_columns_are_reordered_renamed_and_added_in_one_change(
    board, django_capture_on_commit_callbacks
):
    columns = specs(board, Build={"name": "In development"})
    columns[2], columns[3] = columns[3], columns[2]  # Review before development
    columns.append(setup.ColumnSpec("Sunset", stage="done"))

    with django_capture_on_commit_callbacks() as callbacks:
        setup.board_update(board, columns=columns)

    names = list(board.columns.order_by("position").values_list("name", flat=True))
    assert names == ["Backlog", "Ready", "Review", "In development", "Readiness", "Done",
                     "Operating", "Sunset"]  # fmt: skip
    assert len(callbacks) == 1  # the board's recompute, once


def test_moving_the_commitment_past_the_delivery_is_refused_and_nothing_changes(board):
    columns = specs(board)
    ready = columns.pop(1)
    columns.append(ready)
    with pytest.raises(InvalidInput, match="must come after the commitment"):
        setup.board_update(board, columns=columns)
    assert board.columns.get(name="Ready").position == 1


@pytest.mark.parametrize("used_by", ["items", "history", "criteria"])
def test_a_column_in_use_is_never_deleted(board, col, used_by):
    target = col["Review"]
    if used_by == "items":
        item = WorkItemFactory(board=board)
        from boards.services import work_item_move

        work_item_move(item, target, actor=None, source="api")
    elif used_by == "history":
        item = WorkItemFactory(board=board)
        from boards.services import work_item_move

        work_item_move(item, target, actor=None, source="api")
        work_item_move(item, col["Build"], actor=None, source="api")
    else:
        CriterionTemplateFactory(board=board, gate_column=target)
    columns = [s for s in setup.columns_of(board) if s.name != "Review"]

    with pytest.raises(InvalidInput, match="Cannot delete the column Review"):
        setup.board_update(board, columns=columns)
    assert Column.objects.filter(pk=target.pk).exists()


def test_an_unused_column_is_deleted(board):
    columns = [s for s in setup.columns_of(board) if s.name != "Operating"]
    setup.board_update(board, columns=columns)
    assert not board.columns.filter(name="Operating").exists()


def test_the_board_fields_are_validated(board):
    with pytest.raises(InvalidInput, match="not a known IANA time zone"):
        setup.board_update(board, time_zone="Mars/Olympus")
    with pytest.raises(InvalidInput, match="slug"):
        setup.board_update(board, slug="no spaces please")
