"""Celery tasks of the metrics side. Thin: they take ids, call ``metrics.refresh`` and own retries.

``acks_late`` means a task killed halfway is delivered again; every task here is idempotent, so
the re-run leaves exactly the rows a single run would.
"""

from celery import shared_task
from django.core.cache import cache
from django.db import DatabaseError

from metrics import refresh
from metrics.services import scheduled_key


@shared_task(
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
)
def refresh_board(board_id: int) -> int:
    """Refresh the snapshots of every item queued for the board (see ``schedule_board_refresh``)."""
    cache.delete(scheduled_key(board_id))
    return refresh.process_pending(board_id)


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=3)
def recompute_board(board_id: int) -> int:
    """Rebuild every snapshot of one board from the Transition log."""
    from boards.models import Board

    return refresh.recompute_items(Board.objects.get(pk=board_id))


@shared_task
def recompute_all_boards() -> int:
    """Nightly: one full recompute task per board (see ``flowboard/schedule.py``)."""
    from boards.models import Board

    board_ids = list(Board.objects.values_list("id", flat=True))
    for board_id in board_ids:
        recompute_board.delay(board_id)
    return len(board_ids)
