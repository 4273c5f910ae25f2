"""A move costs a bounded number of queries, whatever the board's size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards.models import Column
from boards.services import work_item_move
from tests.factories import CriterionTemplateFactory, WorkItemFactory


def _move_queries(item, column):
    with CaptureQueriesContext(connection) as captured:
        work_item_move(item, column, actor=None, source="api")
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize("others", [0, 40])
def test_a_move_runs_a_fixed_number_of_queries(board, col, others, django_assert_num_queries):
    """Savepoint, lock column (with its board), lock item, item history, board columns, WIP count,
    gate criteria, bottom rank, insert Transition, update item, queue metrics refresh, record the
    event for outbound webhooks, release savepoint."""
    Column.objects.filter(pk=col["Review"].pk).update(wip_limit=50, wip_policy="hard")
    CriterionTemplateFactory(board=board)
    for _ in range(others):
        WorkItemFactory(board=board)
    item = WorkItemFactory(board=board)
    work_item_move(item, col["Build"], actor=None, source="api")
    # The metrics refresh runs on commit, outside the move's own transaction: not counted here.
    with django_assert_num_queries(13):
        work_item_move(item, col["Review"], actor=None, source="api")


def test_a_move_locks_the_column_then_the_item_for_no_key_update(board, col, postgres_only):
    """The lock order of boards.services, with locks that inserts' FK checks don't wait for."""
    item = WorkItemFactory(board=board)
    sql = _move_queries(item, col["Build"])
    locks = [q for q in sql if "FOR UPDATE" in q or "FOR NO KEY UPDATE" in q]
    assert len(locks) == 2
    assert all("FOR NO KEY UPDATE" in q for q in locks)
    assert 'FROM "boards_column"' in locks[0]
    assert 'FROM "boards_workitem"' in locks[1]
