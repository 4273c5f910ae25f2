"""Writes of the metrics side: queueing refreshes and storing snapshots."""

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from metrics.models import PendingRefresh


def mark_item_dirty(item) -> None:
    """Queue ``item`` for a metrics refresh. Call inside the transaction that changed it: the queue
    row commits or rolls back with the change, and the refresh is scheduled on commit."""
    PendingRefresh.objects.create(board_id=item.board_id, item_id=item.pk)
    board_id = item.board_id
    transaction.on_commit(lambda: schedule_board_refresh(board_id))


def schedule_board_refresh(board_id: int) -> None:
    """Enqueue one refresh of the board, debounced: a burst of moves within
    ``METRICS_DEBOUNCE_SECONDS`` is gathered into one task run.

    The first change of a burst sets a cache key and enqueues the task with a countdown; the next
    ones see the key and add nothing. The task deletes the key when it starts, so a change that
    lands while it runs schedules the next run. Run in-process (no broker), tasks are immediate.
    """
    from metrics.tasks import refresh_board

    if settings.CELERY_TASK_ALWAYS_EAGER:
        refresh_board.delay(board_id)
        return
    debounce = settings.METRICS_DEBOUNCE_SECONDS
    if cache.add(scheduled_key(board_id), 1, timeout=max(60, debounce * 10)):
        refresh_board.apply_async((board_id,), countdown=debounce)


def scheduled_key(board_id: int) -> str:
    return f"flowboard:metrics:scheduled:{board_id}"
