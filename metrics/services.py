"""Writes of the metrics side: queueing refreshes and storing snapshots."""

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from metrics import forked, refresh, summary
from metrics.models import PendingRefresh

# Boards with more items than this compute the summary's log part in a second process.
SUMMARY_FORK_THRESHOLD = 5_000


def mark_item_dirty(item) -> None:
    """Queue ``item`` for a metrics refresh. Call inside the transaction that changed it: the queue
    row commits or rolls back with the change, and the refresh is scheduled on commit."""
    PendingRefresh.objects.create(board_id=item.board_id, item_id=item.pk)
    board_id = item.board_id
    # robust: the change is committed and queued whatever happens to the scheduling (a broker
    # down, a refresh that fails): it is logged, the queue row stays, the next refresh takes it.
    transaction.on_commit(lambda: schedule_board_refresh(board_id), robust=True)


def board_setup_changed(board) -> None:
    """The board's columns, commitment or delivery point, or zone changed: recompute its
    snapshots once the change commits (they were computed under the old set-up)."""
    from metrics.tasks import recompute_board as recompute_board_task  # tasks import this module

    board_id = board.pk
    transaction.on_commit(lambda: recompute_board_task.delay(board_id), robust=True)


def recompute_now(board, on_progress=None) -> dict:
    """Recompute every snapshot of ``board`` and its summary in this process (the nightly task;
    a bulk import, which holds metrics back until it ends). ``on_progress(done, total)`` reports
    the items computed. Where a second process can reach the database, the part of the summary
    read from the log alone is computed there meanwhile."""
    now = timezone.now()
    window = None
    if forked.available() and board.items.count() > SUMMARY_FORK_THRESHOLD:
        window = forked.Forked(summary.window_flow, board.pk, now)
    counts = refresh.recompute_board(board, now, on_progress=on_progress)
    summary.refresh_summary(board, now, window.result() if window is not None else None)
    return counts


def schedule_board_refresh(board_id: int) -> None:
    """Enqueue one refresh of the board, debounced: a burst of moves within
    ``METRICS_DEBOUNCE_SECONDS`` is gathered into one task run.

    The first change of a burst sets a cache key and enqueues the task with a countdown; the next
    ones see the key and add nothing. The task deletes the key when it starts, so a change that
    lands while it runs schedules the next run. Run in-process (no broker), tasks are immediate.
    """
    from metrics.tasks import refresh_board  # metrics.tasks imports this module

    _debounced(refresh_board, board_id, scheduled_key(board_id), settings.METRICS_DEBOUNCE_SECONDS)


def scheduled_key(board_id: int) -> str:
    return f"flowboard:metrics:scheduled:{board_id}"


def summary_key(board_id: int) -> str:
    return f"flowboard:metrics:summary:{board_id}"


def schedule_summary_refresh(board_id: int) -> None:
    """Enqueue one summary refresh of the board, at most one per
    ``METRICS_SUMMARY_DEBOUNCE_SECONDS``. In-process, it runs at once."""
    from metrics.tasks import refresh_board_summary  # metrics.tasks imports this module

    debounce = settings.METRICS_SUMMARY_DEBOUNCE_SECONDS
    _debounced(refresh_board_summary, board_id, summary_key(board_id), debounce)


def _debounced(task, board_id: int, key: str, debounce: int) -> None:
    """Enqueue ``task(board_id)`` in ``debounce`` seconds unless one is already waiting (the task
    deletes ``key`` when it starts). The key expires on its own if a worker never runs it. In
    the embedded default the task runs at once, in-process, and deletes the key itself."""
    if cache.add(key, 1, timeout=max(120, debounce * 10)):
        task.apply_async((board_id,), countdown=debounce)
