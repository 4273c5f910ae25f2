"""Readiness metrics (docs/metrics.md, "Readiness (what other tools don't measure)").

- "Readiness lead time: from the first entry into a `readiness`-stage column to delivered_at."
- "Criterion wait: for a readiness criterion, from when its item entered the readiness stage, or
  when the criterion was added if that is later, until the criterion was met or waived."
- "Critical criterion of a delivered item: the required criterion met last before the gate
  opened. Reported per track (support, docs, GTM, legal, ops...): median criterion wait, and how
  often the track was the critical one."
- "Gate wait: every move refused by a gate is recorded with the criteria that were unmet. The gate
  wait of an item is the time from its first refusal at a gate until it passed that gate."

Times are exact seconds unless a name says days. The readiness stage is entered at the first
raw-log move into any column whose stage is ``readiness`` (a later exit and re-entry does not
restart it).
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from boards.flow import counted_path, entry_times
from metrics.calculators.stats import median, percentile
from metrics.calculators.types import BoardInfo, CriterionInfo, Move, RefusalInfo

SECONDS_PER_DAY = 86_400.0
RESOLVED = ("met", "waived")


def readiness_entered_at(moves_of_item: Iterable[Move], board: BoardInfo) -> dt.datetime | None:
    """The first raw-log entry of the item into a ``readiness``-stage column, or None."""
    readiness = {c.id for c in board.columns if c.stage == "readiness"}
    for move in _in_order(moves_of_item):
        if move.to_column_id in readiness:
            return move.at
    return None


def readiness_lead_time(
    moves_of_item: Iterable[Move], board: BoardInfo, delivered_at: dt.datetime | None
) -> float | None:
    """Seconds from the item's first entry into the readiness stage to ``delivered_at``.

    None when the item is not delivered or never entered a readiness column before its delivery
    (a readiness column first reached after delivery belongs to no delivered cycle).
    """
    if delivered_at is None:
        return None
    delivered = _utc(delivered_at)
    entered = readiness_entered_at((m for m in moves_of_item if _utc(m.at) <= delivered), board)
    if entered is None:
        return None
    return _seconds(entered, delivered)


def criterion_wait(
    criterion: CriterionInfo, readiness_entered_at: dt.datetime | None
) -> float | None:
    """Seconds from max(item entered readiness, criterion added) until it was met or waived.

    None while the criterion is pending, and when the item never entered the readiness stage
    (the wait has no start). A criterion resolved before that start held nothing up: its wait
    is 0, not negative.
    """
    if criterion.status not in RESOLVED or criterion.resolved_at is None:
        return None
    if readiness_entered_at is None:
        return None
    start = max(_utc(readiness_entered_at), _utc(criterion.added_at))
    return max(0.0, _seconds(start, criterion.resolved_at))


def critical_criterion(
    criteria_of_item: Iterable[CriterionInfo],
    gate_opened_at: dt.datetime,
    gate_column_id: int | None = None,
) -> CriterionInfo | None:
    """The required criterion resolved (met or waived) last at or before the gate opened.

    For the delivery gate, ``gate_opened_at`` is the item's delivered_at. With
    ``gate_column_id``, only the criteria of that gate compete. A waiver counts like a met
    criterion: either way it was the last thing the gate waited for. Ties on the time go to the
    criterion listed last. None when no required criterion was resolved by then.
    """
    opened = _utc(gate_opened_at)
    best: CriterionInfo | None = None
    best_at: dt.datetime | None = None
    for criterion in criteria_of_item:
        if not criterion.required or criterion.status not in RESOLVED:
            continue
        if gate_column_id is not None and criterion.gate_column_id != gate_column_id:
            continue
        if criterion.resolved_at is None:
            continue
        resolved = _utc(criterion.resolved_at)
        if resolved > opened:
            continue
        if best_at is None or resolved >= best_at:
            best, best_at = criterion, resolved
    return best


def track_summary(
    criteria: Iterable[CriterionInfo],
    readiness_entered: Mapping[int, dt.datetime | None],
    delivered: Mapping[int, dt.datetime],
) -> dict[str, dict[str, Any]]:
    """Per track: criterion count, median wait in days, and how often it was the critical one.

    ``criteria`` are the criteria to summarise; ``readiness_entered`` maps item id to its
    readiness entry (missing means never); ``delivered`` maps each delivered item whose critical
    criterion counts to its delivered_at (the delivery gate opening). Per track:

    - ``criteria``: how many criteria are on the track; ``waits``: how many have a wait;
    - ``median_wait_days``: no-interpolation median of those waits, None without any;
    - ``critical``: delivered items whose critical criterion is on the track;
      ``critical_share``: that over all delivered items given (None when there are none).

    Tracks are ordered by name.
    """
    all_criteria = list(criteria)
    by_item: dict[int, list[CriterionInfo]] = {}
    waits: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for criterion in all_criteria:
        by_item.setdefault(criterion.item_id, []).append(criterion)
        counts[criterion.track] = counts.get(criterion.track, 0) + 1
        wait = criterion_wait(criterion, readiness_entered.get(criterion.item_id))
        if wait is not None:
            waits.setdefault(criterion.track, []).append(wait / SECONDS_PER_DAY)
    critical: dict[str, int] = {}
    for item_id, delivered_at in delivered.items():
        winner = critical_criterion(by_item.get(item_id, ()), delivered_at)
        if winner is not None:
            critical[winner.track] = critical.get(winner.track, 0) + 1
    result: dict[str, dict[str, Any]] = {}
    for track in sorted(counts.keys() | critical.keys()):
        track_waits = waits.get(track, [])
        hits = critical.get(track, 0)
        result[track] = {
            "criteria": counts.get(track, 0),
            "waits": len(track_waits),
            "median_wait_days": median(track_waits) if track_waits else None,
            "critical": hits,
            "critical_share": hits / len(delivered) if delivered else None,
        }
    return result


def gate_wait(
    refusals_of_item: Iterable[RefusalInfo],
    moves_of_item: Iterable[Move],
    board: BoardInfo,
    now: dt.datetime | None = None,
) -> dict[int, dict[str, Any]]:
    """For each gate that refused the item: time from its first refusal to passing the gate.

    The gate is passed by the first move, at or after that refusal, into a column at or beyond
    the gate's position. Per gate column id: ``first_refused_at``, ``passed_at`` (None if not
    yet), ``wait_seconds`` (None if not passed) and ``waiting_seconds`` (the age so far, now -
    first refusal, when not passed and ``now`` is given; else None).
    """
    positions = board.positions
    moves = _in_order(moves_of_item)
    first_refusal: dict[int, dt.datetime] = {}
    for refusal in refusals_of_item:
        known = first_refusal.get(refusal.gate_column_id)
        if known is None or _utc(refusal.at) < known:
            first_refusal[refusal.gate_column_id] = _utc(refusal.at)
    result: dict[int, dict[str, Any]] = {}
    for gate_id, refused_at in sorted(first_refusal.items(), key=lambda kv: positions[kv[0]]):
        gate_position = positions[gate_id]
        passed_at = next(
            (
                _utc(m.at)
                for m in moves
                if _utc(m.at) >= refused_at and positions[m.to_column_id] >= gate_position
            ),
            None,
        )
        waiting = None
        if passed_at is None and now is not None:
            waiting = max(0.0, _seconds(refused_at, now))
        result[gate_id] = {
            "first_refused_at": refused_at,
            "passed_at": passed_at,
            "wait_seconds": None if passed_at is None else _seconds(refused_at, passed_at),
            "waiting_seconds": waiting,
        }
    return result


def as_of(
    criterion: CriterionInfo, changes: Sequence[tuple[dt.datetime, str]], at: dt.datetime
) -> CriterionInfo | None:
    """The criterion as it stood at ``at``, from its status changes (time, new status) in the
    order they were written: the last change at or before ``at`` gives its status, and its time
    the resolution time when the status is met or waived. None when the criterion was added
    after ``at`` (it did not exist then). A criterion with no recorded change but a resolution
    (data written before changes were kept) counts as resolved at its ``resolved_at``."""
    moment = _utc(at)
    if _utc(criterion.added_at) > moment:
        return None
    if not changes and criterion.resolved_at is not None:
        changes = [(criterion.resolved_at, criterion.status)]
    status, resolved_at = "pending", None
    for when, to_status in changes:
        if _utc(when) > moment:
            continue
        status = to_status
        resolved_at = when if to_status in RESOLVED else None
    return replace(criterion, status=status, resolved_at=resolved_at)


def readiness_summary(
    board: BoardInfo,
    moves: Iterable[Move],
    criteria: Iterable[CriterionInfo],
    refusals: Iterable[RefusalInfo],
    now: dt.datetime,
    *,
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
    discarded: Iterable[int] = (),
    changes: Mapping[int, Sequence[tuple[dt.datetime, str]]] | None = None,
) -> dict[str, Any]:
    """The readiness figures of a board from its whole lists, over an optional window.

    delivered_at is the counted-path entry date of the delivery column (docs/metrics.md, "Column
    entry dates"); ``discarded`` item ids are left out. With a window [start, end):

    - ``tracks`` (``track_summary``) over the criteria of the items delivered in the window (the
      cohort, as for cycle time): criterion waits per track, and how often each track was the
      critical one of those items. With ``changes`` (each criterion's status changes, by id),
      the criteria are taken as they stood at their item's delivery (``as_of``): "met last
      before the gate opened" is a fact about that moment;
    - ``lead_time``: readiness lead time of the items delivered in the window that went through
      readiness: ``count``, and p50/p85 both ``exact_seconds`` and ``days`` (calendar days in the
      board's zone, date(delivered) - date(entered) + 1, the Kanban Guide convention);
    - ``gates``: per gate column id, the waits of the items that passed it in the window
      (``passed``, ``median_wait_days``, ``p85_wait_days``) and the items refused and still
      waiting now (``waiting``, ``oldest_waiting_days``), whatever the window.
    """
    excluded = set(discarded)

    def in_window(at: dt.datetime) -> bool:
        if window_start is not None and _utc(at) < _utc(window_start):
            return False
        return _utc(at) < _utc(window_end) if window_end is not None else _utc(at) <= _utc(now)

    moves_by_item: dict[int, list[Move]] = {}
    for move in _in_order(moves):
        if move.item_id not in excluded:
            moves_by_item.setdefault(move.item_id, []).append(move)
    positions = board.positions
    delivery = board.delivery_position
    delivered: dict[int, dt.datetime] = {}
    entered: dict[int, dt.datetime | None] = {}
    for item_id, item_moves in moves_by_item.items():
        entered[item_id] = readiness_entered_at(item_moves, board)
        path = counted_path((positions[m.to_column_id], _utc(m.at)) for m in item_moves)
        delivered_at = entry_times(path, [delivery])[delivery]
        if delivered_at is not None and in_window(delivered_at):
            delivered[item_id] = delivered_at

    # Readiness criteria only ("criterion wait: for a readiness criterion"): a functional one
    # met late, such as "code reviewed", says nothing about which business track held delivery.
    cohort = [c for c in criteria if c.item_id in delivered and c.category == "readiness"]
    if changes is not None:
        # As each item's criteria stood when it was delivered: a criterion reopened (or met)
        # since then does not change which one the delivery waited for.
        cohort = [
            stood
            for c in cohort
            if (stood := as_of(c, changes.get(c.id, ()), delivered[c.item_id])) is not None
        ]
    tracks = track_summary(cohort, entered, delivered)

    exact: list[float] = []
    days: list[int] = []
    for item_id, delivered_at in delivered.items():
        before = (m for m in moves_by_item[item_id] if _utc(m.at) <= delivered_at)
        start = readiness_entered_at(before, board)  # as in ``readiness_lead_time``
        if start is None:
            continue
        exact.append(_seconds(start, delivered_at))
        days.append((board.local_date(delivered_at) - board.local_date(start)).days + 1)
    exact.sort()
    days.sort()
    lead_time = {
        "count": len(exact),
        "exact_seconds": {p: percentile(exact, p) if exact else None for p in (50, 85)},
        "days": {p: percentile(days, p) if days else None for p in (50, 85)},
    }

    passed: dict[int, list[float]] = {}
    waiting: dict[int, list[float]] = {}
    refusals_by_item: dict[int, list[RefusalInfo]] = {}
    for refusal in refusals:
        if refusal.item_id not in excluded:
            refusals_by_item.setdefault(refusal.item_id, []).append(refusal)
    for item_id, item_refusals in refusals_by_item.items():
        waits = gate_wait(item_refusals, moves_by_item.get(item_id, ()), board, now)
        for gate_id, wait in waits.items():
            passed.setdefault(gate_id, [])
            waiting.setdefault(gate_id, [])
            if wait["passed_at"] is None:
                waiting[gate_id].append(wait["waiting_seconds"] / SECONDS_PER_DAY)
            elif in_window(wait["passed_at"]):
                passed[gate_id].append(wait["wait_seconds"] / SECONDS_PER_DAY)
    gates: dict[int, dict[str, Any]] = {}
    for gate_id in sorted(passed, key=lambda g: positions[g]):
        done = sorted(passed[gate_id])
        open_ = waiting[gate_id]
        gates[gate_id] = {
            "passed": len(done),
            "median_wait_days": percentile(done, 50) if done else None,
            "p85_wait_days": percentile(done, 85) if done else None,
            "waiting": len(open_),
            "oldest_waiting_days": max(open_) if open_ else None,
        }
    return {
        "delivered": len(delivered),
        "tracks": tracks,
        "lead_time": lead_time,
        "gates": gates,
    }


def _in_order(moves: Iterable[Move]) -> list[Move]:
    """Moves in time order, ties in input (write) order (the sort is stable)."""
    return sorted(moves, key=lambda m: _utc(m.at))


def _utc(at: dt.datetime) -> dt.datetime:
    """``at`` in UTC. Aware datetimes sharing one zone subtract and compare by wall clock in
    Python (a DST night would be 24 h); in UTC the arithmetic is elapsed time."""
    return at.astimezone(dt.UTC)


def _seconds(start: dt.datetime, end: dt.datetime) -> float:
    """Elapsed seconds from ``start`` to ``end``."""
    return (_utc(end) - _utc(start)).total_seconds()
