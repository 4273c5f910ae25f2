"""Row locks in the one order of ``boards.services``, and the bounded retry of a transaction the
database aborted because of another one.

Every lock is ``SELECT ... FOR NO KEY UPDATE`` (``select_for_update(no_key=True)``): it guards a
count or a state, never a key, so it does not conflict with the ``FOR KEY SHARE`` lock that an
insert takes on each row its foreign keys point to (a Transition on its item and columns, a
Block on its criterion). With plain ``FOR UPDATE`` two transactions each holding one row and
inserting a reference to the other's deadlock.

SQLite has no row locks: the project opens its write transactions ``IMMEDIATE``, which takes the
database's write lock at BEGIN, so writers queue (busy timeout) instead of interleaving.
"""

import functools
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection

from boards.models import Board, Column, WorkItem
from flowboard.errors import ConcurrentUpdate

ATTEMPTS = 5
BACKOFF = 0.02  # seconds, doubled each attempt, with jitter
# PostgreSQL: deadlock_detected, serialization_failure.
RETRYABLE_STATES = {"40P01", "40001"}

F = TypeVar("F", bound=Callable)


def board(board_id: int) -> Board:
    return Board.objects.select_for_update(no_key=True).get(pk=board_id)


def column(column_id: int) -> Column:
    """The column, with its board (read, not locked)."""
    return (
        Column.objects.select_for_update(no_key=True, of=("self",))
        .select_related("board")
        .get(pk=column_id)
    )


def columns(board_id: int) -> list[Column]:
    """Every column of the board, in position order."""
    return list(
        Column.objects.select_for_update(no_key=True).filter(board_id=board_id).order_by("position")
    )


def item(item_id: int) -> WorkItem:
    """The item's row alone. Not joined to its column: when another transaction moves the item
    while we wait for its lock, PostgreSQL rechecks the join against the column row it read
    before the wait, finds the item's new column_id no longer matches, and returns no row."""
    return WorkItem.objects.select_for_update(no_key=True).get(pk=item_id)


def retryable(error: OperationalError) -> bool:
    """A deadlock or serialization failure (PostgreSQL), or a busy database (SQLite): the
    transaction was rolled back whole and may simply be run again."""
    state = getattr(error.__cause__, "sqlstate", None)
    if state in RETRYABLE_STATES:
        return True
    return connection.vendor == "sqlite" and "locked" in str(error)


def retrying(service: F) -> F:
    """Run ``service`` again, up to ``ATTEMPTS`` times, when the database aborts its transaction
    because of a concurrent one. Only at the outermost level: inside a caller's transaction the
    abort belongs to the caller, who owns the retry. After the last attempt the caller gets
    ``ConcurrentUpdate`` (409), never a database error."""

    @functools.wraps(service)
    def run(*args, **kwargs):
        if connection.in_atomic_block:
            return service(*args, **kwargs)
        for attempt in range(ATTEMPTS):
            try:
                return service(*args, **kwargs)
            except OperationalError as error:
                if not retryable(error):
                    raise
                if attempt == ATTEMPTS - 1:
                    raise ConcurrentUpdate(
                        "Other changes to the same cards were being saved at the same moment; "
                        "nothing was changed. Try again."
                    ) from error
                time.sleep(BACKOFF * 2**attempt * (0.5 + random.random()))
        raise AssertionError("unreachable")

    return run  # type: ignore[return-value]
