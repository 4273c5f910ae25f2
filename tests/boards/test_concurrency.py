"""Concurrent moves against a real PostgreSQL: the WIP limit holds under contention."""

import threading

import pytest
from django.db import connection

from boards.models import Column, Transition, WorkItem
from boards.services import work_item_move
from flowboard.errors import WipLimitExceeded
from tests.factories import BoardFactory, WorkItemFactory

pytestmark = [pytest.mark.realservers, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_moves_into_a_hard_limit_of_three(postgres_only):
    board = BoardFactory()
    build = board.columns.get(name="Build")
    Column.objects.filter(pk=build.pk).update(wip_limit=3, wip_policy=Column.WipPolicy.HARD)
    items = [WorkItemFactory(board=board) for _ in range(20)]
    start = threading.Barrier(len(items))
    outcomes: list[str] = []
    lock = threading.Lock()

    def move(item: WorkItem) -> None:
        try:
            start.wait(timeout=30)
            work_item_move(item, build, actor=None, source=Transition.Source.API)
            outcome = "moved"
        except WipLimitExceeded as error:
            assert error.detail["count"] == 3
            outcome = "refused"
        except Exception as error:  # anything else is a failure the test must show
            outcome = f"crashed: {error!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=move, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["moved"] * 3 + ["refused"] * 17
    assert Transition.objects.filter(to_column=build).count() == 3
    assert WorkItem.objects.filter(column=build).count() == 3
