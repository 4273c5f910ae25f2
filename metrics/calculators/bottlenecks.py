"""Bottlenecks and blocker clusters (docs/metrics.md, "Bottlenecks").

"Look at the columns between the commitment and delivery points, over a window (default: 30 days).
For each column:
- average WIP: item-days spent in the column during the window, divided by the window's days
  (Little's Law);
- net flow: arrivals minus departures in the window; positive means the CFD band is widening;
- median time in column of the items that left it in the window;
- whether it is `waiting`, and whether it was over its WIP limit, and for how many days.
The bottleneck is the column with the highest average WIP, reported with that evidence."

"Blocker clustering: blocked days grouped by reason category, and by readiness track where the
block belongs to one."

Times are converted to UTC first, so durations are elapsed time even across a DST change.
Everything here comes from raw stays ("Time in column ... from the raw log ... nothing is
wiped"), not from the counted path: a column's load is the time items really sat in it.
"""

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metrics.calculators.stats import format_days, median
from metrics.calculators.types import BlockSpan, BoardInfo, Move

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Stay:
    """One stay of an item in a column, [start, end). An open stay has ``end == now``."""

    item_id: int
    column_id: int
    start: dt.datetime
    end: dt.datetime
    open: bool

    def contains(self, at: dt.datetime) -> bool:
        """Whether the item sat in the column at ``at`` (an open stay is still running)."""
        return self.start <= at and (self.open or at < self.end)


def stays_from_moves(
    moves: Iterable[Move],
    now: dt.datetime,
    discarded: Mapping[int, dt.datetime] | None = None,
) -> list[Stay]:
    """Every stay of every item, from the raw Transition log.

    Moves are taken in time order, ties in input (write) order. A move ends the item's current
    stay and starts one in its ``to_column_id`` (``from_column_id`` is not needed: the previous
    row says where the item was). A move into the column the item is already in changes nothing.
    A stay still running ends at the item's discard time when it was discarded, else it is open
    and runs to ``now``. Moves after ``now`` or after the discard are ignored (the log as of now).
    """
    now = _utc(now)
    stops = {item: _utc(at) for item, at in (discarded or {}).items()}
    current: dict[int, tuple[int, dt.datetime]] = {}
    stays: list[Stay] = []
    for at, move in sorted(((_utc(m.at), m) for m in moves), key=lambda pair: pair[0]):
        item = move.item_id
        stop = stops.get(item)
        if at > now or (stop is not None and at > stop):
            continue
        previous = current.get(item)
        if previous is not None:
            if previous[0] == move.to_column_id:
                continue
            stays.append(Stay(item, previous[0], previous[1], at, open=False))
        current[item] = (move.to_column_id, at)
    for item, (column_id, start) in current.items():
        stop = stops.get(item)
        if stop is not None and stop <= now:
            stays.append(Stay(item, column_id, start, stop, open=False))
        else:
            stays.append(Stay(item, column_id, start, now, open=True))
    return stays


def bottleneck_report(
    board: BoardInfo,
    moves: Iterable[Move],
    window_start: dt.datetime,
    window_end: dt.datetime,
    now: dt.datetime,
    discarded: Mapping[int, dt.datetime] | None = None,
) -> dict[str, Any]:
    """Per-column load between commitment and delivery over a window, ranked, and the bottleneck.

    Columns are those from the commitment column (inclusive) up to the delivery column
    (exclusive): delivered items are not waiting in the delivery column. The window is
    [``window_start``, min(``window_end``, ``now``)): the future holds no data. Per column:

    - ``item_days``: the time items spent in it within the window, in days;
    - ``avg_wip``: ``item_days`` / the window's length in days (the time-average item count);
    - ``arrivals`` / ``departures``: entries into / exits from the column in the window (an exit
      is a move out or a discard); ``net_flow`` = arrivals - departures;
    - ``median_days``: median length (whole stay, in days) of the stays that ended in the window,
      None when none did (no-interpolation median, see ``stats``);
    - ``is_waiting``; ``wip_limit``; ``over_limit_days``: the local days of the window whose
      end-of-day count (the count at the window's end for a day the window cuts short) was above
      the limit (0 without a limit);
    - ``evidence``: e.g. "Legal review: avg WIP 7.2, +5 net in 30 d, median 6 d".

    Columns are ranked by average WIP, highest first (ties: board order). ``bottleneck`` is the
    first of them, or None when no item sat in any of them during the window. The returned
    window bounds are in UTC.
    """
    window_start, now = _utc(window_start), _utc(now)
    end = min(_utc(window_end), now)
    if end <= window_start:
        raise ValueError("the window must end after it starts (and after now's past)")
    window_days = (end - window_start).total_seconds() / SECONDS_PER_DAY
    low, high = board.commitment_position, board.delivery_position
    columns = [c for c in board.columns if low <= c.position < high]
    wanted = {c.id for c in columns}
    by_column: dict[int, list[Stay]] = {c.id: [] for c in columns}
    for stay in stays_from_moves(moves, now, discarded):
        if stay.column_id in wanted:
            by_column[stay.column_id].append(stay)
    instants = _day_end_instants(board, window_start, end)

    rows: list[dict[str, Any]] = []
    for column in columns:
        stays = by_column[column.id]
        seconds = sum(_overlap(s.start, s.end, window_start, end) for s in stays)
        arrivals = sum(1 for s in stays if window_start <= s.start < end)
        left = [s for s in stays if not s.open and window_start <= s.end < end]
        durations = [(s.end - s.start).total_seconds() / SECONDS_PER_DAY for s in left]
        over = 0
        if column.wip_limit is not None:
            limit = column.wip_limit
            over = sum(1 for t in instants if sum(s.contains(t) for s in stays) > limit)
        row = {
            "column_id": column.id,
            "name": column.name,
            "position": column.position,
            "is_waiting": column.activity == "waiting",
            "wip_limit": column.wip_limit,
            "item_days": seconds / SECONDS_PER_DAY,
            "avg_wip": seconds / SECONDS_PER_DAY / window_days,
            "arrivals": arrivals,
            "departures": len(left),
            "net_flow": arrivals - len(left),
            "median_days": median(durations) if durations else None,
            "over_limit_days": over,
        }
        row["evidence"] = bottleneck_evidence(
            column.name, row["avg_wip"], row["net_flow"], window_days, row["median_days"]
        )
        rows.append(row)
    rows.sort(key=lambda r: (-r["avg_wip"], r["position"]))
    return {
        "window_start": window_start,
        "window_end": end,
        "window_days": window_days,
        "columns": rows,
        "bottleneck": rows[0] if rows and rows[0]["avg_wip"] > 0 else None,
    }


def bottleneck_evidence(
    name: str, avg_wip: float, net_flow: int, window_days: float, median_days: float | None
) -> str:
    """The spec's evidence line: "Legal review: avg WIP 7.2, +5 net in 30 d, median 6 d".

    Average WIP has one decimal; net flow is signed (0 unsigned); window days and the median are
    whole days, rounded half up; a column nothing left during the window says "median n/a".
    """
    net = f"{net_flow:+d}" if net_flow else "0"
    days = format_days(_round_half_up(window_days))
    tail = "median n/a" if median_days is None else f"median {_round_half_up(median_days)} d"
    return f"{name}: avg WIP {avg_wip:.1f}, {net} net in {days} d, {tail}"


def blocker_clusters(
    blocks: Sequence[BlockSpan],
    now: dt.datetime,
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
) -> dict[str, Any]:
    """Blocked days grouped by reason, and by readiness track for blocks that hold up one.

    An open block ends at ``now`` and nothing after ``now`` counts; with a window, each block is
    clipped to [start, end) (either bound may be left open). Days are elapsed seconds / 86,400,
    so no time zone is involved. The per-reason and per-track sums count each block on its own:
    two overlapping blocks on one item add up, which is what "how much blocking did this reason
    cause" asks. ``total.union_days`` merges each item's overlapping blocks instead, for "how
    long were items blocked at all".

    Returns ``{"by_reason": {reason: {"days", "blocks", "items"}}, "by_track": {...},
    "total": {"days", "union_days", "blocks", "items"}}``; groups are ordered by days, most first
    (ties by name), and hold only blocks with blocked time inside the window.
    """
    now = _utc(now)
    lo = _utc(window_start) if window_start is not None else dt.datetime.min.replace(tzinfo=dt.UTC)
    hi = min(_utc(window_end), now) if window_end is not None else now
    by_reason: dict[str, list[tuple[int, float]]] = {}
    by_track: dict[str, list[tuple[int, float]]] = {}
    counted: list[BlockSpan] = []
    for block in blocks:
        seconds = _overlap(_utc(block.start), _utc(block.end) if block.end else now, lo, hi)
        if seconds <= 0:
            continue
        counted.append(block)
        by_reason.setdefault(block.reason, []).append((block.item_id, seconds))
        if block.track is not None:
            by_track.setdefault(block.track, []).append((block.item_id, seconds))
    union = 0.0
    per_item: dict[int, list[BlockSpan]] = {}
    for block in counted:
        per_item.setdefault(block.item_id, []).append(block)
    for item_blocks in per_item.values():
        union += blocked_seconds_within(item_blocks, lo, hi, now)
    total = sum(seconds for group in by_reason.values() for _, seconds in group)
    return {
        "by_reason": _clusters(by_reason),
        "by_track": _clusters(by_track),
        "total": {
            "days": total / SECONDS_PER_DAY,
            "union_days": union / SECONDS_PER_DAY,
            "blocks": len(counted),
            "items": len(per_item),
        },
    }


def blocked_seconds_within(
    blocks_of_item: Iterable[BlockSpan], start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> float:
    """Seconds one item was blocked inside [start, end): the union of its blocks, overlaps
    merged. An open block ends at ``now``, and nothing after ``now`` counts (the log as of now).
    Raises ValueError for blocks of several items."""
    start, end, now = _utc(start), _utc(end), _utc(now)
    intervals: list[tuple[dt.datetime, dt.datetime]] = []
    items: set[int] = set()
    for block in blocks_of_item:
        items.add(block.item_id)
        s = max(_utc(block.start), start)
        e = min(_utc(block.end) if block.end else now, end, now)
        if s < e:
            intervals.append((s, e))
    if len(items) > 1:
        raise ValueError(f"blocks of one item expected, got items {sorted(items)}")
    intervals.sort()
    seconds = 0.0
    run_start: dt.datetime | None = None
    run_end: dt.datetime | None = None
    for s, e in intervals:
        if run_end is None or s > run_end:
            if run_start is not None and run_end is not None:
                seconds += (run_end - run_start).total_seconds()
            run_start, run_end = s, e
        elif e > run_end:
            run_end = e
    if run_start is not None and run_end is not None:
        seconds += (run_end - run_start).total_seconds()
    return seconds


def _clusters(groups: dict[str, list[tuple[int, float]]]) -> dict[str, dict[str, Any]]:
    rows = {
        key: {
            "days": sum(seconds for _, seconds in members) / SECONDS_PER_DAY,
            "blocks": len(members),
            "items": len({item for item, _ in members}),
        }
        for key, members in groups.items()
    }
    return dict(sorted(rows.items(), key=lambda kv: (-kv[1]["days"], kv[0])))


def _overlap(s: dt.datetime, e: dt.datetime, lo: dt.datetime, hi: dt.datetime) -> float:
    return max(0.0, (min(e, hi) - max(s, lo)).total_seconds())


def _day_end_instants(board: BoardInfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """For each local day the window [start, end) touches: the day's end, or ``end`` when the
    window stops earlier. A stay that ends exactly at a day's end has left by then."""
    first = board.local_date(start)
    last = board.local_date(end - dt.timedelta(microseconds=1))
    instants: list[dt.datetime] = []
    day = first
    while day <= last:
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=board.tz)
        instants.append(min(_utc(midnight), end))
        day += dt.timedelta(days=1)
    return instants


def _utc(at: dt.datetime) -> dt.datetime:
    """``at`` in UTC. Aware datetimes sharing one zone subtract and compare by wall clock in
    Python (a DST night would be 24 h); in UTC the arithmetic is elapsed time."""
    return at.astimezone(dt.UTC)


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)
