"""Celery tasks of the metrics side. Thin: they take ids, call ``metrics.refresh`` and
``metrics.summary``, and own their retries.

``acks_late`` means a task killed halfway is delivered again; every task here is idempotent (each
refresh runs in one transaction under the board's lock), so the re-run leaves exactly the rows a
single run would.
"""

from celery import shared_task
from django.core.cache import cache
from django.db import DatabaseError

from boards.models import Board
from metrics import refresh, summary
from metrics.services import (
    recompute_now,
    schedule_summary_refresh,
    scheduled_key,
    summary_key,
)

RETRY = {
    "acks_late": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(**RETRY)
def refresh_board(board_id: int) -> int:
    """Refresh what changed on the board since the last run (see ``schedule_board_refresh``),
    then schedule its summary. Returns the number of items refreshed."""
    cache.delete(scheduled_key(board_id))
    refreshed = refresh.process_pending(board_id)
    if refreshed:
        schedule_summary_refresh(board_id)
    return refreshed


@shared_task(**RETRY)
def refresh_board_summary(board_id: int) -> bool:
    """Recompute the board's summary from its snapshots (debounced separately: on a board of
    100,000 items it reads the window's moves and takes seconds, while a refresh takes ms)."""
    cache.delete(summary_key(board_id))
    board = Board.objects.filter(pk=board_id).first()
    if board is None:
        return False
    summary.refresh_summary(board)
    return True


@shared_task(**RETRY)
def recompute_board(board_id: int) -> int:
    """Rebuild every snapshot of one board from the Transition log, then its summary."""
    board = Board.objects.filter(pk=board_id).first()
    if board is None:
        return 0
    return recompute_now(board)["items"]


@shared_task(acks_late=True)
def recompute_all_boards() -> int:
    """Nightly: one full recompute task per board (see ``flowboard/schedule.py``)."""
    board_ids = list(Board.objects.values_list("id", flat=True))
    for board_id in board_ids:
        recompute_board.delay(board_id)
    return len(board_ids)
