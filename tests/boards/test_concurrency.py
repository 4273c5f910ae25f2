"""The write path under real concurrency: threads racing on PostgreSQL (row locks, deadlocks)
and on the embedded SQLite default (one writer at a time). Every case runs long enough to show
the defect it guards against, and must end with zero errors."""

import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from boards.models import Column, Transition, WorkItem
from boards.services import block_end, block_start, work_item_create, work_item_move
from flowboard.errors import GateBlocked, WipLimitExceeded
from readiness.models import GateRefusal
from readiness.services import criterion_meet, criterion_reopen
from tests.factories import BoardFactory, CriterionTemplateFactory, WorkItemFactory

pytestmark = pytest.mark.django_db(transaction=True)
postgres = pytest.mark.realservers


def run(*workers: Callable[[], object], timeout: float = 300) -> list:
    """Run each worker in its own thread (its own database connection), started together;
    return what each returned, or the exception it raised."""
    start = threading.Barrier(len(workers))
    results: list = [None] * len(workers)

    def target(index: int, worker: Callable[[], object]) -> None:
        try:
            start.wait(timeout=30)
            results[index] = worker()
        except Exception as error:  # the test asserts on it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=pair) for pair in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return results


def errors_of(results) -> list:
    found = []
    for result in results:
        if isinstance(result, Exception):
            found.append(result)
        elif isinstance(result, list):
            found.extend(r for r in result if isinstance(r, Exception))
    return found


def assert_no_errors(results) -> None:
    found = errors_of(results)
    details = "\n".join("".join(traceback.format_exception(e)) for e in found[:3])
    assert found == [], f"{len(found)} errors; the first:\n{details}"


def repeat(times: int, step: Callable[[int], object]) -> Callable[[], list]:
    """A worker that runs ``step(i)`` ``times`` times and collects each outcome."""

    def worker() -> list:
        outcomes = []
        for i in range(times):
            try:
                outcomes.append(step(i))
            except Exception as error:  # counted by the test
                outcomes.append(error)
        return outcomes

    return worker


@postgres
def test_twenty_concurrent_moves_into_a_hard_limit_of_three(postgres_only):
    board = BoardFactory()
    build = board.columns.get(name="Build")
    Column.objects.filter(pk=build.pk).update(wip_limit=3, wip_policy=Column.WipPolicy.HARD)
    items = [WorkItemFactory(board=board) for _ in range(20)]

    def mover(item):
        return lambda: work_item_move(item, build, actor=None, source="api")

    results = run(*(mover(item) for item in items))

    refused = [r for r in results if isinstance(r, WipLimitExceeded)]
    assert len(refused) == 17 and all(r.detail["count"] == 3 for r in refused)
    assert len(errors_of(results)) == 17  # the refusals, and nothing else
    assert Transition.objects.filter(to_column=build).count() == 3
    assert WorkItem.objects.filter(column=build).count() == 3


@postgres
def test_two_threads_making_200_moves_in_opposite_directions(postgres_only):
    """Each moves its own card back and forth between Build and Review: with FOR UPDATE, the
    Transition inserts' FK checks (FOR KEY SHARE on the columns) deadlocked 5-17% of them."""
    board = BoardFactory()
    build, review = board.columns.get(name="Build"), board.columns.get(name="Review")
    first, second = WorkItemFactory(board=board), WorkItemFactory(board=board)
    work_item_move(first, build, actor=None, source="api")
    work_item_move(second, review, actor=None, source="api")

    def shuttle(item, there, back):
        return repeat(
            200,
            lambda i: work_item_move(item, there if i % 2 == 0 else back, actor=None, source="api"),
        )

    results = run(shuttle(first, review, build), shuttle(second, build, review))

    assert_no_errors(results)
    assert Transition.objects.filter(item__in=[first, second]).count() == 2 * (1 + 1 + 200)


@postgres
def test_a_create_and_a_move_into_the_same_column_100_times(postgres_only):
    board = BoardFactory()
    ready = board.columns.get(name="Ready")
    items = [WorkItemFactory(board=board) for _ in range(100)]
    creator = repeat(
        100,
        lambda i: work_item_create(
            board, title=f"New {i}", column=ready, actor=None, source="api", enforce=False
        ),
    )
    mover = repeat(100, lambda i: work_item_move(items[i], ready, actor=None, source="api"))

    results = run(creator, mover)

    assert_no_errors(results)
    assert WorkItem.objects.filter(column=ready).count() == 200


@postgres
def test_a_block_on_a_criterion_against_a_meet_of_that_criterion(postgres_only):
    """block_start(item, criterion=c) held the item and needed the criterion; criterion_meet(c)
    held the criterion and needed the item. Both now take the item first."""
    board = BoardFactory()
    CriterionTemplateFactory(board=board)
    item = WorkItemFactory(board=board)
    criterion = item.criteria.get()

    def blocker(i):
        block_start(item, actor=None, reason="external", criterion=criterion)
        return block_end(item, actor=None)

    def meeter(i):
        criterion_meet(criterion, actor=None)
        return criterion_reopen(criterion, actor=None, reason="again")

    results = run(repeat(100, blocker), repeat(100, meeter))

    assert_no_errors(results)
    assert item.blocks.count() == 100
    assert criterion.changes.count() == 200


@postgres
def test_a_move_racing_a_reopen_sees_the_criterion_pending(postgres_only):
    """The reopen commits a second after it starts; the move into the gate column waits for the
    item's lock and then finds the required criterion pending: refused, recorded, not moved."""
    board = BoardFactory()
    done = board.columns.get(name="Done")
    CriterionTemplateFactory(board=board, gate_column=done)
    item = WorkItemFactory(board=board)
    work_item_move(item, board.columns.get(name="Readiness"), actor=None, source="api")
    criterion = item.criteria.get()
    criterion_meet(criterion, actor=None)
    reopened = threading.Event()

    def reopen():
        with transaction.atomic():
            criterion_reopen(criterion, actor=None, reason="the runbook is out of date")
            reopened.set()
            time.sleep(1)

    def move():
        reopened.wait(timeout=30)
        return work_item_move(item, done, actor=None, source="api")

    results = run(reopen, move)

    assert isinstance(results[1], GateBlocked)
    assert not Transition.objects.filter(item=item, to_column=done).exists()
    assert GateRefusal.objects.filter(item=item, gate_column=done).exists()


@postgres
def test_a_plain_move_waits_behind_another_move_and_is_dated_after_it(postgres_only):
    """A move with no time given is dated once it holds its locks: it used to take "now"
    before waiting, and was refused as dated before the move it waited for."""
    board = BoardFactory()
    item = WorkItemFactory(board=board)
    first_in = threading.Event()

    def first():
        with transaction.atomic():
            work_item_move(item, board.columns.get(name="Ready"), actor=None, source="api")
            first_in.set()
            time.sleep(0.5)

    def second():
        first_in.wait(timeout=30)
        return work_item_move(item, board.columns.get(name="Build"), actor=None, source="api")

    results = run(first, second)

    assert_no_errors(results)
    moves = list(item.transitions.order_by("at", "id").values_list("to_column__name", "at"))
    assert [name for name, _ in moves] == ["Backlog", "Ready", "Build"]
    assert moves[2][1] >= moves[1][1]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_two_identical_keyed_moves_in_flight_give_one_move_and_one_replay(backend):
    if connection.vendor != backend:
        pytest.skip(f"runs on {backend}")
    board = BoardFactory()
    item = WorkItemFactory(board=board)
    build = board.columns.get(name="Build")

    def mover():
        return work_item_move(item, build, actor=None, source="api", idempotency_key="retry-1")

    results = run(mover, mover)

    assert_no_errors(results)
    assert sorted(r.replayed for r in results) == [False, True]
    assert Transition.objects.filter(item=item, idempotency_key="retry-1").count() == 1


def test_four_threads_moving_their_own_cards_100_times_on_the_embedded_default(settings):
    """The embedded default (SQLite: WAL, IMMEDIATE write transactions, a busy timeout) takes a
    team's concurrent moves, and the metrics refreshes they trigger in-process, without
    "database is locked"."""
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default is SQLite")
    assert settings.CELERY_TASK_ALWAYS_EAGER  # each commit refreshes the metrics in-process
    board = BoardFactory()
    columns = [board.columns.get(name=n) for n in ("Ready", "Build", "Review")]
    items = [WorkItemFactory(board=board) for _ in range(4)]

    def mover(item):
        return repeat(100, lambda i: work_item_move(item, columns[i % 3], actor=None, source="web"))

    results = run(*(mover(item) for item in items))

    assert Counter(type(e).__name__ for e in errors_of(results)) == Counter()
    assert Transition.objects.filter(board=board).count() == 4 * 101
    from metrics.models import ItemMetrics, PendingRefresh

    assert not PendingRefresh.objects.filter(board=board).exists()
    assert ItemMetrics.objects.filter(board=board).count() == 4
