"""Column entry dates: the counted path of an item (docs/metrics.md, "Column entry dates").

This rule sets the facts a board keeps about each item (``WorkItem.started_at`` and
``delivered_at``), so it lives with the boards; the metrics calculators import it from here.

Process an item's moves in time order (ties by write order). The creation counts as a move into
its first column. The counted path is a list of (position, time) visits rising strictly through
the board's positions:

1. A move to position p first removes every visit above p ("an item moved back from C is
   considered never to have been in C"). If the last visit is now at p it keeps its first date;
   otherwise (p, time) is appended.
2. A visited column's entry date is its visit's time; a skipped column inherits the time of the
   next visit above it; a column above the last visit has no entry date.
"""

from collections.abc import Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


def counted_path(moves: Iterable[tuple[int, T]]) -> list[tuple[int, T]]:
    """The counted path of (position, time) moves given in time order."""
    path: list[tuple[int, T]] = []
    for position, at in moves:
        while path and path[-1][0] > position:
            path.pop()
        if path and path[-1][0] == position:
            continue
        path.append((position, at))
    return path


def entry_times(path: Sequence[tuple[int, T]], positions: Iterable[int]) -> dict[int, T | None]:
    """The entry time of each of ``positions`` given a counted path (rule 2, with backfill)."""
    visits = dict(path)
    top = path[-1][0] if path else None
    if not isinstance(positions, set | frozenset):
        positions = set(positions)
    wanted = positions
    result: dict[int, T | None] = {}
    next_visit: T | None = None
    for position in sorted(wanted | visits.keys(), reverse=True):
        if position in visits:
            next_visit = visits[position]
        if position in wanted:
            result[position] = None if top is None or position > top else next_visit
    return result


def started_delivered(
    moves: Iterable[tuple[int, T]], commitment: int, delivery: int
) -> tuple[T | None, T | None]:
    """``started_at`` and ``delivered_at`` of an item from its moves (position, time) in time
    order: the entry dates of the commitment and delivery columns (a backward move before the
    delivery point wipes the delivery: the item is in progress again)."""
    entries = entry_times(counted_path(moves), (commitment, delivery))
    return entries[commitment], entries[delivery]
