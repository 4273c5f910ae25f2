"""Snapshots: the per-move refresh gives exactly what a full recompute gives, and every refresh
can run twice, or die halfway and run again, and leave the same rows."""

import datetime as dt
import random

import pytest
from django.utils import timezone

from boards.models import Column, WorkItem
from boards.services import block_end, block_start, work_item_discard, work_item_move
from flowboard.errors import FlowboardError
from metrics import refresh, tasks
from metrics.models import BoardDay, BoardMetrics, ColumnDay, ItemMetrics, PendingRefresh
from tests.factories import WorkItemFactory

NOW = timezone.now().replace(microsecond=0)
ITEM_FIELDS = [
    "item_id", "current_column_id", "created_at", "started_at", "delivered_at", "discarded_at",
    "entries", "cycle_seconds", "cycle_days", "lead_seconds", "lead_days", "time_in_column",
    "in_column_since", "active_seconds", "waiting_seconds", "flow_efficiency", "blocked_seconds",
    "blocked_since", "readiness_entered_at", "readiness_lead_seconds", "last_transition_id",
    "fingerprint",
]  # fmt: skip


def dump(board):
    """Every snapshot row of the board, comparable across refreshes (a snapshot holds no "now":
    open stays and blocks are stored as the time they began)."""
    snapshots = ItemMetrics.objects.filter(board=board).order_by("item_id")
    return {
        "board_days": list(
            BoardDay.objects.filter(board=board)
            .order_by("day")
            .values_list("day", "wip", "arrivals", "started", "delivered", "discarded")
        ),
        "column_days": list(
            ColumnDay.objects.filter(board=board)
            .order_by("column__position", "day")
            .values_list("column_id", "day", "cfd", "wip")
        ),
        "items": list(snapshots.values_list(*ITEM_FIELDS)),
    }


def random_history(board, rng, start, end, items=12, steps=60):
    """Random moves (forward, backward, skips), blocks and discards between start and end."""
    columns = list(board.columns.order_by("position"))
    span = (end - start).total_seconds()
    times = sorted(start + dt.timedelta(seconds=rng.uniform(0, span)) for _ in range(steps + items))
    live = []
    for at in times:
        if len(live) < items and (not live or rng.random() < 0.3):
            live.append(WorkItemFactory(board=board, created_at=at))
            continue
        item = rng.choice(live)
        roll = rng.random()
        try:
            if roll < 0.05:
                work_item_discard(item, actor=None, reason="Dropped", at=at)
            elif roll < 0.12:
                if item.blocks.filter(ended_at__isnull=True).exists():
                    block_end(item, actor=None, at=at)
                else:
                    block_start(item, actor=None, reason="dependency", at=at)
            else:
                target = rng.choice(columns)
                work_item_move(item, target, actor=None, source="api", at=at, enforce=False)
        except FlowboardError:
            pass  # discarded items refuse changes; that's part of the history too


@pytest.mark.parametrize("seed", range(6))
def test_the_per_move_refresh_equals_a_full_recompute(board, seed):
    rng = random.Random(seed)
    random_history(board, rng, NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=10))
    refresh.recompute_board(board, now=NOW - dt.timedelta(days=10))
    PendingRefresh.objects.all().delete()

    # A new day dawns (several, in fact), and more work flows.
    random_history(board, rng, NOW - dt.timedelta(days=9), NOW - dt.timedelta(hours=1), steps=30)
    assert PendingRefresh.objects.exists()
    refresh.process_pending(board.pk, now=NOW)
    incremental = dump(board)
    assert not PendingRefresh.objects.exists()

    counts = refresh.recompute_board(board, now=NOW)
    assert incremental == dump(board)
    assert counts["rewritten"] == 0  # every row was already right: nothing to rewrite


def test_a_full_recompute_twice_leaves_the_same_rows(board):
    random_history(board, random.Random(7), NOW - dt.timedelta(days=20), NOW)
    assert refresh.recompute_board(board, now=NOW)["rewritten"] == WorkItem.objects.count()
    first = dump(board)
    later = refresh.recompute_board(board, now=NOW + dt.timedelta(hours=5))
    assert later["rewritten"] == 0
    assert dump(board)["items"] == first["items"]
    assert first["items"] and first["column_days"]


def test_open_stays_and_blocks_are_stored_as_the_time_they_began(board, col):
    item = WorkItemFactory(board=board, created_at=NOW - dt.timedelta(days=6))
    work_item_move(item, col["Build"], actor=None, source="api", at=NOW - dt.timedelta(days=4))
    block_start(item, actor=None, reason="external", at=NOW - dt.timedelta(days=3))
    block_end(item, actor=None, at=NOW - dt.timedelta(days=2))
    block_start(item, actor=None, reason="decision", at=NOW - dt.timedelta(days=1))
    refresh.recompute_board(board, now=NOW)
    row = ItemMetrics.objects.get(item=item)
    assert row.time_in_column == {str(col["Backlog"].pk): 2 * 86400}
    assert row.in_column_since == NOW - dt.timedelta(days=4)
    assert row.blocked_seconds == 86400  # the closed block; the open one began a day ago
    assert row.blocked_since == NOW - dt.timedelta(days=1)


def test_a_refresh_killed_halfway_leaves_nothing_half_done(board, col, monkeypatch):
    random_history(board, random.Random(3), NOW - dt.timedelta(days=20), NOW - dt.timedelta(days=2))
    refresh.recompute_board(board, now=NOW)
    before = dump(board)
    item = WorkItem.objects.filter(board=board, discarded_at__isnull=True).first()
    target = col["Operating"] if item.column != col["Operating"] else col["Backlog"]
    work_item_move(item, target, actor=None, source="api", enforce=False)

    apply_delta = refresh._apply_delta

    def dies_after_writing(*args, **kwargs):
        apply_delta(*args, **kwargs)
        raise ConnectionError("worker lost")

    monkeypatch.setattr(refresh, "_apply_delta", dies_after_writing)
    with pytest.raises(ConnectionError):
        refresh.process_pending(board.pk, now=NOW)
    assert dump(board) == before
    assert PendingRefresh.objects.filter(item=item).exists()

    monkeypatch.setattr(refresh, "_apply_delta", apply_delta)
    refresh.process_pending(board.pk, now=NOW)
    rerun = dump(board)
    refresh.process_pending(board.pk, now=NOW)  # nothing queued: a no-op
    assert dump(board) == rerun
    refresh.recompute_board(board, now=NOW)
    assert dump(board) == rerun


def test_a_board_without_snapshots_gets_a_full_recompute_on_its_first_refresh(board, col):
    item = WorkItemFactory(board=board, created_at=NOW - dt.timedelta(days=3))
    work_item_move(item, col["Build"], actor=None, source="api", at=NOW - dt.timedelta(days=1))
    assert not BoardMetrics.objects.filter(board=board).exists()
    assert refresh.process_pending(board.pk, now=NOW) == 1
    state = BoardMetrics.objects.get(board=board)
    assert state.first_day == (NOW - dt.timedelta(days=3)).date()
    assert ItemMetrics.objects.get(item=item).current_column == col["Build"]


def test_the_refresh_tasks_refresh_items_then_the_summary(board, col):
    item = WorkItemFactory(board=board, created_at=NOW - dt.timedelta(days=5))
    work_item_move(item, col["Build"], actor=None, source="api", at=NOW - dt.timedelta(days=4))
    work_item_move(item, col["Done"], actor=None, source="api", at=NOW - dt.timedelta(days=1))
    assert tasks.refresh_board(board.pk) == 1  # and schedules the summary (debounced)
    assert tasks.refresh_board_summary(board.pk) is True
    summary = BoardMetrics.objects.get(board=board).summary
    assert summary["has_history"] is True
    assert summary["cycle_time"]["percentiles"] == {"50": 4, "70": 4, "85": 4, "95": 4}
    assert summary["throughput"]["last_7_days"] == 1
    assert tasks.refresh_board(board.pk) == 0  # nothing queued


def test_a_column_over_its_limit_is_counted_in_wip_per_column(board, col):
    Column.objects.filter(pk=col["Build"].pk).update(wip_limit=1, wip_policy="soft")
    for _ in range(3):
        item = WorkItemFactory(board=board, created_at=NOW - dt.timedelta(days=2))
        work_item_move(item, col["Build"], actor=None, source="api", at=NOW - dt.timedelta(days=1))
    refresh.recompute_board(board, now=NOW)
    today = ColumnDay.objects.get(board=board, column=col["Build"], day=NOW.date())
    assert today.wip == 3


@pytest.mark.realservers
@pytest.mark.django_db(transaction=True)
def test_the_two_process_recompute_writes_the_same_rows(postgres_only, settings):
    """Large boards are computed half here, half in a forked process with its own connection."""
    from tests.factories import BoardFactory

    board = BoardFactory()
    random_history(board, random.Random(11), NOW - dt.timedelta(days=30), NOW, items=40)
    refresh.recompute_board(board, now=NOW)
    serial = dump(board)
    settings.METRICS_PARALLEL_THRESHOLD = 0
    refresh.recompute_board(board, now=NOW)
    assert dump(board) == serial
    assert len(serial["items"]) == WorkItem.objects.filter(board=board).count()


def test_a_changed_board_setup_makes_the_next_refresh_recompute(board, col):
    random_history(board, random.Random(5), NOW - dt.timedelta(days=20), NOW - dt.timedelta(days=2))
    refresh.recompute_board(board, now=NOW)
    # An ops lead moves the delivery point one column earlier, then work goes on.
    board.delivery_column = col["Readiness"]
    board.save(update_fields=["delivery_column"])
    item = WorkItem.objects.filter(board=board, discarded_at__isnull=True).first()
    target = col["Backlog"] if item.column != col["Backlog"] else col["Build"]
    work_item_move(item, target, actor=None, source="api", enforce=False)
    assert refresh.process_pending(board.pk, now=NOW) == 1
    after = dump(board)
    assert refresh.recompute_board(board, now=NOW)["rewritten"] == 0
    assert dump(board) == after


def test_a_failing_refresh_never_undoes_or_fails_the_committed_move(
    board, col, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    from metrics import services

    item = WorkItemFactory(board=board)

    def broken(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    # Scheduling fails as it would with the broker (or, in-process, the refresh) down.
    monkeypatch.setattr(services, "_debounced", broken)
    with django_capture_on_commit_callbacks(execute=True):
        work_item_move(item, col["Build"], actor=None, source="api")
    item.refresh_from_db()
    assert item.column == col["Build"]
    assert PendingRefresh.objects.filter(item=item).exists()  # still queued for the next run
    assert "broker unreachable" in caplog.text
