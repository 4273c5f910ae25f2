"""Per-item flow figures (docs/metrics.md "Column entry dates", "Times", "Flow efficiency").

Times here are epoch seconds (floats): the full recompute runs this for every item of a board
(1M moves at scale), and float arithmetic is several times cheaper than datetime arithmetic.
``DayIndex`` turns an instant into a calendar day of the board's zone, exactly across DST.
"""

import datetime as dt
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from boards.flow import counted_path, entry_times
from metrics.calculators.types import BoardInfo

# One move: (column id, epoch seconds). One block: (start, end or None for open).
TimedMove = tuple[int, float]
TimedBlock = tuple[float, float | None]


class DayIndex:
    """Calendar days of one time zone between two dates, for fast instant -> day lookups.

    Day ``i`` is ``first + i days``; ``index(t)`` is the day containing instant ``t``. Built from
    the real local midnights, so 23- and 25-hour days are handled exactly.
    """

    def __init__(self, tz: ZoneInfo, first: dt.date, last: dt.date) -> None:
        if last < first:
            last = first
        self.tz, self.first = tz, first
        self.days = (last - first).days + 1
        self.midnights = [
            dt.datetime.combine(first + dt.timedelta(days=i), dt.time(), tz).timestamp()
            for i in range(self.days + 1)
        ]

    @classmethod
    def covering(cls, tz: ZoneInfo, start: float, end: float) -> "DayIndex":
        return cls(tz, local_date(start, tz), local_date(end, tz))

    def index(self, t: float) -> int:
        """Day number of instant ``t`` (may be < 0 or >= days when outside the range)."""
        i = bisect_right(self.midnights, t) - 1
        if 0 <= i < self.days:
            return i
        return (local_date(t, self.tz) - self.first).days

    def date(self, i: int) -> dt.date:
        return self.first + dt.timedelta(days=i)

    def end_of(self, i: int) -> float:
        """The instant the day ``i`` ends (the next local midnight)."""
        return self.midnights[i + 1]


def local_date(t: float, tz: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(t, tz).date()


def elapsed_days(start: float, end: float, days: DayIndex) -> int:
    """(date(end) - date(start)) + 1 in the board's zone: the Kanban Guide convention, in which an
    item started and finished on the same day took 1 day."""
    return days.index(end) - days.index(start) + 1


@dataclass(frozen=True, slots=True)
class ItemFlow:
    item_id: int
    created_at: float
    # Entry time of every column by id, None where the item has none (spec rule 2).
    entries: dict[int, float | None]
    started_at: float | None
    delivered_at: float | None
    discarded_at: float | None
    current_column_id: int
    cycle_seconds: float | None
    cycle_days: int | None
    lead_seconds: float | None
    lead_days: int | None
    # Started, not delivered, not discarded: now - started_at.
    age_seconds: float | None
    age_days: int | None
    # Every stay from the raw log, exact; an open stay counts up to now (or the discard).
    time_in_column: dict[int, float]
    # Within [started_at, delivered_at] of a delivered item; None otherwise.
    active_seconds: float | None
    waiting_seconds: float | None
    flow_efficiency: float | None
    # Union of blocked time over the item's life (open blocks end now or at the discard).
    blocked_seconds: float
    readiness_entered_at: float | None
    readiness_lead_seconds: float | None
    # The same figures without "now": closed stays and blocks, and when the open ones began.
    # Snapshots store these (readers add now - since), so an untouched item's row never changes.
    closed_in_column: dict[int, float]
    in_column_since: float | None
    closed_blocked_seconds: float
    blocked_since: float | None


def merged_intervals(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sort and merge overlapping [start, end) intervals; empty ones are dropped."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def overlap_seconds(start: float, end: float, intervals: Sequence[tuple[float, float]]) -> float:
    """Seconds of [start, end) covered by the (merged) intervals."""
    total = 0.0
    for a, b in intervals:
        lo = a if a > start else start
        hi = b if b < end else end
        if hi > lo:
            total += hi - lo
    return total


def stays(moves: Sequence[TimedMove], until: float) -> list[tuple[int, float, float]]:
    """(column, start, end) of every stay from the raw log; the last stay ends at ``until``."""
    result = [(moves[i][0], moves[i][1], moves[i + 1][1]) for i in range(len(moves) - 1)]
    if moves:
        column, at = moves[-1]
        result.append((column, at, until if until > at else at))
    return result


def item_flow(
    board: BoardInfo,
    days: DayIndex,
    item_id: int,
    moves: Sequence[TimedMove],
    blocks: Sequence[TimedBlock],
    now: float,
    discarded_at: float | None = None,
) -> ItemFlow:
    """All per-item figures. ``moves`` are the item's Transition rows in time order (ties in write
    order), the first being its creation."""
    if not moves:
        raise ValueError(f"item {item_id} has no moves; its creation is a move")
    positions = board.positions
    columns = board.by_id
    created_at = moves[0][1]
    path = counted_path([(positions[column], at) for column, at in moves])
    by_position = entry_times(path, board.position_set)
    entries = {c.id: by_position[c.position] for c in board.columns}
    started_at = entries[board.commitment_id]
    delivered_at = entries[board.delivery_id]
    # A discard after delivery doesn't undo the delivery (the services refuse it anyway).
    if discarded_at is not None and delivered_at is not None:
        discarded_at = None

    end_of_life = discarded_at if discarded_at is not None else now
    item_stays = stays(moves, end_of_life)
    closed_in_column: dict[int, float] = {}
    is_open = discarded_at is None
    for column_id, start, end in item_stays[:-1] if is_open else item_stays:
        closed_in_column[column_id] = closed_in_column.get(column_id, 0.0) + (end - start)
    time_in_column = closed_in_column
    in_column_since = None
    if is_open:
        column_id, in_column_since, end = item_stays[-1]
        time_in_column = dict(closed_in_column)
        time_in_column[column_id] = time_in_column.get(column_id, 0.0) + (end - in_column_since)

    blocked_since = None
    closed_blocked = blocked_seconds = 0.0
    blocked: list[tuple[float, float]] = []
    if blocks:
        blocked = merged_intervals([(b[0], end_of_life if b[1] is None else b[1]) for b in blocks])
        blocked_seconds = sum(b - a for a, b in blocked)
        still_open = [b[0] for b in blocks if b[1] is None] if is_open else []
        if still_open:
            blocked_since = min(still_open)
            closed = merged_intervals([b for b in blocks if b[1] is not None])
            # Closed blocked time before the open block began; readers add now - since.
            closed_blocked = sum(b - a for a, b in closed) - overlap_seconds(
                blocked_since, max(b for _, b in closed) if closed else blocked_since, closed
            )
        else:
            closed_blocked = blocked_seconds

    cycle_seconds = lead_seconds = active = waiting = efficiency = None
    cycle_days = lead_days = None
    if delivered_at is not None:
        lead_seconds = delivered_at - created_at
        lead_days = elapsed_days(created_at, delivered_at, days)
        if started_at is not None:
            cycle_seconds = delivered_at - started_at
            cycle_days = elapsed_days(started_at, delivered_at, days)
            active, waiting = _active_waiting(
                item_stays, columns, blocked, started_at, delivered_at
            )
            efficiency = active / cycle_seconds if cycle_seconds > 0 else None

    age_seconds = age_days = None
    if started_at is not None and delivered_at is None and discarded_at is None:
        age_seconds = now - started_at
        age_days = elapsed_days(started_at, now, days)

    readiness_entered_at = next(
        (at for column, at in moves if columns[column].stage == "readiness"), None
    )
    readiness_lead = None
    if readiness_entered_at is not None and delivered_at is not None:
        readiness_lead = delivered_at - readiness_entered_at

    return ItemFlow(
        item_id=item_id,
        created_at=created_at,
        entries=entries,
        started_at=started_at,
        delivered_at=delivered_at,
        discarded_at=discarded_at,
        current_column_id=moves[-1][0],
        cycle_seconds=cycle_seconds,
        cycle_days=cycle_days,
        lead_seconds=lead_seconds,
        lead_days=lead_days,
        age_seconds=age_seconds,
        age_days=age_days,
        time_in_column=time_in_column,
        active_seconds=active,
        waiting_seconds=waiting,
        flow_efficiency=efficiency,
        blocked_seconds=blocked_seconds,
        readiness_entered_at=readiness_entered_at,
        readiness_lead_seconds=readiness_lead,
        closed_in_column=closed_in_column,
        in_column_since=in_column_since,
        closed_blocked_seconds=closed_blocked,
        blocked_since=blocked_since,
    )


def _active_waiting(item_stays, columns, blocked, started_at, delivered_at) -> tuple[float, float]:
    """Active and waiting seconds within [started_at, delivered_at]: active is time in active
    columns less the blocked time inside them; waiting is time in waiting columns plus that
    blocked time. The two add up to the cycle time."""
    active = waiting = 0.0
    for column_id, start, end in item_stays:
        lo = start if start > started_at else started_at
        hi = end if end < delivered_at else delivered_at
        if hi <= lo:
            continue
        if columns[column_id].activity == "active":
            blocked_inside = overlap_seconds(lo, hi, blocked) if blocked else 0.0
            active += hi - lo - blocked_inside
            waiting += blocked_inside
        else:
            waiting += hi - lo
    return active, waiting
