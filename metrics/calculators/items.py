"""Per-item flow figures (FLOW-METRICS.md "Column entry dates", "Times", "Flow efficiency").

``item_flow`` takes one item's moves and blocks and returns everything the snapshots store for it.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from metrics.calculators.paths import counted_path, entry_times
from metrics.calculators.types import BlockSpan, BoardInfo, Move


@dataclass(frozen=True, slots=True)
class ItemFlow:
    item_id: int
    created_at: dt.datetime
    # Entry date of every column by id, None where the item has none (spec rule 2).
    entries: dict[int, dt.datetime | None]
    started_at: dt.datetime | None
    delivered_at: dt.datetime | None
    discarded_at: dt.datetime | None
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
    readiness_entered_at: dt.datetime | None
    readiness_lead_seconds: float | None


def elapsed_days(start: dt.datetime, end: dt.datetime, board: BoardInfo) -> int:
    """(date(end) - date(start)) + 1 in the board's zone: the Kanban Guide convention, in which an
    item started and finished on the same day took 1 day."""
    return (board.local_date(end) - board.local_date(start)).days + 1


def merged_intervals(
    intervals: Sequence[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Sort and merge overlapping [start, end) intervals; empty ones are dropped."""
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def overlap_seconds(
    start: dt.datetime, end: dt.datetime, intervals: Sequence[tuple[dt.datetime, dt.datetime]]
) -> float:
    """Seconds of [start, end) covered by the (merged) intervals."""
    total = 0.0
    for a, b in intervals:
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def stays(moves: Sequence[Move], until: dt.datetime) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """(column, start, end) of every stay from the raw log; the last stay ends at ``until``."""
    result = []
    for current, following in zip(moves, moves[1:], strict=False):
        result.append((current.to_column_id, current.at, following.at))
    if moves:
        last = moves[-1]
        result.append((last.to_column_id, last.at, max(until, last.at)))
    return result


def item_flow(
    board: BoardInfo,
    item_id: int,
    moves: Sequence[Move],
    blocks: Sequence[BlockSpan],
    now: dt.datetime,
    discarded_at: dt.datetime | None = None,
) -> ItemFlow:
    """All per-item figures. ``moves`` are the item's Transition rows in time order (ties in write
    order), the first being its creation."""
    if not moves:
        raise ValueError(f"item {item_id} has no moves; its creation is a move")
    positions = board.positions
    columns = board.by_id
    created_at = moves[0].at
    path = counted_path((positions[m.to_column_id], m.at) for m in moves)
    by_position = entry_times(path, positions.values())
    entries = {c.id: by_position[c.position] for c in board.columns}
    started_at = entries[board.commitment_id]
    delivered_at = entries[board.delivery_id]
    # A discarded item is never delivered, and leaves WIP on its discard date.
    if discarded_at is not None and delivered_at is not None and discarded_at < delivered_at:
        discarded_at = None

    end_of_life = discarded_at if discarded_at is not None else now
    item_stays = stays(moves, end_of_life)
    time_in_column: dict[int, float] = {}
    for column_id, start, end in item_stays:
        time_in_column[column_id] = (
            time_in_column.get(column_id, 0.0) + (end - start).total_seconds()
        )

    blocked = merged_intervals([(b.start, b.end or end_of_life) for b in blocks])
    blocked_seconds = sum((b - a).total_seconds() for a, b in blocked)

    cycle_seconds = cycle_days = lead_seconds = lead_days = None
    active = waiting = efficiency = None
    if delivered_at is not None:
        lead_seconds = (delivered_at - created_at).total_seconds()
        lead_days = elapsed_days(created_at, delivered_at, board)
        if started_at is not None:
            cycle_seconds = (delivered_at - started_at).total_seconds()
            cycle_days = elapsed_days(started_at, delivered_at, board)
            active, waiting = _active_waiting(
                item_stays, columns, blocked, started_at, delivered_at
            )
            efficiency = active / cycle_seconds if cycle_seconds > 0 else None

    age_seconds = age_days = None
    if started_at is not None and delivered_at is None and discarded_at is None:
        age_seconds = (now - started_at).total_seconds()
        age_days = elapsed_days(started_at, now, board)

    readiness_entered_at = next(
        (m.at for m in moves if columns[m.to_column_id].stage == "readiness"), None
    )
    readiness_lead = None
    if readiness_entered_at is not None and delivered_at is not None:
        readiness_lead = (delivered_at - readiness_entered_at).total_seconds()

    return ItemFlow(
        item_id=item_id,
        created_at=created_at,
        entries=entries,
        started_at=started_at,
        delivered_at=delivered_at,
        discarded_at=discarded_at,
        current_column_id=moves[-1].to_column_id,
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
    )


def _active_waiting(item_stays, columns, blocked, started_at, delivered_at) -> tuple[float, float]:
    """Active and waiting seconds within [started_at, delivered_at]: active is time in active
    columns less the blocked time inside them; waiting is time in waiting columns plus that
    blocked time. The two add up to the cycle time."""
    active = waiting = 0.0
    for column_id, start, end in item_stays:
        lo, hi = max(start, started_at), min(end, delivered_at)
        if hi <= lo:
            continue
        span = (hi - lo).total_seconds()
        if columns[column_id].activity == "active":
            blocked_inside = overlap_seconds(lo, hi, blocked)
            active += span - blocked_inside
            waiting += blocked_inside
        else:
            waiting += span
    return active, waiting
