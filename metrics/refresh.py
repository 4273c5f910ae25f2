"""Refreshing the snapshots of a board: the whole board from the log, or only what changed.

- ``recompute_board``: every item's figures and every daily series, recomputed from the
  Transition log in one streaming pass and written in one transaction. Nightly, and whenever
  the incremental path can't apply (no snapshot yet, history inserted before the first day).
- ``process_pending``: the items queued by ``metrics.services.mark_item_dirty``. Each item's old
  contribution to the daily series is recomputed from the moves its snapshot included
  (``last_transition_id``) and swapped for the new one, as a handful of ``UPDATE ... SET n = n +
  delta`` statements. A move costs the same on a board of 100 items or 100,000.

Both take the board's ``BoardMetrics`` row lock first, so they never interleave, and both are
idempotent: a re-run, or a run killed halfway and repeated, leaves exactly the same rows.

Where the work happens, and why (measured on 100,000 items and 979,434 transitions, 2 cores,
``bench/metrics.py``; figures in docs/BENCHMARKS.md):
- The per-item calculation (counted paths, stays, blocked time) runs in Python over the log
  sorted by the database, because the counted-path rule is sequential per item. The database
  converts times to epoch seconds and streams the rows in batches; on large PostgreSQL boards two
  processes each take half the items. A set-based SQL version of the same definitions (suffix
  minimum of positions as a window function, per-column FILTER aggregates, INSERT ... SELECT) was
  built and measured: 12 s against 8 s for one Python process, so it was not kept.
- Writing uses COPY on PostgreSQL with declared types.
- The database does the deltas of a single move (``UPDATE ... SET n = n + delta`` on the days
  from the change on) and the windowed reads of the summary (sums of throughput, the cycle
  times of the window, efficiency totals).
"""

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from itertools import groupby
from operator import itemgetter

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Min
from django.utils import timezone

from boards.models import Board, Transition, WorkItem
from flowboard.bulk import insert_rows
from metrics import forked, loaders
from metrics.calculators.items import DayIndex, ItemFlow, item_flow, local_date
from metrics.calculators.series import Series, SeriesAccumulator
from metrics.calculators.types import BoardInfo
from metrics.models import BoardDay, BoardMetrics, ColumnDay, ItemMetrics, PendingRefresh

BATCH = 5000
PROGRESS_EVERY = 1000
# on_progress(done, total): items computed so far, of the board's items.
Progress = Callable[[int, int], None]
logger = logging.getLogger(__name__)
ITEM_COLUMNS = [
    "item_id",
    "board_id",
    "current_column_id",
    "created_at",
    "started_at",
    "delivered_at",
    "discarded_at",
    "entries",
    "cycle_seconds",
    "cycle_days",
    "lead_seconds",
    "lead_days",
    "time_in_column",
    "in_column_since",
    "active_seconds",
    "waiting_seconds",
    "flow_efficiency",
    "blocked_seconds",
    "blocked_since",
    "readiness_entered_at",
    "readiness_lead_seconds",
    "last_transition_id",
    "fingerprint",
    "computed_at",
]
# PostgreSQL types of ITEM_COLUMNS, for COPY (JSON goes as text into the jsonb columns).
ITEM_TYPES = [
    "int8", "int8", "int8", "timestamptz", "timestamptz", "timestamptz", "timestamptz", "text",
    "float8", "int4", "float8", "int4", "text", "timestamptz", "float8", "float8", "float8",
    "float8", "timestamptz", "timestamptz", "float8", "int8", "int8", "timestamptz",
]  # fmt: skip


def _as_datetime(t: float | None, _from=dt.datetime.fromtimestamp, _utc=dt.UTC):
    return None if t is None else _from(t, _utc)


_NONE = -1.5e308  # stands for None in a fingerprint: hash(None) varies between processes


def fingerprint(flow: ItemFlow, last_transition_id: int) -> int:
    """A hash of every stored figure of the item. Built from numbers only (no strings, no None,
    whose hashes vary between processes), so the same figures hash alike in any process."""
    n = _NONE
    entries = flow.entries
    values = (
        flow.current_column_id,
        flow.created_at,
        n if flow.started_at is None else flow.started_at,
        n if flow.delivered_at is None else flow.delivered_at,
        n if flow.discarded_at is None else flow.discarded_at,
        tuple(entries),
        tuple(n if at is None else at for at in entries.values()),
        n if flow.cycle_seconds is None else flow.cycle_seconds,
        n if flow.cycle_days is None else flow.cycle_days,
        n if flow.lead_seconds is None else flow.lead_seconds,
        n if flow.lead_days is None else flow.lead_days,
        tuple(flow.closed_in_column.items()),
        n if flow.in_column_since is None else flow.in_column_since,
        n if flow.active_seconds is None else flow.active_seconds,
        n if flow.waiting_seconds is None else flow.waiting_seconds,
        n if flow.flow_efficiency is None else flow.flow_efficiency,
        flow.closed_blocked_seconds,
        n if flow.blocked_since is None else flow.blocked_since,
        n if flow.readiness_entered_at is None else flow.readiness_entered_at,
        n if flow.readiness_lead_seconds is None else flow.readiness_lead_seconds,
        last_transition_id,
    )
    return hash(values)


def item_row(
    board_id: int, flow: ItemFlow, last_transition_id: int, now: dt.datetime, print_: int
) -> tuple:
    """The ItemMetrics row of one item, in ``ITEM_COLUMNS`` order."""
    entries = {str(column_id): at for column_id, at in flow.entries.items()}
    return (
        flow.item_id,
        board_id,
        flow.current_column_id,
        _as_datetime(flow.created_at),
        _as_datetime(flow.started_at),
        _as_datetime(flow.delivered_at),
        _as_datetime(flow.discarded_at),
        json.dumps(entries),
        flow.cycle_seconds,
        flow.cycle_days,
        flow.lead_seconds,
        flow.lead_days,
        json.dumps({str(k): v for k, v in flow.closed_in_column.items()}),
        _as_datetime(flow.in_column_since),
        flow.active_seconds,
        flow.waiting_seconds,
        flow.flow_efficiency,
        flow.closed_blocked_seconds,
        _as_datetime(flow.blocked_since),
        _as_datetime(flow.readiness_entered_at),
        flow.readiness_lead_seconds,
        last_transition_id,
        print_,
        now,
    )


def board_setup(info: BoardInfo) -> dict:
    """What the snapshots depend on besides the log (see ``BoardMetrics.setup``)."""
    return {
        "columns": [[c.id, c.position, c.stage, c.activity] for c in info.columns],
        "commitment": info.commitment_id,
        "delivery": info.delivery_id,
        "tz": str(info.tz),
    }


def _lock(board: Board) -> BoardMetrics | None:
    return BoardMetrics.objects.select_for_update().filter(board=board).first()


# --- the whole board -------------------------------------------------------------------------


def recompute_board(
    board: Board, now: dt.datetime | None = None, on_progress: Progress | None = None
) -> dict:
    """Recompute every snapshot of ``board`` from the Transition log; return counts.
    ``on_progress(done, total)`` is called as items are computed."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _lock(board)
        if state is None:
            # First computation: create the lock row, then take it.
            BoardMetrics.objects.get_or_create(
                board=board,
                defaults={
                    "first_day": now.date(),
                    "last_day": now.date(),
                    "full_computed_at": now,
                    "computed_at": now,
                },
            )
            state = _lock(board)
        pending = list(PendingRefresh.objects.filter(board=board).values_list("id", flat=True))
        info = loaders.board_info(board)
        days = _board_days(board, info, now)
        first, last = days.first, days.date(days.days - 1)
        counts = _recompute(board, info, days, now, on_progress)
        PendingRefresh.objects.filter(id__in=pending).delete()
        state.first_day, state.last_day = first, last
        state.full_computed_at = state.computed_at = now
        state.setup = board_setup(info)
        state.save(
            update_fields=["first_day", "last_day", "full_computed_at", "computed_at", "setup"]
        )
    return {**counts, "days": days.days}


def _recompute(
    board: Board, info: BoardInfo, days: DayIndex, now: dt.datetime, on_progress=None
) -> dict:
    """Every item's figures and the board's series. Item rows whose figures did not change
    (same fingerprint) are left as they are; the others are replaced."""
    # Large boards are computed on two cores (``metrics.forked``). Below the threshold the
    # fork costs more than it saves.
    total = WorkItem.objects.filter(board=board).count()
    parallel = total > settings.METRICS_PARALLEL_THRESHOLD and forked.available()
    progress = None
    if on_progress is not None:
        # The parent computes one half while the child computes the other at the same pace.
        scale = 2 if parallel else 1

        def progress(done: int) -> None:
            on_progress(min(done * scale, total), total)

    known = dict(
        ItemMetrics.objects.filter(board_id=board.pk).values_list("item_id", "fingerprint")
    )
    if parallel:
        written, seen, series = _compute_in_two(board, info, days, now, known, progress)
    else:
        rows, seen, series = _compute_part(board.pk, info, days, now, known, progress=progress)
        written = _write_items(rows, known)
    _delete_items([item_id for item_id in known if item_id not in seen])  # items gone
    _replace_series(board.pk, info, series.build())
    return {"items": len(seen), "rewritten": written}


def _write_items(rows: list[tuple], known: dict[int, int]) -> int:
    _delete_items([row[0] for row in rows if row[0] in known])
    insert_rows(ItemMetrics._meta.db_table, ITEM_COLUMNS, rows, ITEM_TYPES)
    return len(rows)


def _delete_items(item_ids: list[int]) -> None:
    for start in range(0, len(item_ids), BATCH):
        ItemMetrics.objects.filter(item_id__in=item_ids[start : start + BATCH]).delete()


def _compute_part(
    board_id: int,
    info: BoardInfo,
    days: DayIndex,
    now: dt.datetime,
    known,
    part=None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[tuple], set[int], SeriesAccumulator]:
    """The series contributions of the board's items (or of ``part`` of them), and the rows of
    those whose fingerprint differs from ``known``; also the ids of every item seen."""
    accumulator = SeriesAccumulator(info, days)
    blocks = loaders.blocks_by_item(board_id, part=part)
    discarded = loaders.discarded_by_item(board_id, part=part)
    stamp = now.timestamp()
    rows, seen = [], set()
    for item_id, group in groupby(loaders.stream_moves(board_id, part=part), key=itemgetter(0)):
        group = list(group)
        moves = [(column_id, at) for _, column_id, at, _ in group]
        flow = item_flow(
            info, days, item_id, moves, blocks.get(item_id, ()), stamp, discarded.get(item_id)
        )
        accumulator.add(flow, moves)
        seen.add(item_id)
        last_id = group[-1][3]
        print_ = fingerprint(flow, last_id)
        if known.get(item_id) != print_:
            rows.append(item_row(board_id, flow, last_id, now, print_))
        if progress is not None and len(seen) % PROGRESS_EVERY == 0:
            progress(len(seen))
    if progress is not None:
        progress(len(seen))
    return rows, seen, accumulator


def _compute_in_two(
    board: Board, info: BoardInfo, days: DayIndex, now: dt.datetime, known, progress=None
):
    """Half the items here, half in a forked process (``metrics.forked``). This half is written
    while the other is still being computed."""
    other = forked.Forked(_compute_part, board.pk, info, days, now, known, (1, 2))
    rows, seen, series = _compute_part(board.pk, info, days, now, known, (0, 2), progress)
    written = _write_items(rows, known)
    child_rows, child_seen, child_series = other.result()
    written += _write_items(child_rows, known)
    series.merge(child_series)
    return written, seen | child_seen, series


def _board_days(board: Board, info: BoardInfo, now: dt.datetime) -> DayIndex:
    """From the day of the board's first move to today, in the board's zone."""
    first = Transition.objects.filter(board=board).aggregate(first=Min("at"))["first"]
    start = local_date(first.timestamp(), info.tz) if first else now.astimezone(info.tz).date()
    return DayIndex(info.tz, start, now.astimezone(info.tz).date())


def _replace_series(board_id: int, info: BoardInfo, series: Series) -> None:
    BoardDay.objects.filter(board_id=board_id).delete()
    ColumnDay.objects.filter(board_id=board_id).delete()
    days = series.days
    insert_rows(
        BoardDay._meta.db_table,
        ["board_id", "day", "wip", "arrivals", "started", "delivered", "discarded"],
        [
            (
                board_id,
                days.date(i),
                series.wip[i],
                series.arrivals[i],
                series.started[i],
                series.delivered[i],
                series.discarded[i],
            )
            for i in range(days.days)
        ],
    )
    insert_rows(
        ColumnDay._meta.db_table,
        ["board_id", "column_id", "day", "cfd", "wip"],
        [
            (board_id, c.id, days.date(i), series.cfd[c.id][i], series.column_wip[c.id][i])
            for c in info.columns
            for i in range(days.days)
        ],
    )


# --- only what changed -----------------------------------------------------------------------


def process_pending(board_id: int, now: dt.datetime | None = None) -> int:
    """Refresh the items queued for ``board_id`` when the run starts; return how many.

    Rows queued while it runs are left for the next run (their commit scheduled it), so a burst
    of moves is absorbed by a few runs instead of one chasing the queue. Only the queue rows that
    were read are deleted, so a change committed meanwhile stays queued.
    """
    board = Board.objects.filter(pk=board_id).first()
    if board is None:  # deleted since the refresh was queued
        return 0
    queued = PendingRefresh.objects.filter(board_id=board_id)
    horizon = queued.aggregate(last=Max("id"))["last"]
    if horizon is None:
        return 0
    refreshed = 0
    while True:
        with transaction.atomic():
            state = _lock(board)
            rows = list(
                queued.filter(id__lte=horizon).order_by("id").values_list("id", "item_id")[:BATCH]
            )
            if not rows:
                break
            item_ids = sorted({item_id for _, item_id in rows})
            if state is None or not _refreshed(board, state, item_ids, now or timezone.now()):
                recompute_board(board, now)
                return refreshed + len(item_ids)
            PendingRefresh.objects.filter(id__in=[row_id for row_id, _ in rows]).delete()
        refreshed += len(item_ids)
    BoardMetrics.objects.filter(board=board).update(refreshes=F("refreshes") + 1)
    return refreshed


def _refreshed(board: Board, state: BoardMetrics, item_ids, now: dt.datetime) -> bool:
    """``refresh_items`` in a savepoint; False (recompute instead) if the stored series refuse
    the delta, which means they no longer match the log (a constraint keeps counts >= 0)."""
    try:
        with transaction.atomic():
            return refresh_items(board, state, item_ids, now)
    except IntegrityError:
        logger.exception("Snapshots of board %s disagree with the log; recomputing", board.pk)
        return False


def refresh_items(
    board: Board, state: BoardMetrics, item_ids: Sequence[int], now: dt.datetime
) -> bool:
    """Swap the snapshot contribution of ``item_ids`` for their current one. Call holding the
    ``BoardMetrics`` lock. Returns False when only a full recompute can be exact: the board's
    set-up changed since the snapshots, or a move is dated before the first day of the series."""
    info = loaders.board_info(board)
    if state.setup != board_setup(info):
        return False
    today = now.astimezone(info.tz).date()
    _extend_series(board.pk, info, state, today)
    days = DayIndex(info.tz, state.first_day, state.last_day)
    stamp = now.timestamp()
    moves_by_item = {
        item_id: list(group)
        for item_id, group in groupby(loaders.stream_moves(board.pk, item_ids), key=itemgetter(0))
    }
    blocks = loaders.blocks_by_item(board.pk, item_ids)
    discarded = loaders.discarded_by_item(board.pk, item_ids)
    previous = {
        row[0]: row[1:]
        for row in ItemMetrics.objects.filter(item_id__in=item_ids).values_list(
            "item_id", "last_transition_id", "discarded_at"
        )
    }
    delta = SeriesAccumulator(info, days)
    rows = []
    for item_id in item_ids:
        group = moves_by_item.get(item_id)
        if not group:
            continue
        if days.index(group[0][2]) < 0:
            return False
        moves = [(column_id, at) for _, column_id, at, _ in group]
        flow = item_flow(
            info, days, item_id, moves, blocks.get(item_id, ()), stamp, discarded.get(item_id)
        )
        delta.add(flow, moves, +1)
        if item_id in previous:
            last_id, old_discarded = previous[item_id]
            old_moves = [(c, at) for _, c, at, tid in group if tid <= last_id]
            old_discard = old_discarded.timestamp() if old_discarded else None
            old = item_flow(info, days, item_id, old_moves, (), stamp, old_discard)
            delta.add(old, old_moves, -1)
        last_id = group[-1][3]
        rows.append(item_row(board.pk, flow, last_id, now, fingerprint(flow, last_id)))
    _apply_delta(board.pk, days, delta)
    ItemMetrics.objects.filter(item_id__in=[row[0] for row in rows]).delete()
    insert_rows(ItemMetrics._meta.db_table, ITEM_COLUMNS, rows, ITEM_TYPES)
    state.computed_at = now
    state.save(update_fields=["computed_at"])
    return True


def _extend_series(board_id: int, info: BoardInfo, state: BoardMetrics, today: dt.date) -> None:
    """Carry the series forward to ``today``: cumulative values repeat, daily counts are zero."""
    if state.last_day >= today:
        return
    new_days = [
        state.last_day + dt.timedelta(days=i) for i in range(1, (today - state.last_day).days + 1)
    ]
    last = BoardDay.objects.filter(board_id=board_id, day=state.last_day).first()
    wip = last.wip if last else 0
    insert_rows(
        BoardDay._meta.db_table,
        ["board_id", "day", "wip", "arrivals", "started", "delivered", "discarded"],
        [(board_id, day, wip, 0, 0, 0, 0) for day in new_days],
    )
    carried = {
        column_id: (cfd, wip)
        for column_id, cfd, wip in ColumnDay.objects.filter(
            board_id=board_id, day=state.last_day
        ).values_list("column_id", "cfd", "wip")
    }
    insert_rows(
        ColumnDay._meta.db_table,
        ["board_id", "column_id", "day", "cfd", "wip"],
        [
            (board_id, c.id, day, *carried.get(c.id, (0, 0)))
            for c in info.columns
            for day in new_days
        ],
    )
    state.last_day = today
    state.save(update_fields=["last_day"])


def _apply_delta(board_id: int, days: DayIndex, delta: SeriesAccumulator) -> None:
    """Apply an item delta: cumulative series from the day on, daily counts on the day.

    Increases go first: each UPDATE shifts every later day, so applying a decrease before an
    increase of a later day (an item reopened before its start: -1 from the start day, +1 from
    the delivery day) would take a day that had no WIP below zero on the way, which the
    counts' check refuses. With increases first, every intermediate count is at least the
    final one."""
    changes = delta.changes()
    for name in ("cfd", "column_wip", "wip"):
        changes[name].sort(key=lambda change: change[-1] < 0)
    with connection.cursor() as cursor:
        for name, field in (("cfd", "cfd"), ("column_wip", "wip")):
            for column_id, d, value in changes[name]:
                cursor.execute(
                    f"UPDATE metrics_columnday SET {field} = {field} + %s "
                    "WHERE board_id = %s AND column_id = %s AND day >= %s",
                    [value, board_id, column_id, days.date(d)],
                )
        for d, value in changes["wip"]:
            cursor.execute(
                "UPDATE metrics_boardday SET wip = wip + %s WHERE board_id = %s AND day >= %s",
                [value, board_id, days.date(d)],
            )
        for name in ("arrivals", "started", "delivered", "discarded"):
            for d, value in changes[name]:
                cursor.execute(
                    f"UPDATE metrics_boardday SET {name} = {name} + %s "
                    "WHERE board_id = %s AND day = %s",
                    [value, board_id, days.date(d)],
                )
