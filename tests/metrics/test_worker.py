"""A real Celery worker, on Redis and PostgreSQL, runs the refresh a move enqueues on commit."""

import time

import pytest

from boards.services import work_item_move
from metrics.models import ItemMetrics, PendingRefresh
from tests.factories import BoardFactory, WorkItemFactory

pytestmark = [pytest.mark.realservers, pytest.mark.django_db(transaction=True)]


def test_a_move_is_refreshed_by_a_real_worker(worker):
    board = BoardFactory()
    build = board.columns.get(name="Build")
    item = WorkItemFactory(board=board)
    work_item_move(item, build, actor=None, source="api")

    # Committed and queued, not run in-process: nothing has consumed the queue yet.
    assert PendingRefresh.objects.filter(item=item).count() == 2
    assert not ItemMetrics.objects.filter(item=item).exists()

    worker()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ItemMetrics.objects.filter(item=item, current_column=build).exists():
            break
        time.sleep(0.25)
    snapshot = ItemMetrics.objects.get(item=item)
    assert snapshot.current_column == build
    assert snapshot.started_at == item.started_at
    assert not PendingRefresh.objects.filter(item=item).exists()


def test_a_burst_of_500_moves_causes_a_handful_of_refreshes(worker, settings):
    from metrics import refresh
    from metrics.models import BoardMetrics
    from tests.metrics.test_refresh import dump

    settings.METRICS_DEBOUNCE_SECONDS = 2
    board = BoardFactory()
    columns = list(board.columns.order_by("position"))
    items = [WorkItemFactory(board=board) for _ in range(100)]
    refresh.recompute_board(board)
    PendingRefresh.objects.filter(board=board).delete()
    worker()

    started = time.monotonic()
    for column in columns[1:6]:
        for item in items:
            work_item_move(item, column, actor=None, source="api")
    burst_seconds = time.monotonic() - started

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and PendingRefresh.objects.filter(board=board).exists():
        time.sleep(0.5)
    assert not PendingRefresh.objects.filter(board=board).exists()
    runs = BoardMetrics.objects.get(board=board).refreshes
    print(f"500 moves in {burst_seconds:.1f} s caused {runs} refreshes")
    assert 1 <= runs <= max(10, int(burst_seconds / 2) + 5)

    after_burst = dump(board)
    refresh.recompute_board(board)
    assert after_burst == dump(board)


def test_a_prefork_worker_recomputes_a_large_board_on_two_processes(worker):
    """Prefork pool processes are daemonic; the recompute's child process must still start."""
    from metrics import refresh
    from metrics.models import BoardMetrics
    from metrics.tasks import recompute_board
    from tests.metrics.test_refresh import dump

    board = BoardFactory()
    for _ in range(30):
        work_item_move(WorkItemFactory(board=board), board.columns.get(name="Build"),
                       actor=None, source="api")  # fmt: skip
    refresh.recompute_board(board)
    expected = dump(board)
    BoardMetrics.objects.filter(board=board).delete()  # the worker must rebuild it all
    worker("prefork", METRICS_PARALLEL_THRESHOLD="0")
    recompute_board.delay(board.pk)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not BoardMetrics.objects.filter(board=board).exists():
        time.sleep(0.25)
    assert BoardMetrics.objects.filter(board=board).exists()
    assert dump(board)["items"] == expected["items"]
